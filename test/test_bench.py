"""skd-bench, the desk benchmark: the targets read the numbers as documented, the FLOP count matches
PyTorch's, the report is written and merged from earlier runs, and the node runs measure what they say
(in real processes over DDS)."""

import contextlib
import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from skd_ros.core.device import usable_cores
from skd_ros.core.model import SKDModel
from skd_ros.engines.backends import BACKENDS
from skd_ros.node.env_file import read_env_file
from skd_ros.runtime import SaliencyEstimator
from skd_tools.bench import cli
from skd_tools.bench.accuracy import AccuracyRow
from skd_tools.bench.agreement import map_agreement, real_footage_agreement
from skd_tools.bench.busy_neighbour import BATCHES, busy_process, engines_beside_a_busy_process
from skd_tools.bench.hot_path import profile_hot_path
from skd_tools.bench.latencies import Latencies, Run, pool
from skd_tools.bench.model_timing import ModelRow, count_macs
from skd_tools.bench.node_report import (
    batch_times_text,
    busy_neighbour_table,
    camera_variants_table,
    cameras_table,
    hot_path_table,
    live_findings,
    matrix_table,
    stage_table,
    threads_table,
)
from skd_tools.bench.node_runs import NodeOptions, measure
from skd_tools.bench.node_section import other_thread_count
from skd_tools.bench.report import splice_node_section
from skd_tools.bench.stage_profile import stage_profile
from skd_tools.bench.targets import node_target_rows, target_rows
from skd_tools.bench.transports import CONFIG_DIR, TRANSPORT_BY_NAME, Transport, camera_frames

try:  # the node rows run the saliency node and rclpy publishers and subscribers
    import rclpy  # noqa: F401
except ImportError:
    rclpy = None
needs_ros = pytest.mark.skipif(rclpy is None, reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")


@pytest.mark.parametrize(
    "overhead,work,drops,verdict",
    [(-1.7, 4.6, 0, "**not met**"), (1.0, 1.5, 0, "met"), (1.0, 1.5, 3, "**not met**"), (2.5, 1.0, 0, "**not met**")],
)
def test_node_target_reads_the_larger_of_end_to_end_overhead_and_in_process_work(overhead, work, drops, verdict):
    node = {"transport": "shm", "overhead_p50_ms_1080p": overhead, "drops_30fps_1080p": drops, "work_ms_1080p": work}
    (row,) = [r for r in node_target_rows(node) if r[0].startswith("node overhead")]
    assert row[2] == verdict and f"{work:.2f} ms" in row[1]


def test_node_cost_targets_read_work_against_the_model_jpeg_against_raw_cameras_and_agreement():
    def cell(node_ms, relay_ms, hz=30.0):
        return {
            "node_overhead_p50_ms": node_ms,
            "relay_overhead_p50_ms": relay_ms,
            "work_p50_ms": node_ms - relay_ms,
            "node_dropped": 0,
            "publish_hz": hz,
        }

    summary = {
        "transport": "shm",
        "model_ms": 1.2,
        "model_backend": "ncnn (fp32, cpu, 1 thread(s))",
        "matrix": {
            "1920x1080 bgr8": cell(2.5, 0.8),  # work 1.7 <= 1.8: met
            "3840x2160 bgr8": cell(5.0, 1.0, hz=12.0),  # work 4.0 > 2.16, and the publisher fell behind
            "1920x1080 jpeg": cell(4.0, 0.9),  # 1.6x the raw row: met
        },
        "cameras": {
            "1": {"dropped": 0, "p99_ms": 9.0, "error": ""},
            "4": {"dropped": 0, "p99_ms": 30.0, "error": ""},
            "6": {"dropped": 2, "p99_ms": 40.0, "error": ""},
        },
        "agreement": {"frames": 120, "min_cc": {"bgr8": 1.0, "rgb8": 1.0, "jpeg": 0.985}, "skipped": ""},
    }
    rows = {target.split(" <=")[0].split(":")[0]: (m, v) for target, m, v in node_target_rows(summary)}
    work = [(m, v) for t, m, v in node_target_rows(summary) if t.startswith("node work")]
    assert work[0][1] == "met" and "1.70 ms" in work[0][0] and "1.42x the model's 1.20 ms" in work[0][0]
    assert work[1][1] == "**not met**" and "publisher at 12.0 Hz" in work[1][0]
    assert rows["CompressedImage JPEG 1920x1080"] == ("JPEG +4.00 ms vs bgr8 +2.50 ms = 1.60x", "met")
    cameras = next(r for r in node_target_rows(summary) if r[0].startswith("one batching node"))
    assert cameras[2] == "met" and cameras[1].startswith("served: 4 (")
    light = {"weights": "light.pt", "4": {"dropped": 0, "p99_ms": 20.0, "error": ""}}
    slow = summary | {"cameras": {"4": {"dropped": 3, "p99_ms": 50.0, "error": ""}}, "cameras_light": light}
    cameras = next(r for r in node_target_rows(slow) if r[0].startswith("one batching node"))
    assert cameras[2] == "**not met**"  # the verdict is the default weights'; the light ones are read beside it
    assert (
        cameras[1]
        == "served: 0 (4: 3 dropped, p99 50.0 ms); with `weights:=light.pt` served: 4 (4: 0 dropped, p99 20.0 ms)"
    )
    agreement = next(r for r in node_target_rows(summary) if r[0].startswith("maps"))
    assert agreement[2] == "**not met**" and "jpeg 0.9850" in agreement[1]
    skipped = summary | {"agreement": {"frames": 0, "min_cc": {}, "skipped": "clip.avi is absent"}}
    agreement = next(r for r in node_target_rows(skipped) if r[0].startswith("maps"))
    assert agreement[1:] == ("not compared: clip.avi is absent", "not measured")
    assert node_target_rows(None) == [("the node's targets", "not run (--skip-node)", "not run")]


def test_reduced_precision_target_reads_the_fastest_fp32_and_names_its_own_engine():
    def row(backend, precision, ms):
        return ModelRow(backend, precision, "cpu", 1, 64, 1, ms, ms, 1e3 / ms, 0.0, 0.0, 0, 0.0, 100)

    rows = [row("eager", "fp32", 5.0), row("onnxruntime", "fp32", 2.0), row("onnxruntime-int8", "int8", 1.0)]
    accuracy = [AccuracyRow("onnxruntime-int8", "int8", 0.03, 0.002, d_nss=-0.002)]
    (alone,) = [r for r in target_rows(rows, [], accuracy) if r[0].startswith("int8")]
    assert alone[2] == "met" and "2.00x the fastest fp32, onnxruntime;" in alone[1]
    (behind,) = [r for r in target_rows([*rows, row("ncnn", "fp32", 1.25)], [], accuracy) if r[0].startswith("int8")]
    assert behind[2] == "**not met**"
    assert "1.25x the fastest fp32, ncnn (2.00x its own engine's fp32, onnxruntime)" in behind[1]


def test_flop_count_matches_torch_flop_counter():
    model = SKDModel().eval()
    frames = torch.zeros(2, 3, 48, 48)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(frames, frames)
    assert 2 * count_macs(model, 48, batch=2) == counter.get_total_flops()


def test_bench_writes_a_report(tmp_path):
    """skd-bench's model-only part end to end on a tiny grid: a table row per backend, the targets, figures."""
    out = tmp_path / "BENCH.md"
    args = ["--out", str(out), "--skip-node", "--skip-accuracy", "--resolutions", "32", "--batches", "1"]
    args += ["--threads", "1", "--backends", "eager", "onnxruntime", "--budget", "0.02"]
    assert cli.main(args) == 0
    report = out.read_text()
    assert "## Targets (issue 7)" in report and "| eager | fp32 | 32 | 1 |" in report
    assert "| onnxruntime | fp32 | 32 | 1 |" in report
    assert (tmp_path / "figures" / "bench_model_fps.png").stat().st_size > 0
    raw = tmp_path / "bench.json"
    assert cli.main([*args, "--json", str(raw)]) == 0
    again = tmp_path / "AGAIN.md"
    assert cli.main(["--out", str(again), "--skip-model", "--skip-node", "--skip-accuracy", "--reuse", str(raw)]) == 0
    reused = again.read_text()
    assert "Reused with `--reuse" in reused and "| onnxruntime | fp32 | 32 | 1 |" in reused


def test_bench_report_merges_a_cpu_run_and_a_gpu_run(tmp_path):
    """The GPU table measured on another machine joins the CPU table of this one: each section comes from
    the last --reuse file that holds it, with its own run's date and software."""
    cpu_json, gpu_json = tmp_path / "cpu.json", tmp_path / "gpu.json"
    args = ["--skip-node", "--skip-accuracy", "--resolutions", "32", "--batches", "1", "--threads", "1"]
    args += ["--backends", "eager", "--budget", "0.02"]
    assert cli.main([*args, "--out", str(tmp_path / "cpu.md"), "--json", str(cpu_json)]) == 0
    cpu = json.loads(cpu_json.read_text())
    node = {"transport": "shm", "overhead_p50_ms_1080p": 1.0, "drops_30fps_1080p": 0, "work_ms_1080p": 1.5}
    cpu_json.write_text(
        json.dumps({**cpu, "node_summary": node, "node_lines": ["## Node end to end", "", "NODE ROWS"]})
    )
    # What `skd-bench --device cuda --gpu-only --json gpu.json` writes on a GPU machine, in shape.
    gpu = json.loads(cpu_json.read_text())
    gpu["node_summary"], gpu["node_lines"] = None, ["## Node end to end", "", "Skipped (--skip-node).", ""]
    gpu["model"] = [{**row, "device": "NVIDIA Test GPU", "fps": 50_000.0, "batch": 64} for row in gpu["model"]]
    gpu["gpu_conditions"] = {"torch": "2.99+cu999", "cuda": "99.0", "driver": "999.1"}
    gpu["skipped"] = {"torch-bf16 (GPU)": "the bf16 path targets the CPU"}
    gpu_json.write_text(json.dumps(gpu))

    out = tmp_path / "BENCH.md"
    merged = tmp_path / "merged.json"
    skip_all = ["--skip-model", "--skip-node", "--skip-accuracy"]
    assert cli.main(["--out", str(out), *skip_all, "--reuse", str(cpu_json), str(gpu_json), "--json", str(merged)]) == 0
    report = out.read_text()
    assert "### CPU, 1 thread" in report and "### GPU: NVIDIA Test GPU" in report
    assert "PyTorch 2.99+cu999 (CUDA 99.0" in report and "driver 999.1" in report
    assert "50,000 FPS (eager, batch 64, NVIDIA Test GPU) | met" in report
    assert f"`--reuse {gpu_json}`" in report and "not run on the GPU: `torch-bf16`: the bf16 path" in report
    assert "NODE ROWS" in report and "Skipped (--skip-node)" not in report  # the GPU run measured no node
    assert (tmp_path / "figures" / "bench_gpu_fps.png").stat().st_size > 0
    again = json.loads(merged.read_text())
    assert {row["device"].startswith("CPU") for row in again["model"]} == {True, False}
    assert again["gpu_conditions"]["driver"] == "999.1"
    with pytest.raises(SystemExit, match="cannot reuse"):
        cli.main(["--out", str(out), *skip_all, "--reuse", str(tmp_path / "missing.json")])
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps({"model": gpu["model"]}))  # rows without the run they came from
    with pytest.raises(SystemExit, match="cannot reuse .*truncated.json.*model_run"):
        cli.main(["--out", str(out), *skip_all, "--reuse", str(truncated)])


def test_node_bench_latency_accounting():
    """Drops are frames of the measured window that never arrived; pooled runs add up frames and drops."""
    ms = 1_000_000
    first = Latencies.of([1, 2, 3], [(0, 5 * ms), (1, 1 + 4 * ms), (3, 3 + 6 * ms)])  # stamp 0: before the window
    assert (first.received, first.dropped, first.p50_ms) == (2, 1, 5.0)
    runs = [Run("bare", "shm", "1920x1080", 30.0, published=3, bare=first)]
    runs.append(Run("bare", "shm", "1920x1080", 30.0, published=2, bare=Latencies.of([7, 8], [(7, 7 + 2 * ms)])))
    runs.append(Run("bare", "shm", "1920x1080", 30.0, error="no subscriber matched"))
    merged = pool(runs)
    assert (merged.published, merged.bare.received, merged.bare.dropped) == (5, 3, 2)
    assert merged.bare.p50_ms == 4.0 and "no subscriber matched" in merged.error


@needs_ros
def test_node_bench_relay_run_measures_both_paths_over_dds():
    """A relay run in real processes: the camera's frames reach the bare subscriber and, answered by the
    do-nothing relay node, the relay's subscriber; the overhead is their per-frame difference. (Reliable
    QoS: best effort may lose frames on a busy test machine.)"""
    reliable = Transport("reliable-shm", "reliable, depth 10, shared memory", "reliable", 10, "fastdds_shm.xml")
    run = measure("relay", reliable, "640x480", 30.0, 2.0, 1.0, int(os.environ["ROS_DOMAIN_ID"]), NodeOptions())
    assert not run.error and run.published >= 30
    assert run.node.received >= 0.8 * run.published and run.bare.received >= 0.8 * run.published
    both = [s for s in run.node.by_stamp if s in run.bare.by_stamp]
    assert run.overhead_p50_ms == pytest.approx(np.median([run.node.by_stamp[s] - run.bare.by_stamp[s] for s in both]))


@needs_ros
def test_node_hot_path_is_timed_back_to_back_and_at_the_camera_pace():
    """skd-bench's in-process profile times the node's calls twice (back to back, and one frame per camera
    period)."""
    hot = profile_hot_path("640x480", 4, NodeOptions(backend="eager"), paced_fps=50.0)
    assert hot.stage_ms.keys() == hot.paced_stage_ms.keys()
    assert hot.stage_ms["inference"] > 0 and hot.paced_stage_ms["inference"] > 0
    table = hot_path_table(hot).splitlines()
    assert table[0] == "| stage | back to back | 50 FPS |" and len(table) == 2 + len(hot.stage_ms) + 1
    assert table[-1] == (
        f"| **total** | **{sum(hot.stage_ms.values()):.2f}** | **{sum(hot.paced_stage_ms.values()):.2f}** |"
    )


def recorded_frame(stamp_ns: int, marks: list[tuple[str, float]], camera: int = 0) -> dict:
    """A frame as skd_ros.node.stage_times writes it; ``marks``: (stage, ms since the callback's entry)."""
    return {
        "camera": camera,
        "stamp_ns": stamp_ns,
        "callback_wall_ns": stamp_ns + 2_000_000,
        "marks": [["received", 0]] + [[stage, round(ms * 1e6)] for stage, ms in marks],
    }


def test_the_live_profile_sums_up_the_frames_of_the_measured_window():
    frames = [
        recorded_frame(stamp, [("hand-off to the worker", 0.1 * k), ("inference", 1.0), ("publish saliency", 2.0)])
        for k, stamp in enumerate((10, 20, 30, 40))
    ]
    profile = stage_profile([{"frames": frames[:2]}, {"frames": frames[2:]}], window=[20, 30, 40])
    assert profile["frames"] == 3 and profile["receive"]["p50_ms"] == 2.0
    assert list(profile["stages"]) == ["hand-off to the worker", "inference", "publish saliency"]
    assert profile["stages"]["hand-off to the worker"]["p50_ms"] == pytest.approx(0.2)
    assert profile["stages"]["inference"]["p50_ms"] == pytest.approx(0.8)  # 1.0 - 0.1 k, k = 1, 2, 3
    assert profile["in node"]["mean_ms"] == pytest.approx(2.0)
    assert stage_profile([{"frames": frames}], window=[99]) is None
    table = stage_table(profile).splitlines()
    assert table[2].startswith("| receive: stamp -> the subscription callback |  | 3 | 2.000")
    assert table[-1].startswith("| **in the node: callback -> last output published** |  | 3 | 2.000")
    run = Run("node", "shm-sync-heap", "1920x1080", 30.0, stages=profile)
    reading = " ".join(live_findings(run, {"model_ms": 1.25, "relay_overhead_p50_ms_1080p": 0.75}))
    assert "hand-off from the subscription callback to the worker 0.200 ms" in reading
    assert "the model alone in this run: 1.250 ms" in reading and "costs 0.75 ms p50" in reading


def test_node_tables_show_work_against_the_model_and_every_camera():
    def run(kind, resolution, encoding, overhead, cameras=1):
        result = Run(kind, "shm", resolution, 30.0, cameras=cameras, encoding=encoding, publish_hz=29.9)
        result.overhead_p50_ms, result.node = overhead, Latencies.from_latencies({1: overhead + 2.0}, dropped=0)
        result.bare = Latencies.from_latencies({1: 2.0}, dropped=0)
        return result

    matrix = [run("node", "1920x1080", "bgr8", 3.0), run("relay", "1920x1080", "bgr8", 1.0)]
    table = matrix_table(matrix + [run("node", "640x480", "jpeg", 2.5)], model_ms=1.0).splitlines()
    assert table[2] == "| 1920x1080 | bgr8 | 29.9 | 2.00 | 1.00 | 3.00 | 2.00 | 2.00 | 5.00 | 0 | 0 | 0 | - |"
    assert table[3].startswith("| 640x480 | jpeg | 29.9 | 2.00 | - | 2.50 | - | - |")
    matrix[0].stages = {
        "stages": {
            "decode": {"p50_ms": 0.1},
            "preprocess": {"p50_ms": 1.0},
            "align": {"p50_ms": 0.4},
            "inference": {"p50_ms": 1.2},
            "outputs": {"p50_ms": 0.3},
            "publish saliency": {"p50_ms": 0.2},
        }
    }
    assert matrix_table(matrix, model_ms=1.0).splitlines()[2].endswith("| 0.10 / 1.00 / 0.40 / 1.20 / 0.50 |")
    cameras = run("batched", "1280x720", "bgr8", 4.0, cameras=2)
    cameras.per_camera = [{"dropped": 0, "p50_ms": 5.0, "p99_ms": 7.0}, {"dropped": 1, "p50_ms": 6.0, "p99_ms": 9.5}]
    assert cameras_table([cameras]).splitlines()[3] == "| 2 | cam1 | 0 | 1 | 6.00 | 9.50 |"
    serial = run("batched", "1280x720", "bgr8", 4.0, cameras=2)
    no_frames = {"dropped": 2, "p50_ms": math.nan, "p99_ms": math.nan}
    serial.per_camera = [{"dropped": 3, "p50_ms": 8.0, "p99_ms": 20.0}, no_frames]
    one = run("batched", "1280x720", "bgr8", 4.0)
    one.per_camera = [{"dropped": 0, "p50_ms": 4.0, "p99_ms": 5.0}]
    assert camera_variants_table([one, cameras], {"camera_threads 0": [serial], "light": []}).splitlines()[2:] == [
        "| 1 | the defaults | 0 | 4.00 | 5.00 |",  # one camera: nothing to spread, no run to set beside it
        "| 2 | the defaults | 1 | 6.00 | 9.50 |",  # all cameras' drops, the slowest camera's latencies
        "| 2 | camera_threads 0 | 5 | 8.00 | 20.00 |",  # a camera without frames (NaN) is not the slowest
    ]
    four = run("batched", "1280x720", "bgr8", 4.0, cameras=4)
    four.stages = {"stages": {stage: {"p50_ms": ms} for stage, ms in (("decode", 1.0), ("inference", 10.0))}}
    text = batch_times_text({"the defaults": [cameras, four], "light": [serial]})
    assert "the defaults: decode 1.0, inference 10.0 (sum 11.0 ms)" in text and "light" not in text
    assert batch_times_text({"the defaults": [cameras]}).startswith("No stage times were recorded for 4 cameras")

    # the node's inference threads: each node run against the relay of its size, beside its count's model time
    models = {1: {"ms": 8.0, "paced_ms": 9.0}, 2: {"ms": 4.5, "paced_ms": 9.5}}
    runs = [(1, run("relay", "1920x1080", "bgr8", 1.0)), (1, run("node", "1920x1080", "bgr8", 15.0))]
    runs += [(2, run("node", "1920x1080", "bgr8", 14.0)), (2, run("node", "3840x2160", "bgr8", 16.0))]
    assert threads_table(models, runs).splitlines()[2:] == [
        "| 1920x1080 | 1 | 8.00 / 9.00 | 15.00 | 1.00 | 14.00 | 17.00 | 0 |",
        "| 1920x1080 | 2 | 4.50 / 9.50 | 14.00 | 1.00 | 13.00 | 16.00 | 0 |",
        "| 3840x2160 | 2 | 4.50 / 9.50 | 16.00 | - | - | 18.00 | 0 |",  # no relay at that size: no work
    ]
    assert [other_thread_count(n) for n in (1, 2, 4)] == [2, 1, 1]


def test_engines_are_timed_alone_and_beside_a_busy_process():
    """Every engine auto may race, on one thread and on every core, at each batch, alone and beside a process that
    keeps a core busy (and is gone afterwards); the table marks the engines auto races on one thread."""
    with busy_process():
        busy = [p for p in child_command_lines() if p.endswith("while True: pass")]
        assert len(busy) == 1
    assert not [p for p in child_command_lines() if p.endswith("while True: pass")]
    rows = [asdict(row) for row in engines_beside_a_busy_process(["skd_fused_64.pt"], quick=True)]
    engines = {row["backend"] for row in rows}
    assert {"eager", "onnxruntime"} <= engines
    assert [(row["threads"], row["batch"]) for row in rows if row["backend"] == "onnxruntime"] == [
        (threads, batch) for threads in sorted({1, usable_cores()}) for batch in BATCHES
    ]
    for row in rows:
        assert row["weights"] == "skd_fused_64.pt" and row["resolution"] == 64
        assert row["fixed_shares"] == BACKENDS[row["backend"]].fixed_share_threads
        assert 0 < row["alone_p50_ms"] <= row["alone_p90_ms"] and 0 < row["busy_p50_ms"] <= row["busy_p90_ms"]
    table = busy_neighbour_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith("| skd_fused_64.pt | 64 | ") and "| eager * |" in "\n".join(table)
    assert "| onnxruntime |" in "\n".join(table)
    assert busy_neighbour_table([]) == "Not measured in this run."


def child_command_lines() -> list[str]:
    """The command lines of this process's children, from /proc."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            parent = (process / "stat").read_text().rsplit(")", 1)[1].split()[1]
            if parent == str(os.getpid()):
                found.append((process / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
    return found


def test_node_only_measures_the_node_section_alone():
    for clash in (["--skip-node"], ["--gpu-only", "--device", "cpu"], ["--reuse", "old.json"]):
        with pytest.raises(SystemExit):
            cli.parse_args(["--node-only", *clash])
    assert cli.parse_args(["--node-only", "--quick"]).node_only


def test_node_only_puts_its_section_in_place_of_the_old_one(tmp_path):
    report = tmp_path / "BENCH.md"
    report.write_text(
        "# Benchmarks\n\n## Targets (issue 7)\n\n| target | measured | verdict |\n|---|---|---|\n"
        "| 64x64 fp32 | 1 ms | met |\n| node overhead over bare transport <= 2 ms | +5 ms | **not met** |\n\n"
        "## Model only\n\nMODEL TABLE\n\n## Node end to end\n\nOLD NODE ROWS\n"
    )
    splice_node_section(report, ["## Node end to end", "", "NEW NODE ROWS"])
    text = report.read_text()
    assert "MODEL TABLE" in text and "| 64x64 fp32 | 1 ms | met |" in text and "NEW NODE ROWS" in text
    assert "OLD NODE ROWS" not in text and "node overhead over bare transport" not in text  # now in the node section
    assert text.count("## Node end to end") == 1


def test_maps_of_the_node_path_agree_with_the_reference_on_generated_clips():
    """A generated clip through the node's path (Image messages in bgr8 and rgb8, JPEG decoded at reduced size) and
    through the reference path: raw input gives the reference's maps on every frame (CC 1), JPEG input stays close.
    A missing real clip is skipped with a message."""
    estimator = SaliencyEstimator(backend="eager")
    agreement = map_agreement(estimator, camera_frames(640, 480, 6), "generated")
    assert agreement.frames == 6 and agreement.met("bgr8") and agreement.met("rgb8")
    assert agreement.min_cc["bgr8"] == pytest.approx(1.0) and agreement.max_abs_diff["rgb8"] < 1e-5
    assert agreement.min_cc["jpeg"] > 0.9
    missing = real_footage_agreement(estimator, tmp_clip := CONFIG_DIR / "no_such_clip.avi")
    assert missing.frames == 0 and str(tmp_clip) in missing.skipped and not missing.met("bgr8")


@needs_ros
def test_node_bench_run_records_where_the_live_nodes_time_goes():
    """A node run with the stage recorder on (SKD_NODE_STAGE_TIMES): the node, fed rgb8 frames over DDS, writes
    each frame's stages when it stops, and the run sums them up; its outputs are out when both the map and the ROIs
    are."""
    reliable = Transport("reliable-shm", "reliable, depth 10, shared memory", "reliable", 10, "fastdds_shm.xml")
    domain = int(os.environ["ROS_DOMAIN_ID"])
    run = measure(
        "node", reliable, "640x480", 10.0, 2.0, 1.0, domain, NodeOptions(backend="eager"), encoding="rgb8",
        stage_times=True,
    )  # fmt: skip
    assert not run.error and run.encoding == "rgb8" and run.node.received >= 0.8 * run.published
    stages = run.stages["stages"]
    assert run.stages["frames"] >= 0.8 * run.published
    for stage in ("hand-off to the worker", "decode", "preprocess", "inference", "postprocess", "outputs"):
        assert stages[stage]["frames"] == run.stages["frames"], stage
    assert {"publish saliency", "publish rois"} <= stages.keys() and "publish attention" not in stages  # no reader
    assert run.stages["in node"]["p50_ms"] > stages["inference"]["p50_ms"] > 0


@needs_ros
def test_node_bench_two_cameras_through_one_batching_node():
    """A `batched` run: the publisher sends each frame on two camera topics, one saliency node serves both
    (cameras:=cam0,cam1) and both cameras' maps come out; the node column pools the two cameras."""
    reliable = Transport("reliable-shm", "reliable, depth 10, shared memory", "reliable", 10, "fastdds_shm.xml")
    domain = int(os.environ["ROS_DOMAIN_ID"])
    run = measure("batched", reliable, "640x480", 10.0, 2.0, 1.0, domain, NodeOptions(backend="eager"), cameras=2)
    assert not run.error and run.published >= 10 and run.cameras == 2
    cameras = {camera for camera, _ in run.node.by_stamp}
    assert cameras == {0, 1} and run.node.received >= 0.8 * 2 * run.published
    assert run.overhead_p50_ms == run.overhead_p50_ms  # computed (not NaN)
    with pytest.raises(ValueError, match="take several cameras"):
        measure("node", reliable, "640x480", 10.0, 2.0, 1.0, domain, NodeOptions(), cameras=2)


def test_malloc_settings_file_reaches_the_heap_transport(tmp_path):
    settings = read_env_file(CONFIG_DIR / "malloc_image_buffers.env")
    assert int(settings["MALLOC_MMAP_THRESHOLD_"]) >= 1920 * 1080 * 3  # a full-HD bgr8 frame stays in the heap
    assert settings.items() <= TRANSPORT_BY_NAME["shm-sync-heap"].environment().items()
    broken = tmp_path / "broken.env"
    broken.write_text("# comment\nMALLOC_TRIM_THRESHOLD_\n")
    with pytest.raises(ValueError, match=r"broken.env:2: expected KEY=VALUE"):
        read_env_file(broken)

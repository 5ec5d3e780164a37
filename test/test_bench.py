"""skd-bench, the desk benchmark: the targets read the numbers as documented, the FLOP count matches
PyTorch's, the report is written and merged from earlier runs, and the node runs measure what they say
(in real processes over DDS)."""

import json
import os

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from skd_ros.core.model import SKDModel
from skd_ros.node.env_file import read_env_file
from skd_tools.bench import cli
from skd_tools.bench.accuracy import AccuracyRow
from skd_tools.bench.hot_path import profile_hot_path
from skd_tools.bench.latencies import Latencies, Run, pool
from skd_tools.bench.model_timing import ModelRow, count_macs
from skd_tools.bench.node_report import findings, hot_path_table
from skd_tools.bench.node_runs import NodeOptions, measure
from skd_tools.bench.targets import target_rows
from skd_tools.bench.transports import CONFIG_DIR, TRANSPORT_BY_NAME, Transport

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
    (row,) = [r for r in target_rows([], [], [], node) if r[0].startswith("node overhead")]
    assert row[2] == verdict and f"{work:.2f} ms" in row[1]


def test_reduced_precision_target_reads_the_fastest_fp32_and_names_its_own_engine():
    def row(backend, precision, ms):
        return ModelRow(backend, precision, "cpu", 1, 64, 1, ms, ms, 1e3 / ms, 0.0, 0.0, 0, 0.0, 100)

    rows = [row("eager", "fp32", 5.0), row("onnxruntime", "fp32", 2.0), row("onnxruntime-int8", "int8", 1.0)]
    accuracy = [AccuracyRow("onnxruntime-int8", "int8", 0.03, 0.002, d_nss=-0.002)]
    (alone,) = [r for r in target_rows(rows, [], accuracy, None) if r[0].startswith("int8")]
    assert alone[2] == "met" and "2.00x the fastest fp32, onnxruntime;" in alone[1]
    (behind,) = [
        r for r in target_rows([*rows, row("ncnn", "fp32", 1.25)], [], accuracy, None) if r[0].startswith("int8")
    ]
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
    period), and the overhead reading splits the end-to-end overhead into relay, paced work and the rest."""
    hot = profile_hot_path("640x480", 4, NodeOptions(backend="eager"), paced_fps=50.0)
    assert hot.stage_ms.keys() == hot.paced_stage_ms.keys()
    assert hot.stage_ms["inference"] > 0 and hot.paced_stage_ms["inference"] > 0
    table = hot_path_table(hot).splitlines()
    assert table[0] == "| stage | back to back | 50 FPS |" and len(table) == 2 + len(hot.stage_ms) + 1
    assert table[-1] == (
        f"| **total** | **{sum(hot.stage_ms.values()):.2f}** | **{sum(hot.paced_stage_ms.values()):.2f}** |"
    )
    summary = {
        "overhead_p50_ms_1080p": 6.0,
        "work_ms_1080p": 3.0,
        "paced_work_ms_1080p": 4.5,
        "relay_overhead_p50_ms_1080p": 0.7,
    }
    reading = findings(hot, [], "shm-sync-heap", summary)[-2]
    assert "remaining 5.30 ms" in reading and "take 4.50 ms in process instead of 3.00" in reading
    assert "leaves 0.8 ms for scheduling" in reading and "shrink to about 1.3 ms" in reading
    reading = findings(hot, [], "shm-sync-heap", summary | {"paced_work_ms_1080p": 5.5})[-2]
    assert "account for the whole overhead" in reading and "leaves" not in reading
    two = [Run(kind, "shm", "640x480", 30.0, cameras=2) for kind in ("batched", "per-camera")]
    for run, p50 in zip(two, (9.0, 7.0), strict=True):
        run.node = Latencies.from_latencies({(0, 1): p50, (1, 1): p50}, dropped=0)
    several = findings(hot, [], "shm-sync-heap", summary, two)[-2]
    assert "p50 9.00 ms with one node batching" in several and "one node per camera was faster" in several


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
    with pytest.raises(ValueError, match="need 2 or more cameras"):
        measure("node", reliable, "640x480", 10.0, 2.0, 1.0, domain, NodeOptions(), cameras=2)


def test_malloc_settings_file_reaches_the_heap_transport(tmp_path):
    settings = read_env_file(CONFIG_DIR / "malloc_image_buffers.env")
    assert int(settings["MALLOC_MMAP_THRESHOLD_"]) >= 1920 * 1080 * 3  # a full-HD bgr8 frame stays in the heap
    assert settings.items() <= TRANSPORT_BY_NAME["shm-sync-heap"].environment().items()
    broken = tmp_path / "broken.env"
    broken.write_text("# comment\nMALLOC_TRIM_THRESHOLD_\n")
    with pytest.raises(ValueError, match=r"broken.env:2: expected KEY=VALUE"):
        read_env_file(broken)

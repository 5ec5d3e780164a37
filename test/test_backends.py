"""Inference backends agree with the eager model within their stated tolerances; auto picks one and
says which; conversions (ONNX, TorchScript, int8, ncnn) round-trip; batched multi-camera steps match
one-at-a-time steps."""

import copy
import logging

import cv2
import numpy as np
import onnx
import pytest
import torch

from skd_ros.core.checkpoint import load_default_or, save_fused
from skd_ros.core.model import SKDModel
from skd_ros.core.preprocess import area_resize
from skd_ros.engines.backends import (
    AUTO,
    AUTO_REDUCED,
    BACKENDS,
    FULL_PRECISION,
    BackendDisagrees,
    BackendUnavailable,
    create_backend,
    unavailable_backends,
)
from skd_ros.engines.export import export_ncnn, export_onnx, export_torchscript, quantize_onnx_int8
from skd_ros.engines.probe import synthetic_pairs
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline, step_cameras
from skd_tools.bench import AccuracyRow, ModelRow, count_macs, target_rows

RESOLUTION = 32
CPU = torch.device("cpu")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def pairs():
    return synthetic_pairs(RESOLUTION, count=3, seed=5)


@pytest.fixture(scope="module")
def model(pairs):
    """The shipped model with its last layer rescaled so that its logits have mean 0 and standard
    deviation 2 on the probe frames: maps that span most of [0, 1] and follow the input. (A freshly
    initialised model gives maps of 0.50 +- 0.01 on which any backend would look accurate; rescaled, its
    maps span [0, 1] but hardly depend on the input, so a backend that ignored its input would pass.)"""
    model = copy.deepcopy(load_default_or(None)[0]).eval()
    last = model.head[8]
    logits = {}
    hook = last.register_forward_hook(lambda module, inputs, output: logits.setdefault("z", output))
    with torch.no_grad():
        model(*(torch.from_numpy(x) for x in pairs))
        hook.remove()
        scale = 2.0 / logits["z"].std()
        last.weight.mul_(scale)
        last.bias.copy_((last.bias - logits["z"].mean()) * scale)
    return model


@pytest.fixture(scope="module")
def reference(model, pairs):
    return create_backend("eager", model, RESOLUTION)(*pairs)


def test_probe_model_has_contrast_that_follows_the_input(model, pairs, reference):
    assert reference.std() > 0.15 and reference.min() < 0.3 and reference.max() > 0.7
    upside_down = tuple(np.ascontiguousarray(x[:, :, ::-1]) for x in pairs)
    assert np.abs(create_backend("eager", model, RESOLUTION)(*upside_down) - reference).mean() > 0.1


def _device_for(name: str) -> torch.device:
    return CPU if BACKENDS[name].unavailable_reason(CPU) is None else torch.device("cuda")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backend_matches_eager_within_its_tolerance(name, model, pairs, reference):
    device = _device_for(name)
    reason = BACKENDS[name].unavailable_reason(device)
    if reason:
        pytest.skip(f"{name} unavailable here: {reason}")
    backend = create_backend(name, model, RESOLUTION, device, threads=1)
    maps = backend(*pairs)
    assert maps.shape == (3, RESOLUTION, RESOLUTION) and maps.dtype == np.float32
    assert np.abs(maps - reference).max() <= BACKENDS[name].tolerance
    if name != "torch-compile":  # a new batch size recompiles (seconds); the other backends take any batch
        single = backend(pairs[0][1:2], pairs[1][1:2])
        assert np.abs(single[0] - reference[1]).max() <= BACKENDS[name].tolerance


def test_torch_compile_never_falls_back_to_eager_quietly(model, monkeypatch):
    """PyTorch stops compiling a function after 8 input shapes and thread counts and quietly runs it eagerly
    (seen: skd-bench's 2-thread torch-compile rows were eager). The backend raises the limit above
    skd-bench's grid and turns hitting it into an error. (Compiling past 8 shapes for real takes ~40 s.)"""
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 8)
    monkeypatch.setattr(torch._dynamo.config, "fail_on_recompile_limit_hit", False)
    create_backend("torch-compile", model, RESOLUTION, CPU, threads=1)
    assert torch._dynamo.config.recompile_limit >= 4 * 2 * 2  # resolutions x batch sizes x thread counts
    assert torch._dynamo.config.fail_on_recompile_limit_hit


def test_reduced_precision_backends_really_differ(model, pairs, reference):
    """The int8 path must actually be quantised (not an fp32 model under an int8 name)."""
    maps = create_backend("onnxruntime-int8", model, RESOLUTION)(*pairs)
    assert np.abs(maps - reference).max() > 1e-5


def test_auto_picks_an_accurate_backend_and_logs_it(model, pairs, reference, caplog):
    with caplog.at_level(logging.INFO, logger="skd_ros.engines.backends"):
        backend = create_backend(AUTO, model, RESOLUTION, CPU, threads=1)
    assert backend.precision in FULL_PRECISION and backend.name in BACKENDS
    assert f"inference backend: {backend.name}" in caplog.text
    assert np.abs(backend(*pairs) - reference).max() <= backend.tolerance
    with caplog.at_level(logging.INFO, logger="skd_ros.engines.backends"):
        again = create_backend(AUTO, model, RESOLUTION, CPU, threads=1)
    assert again.name == backend.name and "earlier race" in caplog.text


def test_auto_reduced_may_pick_any_precision(model, pairs, reference):
    backend = create_backend(AUTO_REDUCED, model, RESOLUTION, CPU, threads=1)
    assert np.abs(backend(*pairs) - reference).max() <= backend.tolerance


def test_auto_drops_a_backend_that_loses_a_flat_maps_pattern(model, pairs, caplog):
    """Maps spanning only ~0.01 (as one trained checkpoint gives): bf16 rounding keeps every pixel within
    its tolerance but scrambles the pattern; the race must see that and not pick it."""
    flat = SKDModel().eval()
    flat.load_state_dict(model.state_dict())
    with torch.no_grad():
        flat.head[8].weight.mul_(0.002)
        flat.head[8].bias.fill_(-0.15)
    if BACKENDS["torch-bf16"].unavailable_reason(CPU):
        pytest.skip("this CPU has no native bf16")
    with caplog.at_level(logging.WARNING, logger="skd_ros.engines.backends"):
        backend = create_backend(AUTO_REDUCED, flat, RESOLUTION, CPU, threads=1)
    assert backend.name != "torch-bf16"
    assert "torch-bf16 skipped" in caplog.text and "correlation" in caplog.text


def test_unknown_and_unavailable_backends_are_named(model):
    with pytest.raises(ValueError, match="unknown inference backend 'tflite'"):
        create_backend("tflite", model, RESOLUTION)
    assert "TensorRT needs a CUDA device" in unavailable_backends(CPU)["onnxruntime-tensorrt"]
    with pytest.raises(BackendUnavailable, match="onnxruntime-tensorrt.*unavailable on cpu"):
        create_backend("onnxruntime-tensorrt", model, RESOLUTION, CPU)


def test_a_forced_engine_that_disagrees_here_is_refused_with_the_numbers(model, monkeypatch):
    """A forced engine is checked against eager on this machine like a raced one: an int8 engine whose
    kernels go wrong on this CPU (as u8 x s8 did without VNNI) is refused, never run unchecked."""
    from skd_ros.engines.ort import OnnxRuntimeInt8Backend

    wrong = OnnxRuntimeInt8Backend.run
    monkeypatch.setattr(OnnxRuntimeInt8Backend, "run", lambda self, p, c: 1.0 - wrong(self, p, c))
    with pytest.raises(BackendDisagrees) as refused:
        create_backend("onnxruntime-int8", model, RESOLUTION, CPU, threads=1)
    message = str(refused.value)
    assert "'onnxruntime-int8' is refused on cpu" in message
    assert "differ from eager fp32's by up to" in message and "correlation -" in message
    assert "AVX2" in message and "AVX-512 VNNI" in message
    assert isinstance(refused.value, BackendUnavailable)  # the node's configure reports it and fails


def test_ncnn_names_what_is_missing_and_what_failed(model, monkeypatch, tmp_path):
    import importlib.util

    import pnnx

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pnnx" else find_spec(name))
    assert "pnnx not installed" in unavailable_backends(CPU)["ncnn"]
    monkeypatch.undo()
    assert "ncnn" not in unavailable_backends(CPU)
    assert "runs on the CPU" in BACKENDS["ncnn"].unavailable_reason(torch.device("cuda"))
    monkeypatch.setattr(pnnx, "EXEC_PATH", "/bin/false")  # a converter that fails
    with pytest.raises(RuntimeError, match="pnnx failed to convert the model to ncnn .exit code 1"):
        export_ncnn(model, RESOLUTION, tmp_path)
    hung = tmp_path / "hung-pnnx"
    hung.write_text("#!/bin/sh\nsleep 30\n")
    hung.chmod(0o755)
    monkeypatch.setattr(pnnx, "EXEC_PATH", str(hung))
    monkeypatch.setattr("skd_ros.engines.export.PNNX_TIMEOUT_S", 0.5)
    with pytest.raises(RuntimeError, match="did not finish converting the model to ncnn within 0.5 s"):
        export_ncnn(model, RESOLUTION, tmp_path)


def test_backend_rejects_wrong_shapes(model, pairs):
    backend = create_backend("onnxruntime", model, RESOLUTION)
    with pytest.raises(ValueError, match="N x 3 x 32 x 32"):
        backend(pairs[0][:, :, :16, :16], pairs[1][:, :, :16, :16])
    with pytest.raises(ValueError, match="N x 3 x 32 x 32"):
        backend(pairs[0], pairs[1][:2])


@pytest.mark.filterwarnings("ignore:`torch.jit.(save|load)` is deprecated:DeprecationWarning")
def test_exported_files_reproduce_the_model(model, pairs, reference, tmp_path):
    import onnxruntime

    onnx_path, script_path, int8_path = tmp_path / "m.onnx", tmp_path / "m.ts", tmp_path / "m_int8.onnx"
    onnx_bytes = export_onnx(model, RESOLUTION, onnx_path)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (maps,) = session.run(None, {"previous": pairs[0], "current": pairs[1]})  # batch of 3: batch axis is dynamic
    assert maps.shape == (3, 1, RESOLUTION, RESOLUTION)
    assert np.abs(maps[:, 0] - reference).max() <= BACKENDS["onnxruntime"].tolerance

    export_torchscript(model, RESOLUTION, script_path)
    loaded = torch.jit.load(str(script_path))
    with torch.no_grad():
        scripted = loaded(*(torch.from_numpy(x) for x in pairs))[:, 0].numpy()
    assert np.abs(scripted - reference).max() <= BACKENDS["torchscript"].tolerance

    quantize_onnx_int8(onnx_bytes, synthetic_pairs(RESOLUTION, count=8, seed=9), int8_path)
    op_types = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= op_types
    session = onnxruntime.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    (maps,) = session.run(None, {"previous": pairs[0], "current": pairs[1]})
    assert np.abs(maps[:, 0] - reference).max() <= BACKENDS["onnxruntime-int8"].tolerance


def test_torchscript_export_computes_in_fp32_on_any_gpu(model):
    """A trace records cuDNN's TF32 switch as an argument of every convolution (PyTorch's default: on);
    the exported model carries "off", so it computes in fp32 on whatever GPU loads it, and the
    process's own setting is left as it was."""
    allowed = torch.backends.cudnn.allow_tf32
    module = export_torchscript(model, RESOLUTION)
    convolutions = [node for node in module.graph.nodes() if node.kind() == "aten::_convolution"]
    assert len(convolutions) == 17  # 14 convolutions and 3 transposed convolutions
    assert all(node.inputsAt(12).toIValue() is False for node in convolutions)  # allow_tf32
    assert torch.backends.cudnn.allow_tf32 == allowed


def test_quantize_rejects_mismatched_calibration(model):
    previous, current = synthetic_pairs(RESOLUTION, count=4)
    with pytest.raises(ValueError, match="calibration needs two equal"):
        quantize_onnx_int8(export_onnx(model, RESOLUTION), (previous, current[:2]))


def test_estimator_backends_agree_and_cameras_batch(model, tmp_path):
    weights = tmp_path / "fused.pt"
    save_fused(model, weights, resolution=RESOLUTION)
    rng = np.random.default_rng(1)
    videos = [[rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(2)] for _ in range(3)]
    eager = SaliencyEstimator(weights, device="cpu", backend="eager")
    fast = SaliencyEstimator(weights, device="cpu", backend="onnxruntime", threads=1)
    assert fast.backend.name == "onnxruntime" and fast.resolution == RESOLUTION
    one_at_a_time = []
    for frames in videos:
        pipeline = SaliencyPipeline(eager)
        one_at_a_time.append([pipeline.step(frame, i, "cam") for i, frame in enumerate(frames)][-1])
    pipelines = [SaliencyPipeline(fast) for _ in videos]
    for i in range(2):
        batched = step_cameras(pipelines, [frames[i] for frames in videos], [i] * 3, ["cam"] * 3)
    for single, together in zip(one_at_a_time, batched, strict=True):
        assert together.paired_with_previous and single.paired_with_previous
        assert np.abs(single.saliency - together.saliency).max() <= BACKENDS["onnxruntime"].tolerance
        assert (single.peak.x, single.peak.y) == (together.peak.x, together.peak.y)
    with pytest.raises(ValueError, match="share one SaliencyEstimator"):
        step_cameras([SaliencyPipeline(fast), SaliencyPipeline(eager)], [videos[0][0]] * 2)
    with pytest.raises(ValueError, match="one frame, stamp and frame_id per pipeline"):
        step_cameras(pipelines, [videos[0][0]])


@needs_cuda
def test_cuda_graphs_replay_per_batch_size(model, pairs, reference):
    backend = create_backend("cuda-graphs-fp16", model, RESOLUTION, "cuda")
    first = backend(*pairs)
    again = backend(*pairs)  # replays the captured graph with fresh inputs
    single = backend(pairs[0][:1], pairs[1][:1])
    assert sorted(backend.graphs) == [1, 3]
    np.testing.assert_array_equal(first, again)
    assert np.abs(single[0] - reference[0]).max() <= backend.tolerance


@needs_cuda
def test_auto_on_cuda_picks_a_cuda_backend(model, pairs, reference):
    backend = create_backend(AUTO, model, RESOLUTION, "cuda")
    assert backend.device.type == "cuda"
    assert np.abs(backend(*pairs) - reference).max() <= backend.tolerance


@pytest.mark.parametrize("source", [(1920, 1080), (1280, 720), (1000, 750), (1024, 768), (64, 64), (30, 30)])
def test_fast_area_resize_matches_opencv(source):
    """The node's area resize stays within a few grey levels of the 2-D INTER_AREA call on camera-like
    frames (structure a few pixels across, not pixel noise), and within one where it takes no 2x2 step."""
    noise = np.random.default_rng(2).integers(0, 256, (source[1], source[0], 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(noise, (0, 0), 1.5)
    for size in ((64, 64), (32, 32), (128, 96)):
        fast = area_resize(frame, *size).astype(int)
        assert fast.shape == (size[1], size[0], 3)
        difference = np.abs(fast - cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        halved = source[0] >= 8 * size[0] and source[1] >= 8 * size[1]
        assert difference.max() <= (2 if halved else 1) and difference.mean() < 0.3


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
    from torch.utils.flop_counter import FlopCounterMode

    model = SKDModel().eval()
    frames = torch.zeros(2, 3, 48, 48)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(frames, frames)
    assert 2 * count_macs(model, 48, batch=2) == counter.get_total_flops()


def test_bench_writes_a_report(tmp_path):
    """skd-bench's model-only part end to end on a tiny grid: a table row per backend, the targets, figures."""
    from skd_tools import bench

    out = tmp_path / "BENCH.md"
    args = ["--out", str(out), "--skip-node", "--skip-accuracy", "--resolutions", "32", "--batches", "1"]
    args += ["--threads", "1", "--backends", "eager", "onnxruntime", "--budget", "0.02"]
    assert bench.main(args) == 0
    report = out.read_text()
    assert "## Targets (issue 7)" in report and "| eager | fp32 | 32 | 1 |" in report
    assert "| onnxruntime | fp32 | 32 | 1 |" in report
    assert (tmp_path / "figures" / "bench_model_fps.png").stat().st_size > 0
    raw = tmp_path / "bench.json"
    assert bench.main([*args, "--json", str(raw)]) == 0
    again = tmp_path / "AGAIN.md"
    assert bench.main(["--out", str(again), "--skip-model", "--skip-node", "--skip-accuracy", "--reuse", str(raw)]) == 0
    reused = again.read_text()
    assert "Reused with `--reuse" in reused and "| onnxruntime | fp32 | 32 | 1 |" in reused


def test_bench_report_merges_a_cpu_run_and_a_gpu_run(tmp_path):
    """The GPU table measured on another machine joins the CPU table of this one: each section comes from
    the last --reuse file that holds it, with its own run's date and software."""
    import json

    from skd_tools import bench

    cpu_json, gpu_json = tmp_path / "cpu.json", tmp_path / "gpu.json"
    args = ["--skip-node", "--skip-accuracy", "--resolutions", "32", "--batches", "1", "--threads", "1"]
    args += ["--backends", "eager", "--budget", "0.02"]
    assert bench.main([*args, "--out", str(tmp_path / "cpu.md"), "--json", str(cpu_json)]) == 0
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
    assert (
        bench.main(["--out", str(out), *skip_all, "--reuse", str(cpu_json), str(gpu_json), "--json", str(merged)]) == 0
    )
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
        bench.main(["--out", str(out), *skip_all, "--reuse", str(tmp_path / "missing.json")])
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps({"model": gpu["model"]}))  # rows without the run they came from
    with pytest.raises(SystemExit, match="cannot reuse .*truncated.json.*model_run"):
        bench.main(["--out", str(out), *skip_all, "--reuse", str(truncated)])


def test_node_bench_latency_accounting():
    """Drops are frames of the measured window that never arrived; pooled runs add up frames and drops."""
    from skd_tools.bench_node import Latencies, Run, pool

    ms = 1_000_000
    first = Latencies.of([1, 2, 3], [(0, 5 * ms), (1, 1 + 4 * ms), (3, 3 + 6 * ms)])  # stamp 0: before the window
    assert (first.received, first.dropped, first.p50_ms) == (2, 1, 5.0)
    runs = [Run("bare", "shm", "1920x1080", 30.0, published=3, bare=first)]
    runs.append(Run("bare", "shm", "1920x1080", 30.0, published=2, bare=Latencies.of([7, 8], [(7, 7 + 2 * ms)])))
    runs.append(Run("bare", "shm", "1920x1080", 30.0, error="no subscriber matched"))
    merged = pool(runs)
    assert (merged.published, merged.bare.received, merged.bare.dropped) == (5, 3, 2)
    assert merged.bare.p50_ms == 4.0 and "no subscriber matched" in merged.error


def test_node_bench_relay_run_measures_both_paths_over_dds():
    """A relay run in real processes: the camera's frames reach the bare subscriber and, answered by the
    do-nothing relay node, the relay's subscriber; the overhead is their per-frame difference. (Reliable
    QoS: best effort may lose frames on a busy test machine.)"""
    import os

    from skd_tools.bench_node import NodeOptions, Transport, measure

    reliable = Transport("reliable-shm", "reliable, depth 10, shared memory", "reliable", 10, "fastdds_shm.xml")
    run = measure("relay", reliable, "640x480", 30.0, 2.0, 1.0, int(os.environ["ROS_DOMAIN_ID"]), NodeOptions())
    assert not run.error and run.published >= 30
    assert run.node.received >= 0.8 * run.published and run.bare.received >= 0.8 * run.published
    both = [s for s in run.node.by_stamp if s in run.bare.by_stamp]
    assert run.overhead_p50_ms == pytest.approx(np.median([run.node.by_stamp[s] - run.bare.by_stamp[s] for s in both]))


def test_node_hot_path_is_timed_back_to_back_and_at_the_camera_pace():
    """skd-bench's in-process profile times the node's calls twice (back to back, and one frame per camera
    period), and the overhead reading splits the end-to-end overhead into relay, paced work and the rest."""
    from skd_tools.bench_node import Latencies, NodeOptions, Run, findings, hot_path_table, profile_hot_path

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


def test_node_bench_two_cameras_through_one_batching_node():
    """A `batched` run: the publisher sends each frame on two camera topics, one saliency node serves both
    (cameras:=cam0,cam1) and both cameras' maps come out; the node column pools the two cameras."""
    import os

    from skd_tools.bench_node import NodeOptions, Transport, measure

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
    from skd_ros.node.env_file import read_env_file
    from skd_tools.bench_node import CONFIG_DIR, TRANSPORT_BY_NAME

    settings = read_env_file(CONFIG_DIR / "malloc_image_buffers.env")
    assert int(settings["MALLOC_MMAP_THRESHOLD_"]) >= 1920 * 1080 * 3  # a full-HD bgr8 frame stays in the heap
    assert settings.items() <= TRANSPORT_BY_NAME["shm-sync-heap"].environment().items()
    broken = tmp_path / "broken.env"
    broken.write_text("# comment\nMALLOC_TRIM_THRESHOLD_\n")
    with pytest.raises(ValueError, match=r"broken.env:2: expected KEY=VALUE"):
        read_env_file(broken)

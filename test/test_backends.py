"""Inference backends agree with the eager model within their stated tolerances; auto picks one and
says which; conversions (ONNX, TorchScript, int8, ncnn) round-trip; batched multi-camera steps match
one-at-a-time steps."""

import copy
import logging
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import onnx
import pytest
import torch

from skd_ros.core.checkpoint import load_default_or, save_fused
from skd_ros.core.model import SKDModel, Widths
from skd_ros.core.preprocess import HALVING_FACTOR, area_resize
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


@pytest.mark.parametrize("fixed_share_wins", [True, False])
def test_auto_gives_engines_whose_threads_work_in_fixed_shares_one_thread(
    model, monkeypatch, caplog, restore_torch_threads, fixed_share_wins
):
    """ncnn and the PyTorch engines split each layer into fixed shares of their threads, and stall beside a busy
    process: auto races and keeps them on one CPU thread, also when the process's next race is answered from
    the first; the other engines (ONNX Runtime) get the threads asked for."""
    from skd_ros.engines import backends

    if not any(cls.fixed_share_threads == (not fixed_share_wins) for cls in BACKENDS.values() if cls.raced_by_auto):
        pytest.skip("no other kind of engine is installed to race against")
    monkeypatch.setattr(backends, "_race_winners", {})
    timing = {True: 0.001, False: 1.0} if fixed_share_wins else {True: 1.0, False: 0.001}
    monkeypatch.setattr(backends, "median_latency", lambda backend, pairs: timing[backend.fixed_share_threads])
    with caplog.at_level(logging.INFO, logger="skd_ros.engines.backends"):
        first = create_backend(AUTO, model, RESOLUTION, CPU, threads=2)
        again = create_backend(AUTO, model, RESOLUTION, CPU, threads=2)
    assert first.fixed_share_threads == fixed_share_wins
    for backend in (first, again):
        assert backend.name == first.name and backend.threads == (1 if fixed_share_wins else 2)
    assert "on one thread" in caplog.text  # the race says so, whoever wins (eager is always in it)


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

    # calibrated as the int8 engine calibrates (its 64 synthetic pairs), which its tolerance is stated for
    quantize_onnx_int8(onnx_bytes, synthetic_pairs(RESOLUTION, count=64, seed=9), int8_path)
    op_types = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= op_types
    session = onnxruntime.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    (maps,) = session.run(None, {"previous": pairs[0], "current": pairs[1]})
    assert np.abs(maps[:, 0] - reference).max() <= BACKENDS["onnxruntime-int8"].tolerance


@pytest.mark.parametrize("backend", ["ncnn", "onnxruntime"])
def test_engines_run_a_dilated_model(model, pairs, backend):
    """A checkpoint trained with context_dilation 2 (skd-train-real --context-dilation) runs on the CPU engines
    with the eager model's maps."""
    dilated, plain = SKDModel(Widths(context_dilation=2)).eval(), SKDModel(Widths(context_dilation=1)).eval()
    dilated.load_state_dict(model.state_dict())
    plain.load_state_dict(model.state_dict())
    expected = create_backend("eager", dilated, RESOLUTION)(*pairs)
    assert np.abs(expected - create_backend("eager", plain, RESOLUTION)(*pairs)).max() > 0.05  # dilation shows
    assert np.abs(create_backend(backend, dilated, RESOLUTION, threads=1)(*pairs) - expected).max() <= (
        BACKENDS[backend].tolerance
    )


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
    pooled_pipelines = [SaliencyPipeline(fast) for _ in videos]
    assert fast.backend.concurrent  # so the pool runs the batch's pairs one call each, side by side
    with ThreadPoolExecutor(2) as pool:
        for i in range(2):
            batched = step_cameras(pipelines, [frames[i] for frames in videos], [i] * 3, ["cam"] * 3)
            pooled = step_cameras(pooled_pipelines, [frames[i] for frames in videos], [i] * 3, ["cam"] * 3, pool=pool)
    for single, together, spread in zip(one_at_a_time, batched, pooled, strict=True):
        assert together.paired_with_previous and single.paired_with_previous and spread.paired_with_previous
        assert np.abs(single.saliency - together.saliency).max() <= BACKENDS["onnxruntime"].tolerance
        assert np.abs(spread.saliency - together.saliency).max() <= 1e-5
        assert (single.peak.x, single.peak.y) == (together.peak.x, together.peak.y) == (spread.peak.x, spread.peak.y)
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
    for size in ((64, 64), (96, 96), (32, 32), (128, 96)):
        fast = area_resize(frame, *size).astype(int)
        assert fast.shape == (size[1], size[0], 3)
        difference = np.abs(fast - cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        halved = source[0] >= HALVING_FACTOR * size[0] and source[1] >= HALVING_FACTOR * size[1]
        assert difference.max() <= (2 if halved else 1) and difference.mean() < (0.35 if halved else 0.3)

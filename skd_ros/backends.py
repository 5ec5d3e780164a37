"""Inference backends: the engines behind ``SaliencyEstimator.infer``, the core's one inference call.

Every backend takes (previous, current) as N x 3 x R x R float32 arrays and returns the N x R x R
float32 saliency maps, and agrees with the PyTorch model run eagerly in float32 to within its stated
``tolerance`` (largest absolute difference on a map in [0, 1]; test/test_backends.py checks it):

===================== ========= ====== ===========================================================
name                  precision  tol.  engine
===================== ========= ====== ===========================================================
eager                 fp32      5e-6   the PyTorch module as written (the reference; thread counts
                                       change the summation order, hence not 0)
torchscript           fp32      1e-4   traced and frozen; on CPU also optimize_for_inference (oneDNN
                                       convolutions with the ReLU fused in)
torch-compile         fp32      1e-4   torch.compile (Inductor) with frozen weights; compiles per
                                       input shape (about 20 s on a small CPU), so not raced by auto
onnxruntime           fp32      1e-4   ONNX Runtime, all graph optimisations (on CPU: conv+ReLU
                                       fusion, NCHWc blocked layout); CUDA provider on a GPU
ncnn                  fp32      1e-4   Tencent's ncnn, converted by pnnx; 3x3 convolutions by Winograd
                                       transforms (fewer multiplications than multiply-adds: 1.7x
                                       ONNX Runtime's speed on one core at 64x64); one image pair
                                       per call, so a batch runs pair after pair
onnxruntime-tensorrt  fp16      5e-3   ONNX Runtime's TensorRT provider in fp16 with an engine cache;
                                       building an engine takes minutes, so not raced by auto
onnxruntime-int8      int8      1e-1   ONNX Runtime on the statically quantised (QDQ) model, output
                                       layers in float; single pixels of a map move by up to ~0.08,
                                       the map as a whole does not (NSS within 0.01: skd-bench)
torch-bf16            bf16      3e-2   PyTorch in bfloat16, channels-last, frozen TorchScript; only
                                       where the CPU has native bf16 (AVX512-BF16 or AMX)
cuda-graphs-fp16      fp16      5e-3   CUDA, fp16 weights and activations, one CUDA graph captured per
                                       batch size (fixed shapes: no per-layer launch overhead), pinned
                                       host buffers for the copies in and out
===================== ========= ====== ===========================================================

On a GPU the fp32 backends compute in full fp32 (PyTorch would otherwise let cuDNN round convolution
inputs to TF32: ``skd_ros.export.without_tf32``) and agree with eager fp32 on the CPU within
``Backend.tolerance_on(device)``: at least 1e-4, because cuDNN picks its own convolution algorithms
and summation orders.

``backend="auto"`` builds the available full-precision backends (fp32 everywhere, plus fp16 on a GPU,
whose error is far below a map's 8-bit output step), checks each against eager on synthetic frames
(within its tolerance, and correlation >= 0.99 with eager's maps), times each on a batch of one and
keeps the fastest, logging the race. ``"auto-reduced"`` races int8 and bf16 as well (their
accuracy cost is measured by ``skd-bench``). Any name above forces that backend.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skd_ros.export import (
    INPUT_NAMES,
    NCNN_INPUTS,
    NCNN_OUTPUT,
    export_ncnn,
    export_onnx,
    export_torchscript,
    quantize_onnx_int8,
    quiet_tracing,
    synthetic_pairs,
    without_tf32,
)
from skd_ros.model import SKDModel

AUTO = "auto"
AUTO_REDUCED = "auto-reduced"
CUDA_FP32_TOLERANCE = 1e-4
TORCH_COMPILE_RECOMPILE_LIMIT = 256  # input shapes and thread counts compiled per process (torch.compile)

log = logging.getLogger(__name__)


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing package, provider, GPU or CPU feature); says which."""


class Backend:
    """A model compiled for one engine, resolution and device. Call it with (previous, current)."""

    name = ""
    precision = "fp32"
    tolerance = 0.0
    raced_by_auto = True

    def __init__(self, model: SKDModel, resolution: int, device: torch.device, threads: int | None = None):
        self.resolution = resolution
        self.device = device
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads

    def _use_torch_threads(self) -> None:
        if self.threads is not None:
            torch.set_num_threads(self.threads)  # process-wide: PyTorch has one intra-op thread pool

    @classmethod
    def unavailable_reason(cls, device: torch.device) -> str | None:
        """None when this backend can run on ``device`` here, else why not."""
        return None

    @classmethod
    def tolerance_on(cls, device: torch.device) -> float:
        """Largest absolute map difference from eager fp32 on the CPU when this backend runs on ``device``."""
        return max(cls.tolerance, CUDA_FP32_TOLERANCE) if device.type == "cuda" else cls.tolerance

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        expected = (3, self.resolution, self.resolution)
        if previous.ndim != 4 or previous.shape[1:] != expected or previous.shape != current.shape:
            raise ValueError(
                f"{self.name} backend: previous and current must both be N x 3 x {self.resolution} x "
                f"{self.resolution}, got {previous.shape} and {current.shape}"
            )
        return self.run(np.ascontiguousarray(previous, np.float32), np.ascontiguousarray(current, np.float32))

    def run(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        threads = "default threads" if self.threads is None else f"{self.threads} thread(s)"
        return f"{self.name} ({self.precision}, {self.device}, {threads})"


def full_fp32(device: torch.device) -> contextlib.AbstractContextManager:
    """The fp32 backends' convolutions in IEEE fp32 on a GPU (``without_tf32``); nothing to do on a CPU."""
    return without_tf32() if device.type == "cuda" else contextlib.nullcontext()


class EagerBackend(Backend):
    name = "eager"
    tolerance = 5e-6

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self._use_torch_threads()
        self.model = copy.deepcopy(model).to(device).float().eval()

    @torch.inference_mode()
    def run(self, previous, current):
        prev_t = torch.from_numpy(previous).to(self.device)
        cur_t = torch.from_numpy(current).to(self.device)
        with full_fp32(self.device):
            return self.model(prev_t, cur_t)[:, 0].float().cpu().numpy()


class TorchScriptBackend(Backend):
    name = "torchscript"
    tolerance = 1e-4

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self._use_torch_threads()
        frozen = export_torchscript(model, resolution, device=device)
        if device.type == "cpu":
            # oneDNN's blocked/channels-last kernels with ReLU fused into the convolution.
            with quiet_tracing():
                frozen = torch.jit.optimize_for_inference(frozen)
        self.module = frozen

    @torch.inference_mode()
    def run(self, previous, current):
        prev_t = torch.from_numpy(previous).to(self.device)
        cur_t = torch.from_numpy(current).to(self.device)
        with full_fp32(self.device):
            return self.module(prev_t, cur_t)[:, 0].float().cpu().numpy()


class TorchCompileBackend(Backend):
    name = "torch-compile"
    tolerance = 1e-4
    raced_by_auto = False  # compiling takes tens of seconds per input shape

    @classmethod
    def unavailable_reason(cls, device):
        import shutil

        if device.type == "cpu" and shutil.which("g++") is None and shutil.which("c++") is None:
            return "torch.compile on CPU needs a C++ compiler (g++), none found"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self._use_torch_threads()
        self.model = copy.deepcopy(model).to(device).eval()
        # Every resolution, batch size and thread count is one more Dynamo compile of SKDModel.forward, and
        # after `recompile_limit` (8) of them PyTorch quietly runs the model eagerly instead: skd-bench's grid
        # once timed eager under this name. Allow more, and make hitting the limit an error, not a fallback.
        dynamo = torch._dynamo.config
        dynamo.recompile_limit = max(dynamo.recompile_limit, TORCH_COMPILE_RECOMPILE_LIMIT)
        dynamo.fail_on_recompile_limit_hit = True
        with quiet_tracing():  # importing Inductor touches deprecated torch.jit helpers
            self.compiled = torch.compile(self.model, dynamic=False, options={"freezing": True})

    @torch.no_grad()  # Inductor's weight freezing runs under no_grad, not inference_mode
    def run(self, previous, current):
        prev_t = torch.from_numpy(previous).to(self.device)
        cur_t = torch.from_numpy(current).to(self.device)
        with full_fp32(self.device):
            return self.compiled(prev_t, cur_t)[:, 0].float().cpu().numpy()


def _ort_providers(device: torch.device) -> list:
    if device.type == "cuda":
        # use_tf32=0: fp32 convolutions in fp32, as in the PyTorch backends (full_fp32)
        cuda_options = {"device_id": device.index or 0, "use_tf32": 0}
        return [("CUDAExecutionProvider", cuda_options), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    tolerance = 1e-4

    @classmethod
    def unavailable_reason(cls, device):
        try:
            import onnxruntime
        except ImportError:
            return "onnxruntime is not installed"
        if device.type == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return "this onnxruntime build has no CUDAExecutionProvider (install onnxruntime-gpu)"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self.session = self._session(self._onnx_model(model), _ort_providers(device))

    def _onnx_model(self, model: SKDModel) -> bytes:
        return export_onnx(model, self.resolution)

    def _session(self, onnx_model: bytes, providers: list):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = self.threads or 0  # 0: one per physical core
        # Idle worker threads sleep instead of spinning: a node shares its cores with ROS transport.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(onnx_model, options, providers=providers)

    def run(self, previous, current):
        (saliency,) = self.session.run(None, {INPUT_NAMES[0]: previous, INPUT_NAMES[1]: current})
        return saliency[:, 0]


class OnnxRuntimeTensorRTBackend(OnnxRuntimeBackend):
    name = "onnxruntime-tensorrt"
    precision = "fp16"
    tolerance = 5e-3
    raced_by_auto = False  # a TensorRT engine takes minutes to build (cached on disk afterwards)
    max_batch = 64

    @classmethod
    def unavailable_reason(cls, device):
        try:
            import onnxruntime
        except ImportError:
            return "onnxruntime is not installed"
        if device.type != "cuda":
            return "TensorRT needs a CUDA device"
        if "TensorrtExecutionProvider" not in onnxruntime.get_available_providers():
            return "this onnxruntime build has no TensorrtExecutionProvider"
        return None

    def __init__(self, model, resolution, device, threads=None):
        Backend.__init__(self, model, resolution, device, threads)
        shape = f"3x{resolution}x{resolution}"

        def profile(batch: int) -> str:
            return ",".join(f"{name}:{batch}x{shape}" for name in INPUT_NAMES)

        cache = Path.home() / ".cache" / "skd_ros" / "tensorrt"
        cache.mkdir(parents=True, exist_ok=True)
        trt_options = {
            "device_id": device.index or 0,
            "trt_fp16_enable": True,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_profile_min_shapes": profile(1),
            "trt_profile_opt_shapes": profile(1),
            "trt_profile_max_shapes": profile(self.max_batch),
        }
        providers = [("TensorrtExecutionProvider", trt_options), *_ort_providers(device)]
        self.session = self._session(self._onnx_model(model), providers)


class OnnxRuntimeInt8Backend(OnnxRuntimeBackend):
    """``calibration``: (previous, current) pairs, each N x 3 x R x R, for the activation ranges;
    by default 64 synthetic aerial-like pairs (``skd_ros.export.synthetic_pairs``)."""

    name = "onnxruntime-int8"
    precision = "int8"
    tolerance = 1e-1

    @classmethod
    def unavailable_reason(cls, device):
        if device.type != "cpu":
            return "the int8 path targets the CPU (on a GPU use cuda-graphs-fp16)"
        return super().unavailable_reason(device)

    def __init__(self, model, resolution, device, threads=None, calibration=None):
        self.calibration = calibration
        super().__init__(model, resolution, device, threads)

    def _onnx_model(self, model):
        calibration = self.calibration if self.calibration is not None else synthetic_pairs(self.resolution, 64)
        return quantize_onnx_int8(export_onnx(model, self.resolution), calibration)


def load_ncnn(param: str | Path, weights: str | Path, threads: int | None = None):
    """An ncnn network from the files ``export_ncnn`` writes, set up for fp32 Winograd inference on
    ``threads`` threads (default: ncnn's count of big cores)."""
    import ncnn

    net = ncnn.Net()
    options = net.opt
    options.num_threads = threads or ncnn.get_big_cpu_count()
    # Idle OpenMP threads sleep at once instead of spinning: a node shares its cores with ROS transport.
    options.openmp_blocktime = 0
    options.use_winograd_convolution = True
    # fp32 storage and arithmetic throughout, like the other fp32 backends (ncnn may otherwise keep
    # activations in fp16 or bf16 where the CPU supports them)
    options.use_fp16_storage = options.use_fp16_packed = options.use_fp16_arithmetic = False
    options.use_bf16_storage = False
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise RuntimeError(f"ncnn could not load the model from {param} and {weights}")
    return net


def run_ncnn(net, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """N x R x R maps from an ncnn network (``load_ncnn``) on N x 3 x R x R (previous, current), pair by
    pair: ncnn has no batch axis."""
    import ncnn

    maps = np.empty((len(previous), *previous.shape[2:]), np.float32)
    for index, pair in enumerate(zip(previous, current, strict=True)):
        extractor = net.create_extractor()
        for blob, frame in zip(NCNN_INPUTS, pair, strict=True):
            extractor.input(blob, ncnn.Mat(np.ascontiguousarray(frame, np.float32)))
        status, saliency = extractor.extract(NCNN_OUTPUT)
        if status != 0:
            raise RuntimeError(f"ncnn failed to run the model (status {status})")
        maps[index] = np.asarray(saliency)[0]
    return maps


class NcnnBackend(Backend):
    name = "ncnn"
    tolerance = 1e-4

    @classmethod
    def unavailable_reason(cls, device):
        if device.type != "cpu":
            return "the ncnn backend runs on the CPU (ncnn's Vulkan GPU path is not used)"
        missing = [package for package in ("ncnn", "pnnx") if importlib.util.find_spec(package) is None]
        if missing:
            return f"{' and '.join(missing)} not installed (pip install ncnn pnnx)"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        with tempfile.TemporaryDirectory(prefix="skd_ncnn_") as tmp:
            self.net = load_ncnn(*export_ncnn(model, resolution, tmp), threads=self.threads)

    def run(self, previous, current):
        return run_ncnn(self.net, previous, current)


def cpu_has_native_bf16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


class TorchBf16Backend(Backend):
    name = "torch-bf16"
    precision = "bf16"
    tolerance = 3e-2

    @classmethod
    def unavailable_reason(cls, device):
        if device.type != "cpu":
            return "the bf16 path targets the CPU (on a GPU use cuda-graphs-fp16)"
        if not cpu_has_native_bf16():
            return "this CPU has no native bfloat16 instructions (AVX512-BF16 or AMX); emulated bf16 is slow"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self._use_torch_threads()
        model = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last).eval()
        example = tuple(
            torch.zeros(1, 3, resolution, resolution, dtype=torch.bfloat16).contiguous(
                memory_format=torch.channels_last
            )
            for _ in INPUT_NAMES
        )
        with quiet_tracing(), torch.no_grad():
            self.module = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))

    @torch.inference_mode()
    def run(self, previous, current):
        prev_t, cur_t = (
            torch.from_numpy(x).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            for x in (previous, current)
        )
        return self.module(prev_t, cur_t)[:, 0].float().numpy()


@dataclass
class CapturedGraph:
    """One batch size's CUDA graph and the fixed buffers it reads and writes. The host buffers are
    pinned (page-locked), so the copies to and from the GPU are plain DMA transfers."""

    graph: torch.cuda.CUDAGraph
    host_inputs: torch.Tensor  # 2 x N x 3 x R x R float32, pinned: (previous, current) are written here
    device_inputs: torch.Tensor  # the same on the GPU; the graph casts them to fp16 itself
    device_output: torch.Tensor  # N x R x R float32 on the GPU
    host_output: torch.Tensor  # the same, pinned


class CudaGraphFp16Backend(Backend):
    """fp16 model on the GPU; the first call with a new batch size captures a CUDA graph for it (the
    fp16 cast, the model and the cast back), later calls copy the inputs into the graph's buffers and
    replay it: one copy in, one graph launch, one copy out per call."""

    name = "cuda-graphs-fp16"
    precision = "fp16"
    tolerance = 5e-3

    @classmethod
    def unavailable_reason(cls, device):
        if device.type != "cuda" or not torch.cuda.is_available():
            return "needs a CUDA device"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        self.model = copy.deepcopy(model).to(device).half().to(memory_format=torch.channels_last).eval()
        self.graphs: dict[int, CapturedGraph] = {}

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        previous, current = (x.half().contiguous(memory_format=torch.channels_last) for x in inputs)
        return self.model(previous, current)[:, 0].float()

    def _capture(self, batch: int) -> CapturedGraph:
        shape = (len(INPUT_NAMES), batch, 3, self.resolution, self.resolution)
        device_inputs = torch.randn(shape, device=self.device)
        side_stream = torch.cuda.Stream(self.device)
        side_stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side_stream), torch.no_grad():
            for _ in range(3):  # warm-up outside the graph: cuDNN picks its algorithms here
                self._forward(device_inputs)
        torch.cuda.current_stream(self.device).wait_stream(side_stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.no_grad():
            device_output = self._forward(device_inputs)
        return CapturedGraph(
            graph=graph,
            host_inputs=torch.empty(shape, pin_memory=True),
            device_inputs=device_inputs,
            device_output=device_output,
            host_output=torch.empty(device_output.shape, pin_memory=True),
        )

    def run(self, previous, current):
        batch = len(previous)
        if batch not in self.graphs:
            self.graphs[batch] = self._capture(batch)
        captured = self.graphs[batch]
        host_inputs = captured.host_inputs.numpy()
        host_inputs[0], host_inputs[1] = previous, current
        stream = torch.cuda.current_stream(self.device)
        captured.device_inputs.copy_(captured.host_inputs, non_blocking=True)
        captured.graph.replay()
        captured.host_output.copy_(captured.device_output, non_blocking=True)
        stream.synchronize()  # the pinned buffers are reused by the next call: finish with them here
        return captured.host_output.numpy().copy()


BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        EagerBackend,
        TorchScriptBackend,
        TorchCompileBackend,
        OnnxRuntimeBackend,
        NcnnBackend,
        OnnxRuntimeTensorRTBackend,
        OnnxRuntimeInt8Backend,
        TorchBf16Backend,
        CudaGraphFp16Backend,
    )
}
BACKEND_CHOICES = (AUTO, AUTO_REDUCED, *BACKENDS)
FULL_PRECISION = ("fp32", "fp16")
MIN_CORRELATION = 0.99  # auto only keeps backends whose maps correlate this well with eager fp32's


def unavailable_backends(device: torch.device) -> dict[str, str]:
    """Backends that cannot run on ``device`` here, with the reason for each."""
    reasons = {name: cls.unavailable_reason(device) for name, cls in BACKENDS.items()}
    return {name: reason for name, reason in reasons.items() if reason}


def available_backends(device: torch.device) -> list[str]:
    unavailable = unavailable_backends(device)
    return [name for name in BACKENDS if name not in unavailable]


def create_backend(
    name: str,
    model: SKDModel,
    resolution: int,
    device: torch.device | str = "cpu",
    threads: int | None = None,
) -> Backend:
    """Build backend ``name`` (or race them, for ``auto`` / ``auto-reduced``); a forced backend that
    cannot run here raises BackendUnavailable naming the reason."""
    device = torch.device(device)
    if name in (AUTO, AUTO_REDUCED):
        return select_fastest(model, resolution, device, threads, reduced_precision=name == AUTO_REDUCED)
    if name not in BACKENDS:
        raise ValueError(f"unknown inference backend {name!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    reason = BACKENDS[name].unavailable_reason(device)
    if reason:
        raise BackendUnavailable(f"inference backend {name!r} is unavailable on {device}: {reason}")
    return BACKENDS[name](model, resolution, device, threads)


def agreement(backend: Backend, reference: Backend, pairs: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(largest absolute difference, Pearson correlation) of the two backends' maps on ``pairs``.

    The correlation catches what the absolute difference cannot: a model whose maps span only a few
    hundredths (0.462-0.470 for one trained checkpoint) loses its whole pattern to bf16 rounding while
    every pixel stays within 0.002 of fp32."""
    maps, expected = backend(*pairs), reference(*pairs)
    if expected.std() == 0:
        return float(np.abs(maps - expected).max()), 1.0 if maps.std() == 0 else 0.0
    return float(np.abs(maps - expected).max()), float(np.corrcoef(maps.ravel(), expected.ravel())[0, 1])


def median_latency(backend: Backend, pairs: tuple[np.ndarray, np.ndarray], runs: int = 15, warmup: int = 3) -> float:
    for _ in range(warmup):
        backend(*pairs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backend(*pairs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# A race's outcome depends on the architecture, resolution, device and threads (speed) and on the
# weights (whether a reduced-precision backend keeps the maps): it runs once per process for each, and
# later estimators with the same of all of these reuse its winner.
_race_winners: dict[tuple, str] = {}


def weights_digest(model: SKDModel) -> str:
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def select_fastest(
    model: SKDModel,
    resolution: int,
    device: torch.device,
    threads: int | None = None,
    reduced_precision: bool = False,
) -> Backend:
    """Race the available backends on a batch of one and return the fastest that agrees with eager."""
    key = (weights_digest(model), resolution, str(device), threads, reduced_precision)
    if key in _race_winners:
        backend = create_backend(_race_winners[key], model, resolution, device, threads)
        log.info("inference backend: %s (fastest in this process's earlier race)", backend.describe())
        return backend
    reference = EagerBackend(model, resolution, device, threads)
    probe = synthetic_pairs(resolution, count=2, seed=1)
    single = (probe[0][:1], probe[1][:1])
    timings: dict[str, float] = {}
    built: dict[str, Backend] = {EagerBackend.name: reference}
    for name, cls in BACKENDS.items():
        if not cls.raced_by_auto or (cls.precision not in FULL_PRECISION and not reduced_precision):
            continue
        if cls.unavailable_reason(device):
            continue
        try:
            backend = built.get(name) or cls(model, resolution, device, threads)
            error, correlation = agreement(backend, reference, probe)
        except Exception as exc:  # a backend that fails to build here must not stop the node
            log.warning("inference backend %s failed to build, skipped: %s", name, exc)
            continue
        if error > cls.tolerance or correlation < MIN_CORRELATION:
            log.warning(
                "inference backend %s skipped: its maps differ from eager by up to %.3g (tolerance %.3g), "
                "correlation %.4f (needs %.2f)",
                name,
                error,
                cls.tolerance,
                correlation,
                MIN_CORRELATION,
            )
            continue
        built[name] = backend
        timings[name] = median_latency(backend, single)
    winner = min(timings, key=timings.get)
    _race_winners[key] = winner
    race = ", ".join(
        f"{name} {seconds * 1e3:.2f} ms" for name, seconds in sorted(timings.items(), key=lambda kv: kv[1])
    )
    log.info("inference backend: %s, the fastest at batch 1 (%s)", built[winner].describe(), race)
    return built[winner]

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
inputs to TF32: ``skd_ros.engines.export.without_tf32``) and agree with eager fp32 on the CPU within
``Backend.tolerance_on(device)``: at least 1e-4, because cuDNN picks its own convolution algorithms
and summation orders.

``backend="auto"`` builds the available full-precision backends (fp32 everywhere, plus fp16 on a GPU,
whose error is far below a map's 8-bit output step), checks each against eager on synthetic frames
(within its tolerance, and correlation >= 0.99 with eager's maps), times each on a batch of one and
keeps the fastest, logging the race. On a CPU it gives the engines whose threads split each layer into
fixed shares (ncnn, the PyTorch ones) one thread, whatever ``threads`` asks: beside another busy process
their calls stall (``Backend.fixed_share_threads``). ``"auto-reduced"`` races int8 and bf16 as well (their
accuracy cost is measured by ``skd-bench``). Any name above forces that backend.
"""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np
import torch

from skd_ros.core.model import SKDModel
from skd_ros.engines.base import Backend, BackendDisagrees, BackendUnavailable, cpu_features
from skd_ros.engines.ncnn_engine import NcnnBackend
from skd_ros.engines.ort import OnnxRuntimeBackend, OnnxRuntimeInt8Backend, OnnxRuntimeTensorRTBackend
from skd_ros.engines.probe import synthetic_pairs
from skd_ros.engines.pytorch import (
    CudaGraphFp16Backend,
    EagerBackend,
    TorchBf16Backend,
    TorchCompileBackend,
    TorchScriptBackend,
)

__all__ = [
    "AUTO",
    "AUTO_REDUCED",
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendDisagrees",
    "BackendUnavailable",
    "create_backend",
]

AUTO = "auto"
AUTO_REDUCED = "auto-reduced"

log = logging.getLogger(__name__)


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
MIN_CORRELATION = 0.99  # an engine's maps must correlate this well with eager fp32's on the probe pairs
PROBE_PAIRS = 2  # synthetic aerial-like pairs every engine is checked on when it is built


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
    backend = BACKENDS[name](model, resolution, device, threads)
    if name != EagerBackend.name:
        # An engine's kernels differ between CPUs (int8 overflowed on CPUs without VNNI): a forced engine is
        # checked on this machine like a raced one, so it never publishes maps nobody compared.
        reference = EagerBackend(model, resolution, device, threads)
        problem = disagreement(backend, reference, synthetic_pairs(resolution, count=PROBE_PAIRS, seed=1))
        if problem:
            raise BackendDisagrees(
                f"inference backend {name!r} is refused on {device}: {problem}; this CPU: {cpu_features()}"
            )
    return backend


def disagreement(backend: Backend, reference: Backend, pairs: tuple[np.ndarray, np.ndarray]) -> str | None:
    """None when ``backend`` computes ``reference``'s maps on ``pairs`` within its tolerance and correlation
    >= MIN_CORRELATION; otherwise what differs, in words."""
    error, correlation = agreement(backend, reference, pairs)
    tolerance = type(backend).tolerance_on(backend.device)
    if error <= tolerance and correlation >= MIN_CORRELATION:
        return None
    return (
        f"its maps differ from eager fp32's by up to {error:.3g} (tolerance {tolerance:.3g}), correlation "
        f"{correlation:.4f} (needs {MIN_CORRELATION})"
    )


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
_race_winners: dict[tuple, tuple[str, int | None]] = {}  # -> (the winner, the threads it was raced on)


def weights_digest(model: SKDModel) -> str:
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def race_threads(cls: type[Backend], device: torch.device, threads: int | None) -> int | None:
    """The threads auto gives backend ``cls``: one for an engine whose threads work in fixed shares on a CPU
    (``Backend.fixed_share_threads``), where a thread that loses its core to another process stalls the call;
    ``threads`` otherwise."""
    return 1 if device.type == "cpu" and cls.fixed_share_threads else threads


def select_fastest(
    model: SKDModel,
    resolution: int,
    device: torch.device,
    threads: int | None = None,
    reduced_precision: bool = False,
) -> Backend:
    """Race the available backends on a batch of one and return the fastest that agrees with eager. An engine
    whose threads work in fixed shares runs on one thread on a CPU (``race_threads``)."""
    key = (weights_digest(model), resolution, str(device), threads, reduced_precision)
    if key in _race_winners:
        name, winner_threads = _race_winners[key]
        backend = create_backend(name, model, resolution, device, winner_threads)
        log.info("inference backend: %s (fastest in this process's earlier race)", backend.describe())
        return backend
    reference = EagerBackend(model, resolution, device, race_threads(EagerBackend, device, threads))
    probe = synthetic_pairs(resolution, count=PROBE_PAIRS, seed=1)
    single = (probe[0][:1], probe[1][:1])
    timings: dict[str, float] = {}
    built: dict[str, Backend] = {EagerBackend.name: reference}
    for name, cls in BACKENDS.items():
        if not cls.raced_by_auto or (cls.precision not in FULL_PRECISION and not reduced_precision):
            continue
        if cls.unavailable_reason(device):
            continue
        try:
            backend = built.get(name) or cls(model, resolution, device, race_threads(cls, device, threads))
            problem = disagreement(backend, reference, probe)
        except Exception as exc:  # a backend that fails to build here must not stop the node
            log.warning("inference backend %s failed to build, skipped: %s", name, exc)
            continue
        if problem:
            log.warning("inference backend %s skipped: %s", name, problem)
            continue
        built[name] = backend
        timings[name] = median_latency(backend, single)
    winner = min(timings, key=timings.get)
    _race_winners[key] = (winner, built[winner].threads)
    race = ", ".join(
        f"{name} {seconds * 1e3:.2f} ms{'' if built[name].threads == threads else ' on one thread'}"
        for name, seconds in sorted(timings.items(), key=lambda kv: kv[1])
    )
    log.info("inference backend: %s, the fastest at batch 1 (%s)", built[winner].describe(), race)
    return built[winner]

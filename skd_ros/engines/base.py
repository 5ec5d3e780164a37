"""What every inference engine is: a model compiled for one engine, resolution and device, called with
(previous, current) N x 3 x R x R float32 arrays and returning N x R x R float32 maps, with the
largest difference from eager fp32 it is allowed (``tolerance``). The engines themselves live in
``pytorch``, ``ort`` and ``ncnn_engine``; ``backends`` names them and picks one."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from skd_ros.core.model import SKDModel
from skd_ros.engines.export import without_tf32

CUDA_FP32_TOLERANCE = 1e-4


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing package, provider, GPU or CPU feature); says which."""


class BackendDisagrees(BackendUnavailable):
    """The backend builds here, but its maps differ from eager fp32's on this machine (says by how much)."""


def cpu_features() -> str:
    """The instruction sets that decide which kernels an engine runs (int8 and bf16 above all), as CPUID
    reports them to this process (an emulated CPU's own, under qemu)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # a numpy without the (private) table: say so rather than guess
        return "features unknown"
    names = {"AVX2": "AVX2", "AVX512F": "AVX-512", "AVX512VNNI": "AVX-512 VNNI", "AVX512BF16": "AVX-512 BF16"}
    return ", ".join(f"{label} {'yes' if features.get(key) else 'no'}" for key, label in names.items())


class Backend:
    """A model compiled for one engine, resolution and device. Call it with (previous, current)."""

    name = ""
    precision = "fp32"
    tolerance = 0.0
    raced_by_auto = True
    # whether the engine's threads split each layer into fixed shares and wait for each other at its end (OpenMP:
    # ncnn, PyTorch on a CPU). On cores shared with other processes (DDS, the camera driver, other nodes) one
    # thread that loses its core stalls the rest: in skd-bench's "Inference beside a busy process", ncnn on two
    # threads went from 3.5 to 81 ms (p90) beside one busy process. auto races such engines on one thread; ONNX
    # Runtime's threads take work as they come, and slow down to one thread's speed, not below it.
    fixed_share_threads = False
    # whether calls from several threads may run at once (each on its own share of a batch): true of engines
    # whose compiled model is read-only while it runs and that release Python's lock (ncnn, ONNX Runtime on a CPU)
    concurrent = False

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

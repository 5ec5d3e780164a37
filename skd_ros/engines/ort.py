"""The ONNX Runtime engines: fp32 (CPU, or CUDA with onnxruntime-gpu), fp16 TensorRT, and int8 (static QDQ
quantisation, CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from skd_ros.core.model import SKDModel
from skd_ros.engines.base import Backend
from skd_ros.engines.export import INPUT_NAMES, export_onnx, quantize_onnx_int8
from skd_ros.engines.probe import synthetic_pairs


def _ort_providers(device: torch.device) -> list:
    if device.type == "cuda":
        # use_tf32=0: fp32 convolutions in fp32, as in the PyTorch backends (full_fp32)
        cuda_options = {"device_id": device.index or 0, "use_tf32": 0}
        return [("CUDAExecutionProvider", cuda_options), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def ort_session(onnx_model: bytes, providers: list, threads: int | None = None):
    """An ONNX Runtime session set up as every ONNX Runtime engine runs: all graph optimisations, one
    inter-op thread, ``threads`` intra-op threads (None: one per physical core), no spinning."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads or 0  # 0: one per physical core
    # Idle worker threads sleep instead of spinning: a node shares its cores with ROS transport. Spinning made a
    # once-a-frame call faster alone (2.5 against 4.3 ms) but kept a core busy between frames and doubled the call
    # beside a busy process (docs/BENCHMARKS.md, "A model called once a frame runs cold").
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(onnx_model, options, providers=providers)


def run_session(session, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """N x R x R maps from a session of an exported model (inputs ``previous``, ``current``)."""
    (saliency,) = session.run(None, {INPUT_NAMES[0]: previous, INPUT_NAMES[1]: current})
    return saliency[:, 0]


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
        self.session = ort_session(self._onnx_model(model), _ort_providers(device), threads)
        self.concurrent = device.type == "cpu"  # Session.run is thread-safe; on a GPU one batched call is better

    def _onnx_model(self, model: SKDModel) -> bytes:
        return export_onnx(model, self.resolution)

    def run(self, previous, current):
        return run_session(self.session, previous, current)


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
        self.session = ort_session(self._onnx_model(model), providers, threads)


class OnnxRuntimeInt8Backend(OnnxRuntimeBackend):
    """``calibration``: (previous, current) pairs, each N x 3 x R x R, for the activation ranges;
    by default 64 synthetic aerial-like pairs (``skd_ros.engines.probe.synthetic_pairs``)."""

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

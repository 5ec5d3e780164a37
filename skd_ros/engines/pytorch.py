"""The PyTorch engines: eager (the reference every other engine is checked against), TorchScript,
torch.compile, bfloat16 on CPUs with native bf16, and fp16 CUDA graphs."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from skd_ros.engines.base import Backend, full_fp32
from skd_ros.engines.export import INPUT_NAMES, export_torchscript, quiet_tracing

TORCH_COMPILE_RECOMPILE_LIMIT = 256  # input shapes and thread counts compiled per process (torch.compile)


class EagerBackend(Backend):
    name = "eager"
    tolerance = 5e-6
    fixed_share_threads = True  # PyTorch's CPU threads are OpenMP's (Backend)

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
    fixed_share_threads = True

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
    fixed_share_threads = True

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


def cpu_has_native_bf16() -> bool:
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


class TorchBf16Backend(Backend):
    name = "torch-bf16"
    precision = "bf16"
    tolerance = 3e-2
    fixed_share_threads = True

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

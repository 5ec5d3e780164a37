"""What a network costs: parameters, memory footprint (weights + the largest layer's activations at
batch 1, measured with forward hooks) and model-only speed at batch 1."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from skd_ros.core.model import count_parameters

MB = 1024.0 * 1024.0


@dataclass
class NetworkProfile:
    parameters: int
    weights_mb: float
    activations_mb: float  # the largest single layer's inputs + outputs at batch 1
    ms_per_frame: float  # model only, batch 1
    device: str
    threads: int
    load: float | None = None  # the machine's 1-minute load average when timed (None where unknown)

    @property
    def memory_mb(self) -> float:
        return self.weights_mb + self.activations_mb

    @property
    def fps(self) -> float:
        return 1000.0 / self.ms_per_frame if self.ms_per_frame > 0 else float("inf")


def _tensors(value) -> list[torch.Tensor]:
    if torch.is_tensor(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


@torch.inference_mode()
def peak_activation_bytes(network: nn.Module, example_inputs: Sequence[torch.Tensor]) -> int:
    """Bytes of the largest working set of any single layer (its distinct input and output tensors)
    in one forward pass: what an inference engine that frees every tensor once consumed must hold at
    least. Layers are the leaf modules; in-place outputs are not counted twice."""
    peak = 0

    def hook(module, inputs, output):
        nonlocal peak
        distinct = {}
        for tensor in _tensors(inputs) + _tensors(output):
            distinct[(tensor.data_ptr(), tensor.numel())] = tensor.numel() * tensor.element_size()
        peak = max(peak, sum(distinct.values()))

    leaves = [m for m in network.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        network.eval()(*example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return peak


@torch.inference_mode()
def time_network(
    network: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    min_seconds: float = 0.5,
    warmup: int = 5,
    max_runs: int = 1000,
) -> float:
    """Median milliseconds of one forward pass at batch 1 (model only: no preprocessing, no copies)."""
    network.eval()
    cuda = any(t.is_cuda for t in example_inputs)
    for _ in range(warmup):
        network(*example_inputs)
    if cuda:
        torch.cuda.synchronize()
    times, start = [], time.perf_counter()
    while len(times) < max_runs and (time.perf_counter() - start < min_seconds or len(times) < 10):
        t0 = time.perf_counter()
        network(*example_inputs)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def profile_network(
    network: nn.Module, example_inputs: Sequence[torch.Tensor], min_seconds: float = 0.5
) -> NetworkProfile:
    weight_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
    weight_bytes += sum(b.numel() * b.element_size() for b in network.buffers())
    device = example_inputs[0].device
    return NetworkProfile(
        parameters=count_parameters(network),
        weights_mb=weight_bytes / MB,
        activations_mb=peak_activation_bytes(network, example_inputs) / MB,
        ms_per_frame=time_network(network, example_inputs, min_seconds=min_seconds),
        device=str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        threads=torch.get_num_threads(),
        load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )

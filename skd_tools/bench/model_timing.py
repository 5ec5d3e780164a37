"""The model-only grid: every available inference backend x resolution x batch x threads timed, with
the model's cost counted from its graph (multiply-adds, memory) and its FLOP rate read against SGEMM."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from skd_ros.core.device import usable_cores
from skd_ros.core.model import SKDModel, count_parameters
from skd_ros.engines.backends import BackendUnavailable, create_backend, unavailable_backends
from skd_tools.bench.machine import device_name
from skd_training.evaluate import MB, peak_activation_bytes

BYTES_PER_VALUE = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
CPU = torch.device("cpu")
GPU_SUFFIX = " (GPU)"  # marks a GPU run's entries in the skipped-backends list


def count_macs(model: nn.Module, resolution: int, batch: int = 1) -> int:
    """Multiply-adds of all convolutions and transposed convolutions in one forward pass."""
    total = 0

    def conv(module, inputs, output):
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):  # every input value meets every kernel tap of every output channel
            total += inputs[0].numel() * module.out_channels * kernel // module.groups
        else:
            total += output.numel() * (module.in_channels // module.groups) * kernel

    handles = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            shape = (batch, 3, resolution, resolution)
            model.cpu()(torch.zeros(shape), torch.zeros(shape))
    finally:
        for handle in handles:
            handle.remove()
    return total


def memory_mb(model: nn.Module, resolution: int, batch: int, precision: str) -> float:
    """skd-eval's memory footprint (weights + the largest single layer's inputs and outputs), scaled
    from fp32 to the backend's value size."""

    shape = (batch, 3, resolution, resolution)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    activation_bytes = peak_activation_bytes(model.cpu(), (torch.zeros(shape), torch.zeros(shape)))
    return (weight_bytes + activation_bytes) * BYTES_PER_VALUE[precision] / 4 / MB


@dataclass
class ModelRow:
    backend: str
    precision: str
    device: str
    threads: int
    resolution: int
    batch: int
    p50_ms: float
    p99_ms: float
    fps: float
    gflops: float
    vs_sgemm: float
    parameters: int
    memory_mb: float
    runs: int


def time_calls(call, budget_s: float, min_runs: int = 5, max_runs: int = 5000, warmup: int = 3) -> np.ndarray:
    """Seconds per call: ``warmup`` untimed calls, then calls until ``budget_s`` has passed and at least
    ``min_runs`` were timed. Calls slower than a quarter of the budget (R=256, batch 64) get one warm-up
    call and three timed ones, which keeps the full table within minutes."""
    start = time.perf_counter()
    call()
    if time.perf_counter() - start > budget_s / 4:
        warmup, min_runs = 0, 3
    for _ in range(warmup - 1):
        call()
    times, start = [], time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


def paced_times(call, calls: int, gap_s: float) -> np.ndarray:
    """Seconds per call of ``calls`` calls, each after ``gap_s`` asleep: how a node calls the model, once a frame."""
    times = []
    for _ in range(calls):
        time.sleep(gap_s)
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return np.asarray(times)


def run_model_only(
    model: SKDModel,
    backends: list[str],
    resolutions: list[int],
    batches: list[int],
    thread_counts: list[int],
    device: torch.device,
    budget_s: float,
) -> tuple[list[ModelRow], dict[str, str]]:
    """Time every backend x threads x resolution x batch; ``vs_sgemm`` is filled in by ``apply_sgemm``."""
    rows, skipped = [], dict(unavailable_backends(device))
    params = count_parameters(model)
    macs = {r: count_macs(model, r) for r in resolutions}
    combos = [(t, b, r) for t in thread_counts for b in backends if b not in skipped for r in resolutions]
    rng = np.random.default_rng(0)
    for threads, name, resolution in tqdm(combos, desc="model-only", unit="config"):
        try:
            backend = create_backend(name, model, resolution, device, threads)
        except BackendUnavailable as exc:
            skipped[name] = str(exc)
            continue
        for batch in batches:
            shape = (batch, 3, resolution, resolution)
            previous, current = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))
            times = time_calls(lambda: backend(previous, current), budget_s)  # noqa: B023 - used at once
            p50 = float(np.median(times))
            gflops = 2 * macs[resolution] * batch / p50 / 1e9
            rows.append(
                ModelRow(
                    backend=name,
                    precision=backend.precision,
                    device=device_name(device),
                    threads=threads,
                    resolution=resolution,
                    batch=batch,
                    p50_ms=p50 * 1e3,
                    p99_ms=float(np.percentile(times, 99)) * 1e3,
                    fps=batch / p50,
                    gflops=gflops,
                    vs_sgemm=math.nan,
                    parameters=params,
                    memory_mb=memory_mb(model, resolution, batch, backend.precision),
                    runs=len(times),
                )
            )
    torch.set_num_threads(usable_cores())
    return rows, skipped


def apply_sgemm(rows: list[ModelRow], sgemm: float) -> None:
    """The achieved FLOP rate over the SGEMM rate of as many cores as the row used (CPU rows only)."""
    for row in rows:
        row.vs_sgemm = row.gflops / (sgemm * row.threads) if row.device.startswith("CPU") else math.nan

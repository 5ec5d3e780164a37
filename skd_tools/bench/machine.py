"""The machine a benchmark ran on: CPU, cores, load, the software around the GPU, and the
single-thread SGEMM rate that the model's FLOP rate is read against (the hardware's reference)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from skd_ros.core.device import usable_cores


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


_NUMPY_SGEMM = """
import sys, time, numpy as np
n = int(sys.argv[1]); a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
a @ b
best = 0.0
for _ in range(10):
    t = time.perf_counter(); a @ b; best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""


def sgemm_gflops(size: int = 1024) -> dict:
    """Single-thread SGEMM rate (GFLOP/s, best of 10: the least disturbed call on a shared machine) of
    PyTorch's BLAS and, in a one-thread child process, numpy's; the higher is the reference rate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.rand(size, size), torch.rand(size, size)
        a @ b
        best_torch = 0.0
        for _ in range(10):
            start = time.perf_counter()
            a @ b
            best_torch = max(best_torch, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    finally:
        torch.set_num_threads(threads)
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", _NUMPY_SGEMM, str(size)], env=one_thread, capture_output=True, text=True, timeout=120
        )
        best_numpy = float(out.stdout.strip())
    except (subprocess.SubprocessError, ValueError):
        best_numpy = 0.0
    library = "torch.mm" if best_torch >= best_numpy else "numpy matmul"
    return {
        "gflops": max(best_torch, best_numpy),
        "torch": best_torch,
        "numpy": best_numpy,
        "size": size,
        "best": library,
    }


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU: {cpu_name()}"


def gpu_conditions(device: torch.device) -> dict:
    """What the GPU rows depend on besides the card: the software stack and the host."""
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", f"--id={device.index or 0}"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = ""
    return {
        "name": torch.cuda.get_device_name(device),
        "driver": driver or "unknown",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "python": platform.python_version(),
        "host_cpu": f"{cpu_name()}, {usable_cores()} cores",
    }


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"

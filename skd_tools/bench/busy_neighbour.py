"""skd-bench: the model's engines beside a busy process. A node shares its cores with DDS, the camera driver and
other nodes. An engine whose threads split each layer into fixed shares and wait for each other at its end (OpenMP:
ncnn, PyTorch) stalls whenever one of its threads loses its core; ONNX Runtime's threads take work as they come.
What this measures is why ``auto`` races the former on one thread (``skd_ros.engines.backends.race_threads``)."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from skd_ros.core.checkpoint import DEFAULT_WEIGHTS
from skd_ros.core.device import usable_cores
from skd_ros.engines.backends import BACKENDS, FULL_PRECISION, available_backends
from skd_ros.runtime import SaliencyEstimator
from skd_tools.bench.model_timing import paced_times

BATCHES = (1, 4)  # one camera; the four cameras of the node-cost target in one forward pass
CALLS = 30
GAP_S = 0.01  # between calls, the thread asleep, as in a node between frames


@dataclass
class BusyRow:
    weights: str
    resolution: int
    backend: str
    threads: int
    fixed_shares: bool  # Backend.fixed_share_threads: auto races it on one thread
    batch: int
    alone_p50_ms: float
    alone_p90_ms: float
    busy_p50_ms: float
    busy_p90_ms: float


@contextlib.contextmanager
def busy_process():
    """Another process that keeps one core busy for as long as the block runs."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # running before the first call is timed
        yield
    finally:
        child.kill()
        child.wait()


def paced_ms(call, calls: int) -> tuple[float, float]:
    """(p50, p90) in ms of ``calls`` calls, ``GAP_S`` apart, after three untimed ones."""
    for _ in range(3):
        call()
    times = paced_times(call, calls, GAP_S)
    return 1e3 * float(np.median(times)), 1e3 * float(np.percentile(times, 90))


def engines_beside_a_busy_process(weights: list[str | None], quick: bool = False) -> list[BusyRow]:
    """Every full-precision CPU engine auto may race, on one thread and on every usable core, at batch 1 and 4:
    alone, and with another process keeping one core busy; for each checkpoint of ``weights`` (None: the
    shipped default) at its own input side."""
    cpu = torch.device("cpu")
    engines = [
        name
        for name in available_backends(cpu)
        if BACKENDS[name].raced_by_auto and BACKENDS[name].precision in FULL_PRECISION
    ]
    plan = [(w, name, threads) for w in weights for name in engines for threads in sorted({1, usable_cores()})]
    calls = 10 if quick else CALLS
    rows = []
    for checkpoint, name, threads in tqdm(plan, desc="engines beside a busy process", unit="engine"):
        estimator = SaliencyEstimator(checkpoint, None, "cpu", backend=name, threads=threads)
        side = estimator.resolution
        rng = np.random.default_rng(0)
        for batch in BATCHES:
            previous, current = (rng.standard_normal((batch, 3, side, side), dtype=np.float32) for _ in range(2))
            call = functools.partial(estimator.infer, previous, current)
            alone = paced_ms(call, calls)
            with busy_process():
                busy = paced_ms(call, calls)
            rows.append(
                BusyRow(
                    Path(checkpoint or DEFAULT_WEIGHTS).name,
                    side,
                    name,
                    threads,
                    BACKENDS[name].fixed_share_threads,
                    batch,
                    *alone,
                    *busy,
                )
            )
    return rows

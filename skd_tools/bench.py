"""skd-bench: how fast the SKD model and the saliency node are, measured against the hardware and
against the paper, written to docs/BENCHMARKS.md with figures in docs/figures/bench_*.png.

Sections (each can be skipped):

1. **Model only** — every available inference backend (``skd_ros.engines.backends``) x resolution x batch x
   threads (1 and all cores): latency p50/p99 per call, frames per second (batch / p50), parameters,
   memory footprint (weights + the largest layer's working set, skd-eval's definition) and the
   achieved FLOP rate as a fraction of this machine's single-thread SGEMM rate (times the thread
   count), measured in the same run. FLOPs are counted analytically: 2 x the multiply-adds of every
   convolution and transposed convolution.
2. **Reduced-precision accuracy** — int8 / bf16 versus fp32 on a labelled validation split (NSS, CC
   via skd-eval), plus the map difference on synthetic frames.
3. **Node end to end and transport** — ``skd_tools.bench_node``: camera publisher -> node -> subscriber
   next to bare transport, and the transport options (QoS, Fast DDS shared memory / data sharing,
   compressed input, camera-side resize), with a cProfile of the node's hot path.

This is a benchmark, not a test: nothing is asserted; the summary table reads the numbers against the
targets of issue 7. Timings on a shared machine are noisy: the report records the load average before
and after. ``--quick`` is a smoke run (two resolutions, short budgets).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from skd_ros.core.checkpoint import default_weights_path, load_default_or
from skd_ros.core.model import SKDModel, count_parameters
from skd_ros.engines.backends import BACKENDS, BackendUnavailable, create_backend, unavailable_backends
from skd_ros.engines.probe import synthetic_pairs
from skd_tools.bench_node import DEFAULT_DOMAIN_ID

PAPER_TABLE_V = {  # resolution: (GPU FPS on a GTX 1080 Ti, CPU FPS on one 3.4 GHz core, memory MB)
    256: (707, 26.4, 9.24),
    128: (2626, 103.4, 2.31),
    64: (8522, 411.7, 0.58),
    32: (28738, 1490.5, 0.14),
}
BYTES_PER_VALUE = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
TARGETS = {
    "fp32_vs_eager": 3.0,
    "fp32_vs_sgemm": 1.2,
    "reduced_vs_fp32": 1.8,
    "reduced_nss_loss": 0.01,
    "node_overhead_ms": 2.0,
    "gpu_fps_32": 28738.0,
}


# --------------------------------------------------------------------------------------------------
# The machine


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


# --------------------------------------------------------------------------------------------------
# The model's cost, counted


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
    from skd_training.evaluate import MB, peak_activation_bytes

    shape = (batch, 3, resolution, resolution)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    activation_bytes = peak_activation_bytes(model.cpu(), (torch.zeros(shape), torch.zeros(shape)))
    return (weight_bytes + activation_bytes) * BYTES_PER_VALUE[precision] / 4 / MB


# --------------------------------------------------------------------------------------------------
# Model only


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


# --------------------------------------------------------------------------------------------------
# Accuracy cost of reduced precision


@dataclass
class AccuracyRow:
    backend: str
    precision: str
    max_abs_diff: float  # versus eager fp32, synthetic frames
    mean_abs_diff: float
    nss: float = math.nan
    cc: float = math.nan
    d_nss: float = math.nan  # versus fp32
    d_cc: float = math.nan
    frames: int = 0


def run_accuracy(
    weights: Path | None, resolution: int, data: Path | None, split: str, max_frames: int | None
) -> tuple[list[AccuracyRow], str]:
    """Map differences on synthetic pairs always; NSS/CC on ``data`` when trained weights and a
    labelled dataset are there. Returns the rows and a note on what was (not) measured."""
    model, trained_resolution, meta = load_default_or(weights)
    resolution = resolution or trained_resolution
    pairs = synthetic_pairs(resolution, count=32, seed=11)
    reference = create_backend("eager", model, resolution)(*pairs)
    names = ["eager"] + [n for n in ("onnxruntime-int8", "torch-bf16") if not BACKENDS[n].unavailable_reason(CPU)]
    rows = []
    for name in names:
        maps = create_backend(name, model, resolution)(*pairs)
        diff = np.abs(maps - reference)
        rows.append(AccuracyRow(name, BACKENDS[name].precision, float(diff.max()), float(diff.mean())))
    if meta.get("untrained"):
        return rows, "no trained weights: NSS/CC not measured (an untrained model's scores mean nothing)"
    if data is None:
        return rows, "no labelled dataset given (--data): NSS/CC not measured"
    from skd_ros.runtime import SaliencyEstimator
    from skd_training.data.layouts import open_source
    from skd_training.evaluate import evaluate, fused_predictor

    predictors = [
        fused_predictor(SaliencyEstimator(weights, resolution, "cpu", backend=row.backend), name=row.backend)
        for row in rows
    ]
    result = evaluate(
        predictors, open_source(data), split, max_frames_per_video=max_frames, profile=False, n_examples=0
    )
    fp32 = result.overall_of("eager")
    for row in rows:
        scores = result.overall_of(row.backend)
        row.nss, row.cc, row.frames = scores["NSS"], scores["CC"], scores["frames"]
        row.d_nss, row.d_cc = row.nss - fp32["NSS"], row.cc - fp32["CC"]
    return rows, f"NSS/CC on {data}, split {split!r}, {rows[0].frames} frames (at most {max_frames} per video)"


CPU = torch.device("cpu")
GPU_SUFFIX = " (GPU)"  # marks a GPU run's entries in the skipped-backends list


# --------------------------------------------------------------------------------------------------
# Reading the numbers against the targets


def _best(rows: list[ModelRow], **where) -> ModelRow | None:
    chosen = [
        r for r in rows if all(getattr(r, k) == v if not callable(v) else v(getattr(r, k)) for k, v in where.items())
    ]
    return max(chosen, key=lambda r: r.fps) if chosen else None


# The fp32 engine each reduced-precision backend is quantised or cast from, for the same-engine ratio.
FP32_OF_REDUCED = {"onnxruntime-int8": "onnxruntime", "torch-bf16": "torchscript"}


def target_rows(
    model_rows: list[ModelRow],
    gpu_rows: list[ModelRow],
    accuracy: list[AccuracyRow],
    node: dict | None,
) -> list[tuple[str, str, str]]:
    """(target, what was measured, verdict) for each target of issue 7."""
    out = []
    at64 = {"resolution": 64, "threads": 1, "batch": 1}
    eager = _best(model_rows, backend="eager", **at64)
    fp32 = _best(model_rows, precision="fp32", **at64)
    reduced = _best(model_rows, precision=lambda p: p in ("int8", "bf16"), **at64)
    if eager and fp32:
        ratio = fp32.fps / eager.fps
        out.append(
            (
                f"64x64, 1 thread, batch 1: fastest fp32 >= {TARGETS['fp32_vs_eager']:g}x torch eager",
                f"{fp32.backend} {fp32.p50_ms:.2f} ms vs eager {eager.p50_ms:.2f} ms = {ratio:.2f}x",
                _verdict(ratio >= TARGETS["fp32_vs_eager"]),
            )
        )
        out.append(
            (
                f"same row: FLOPs / time >= {TARGETS['fp32_vs_sgemm']:g}x single-thread SGEMM rate",
                f"{fp32.gflops:.1f} GFLOP/s = {fp32.vs_sgemm:.2f}x SGEMM",
                _verdict(fp32.vs_sgemm >= TARGETS["fp32_vs_sgemm"]),
            )
        )
    if reduced and fp32:
        ratio = reduced.fps / fp32.fps
        acc = next((a for a in accuracy if a.backend == reduced.backend), None)
        loss = -acc.d_nss if acc and math.isfinite(acc.d_nss) else math.nan
        loss_text = f"NSS loss {loss:.4f}" if math.isfinite(loss) else "NSS loss not measured (see accuracy section)"
        speed_ok = ratio >= TARGETS["reduced_vs_fp32"]
        verdict = (
            _verdict(speed_ok and loss <= TARGETS["reduced_nss_loss"])
            if math.isfinite(loss)
            else ("speed " + _verdict(speed_ok) + ", accuracy not measured")
        )
        measured = f"{reduced.backend} {reduced.p50_ms:.2f} ms = {ratio:.2f}x the fastest fp32, {fp32.backend}"
        same_engine = _best(model_rows, backend=FP32_OF_REDUCED.get(reduced.backend), **at64)
        if same_engine is not None and same_engine.backend != fp32.backend:
            measured += f" ({reduced.fps / same_engine.fps:.2f}x its own engine's fp32, {same_engine.backend})"
        out.append(
            (
                f"int8/bf16 >= {TARGETS['reduced_vs_fp32']:g}x fp32 speed, NSS loss <= {TARGETS['reduced_nss_loss']:g}",
                f"{measured}; {loss_text}",
                verdict,
            )
        )
    node_target = (
        f"node overhead over bare transport <= {TARGETS['node_overhead_ms']:g} ms p50 at 1920x1080, 0 drops at 30 FPS"
    )
    if node is None:
        out.append((node_target, "not run (--skip-node)", "not run"))
    elif node.get("overhead_p50_ms_1080p") is None:
        out.append((node_target, "no frame came through both paths (see the node section)", "not measured"))
    else:
        overhead, drops = node["overhead_p50_ms_1080p"], node["drops_30fps_1080p"]
        measured = f"{overhead:+.2f} ms p50 (transport `{node['transport']}`), {drops} dropped"
        # The end-to-end difference subtracts two noisy receivers; the node's in-process work is a floor
        # under what it adds to every frame, so an overhead below it is read as that floor.
        work = node.get("work_ms_1080p")
        if work is not None:
            measured += f"; the node's own work per frame (in-process profile) {work:.2f} ms"
            if (paced := node.get("paced_work_ms_1080p")) is not None:  # absent from runs before it was measured
                measured += f", {paced:.2f} ms at 30 FPS"
            overhead = max(overhead, work)
        out.append((node_target, measured, _verdict(overhead <= TARGETS["node_overhead_ms"] and drops == 0)))
    gpu = _best(gpu_rows, resolution=32)
    out.append(
        (
            f"GPU: >= {TARGETS['gpu_fps_32']:,.0f} FPS at 32x32, batched",
            f"{gpu.fps:,.0f} FPS ({gpu.backend}, batch {gpu.batch}, {gpu.device})" if gpu else "no GPU in this run",
            _verdict(gpu.fps >= TARGETS["gpu_fps_32"]) if gpu else "not run",
        )
    )
    return out


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


# --------------------------------------------------------------------------------------------------
# Report


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def model_table(rows: list[ModelRow]) -> str:
    body = [
        [
            r.backend,
            r.precision,
            r.resolution,
            r.batch,
            f"{r.p50_ms:.3f}",
            f"{r.p99_ms:.3f}",
            f"{r.fps:,.0f}",
            f"{r.gflops:.1f}",
            "" if math.isnan(r.vs_sgemm) else f"{r.vs_sgemm:.2f}",
            f"{r.memory_mb:.2f}",
            r.runs,
        ]
        for r in sorted(rows, key=lambda r: (r.resolution, r.batch, -r.fps))
    ]
    headers = [
        "backend",
        "precision",
        "R",
        "batch",
        "p50 ms",
        "p99 ms",
        "FPS",
        "GFLOP/s",
        "x SGEMM",
        "memory MB",
        "runs",
    ]
    return markdown_table(headers, body)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fps(
    rows: list[ModelRow], path: Path, where: str, paper_label: str, paper_fps: dict[int, float], paper_batch: int | None
) -> Path:
    """Frames per second against resolution, a line per backend and a panel per batch size, with the
    paper's Table V numbers (on the ``paper_batch`` panel, or on every panel where None)."""
    import matplotlib.ticker

    plt = _pyplot()
    batches = sorted({r.batch for r in rows})
    backends = sorted({r.backend for r in rows})
    resolutions = sorted({r.resolution for r in rows})
    fig, axes = plt.subplots(1, len(batches), figsize=(6 * len(batches), 4.5), squeeze=False)
    for ax, batch in zip(axes[0], batches, strict=True):
        for name in backends:
            pts = sorted((r.resolution, r.fps) for r in rows if r.backend == name and r.batch == batch)
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=name)
        if paper_batch in (None, batch):
            res = sorted(paper_fps)
            ax.plot(res, [paper_fps[r] for r in res], "k--", marker="s", label=paper_label)
        ax.set_xscale("log", base=2)
        ax.set(yscale="log", xlabel="resolution R (R x R)", ylabel="frames per second")
        ax.set_title(f"model only, {where}, batch {batch}")
        ax.set_xticks(resolutions, [str(r) for r in resolutions])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_model(rows: list[ModelRow], sgemm: float, path_fps: Path, path_ratio: Path) -> list[Path]:
    one_thread = [r for r in rows if r.threads == 1]
    if not one_thread:
        return []
    cpu_fps = {res: values[1] for res, values in PAPER_TABLE_V.items()}
    plot_fps(one_thread, path_fps, "1 thread", "paper, 1 CPU core (TF)", cpu_fps, paper_batch=1)

    plt = _pyplot()
    batches = sorted({r.batch for r in one_thread})
    backends = sorted({r.backend for r in one_thread})
    fig, axes = plt.subplots(1, len(batches), figsize=(6 * len(batches), 4.5), squeeze=False)
    resolutions = sorted({r.resolution for r in one_thread})
    width = 0.8 / max(1, len(backends))
    for ax, batch in zip(axes[0], batches, strict=True):
        for i, name in enumerate(backends):
            values = [
                next(
                    (r.vs_sgemm for r in one_thread if r.backend == name and r.batch == batch and r.resolution == res),
                    0,
                )
                for res in resolutions
            ]
            ax.bar(np.arange(len(resolutions)) + i * width - 0.4 + width / 2, values, width, label=name)
        ax.axhline(1.0, color="k", lw=1)
        ax.axhline(
            TARGETS["fp32_vs_sgemm"], color="r", ls="--", lw=1, label=f"target {TARGETS['fp32_vs_sgemm']:g}x (fp32)"
        )
        ax.set_xticks(range(len(resolutions)), [str(r) for r in resolutions])
        ax.set(
            xlabel="resolution R",
            ylabel=f"model FLOP rate / SGEMM ({sgemm:.0f} GFLOP/s)",
            title=f"how close to the hardware limit: 1 thread, batch {batch}",
        )
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path_ratio, dpi=110)
    plt.close(fig)
    return [path_fps, path_ratio]


def accuracy_table(rows: list[AccuracyRow]) -> str:
    body = [
        [
            r.backend,
            r.precision,
            f"{r.max_abs_diff:.4f}",
            f"{r.mean_abs_diff:.5f}",
            _num(r.nss),
            _num(r.d_nss, signed=True),
            _num(r.cc),
            _num(r.d_cc, signed=True),
        ]
        for r in rows
    ]
    headers = ["backend", "precision", "max abs diff", "mean abs diff", "NSS", "dNSS", "CC", "dCC"]
    return markdown_table(headers, body)


def _num(value: float, digits: int = 4, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def write_report(path: Path, context: dict) -> None:
    c = context
    sgemm = c["sgemm"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{c['command']}` on {c['date']} ({c['minutes']:.0f} min); raw numbers: `--json`. Re-run "
        "the full benchmark with `skd-bench`, a smoke run with `skd-bench --quick`. Nothing here is a test: the "
        "numbers are read against the targets of issue 7 below.",
        "",
        "## Conditions",
        "",
        f"- CPU: {c['cpu']}, {c['cores']} usable cores; Python {platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {c['onnxruntime']}, ncnn {c['ncnn']}.",
        f"- Load average (1/5/15 min) before: {c['load_before']}, after: {c['load_after']}."
        + (f" {c['note']}" if c["note"] else ""),
        f"- Single-thread SGEMM ({sgemm['size']}^3, float32, best of 10 calls, measured at the start and the end of "
        f"this run): **{sgemm['gflops']:.1f} GFLOP/s** (start {sgemm['start']:.1f}, end {sgemm['end']:.1f}; at the "
        f"start torch.mm {sgemm['torch']:.1f}, numpy {sgemm['numpy']:.1f}). The `x SGEMM` columns divide the "
        "model's FLOP rate by this rate times the thread count.",
        f"- Weights: {c['weights']}. Speed does not depend on the weights' values; accuracy does.",
        f"- GPU: {c['gpu']}.",
        "",
        "## Targets (issue 7)",
        "",
        markdown_table(["target", "measured", "verdict"], [list(t) for t in c["targets"]]),
        "",
    ]
    lines += c["model_section"] + c["accuracy_section"] + c["node_section"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def model_section(
    rows: list[ModelRow],
    gpu_rows: list[ModelRow],
    skipped: dict,
    model: SKDModel,
    figures: list[Path],
    out: Path,
    resolutions: list[int],
    gpu_lines: list[str],
) -> list[str]:
    lines = ["## Model only", ""]
    if not rows and not gpu_rows:
        return lines + ["Skipped.", ""]
    costs = [
        [
            r,
            f"{count_macs(model, r) / 1e6:.1f}",
            f"{2 * count_macs(model, r) / 1e9:.3f}",
            f"{count_parameters(model):,}",
        ]
        for r in resolutions
    ]
    lines += [
        "Cost of one frame pair, counted from the graph (every convolution and transposed convolution):",
        "",
        markdown_table(["R", "MMAC", "GFLOP", "parameters"], costs),
        "",
        "FPS = batch / p50 latency of one call (numpy in, numpy out: input checks, layout conversion and "
        "copies included). Memory = weights + the largest single layer's inputs and outputs at that batch "
        "(skd-eval's definition), in the backend's value size.",
        "",
    ]
    for threads in sorted({r.threads for r in rows}):
        lines += [
            f"### CPU, {threads} thread{'s' if threads > 1 else ''}",
            "",
            model_table([r for r in rows if r.threads == threads]),
            "",
        ]
    lines += ["### Against the paper (Table V: TensorFlow, one 3.4 GHz CPU core; GTX 1080 Ti)", ""]
    paper = []
    for res in resolutions:
        ours = _best(rows, resolution=res, threads=1, batch=1, precision="fp32")
        ours_any = _best(rows, resolution=res, threads=1, batch=1)
        gpu, cpu_fps, mem = PAPER_TABLE_V.get(res, (math.nan, math.nan, math.nan))
        paper.append(
            [
                res,
                f"{cpu_fps:,.1f}",
                f"{ours.fps:,.0f} ({ours.backend})" if ours else "-",
                f"{ours_any.fps:,.0f} ({ours_any.backend})" if ours_any else "-",
                f"{mem:.2f}",
                f"{ours.memory_mb:.2f}" if ours else "-",
            ]
        )
    lines += [
        markdown_table(
            [
                "R",
                "paper CPU FPS",
                "ours, fastest fp32 (1 thread, batch 1)",
                "ours, fastest any precision",
                "paper memory MB",
                "ours memory MB (fp32)",
            ],
            paper,
        ),
        "",
    ]
    lines += reading_notes(rows)
    lines += gpu_lines
    for where, entries in (
        ("on the CPU", {k: v for k, v in skipped.items() if not k.endswith(GPU_SUFFIX)}),
        ("on the GPU", {k.removesuffix(GPU_SUFFIX): v for k, v in skipped.items() if k.endswith(GPU_SUFFIX)}),
    ):
        if entries and (rows if where == "on the CPU" else gpu_rows):
            reasons = "; ".join(f"`{k}`: {v}" for k, v in sorted(entries.items()))
            lines += [f"Backends not run {where}: {reasons}.", ""]
    for fig in figures:
        lines += [f"![{fig.stem}]({os.path.relpath(fig, out.parent)})", ""]
    return lines


def gpu_section(rows: list[ModelRow], conditions: dict, reused_note: str, figure: Path | None, out: Path) -> list[str]:
    """The model-only table on the GPU, the software it ran with, and the paper's GTX 1080 Ti next to it."""
    if not rows:
        return []
    c = conditions
    lines = [f"### GPU: {rows[0].device}", ""]
    if reused_note:
        lines += [reused_note, ""]
    lines += [
        f"PyTorch {c.get('torch', '?')} (CUDA {c.get('cuda', '?')}, cuDNN {c.get('cudnn', '?')}), driver "
        f"{c.get('driver', '?')}, Python {c.get('python', '?')}; host {c.get('host_cpu', '?')}. One host thread "
        "drives the GPU. FPS as above: numpy in and numpy out, so every call includes the copies to and from "
        "the GPU and waits for its result.",
        "",
        model_table(rows),
        "",
    ]
    paper = []
    for res in sorted({r.resolution for r in rows}):
        single, batched = _best(rows, resolution=res, batch=1), _best(rows, resolution=res, batch=lambda b: b > 1)
        paper.append(
            [
                res,
                f"{PAPER_TABLE_V[res][0]:,}" if res in PAPER_TABLE_V else "-",
                f"{single.fps:,.0f} ({single.backend})" if single else "-",
                f"{batched.fps:,.0f} ({batched.backend}, batch {batched.batch})" if batched else "-",
            ]
        )
    headers = ["R", "paper GPU FPS (GTX 1080 Ti, TF, batch not stated)", "ours, batch 1", "ours, batched"]
    lines += [markdown_table(headers, paper), ""]
    lines += gpu_reading_notes(rows)
    if figure is not None:
        lines += [f"![{figure.stem}]({os.path.relpath(figure, out.parent)})", ""]
    return lines


def gpu_reading_notes(rows: list[ModelRow]) -> list[str]:
    """What the GPU table says about where a call's time goes, in this run's numbers."""
    resolutions = sorted({r.resolution for r in rows})
    smallest, largest = resolutions[0], resolutions[-1]
    first, last = _best(rows, resolution=smallest, batch=1), _best(rows, resolution=largest, batch=1)
    eager, graphs = (
        _best(rows, backend="eager", resolution=64, batch=1),
        _best(rows, backend="cuda-graphs-fp16", resolution=64, batch=1),
    )
    notes = []
    if first and last:
        notes.append(
            f"- Batch 1: the fastest call takes {first.p50_ms:.2f} ms at {smallest}x{smallest} and "
            f"{last.p50_ms:.2f} ms at {largest}x{largest}, {largest**2 // smallest**2}x the pixels: a single pair's "
            "time is mostly the fixed cost of a call (copy in, launching the layers, copy out, waiting for the "
            "result), not arithmetic. The paper's 0.035 ms per frame at 32x32 is less than one such call: its "
            "figure is batched or leaves the copies out (the paper does not say)."
        )
    if eager and graphs:
        notes.append(
            f"- CUDA graphs launch the whole fp16 model at once instead of layer by layer: {graphs.p50_ms:.2f} ms "
            f"against eager PyTorch's {eager.p50_ms:.2f} ms at 64x64, batch 1."
        )
    big = [r for r in rows if r.resolution == largest and r.batch == max(x.batch for x in rows)]
    if len(big) > 1:
        fps = sorted(r.fps for r in big)
        megabytes = 2 * big[0].batch * 3 * largest**2 * 4 / 1e6
        notes.append(
            f"- At {largest}x{largest}, batch {big[0].batch}, every backend lands between {fps[0]:,.0f} and "
            f"{fps[-1]:,.0f} FPS, fp16 or fp32: each call carries {megabytes:.0f} MB of fp32 frames from host "
            "memory as well as the arithmetic, and the table does not separate the two."
        )
    return notes + [""] if notes else []


WINOGRAD_BACKENDS = ("ncnn",)  # engines that run 3x3 convolutions with fewer multiplications than multiply-adds


def reading_notes(rows: list[ModelRow]) -> list[str]:
    """How to read the model-only table, with this run's numbers at 64x64, one thread, batch 1."""
    at64 = {"resolution": 64, "threads": 1, "batch": 1}
    eager, fp32 = _best(rows, backend="eager", **at64), _best(rows, precision="fp32", **at64)
    direct = _best(rows, precision="fp32", backend=lambda name: name not in WINOGRAD_BACKENDS, **at64)
    if eager is None or fp32 is None or direct is None:
        return []
    lines = [
        "### Reading the model-only numbers",
        "",
        f"- At 64x64, one thread, batch 1 the fastest fp32 engine is `{fp32.backend}`: {fp32.p50_ms:.2f} ms, "
        f"{fp32.fps / eager.fps:.2f}x eager PyTorch ({eager.p50_ms:.2f} ms), {fp32.gflops:.0f} GFLOP/s = "
        f"{fp32.vs_sgemm:.2f}x the single-thread SGEMM rate. SGEMM runs at about the core's fp32 multiply-add "
        "throughput, so an engine that performs every multiply-add of the model can at best match it: the "
        f"fastest such engine here, `{direct.backend}` (direct convolutions), reaches {direct.vs_sgemm:.2f}x "
        f"({direct.p50_ms:.2f} ms). ncnn gets past that bound by computing the 3x3 convolutions (90 % of the "
        "model's multiply-adds) with Winograd transforms, which need several times fewer multiplications "
        "than the multiply-adds they replace; its GFLOP/s, like every row's, counts the model's multiply-adds "
        "(2 FLOPs each), not the arithmetic the engine performs. Without Winograd (ncnn's direct kernels) it "
        "runs at about ONNX Runtime's speed.",
    ]
    int8 = _best(rows, precision="int8", **at64)
    if int8 is not None:
        lines.append(
            f"- int8 (`{int8.backend}`, {int8.p50_ms:.2f} ms) is {int8.fps / direct.fps:.2f}x the direct fp32 engine "
            f"but only {int8.fps / fp32.fps:.2f}x `{fp32.backend}`: VNNI doubles the multiply-adds per instruction, "
            "and Winograd removes about as many multiplications, so a Winograd fp32 engine lands next to a direct "
            "int8 one. Other int8 engines tried during development on this machine were no faster at 64x64 on "
            "one thread: OpenVINO 2026.4 on the same QDQ model (1.0 ms), ncnn's int8 path (1.0 ms direct, 1.3 ms "
            "with its int8 Winograd), MNN 3.6 (1.6 ms, no faster with int8 weights). ONNX Runtime's own profile "
            "of the int8 model (also during development) puts a fifth of its time in the first transposed "
            "convolution, which it runs in fp32 (it has no int8 kernel for it), and another fifth in the two "
            "first convolutions, whose 3 and 6 input channels make poor int8 matrix products; rewriting that "
            "transposed convolution as an equivalent int8 3x3 convolution plus a pixel shuffle gained 7 % "
            "(0.99 ms) and was not kept. The int8 target read against "
            "the fastest fp32 engine therefore needs an int8 kernel that also cuts multiplications and is fast "
            "on this CPU; read against its own engine's fp32 (the targets table shows both) int8 clears it.",
        )
    lines += [
        "- Eager PyTorch runs every layer as its own call on plain NCHW tensors, with ReLU and pooling as separate "
        "passes over memory; the compiled engines keep activations in a blocked layout across layers and fuse "
        "ReLU into the convolutions. The gap therefore stays at batch 64 (it is not call overhead).",
        "- Rows with all threads on a two-core machine shared with other work are the noisiest: OpenMP "
        "(PyTorch) threads wait on each other at every layer and lose badly when another process holds a "
        "core; ONNX Runtime's non-spinning pool degrades more gracefully.",
        "",
    ]
    return lines


def accuracy_section(rows: list[AccuracyRow], note: str) -> list[str]:
    lines = ["## Reduced precision: accuracy cost", ""]
    if not rows:
        return lines + ["Skipped.", ""]
    return lines + [
        "Map differences against eager fp32 on 32 synthetic aerial-like frame pairs "
        f"(`skd_ros.engines.probe.synthetic_pairs`, not the int8 calibration set); {note}.",
        "",
        accuracy_table(rows),
        "",
    ]


# --------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="skd-bench", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: resolutions 32 and 64, short budgets")
    parser.add_argument("--out", type=Path, default=Path("docs/BENCHMARKS.md"), help="report (Markdown)")
    parser.add_argument("--figures", type=Path, default=None, help="figure folder (default: <out dir>/figures)")
    parser.add_argument("--json", type=Path, default=None, help="also write every measured number here")
    parser.add_argument("--weights", type=Path, default=None, help="fused checkpoint (default: the shipped weights)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N] for the GPU table (the CPU table is kept)")
    parser.add_argument(
        "--gpu-only",
        action="store_true",
        help="with --device cuda: time only the GPU table (the CPU table comes from --reuse, or is left out)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=None,
        choices=sorted(BACKENDS),
        help="backends to time (default: all available here)",
    )
    parser.add_argument("--resolutions", nargs="+", type=int, default=None, help="default 32 64 128 256")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="default: 1 and all usable cores")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per row (default 1.0, quick 0.2)")
    parser.add_argument("--data", type=Path, default=None, help="labelled dataset for the NSS/CC of int8/bf16")
    parser.add_argument("--split", default="val")
    parser.add_argument("--max-frames", type=int, default=20, help="frames per video for the accuracy run")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-node", action="store_true", help="skip node end-to-end, transport and profile")
    parser.add_argument("--node-backend", default="auto", help="the node's inference backend in the node runs")
    parser.add_argument("--node-threads", type=int, default=1, help="the node's cpu_threads in the node runs")
    parser.add_argument("--domain-id", type=int, default=DEFAULT_DOMAIN_ID, help="ROS_DOMAIN_ID for the node runs")
    parser.add_argument("--transport-rounds", type=int, default=None, help="runs per transport option (default 2)")
    parser.add_argument("--node-seconds", type=float, default=None, help="seconds per node/transport run (default 8)")
    parser.add_argument(
        "--reuse",
        type=Path,
        nargs="+",
        default=[],
        help="--json files of earlier runs: each section not measured now (CPU model table, GPU model table, "
        "accuracy, node) is taken from the last of these files that holds it",
    )
    parser.add_argument("--note", default="", help="free text on the load conditions, copied into the report")
    args = parser.parse_args(argv)
    args.resolutions = args.resolutions or ([32, 64] if args.quick else [32, 64, 128, 256])
    args.threads = args.threads or sorted({1, usable_cores()})
    args.budget = args.budget or (0.2 if args.quick else 1.0)
    args.node_seconds = args.node_seconds or (3.0 if args.quick else 8.0)
    args.transport_rounds = args.transport_rounds or (1 if args.quick else 2)
    args.figures = args.figures or args.out.parent / "figures"
    if args.gpu_only and not args.device.startswith("cuda"):
        parser.error("--gpu-only needs --device cuda[:N]")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: PyTorch sees no CUDA device here")
    return args


def load_reused(paths: list[Path]) -> dict[str, dict]:
    """The sections of earlier ``--json`` runs, each from the last of ``paths`` that holds it: "cpu_model"
    and "gpu_model" (rows, skipped backends, run), "accuracy" (rows, note, run) and "node"."""
    sections: dict[str, dict] = {}
    for path in paths:
        try:
            sections.update(_reused_sections(path, json.loads(path.read_text())))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise SystemExit(f"skd-bench: cannot reuse {path}: {exc!r}") from None
    return sections


def _reused_sections(path: Path, raw: dict) -> dict[str, dict]:
    sections = {}
    rows = [ModelRow(**row) for row in raw.get("model", [])]
    accuracy = [AccuracyRow(**row) for row in raw.get("accuracy", [])]
    skipped = raw.get("skipped", {})
    cpu_rows = [r for r in rows if r.device.startswith("CPU")]
    gpu_rows = [r for r in rows if not r.device.startswith("CPU")]
    if cpu_rows:
        sections["cpu_model"] = {
            "file": path,
            "run": raw["model_run"],
            "rows": cpu_rows,
            "sgemm": raw["sgemm"],
            "skipped": {k: v for k, v in skipped.items() if not k.endswith(GPU_SUFFIX)},
        }
    if gpu_rows:
        sections["gpu_model"] = {
            "file": path,
            "run": raw.get("gpu_run", raw["model_run"]),
            "rows": gpu_rows,
            "conditions": raw.get("gpu_conditions", {}),
            "skipped": {k: v for k, v in skipped.items() if k.endswith(GPU_SUFFIX)},
        }
    if accuracy:
        run = raw.get("accuracy_run", raw["node_run"])  # files from before accuracy_run: same run as node
        note = raw.get("accuracy_note", f"as measured in the run of {run['date']}")
        sections["accuracy"] = {"file": path, "run": run, "rows": accuracy, "note": note}
    if raw.get("node_summary") is not None:  # a run with --skip-node keeps only a "Skipped" line
        sections["node"] = {
            "file": path,
            "run": raw["node_run"],
            "summary": raw["node_summary"],
            "json": raw["node"],
            "lines": raw["node_lines"],
        }
    return sections


def reused_note(section: dict) -> str:
    run = section["run"]
    return (
        f"*Reused with `--reuse {section['file']}` from the run of {run['date']} "
        f"(load before/after {run['load_before']} / {run['load_after']}).*"
    )


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import onnxruntime

    started = time.monotonic()
    load_before = load_average()
    print(f"skd-bench: {cpu_name()}, {usable_cores()} cores, load {load_before}", file=sys.stderr)
    sgemm_start = sgemm_gflops()
    print(f"single-thread SGEMM: {sgemm_start['gflops']:.1f} GFLOP/s", file=sys.stderr)
    model, _, meta = load_default_or(args.weights)
    weights = args.weights or default_weights_path()
    weights_text = "untrained (seed 0): no weights shipped yet" if meta.get("untrained") else str(weights)
    device = torch.device(args.device)
    backends = args.backends or [b for b in BACKENDS if b != "torch-compile" or not args.quick]
    args.figures.mkdir(parents=True, exist_ok=True)
    reused = load_reused(args.reuse)
    run_info = {
        "command": "skd-bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": load_before,
    }

    # Each section is measured now or taken from --reuse; `sources` holds the reused ones.
    sources: dict[str, dict] = {}
    cpu_rows, skipped = [], {}
    if not args.skip_model and not args.gpu_only:
        cpu_rows, skipped = run_model_only(
            model, backends, args.resolutions, args.batches, args.threads, CPU, args.budget
        )
    elif "cpu_model" in reused:
        sources["cpu_model"] = reused["cpu_model"]
        cpu_rows, skipped = sources["cpu_model"]["rows"], dict(sources["cpu_model"]["skipped"])
    gpu_rows, gpu_info = [], {}
    if not args.skip_model and device.type == "cuda":
        gpu_rows, gpu_skipped = run_model_only(
            model, backends, args.resolutions, args.batches, [1], device, args.budget
        )
        skipped.update({f"{k}{GPU_SUFFIX}": v for k, v in gpu_skipped.items()})
        gpu_info = gpu_conditions(device)
    elif "gpu_model" in reused:
        sources["gpu_model"] = reused["gpu_model"]
        gpu_rows, gpu_info = sources["gpu_model"]["rows"], sources["gpu_model"]["conditions"]
        skipped.update(sources["gpu_model"]["skipped"])

    accuracy, accuracy_note = [], ""
    if not args.skip_accuracy:
        accuracy, accuracy_note = run_accuracy(args.weights, 0, args.data, args.split, args.max_frames)
    elif "accuracy" in reused:
        sources["accuracy"] = reused["accuracy"]
        accuracy, accuracy_note = sources["accuracy"]["rows"], sources["accuracy"]["note"]

    node_summary, node_lines, node_json = None, ["## Node end to end", "", "Skipped (--skip-node).", ""], {}
    if not args.skip_node:
        from skd_tools import bench_node

        node_summary, node_lines, node_json = bench_node.run(args, figures_dir=args.figures)
    elif "node" in reused:
        sources["node"] = node = reused["node"]
        node_summary, node_json = node["summary"], node["json"]
        node_lines = node["lines"][:1] + ["", reused_note(node)] + node["lines"][1:]

    # The reference rate: the better of the SGEMM runs before and after (load on a shared machine only
    # ever lowers a measurement, so the higher one is closer to what the core can do).
    sgemm_end = sgemm_gflops()
    sgemm = {**sgemm_start, "start": sgemm_start["gflops"], "end": sgemm_end["gflops"]}
    sgemm["gflops"] = max(sgemm["start"], sgemm["end"])
    model_sgemm = sources["cpu_model"]["sgemm"] if "cpu_model" in sources else sgemm
    apply_sgemm(cpu_rows, model_sgemm["gflops"])
    figures = []
    if cpu_rows:
        figures = plot_model(
            cpu_rows, model_sgemm["gflops"], args.figures / "bench_model_fps.png", args.figures / "bench_vs_sgemm.png"
        )
    gpu_figure = None
    if gpu_rows:
        gpu_fps = {res: float(values[0]) for res, values in PAPER_TABLE_V.items()}
        paper = "paper, GTX 1080 Ti (TF; batch not stated)"
        gpu_figure = plot_fps(gpu_rows, args.figures / "bench_gpu_fps.png", gpu_rows[0].device, paper, gpu_fps, None)
    resolutions = sorted({r.resolution for r in cpu_rows + gpu_rows}) or args.resolutions
    gpu_note = reused_note(sources["gpu_model"]) if "gpu_model" in sources else ""
    gpu_lines = gpu_section(gpu_rows, gpu_info, gpu_note, gpu_figure, args.out)
    model_lines = model_section(cpu_rows, gpu_rows, skipped, model, figures, args.out, resolutions, gpu_lines)
    if "cpu_model" in sources:
        note = f"{reused_note(sources['cpu_model'])} Its single-thread SGEMM rate: {model_sgemm['gflops']:.1f} GFLOP/s."
        model_lines[1:1] = ["", note]

    accuracy_lines = accuracy_section(accuracy, accuracy_note)
    if "accuracy" in sources:
        accuracy_lines[1:1] = ["", reused_note(sources["accuracy"])]

    run_info["load_after"] = load_average()
    gpu_text = "none in this run" if not gpu_rows else f"{gpu_rows[0].device} (see the GPU table)"
    if not gpu_rows:
        gpu_text += (
            "; the CUDA backends (cuda-graphs-fp16, onnxruntime on CUDA, onnxruntime-tensorrt) are written and "
            "unit-tested only where a GPU is present: their numbers are not measured here"
        )
    context = {
        **run_info,
        "minutes": (time.monotonic() - started) / 60,
        "cpu": cpu_name(),
        "cores": usable_cores(),
        "onnxruntime": onnxruntime.__version__,
        "ncnn": package_version("ncnn"),
        "note": args.note,
        "sgemm": sgemm,
        "weights": weights_text,
        "gpu": gpu_text,
        "targets": target_rows(cpu_rows, gpu_rows, accuracy, node_summary),
        "model_section": model_lines,
        "accuracy_section": accuracy_lines,
        "node_section": node_lines,
    }
    write_report(args.out, context)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)

        def run_of(section: str) -> dict:
            return sources[section]["run"] if section in sources else run_info

        raw = {
            "model_run": run_of("cpu_model"),
            "gpu_run": run_of("gpu_model"),
            "gpu_conditions": gpu_info,
            "accuracy_run": run_of("accuracy"),
            "node_run": run_of("node"),
            "sgemm": model_sgemm,
            "model": [asdict(r) for r in cpu_rows + gpu_rows],
            "skipped": skipped,
            "accuracy": [asdict(r) for r in accuracy],
            "accuracy_note": accuracy_note,
            "node": node_json,
            "node_summary": node_summary,
            "node_lines": sources["node"]["lines"] if "node" in sources else node_lines,
            "targets": context["targets"],
        }
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

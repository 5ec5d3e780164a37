"""The figures of docs/BENCHMARKS.md (docs/figures/bench_*.png): model frames per second against the
paper, the FLOP rate against SGEMM, and the latency spread of the node and transport runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skd_tools.bench.latencies import NODE_KINDS, Run, kind_label, rate_label
from skd_tools.bench.model_timing import ModelRow
from skd_tools.bench.targets import PAPER_TABLE_V, TARGETS


def _pyplot():
    """pyplot drawing into files only (the Agg backend: no display needed)."""
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


def plot_gpu_fps(rows: list[ModelRow], path: Path) -> Path:
    """The GPU rows' frames per second next to the paper's GTX 1080 Ti on every batch panel."""
    gpu_fps = {res: float(values[0]) for res, values in PAPER_TABLE_V.items()}
    paper = "paper, GTX 1080 Ti (TF; batch not stated)"
    return plot_fps(rows, path, rows[0].device, paper, gpu_fps, None)


def plot_node_work(matrix: list[Run], model_ms: float, path: Path) -> Path | None:
    """The node's and the relay's overhead over bare transport (p50) against the frame size, a line each per input,
    with the model's own time for scale."""
    keys = list(dict.fromkeys((r.resolution, r.encoding) for r in matrix))
    if not keys:
        return None
    plt = _pyplot()
    sizes = list(dict.fromkeys(resolution for resolution, _ in keys))
    fig, ax = plt.subplots(figsize=(8, 5))
    for encoding, marker in zip(dict.fromkeys(e for _, e in keys), "osd^v", strict=False):
        for kind, style in (("node", "-"), ("relay", ":")):
            by_size = {r.resolution: r.overhead_p50_ms for r in matrix if (r.kind, r.encoding) == (kind, encoding)}
            ax.plot(
                range(len(sizes)),
                [by_size.get(size, float("nan")) for size in sizes],
                style,
                marker=marker,
                label=f"{kind}, {encoding}",
            )
    ax.axhline(model_ms, color="grey", linewidth=1, label=f"the model alone ({model_ms:.2f} ms)")
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set(xlabel="frame size", ylabel="overhead over bare transport, p50 (ms)", title="node and relay vs bare, 30 FPS")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_runs(runs: list[Run], path: Path, title: str) -> Path | None:
    """Stamp-to-receive latency of each run's node path and bare path, one box each."""
    plt = _pyplot()
    series = []
    for r in runs:
        label = f"{r.transport}, {r.resolution} {r.encoding} @ {rate_label(r.rate)}"
        lost = f" (lost {{}}/{r.published})"
        if r.node is not None and r.node.by_stamp:
            colour = "tab:orange" if r.kind in NODE_KINDS else "tab:green"
            series.append(
                (f"{kind_label(r)}: {label}" + lost.format(r.node.dropped), list(r.node.by_stamp.values()), colour)
            )
        if r.bare.by_stamp:
            series.append((f"bare: {label}" + lost.format(r.bare.dropped), list(r.bare.by_stamp.values()), "tab:blue"))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(series) + 3), 5))
    boxes = ax.boxplot([values for _, values, _ in series], whis=(1, 99), showfliers=False, patch_artist=True)
    for box, (_, _, colour) in zip(boxes["boxes"], series, strict=True):
        box.set_facecolor(colour)
        box.set_alpha(0.5)
    ax.set_xticks(range(1, len(series) + 1), [label for label, _, _ in series], rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="stamp -> receive latency (ms)", title=f"{title}; box p25-p75, whiskers p1-p99", yscale="log")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""The reproduction report's own figures, ours (mean ± std over seeds) beside the paper's: the resolution sweep
(Table III), the ablations (Table IV) and the lambda sweep (Fig. 8)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skd_tools.reproduction.findings import Reproduction, Stat, lambda_curve
from skd_tools.reproduction.paper import (
    PAPER_BASE_RESOLUTION,
    PAPER_BEST_LAMBDA,
    PAPER_LAMBDA_PLATEAU,
    PAPER_METRICS,
    PAPER_TABLE_III,
    PAPER_TABLE_IV,
)
from skd_training.evaluate.report import (
    pyplot,
)
from skd_training.tables import fmt


def _error_bars(stats: Sequence[Stat]) -> list[float] | None:
    spreads = [s.spread for s in stats]
    return spreads if any(spreads) else None


def plot_resolution(rep: Reproduction, path: Path, metric: str = "NSS") -> Path:
    plt = pyplot()
    resolutions = sorted(rep.resolution_models)
    ours = [rep.stats(rep.resolution_models[r])[metric] for r in resolutions]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].errorbar(resolutions, [s.mean for s in ours], yerr=_error_bars(ours), fmt="o-", color="C0", capsize=3)
    axes[0].set_title(f"ours ({rep.setup.get('data_label', 'our data')}, mean ± std over seeds)", fontsize=9)
    paper_res = sorted(PAPER_TABLE_III)
    axes[1].plot(paper_res, [PAPER_TABLE_III[r][PAPER_METRICS.index(metric)] for r in paper_res], "s-", color="C1")
    axes[1].set_title("paper (AVS1K, DVA teacher, Table III)", fontsize=9)
    for ax, xs, base in ((axes[0], resolutions, rep.base_resolution), (axes[1], paper_res, PAPER_BASE_RESOLUTION)):
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.axvline(base, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("input resolution R")
        ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_ablation(rep: Reproduction, path: Path, metric: str = "NSS") -> Path:
    """Full SKD and each ablation, ours (mean ± std) and the paper's, as labelled points (the values are close)."""
    plt = pyplot()
    keys = ["full", *[k for k in ("S", "T", "O") if k in rep.ablation_models]]
    names = {"full": rep.base_models, **rep.ablation_models}
    ours = [rep.stats(names[k])[metric] for k in keys]
    paper = [Stat(PAPER_TABLE_IV[k][PAPER_METRICS.index(metric)], float("nan"), 1) for k in keys]
    labels = ["full SKD" if k == "full" else f"Ablation-{k}" for k in keys]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, stats, title, colour in (
        (axes[0], ours, f"ours ({rep.setup.get('data_label', 'our data')})", "C0"),
        (axes[1], paper, "paper (AVS1K, Table IV)", "C1"),
    ):
        positions = list(range(len(labels)))
        ax.errorbar(positions, [s.mean for s in stats], yerr=_error_bars(stats), fmt="o", color=colour, capsize=3)
        for x, stat in zip(positions, stats, strict=True):
            ax.annotate(
                fmt(stat.mean), (x, stat.mean), textcoords="offset points", xytext=(8, 4), ha="left", fontsize=8
            )
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.margins(y=0.25)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_lambda(rep: Reproduction, path: Path, metric: str = "NSS") -> Path:
    plt = pyplot()
    curve = lambda_curve(rep, metric)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.axvspan(*PAPER_LAMBDA_PLATEAU, color="C1", alpha=0.12, label="paper: NSS > 2.08 (Fig. 8)")
    ax.axvline(PAPER_BEST_LAMBDA, color="C1", linestyle="--", linewidth=1, label="paper: best lambda")
    ax.errorbar(
        [lam for lam, _ in curve],
        [s.mean for _, s in curve],
        yerr=_error_bars([s for _, s in curve]),
        fmt="o-",
        color="C0",
        capsize=3,
        label=f"ours ({rep.setup.get('data_label', 'our data')}, mean ± std)",
    )
    ax.set(xlabel="lambda (weight of the soft, teacher loss)", ylabel=metric, xlim=(-0.05, 1.05))
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

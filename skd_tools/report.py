"""The reproduction report: our numbers next to the paper's, with plain verdicts on its findings.

``write_reproduction_report`` turns a ``Reproduction`` (one evaluation of every trained variant and
baseline, see ``skd_tools.reproduce``) into ``docs/REPRODUCTION.md`` with figures. The paper's
numbers (Li, Fu, Zhao, Ge, "Spatiotemporal Knowledge Distillation for Efficient Estimation of Aerial
Video Saliency"; all on the AVS1K test set, spatial teacher DVA, temporal teacher TSNet) are copied
from its tables below, so every comparison names its source.

The findings checked (NSS is the paper's primary metric, Sec. IV-A; the other metrics are counted):

* Table III: the model at R = 64 beats the ones at R = 32 and R = 256;
* Table IV: full SKD beats each ablation (S: spatial only, T: temporal only, O: no distillation);
* Fig. 8: lambda around 0.5 is best (NSS high for lambda in [0, 0.6], dropping sharply above);
* Table I: SKD beats the heuristic baselines and is on par with or better than its teachers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skd_training.evaluate import (
    METRIC_HEADERS,
    Evaluation,
    best_per_metric,
    busy_note,
    fmt,
    markdown_table,
    metric_cells,
    overall_table,
    plot_examples,
    plot_roc,
)
from skd_training.metrics import LOWER_IS_BETTER

PAPER_METRICS = ("AUC", "sAUC", "NSS", "SIM", "CC")

# Table I (AVS1K test set): AUC, sAUC, NSS, SIM, CC, parameters (M), memory (MB), GPU FPS, CPU FPS
PAPER_TABLE_I = [
    ("HFT", "heuristic", 0.789, 0.715, 1.671, 0.408, 0.539, None, None, None, 7.6),
    ("SP", "heuristic", 0.781, 0.706, 1.602, 0.422, 0.520, None, None, None, 3.6),
    ("PNSP", "heuristic", 0.787, 0.634, 1.140, 0.321, 0.370, None, None, None, None),
    ("SSD", "shallow learning", 0.737, 0.692, 1.564, 0.404, 0.503, None, None, None, 32.2),
    ("LDS", "shallow learning", 0.808, 0.720, 1.743, 0.452, 0.565, None, None, None, 4.6),
    ("eDN", "deep", 0.855, 0.732, 1.262, 0.289, 0.417, None, None, None, 0.2),
    ("iSEEL", "deep", 0.801, 0.767, 1.974, 0.458, 0.636, None, None, None, None),
    ("DVA (spatial teacher)", "deep", 0.864, 0.761, 2.044, 0.544, 0.658, 25.07, 59.01, 49, 2.5),
    ("SalNet", "deep", 0.797, 0.769, 1.835, 0.410, 0.593, 25.81, 43.22, 28, 1.5),
    ("STS", "deep", 0.804, 0.732, 1.821, 0.472, 0.578, 41.25, 86.94, 17, 0.9),
    ("SKD-DVA-32", "SKD", 0.859, 0.760, 2.040, 0.527, 0.657, 0.30, 0.14, 28738, 1490.5),
    ("SKD-DVA-64", "SKD", 0.867, 0.770, 2.100, 0.534, 0.674, 0.30, 0.58, 8522, 411.7),
]
# Table II: SKD-DVA-64 per AVS1K category
PAPER_TABLE_II = {
    "Building": (0.858, 0.762, 1.901, 0.535, 0.663),
    "Human": (0.903, 0.795, 2.465, 0.551, 0.719),
    "Vehicle": (0.883, 0.804, 2.396, 0.551, 0.728),
    "Others": (0.849, 0.804, 1.934, 0.519, 0.637),
}
# Table III, spatial teacher DVA: resolution -> metrics
PAPER_TABLE_III = {
    256: (0.800, 0.708, 1.624, 0.391, 0.514),
    128: (0.844, 0.735, 1.860, 0.455, 0.593),
    64: (0.867, 0.770, 2.100, 0.534, 0.674),
    32: (0.859, 0.760, 2.040, 0.527, 0.657),
}
# Table V: resolution -> (GPU ms, GPU FPS, CPU ms, CPU FPS, memory footprint MB)
PAPER_TABLE_V = {
    256: (1.414, 707, 37.828, 26.4, 9.24),
    128: (0.381, 2626, 9.675, 103.4, 2.31),
    64: (0.117, 8522, 2.429, 411.7, 0.58),
    32: (0.035, 28738, 0.671, 1490.5, 0.14),
}
# Table IV
PAPER_TABLE_IV = {
    "full": (0.867, 0.770, 2.100, 0.534, 0.674),
    "S": (0.865, 0.769, 2.085, 0.536, 0.669),
    "T": (0.866, 0.762, 2.007, 0.506, 0.647),
    "O": (0.845, 0.751, 1.943, 0.489, 0.621),
}
PAPER_BASE_RESOLUTION = 64
PAPER_BEST_LAMBDA = 0.5
PAPER_LAMBDA_PLATEAU = (0.0, 0.6)  # "average NSS relatively high (greater than 2.08)" in this range
ABLATION_NAMES = {
    "S": "Ablation-S (spatial only)",
    "T": "Ablation-T (temporal only)",
    "O": "Ablation-O (no distillation)",
}


@dataclass
class Reproduction:
    """Everything the report needs: one evaluation holding every model, and which model is which."""

    evaluation: Evaluation
    base_name: str
    base_resolution: int
    base_lambda: float
    resolution_models: dict[int, str]  # R -> predictor name
    ablation_models: dict[str, str]  # "S" / "T" / "O" -> predictor name
    lambda_models: dict[float, list[str]]  # lambda -> predictor names (one per seed)
    table1_models: list[str]
    setup: dict = field(default_factory=dict)
    training: list[dict] = field(default_factory=list)  # per variant: name, run_dir, val metrics


@dataclass
class Finding:
    claim: str
    paper: str
    ours: str
    verdict: str  # "agrees", "partly agrees", "disagrees", "not tested"


# --------------------------------------------------------------------------------------------------
# Comparisons


def _better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _wins(ours: dict, other: dict, metrics: Sequence[str] = PAPER_METRICS) -> int:
    return sum(_better(m, ours[m], other[m]) for m in metrics if math.isfinite(ours[m]) and math.isfinite(other[m]))


def _available(metrics_row: dict) -> list[str]:
    return [m for m in PAPER_METRICS if math.isfinite(metrics_row[m])]


def _noise_note(noise: float | None, difference: float) -> str:
    if noise is None or not math.isfinite(noise):
        return ""
    return " (within seed-to-seed noise)" if abs(difference) <= noise else ""


def lambda_curve(rep: Reproduction, metric: str = "NSS") -> list[tuple[float, float, float, int]]:
    """(lambda, mean, std over seeds, seeds) per lambda, sorted."""
    curve = []
    for lam in sorted(rep.lambda_models):
        values = [rep.evaluation.overall_of(n)[metric] for n in rep.lambda_models[lam]]
        values = [v for v in values if math.isfinite(v)]
        mean = float(np.mean(values)) if values else float("nan")
        std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        curve.append((lam, mean, std, len(values)))
    return curve


def seed_noise(rep: Reproduction, metric: str = "NSS") -> float | None:
    """The largest seed-to-seed standard deviation of ``metric`` over the lambda points (None with one seed)."""
    stds = [std for _, _, std, n in lambda_curve(rep, metric) if n > 1 and math.isfinite(std)]
    return max(stds) if stds else None


def findings(rep: Reproduction, metric: str = "NSS") -> list[Finding]:
    ev = rep.evaluation
    base = ev.overall_of(rep.base_name)
    noise = seed_noise(rep, metric)
    out = []
    if not math.isfinite(base[metric]):
        return [Finding("all", "—", f"{metric} could not be computed (no fixation maps)", "not tested")]

    # Table III: resolution
    resolutions = sorted(rep.resolution_models)
    low, high = resolutions[0], resolutions[-1]
    if low < rep.base_resolution < high:
        lo, hi = ev.overall_of(rep.resolution_models[low]), ev.overall_of(rep.resolution_models[high])
        beats = [_better(metric, base[metric], lo[metric]), _better(metric, base[metric], hi[metric])]
        verdict = "agrees" if all(beats) else "partly agrees" if any(beats) else "disagrees"
        n = len(_available(base))
        ours = (
            f"{metric} {fmt(base[metric])} at R={rep.base_resolution} vs {fmt(lo[metric])} at R={low}"
            f"{_noise_note(noise, base[metric] - lo[metric])} and {fmt(hi[metric])} at R={high}"
            f"{_noise_note(noise, base[metric] - hi[metric])}; better on {_wins(base, lo)}/{n} and "
            f"{_wins(base, hi)}/{n} metrics"
        )
        out.append(
            Finding(
                f"the middle resolution (R={rep.base_resolution}; 64 in the paper) beats the smallest and the largest",
                "NSS 2.100 at 64 vs 2.040 at 32 and 1.624 at 256 (Table III, DVA)",
                ours,
                verdict,
            )
        )
    else:
        out.append(
            Finding(
                "R=64 beats R=32 and R=256", "Table III", "the sweep does not bracket the base resolution", "not tested"
            )
        )

    # Table IV: ablations
    if rep.ablation_models:
        parts, wins = [], []
        for key in ("S", "T", "O"):
            if key in rep.ablation_models:
                row = ev.overall_of(rep.ablation_models[key])
                wins.append(_better(metric, base[metric], row[metric]))
                parts.append(f"{key} {fmt(row[metric])}{_noise_note(noise, base[metric] - row[metric])}")
        verdict = "agrees" if all(wins) else "partly agrees" if any(wins) else "disagrees"
        out.append(
            Finding(
                "full SKD beats each ablation",
                "NSS 2.100 vs S 2.085, T 2.007, O 1.943 (Table IV)",
                f"{metric} {fmt(base[metric])} vs " + ", ".join(parts),
                verdict,
            )
        )

    # Fig. 8: lambda
    curve = [c for c in lambda_curve(rep, metric) if math.isfinite(c[1])]
    if len(curve) >= 2:
        best_lam, best_value = max(((lam, mean) for lam, mean, _, _ in curve), key=lambda c: c[1])
        if 0.4 <= best_lam <= 0.6:
            verdict = "agrees"
        elif PAPER_LAMBDA_PLATEAU[0] <= best_lam <= PAPER_LAMBDA_PLATEAU[1]:
            verdict = "partly agrees"
        else:
            verdict = "disagrees"
        swept = ", ".join(f"{c[0]:g}" for c in curve)
        soft_only = dict((lam, mean) for lam, mean, _, _ in curve).get(1.0)
        tail = ""
        if soft_only is not None and best_lam != 1.0:
            tail = f"; soft labels alone (lambda=1) give {fmt(soft_only)}"
        out.append(
            Finding(
                "lambda around 0.5 is best",
                "best at 0.5; NSS > 2.08 for lambda in [0, 0.6], dropping sharply above (Fig. 8)",
                f"best {metric} {fmt(best_value)} at lambda={best_lam:g} (of {swept}){tail}",
                verdict,
            )
        )

    # Table I: baselines and teachers
    summaries = {s.name: s for s in ev.predictors}
    baselines = [n for n in rep.table1_models if summaries[n].group == "baseline"]
    if baselines:
        rows = {n: ev.overall_of(n) for n in baselines}
        beaten = [n for n in baselines if _better(metric, base[metric], rows[n][metric])]
        verdict = "agrees" if len(beaten) == len(baselines) else "partly agrees" if beaten else "disagrees"
        out.append(
            Finding(
                "SKD beats the heuristic baselines",
                "SKD-DVA-64 NSS 2.100 vs heuristics 1.140-1.671 (Table I)",
                f"{metric} {fmt(base[metric])} vs " + ", ".join(f"{n} {fmt(rows[n][metric])}" for n in baselines),
                verdict,
            )
        )
    teachers = [n for n in rep.table1_models if summaries[n].group == "teacher"]
    if teachers:
        rows = {n: ev.overall_of(n) for n in teachers}
        beaten = [n for n in teachers if not _better(metric, rows[n][metric], base[metric])]
        verdict = "agrees" if len(beaten) == len(teachers) else "partly agrees" if beaten else "disagrees"
        out.append(
            Finding(
                "the distilled model is on par with or better than its teachers",
                "SKD-DVA-64 NSS 2.100 vs its spatial teacher DVA 2.044 (Table I)",
                f"{metric} {fmt(base[metric])} vs " + ", ".join(f"{n} {fmt(rows[n][metric])}" for n in teachers),
                verdict,
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# Figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_resolution(rep: Reproduction, path: Path, metric: str = "NSS") -> Path:
    plt = _pyplot()
    resolutions = sorted(rep.resolution_models)
    ours = [rep.evaluation.overall_of(rep.resolution_models[r])[metric] for r in resolutions]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(resolutions, ours, "o-", color="C0")
    axes[0].set_title(f"ours ({rep.setup.get('data_label', 'our data')})", fontsize=9)
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
    """Full SKD and each ablation, ours and the paper's, as labelled points (the values are close)."""
    plt = _pyplot()
    keys = ["full", *[k for k in ("S", "T", "O") if k in rep.ablation_models]]
    names = {"full": rep.base_name, **rep.ablation_models}
    ours = [rep.evaluation.overall_of(names[k])[metric] for k in keys]
    paper = [PAPER_TABLE_IV[k][PAPER_METRICS.index(metric)] for k in keys]
    labels = ["full SKD" if k == "full" else f"Ablation-{k}" for k in keys]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, values, title, colour in (
        (axes[0], ours, f"ours ({rep.setup.get('data_label', 'our data')})", "C0"),
        (axes[1], paper, "paper (AVS1K, Table IV)", "C1"),
    ):
        positions = range(len(labels))
        ax.plot(positions, values, "o", color=colour, markersize=8)
        for x, value in zip(positions, values, strict=True):
            ax.annotate(fmt(value), (x, value), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        ax.set_xticks(list(positions))
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
    plt = _pyplot()
    curve = lambda_curve(rep, metric)
    lams = [c[0] for c in curve]
    means = [c[1] for c in curve]
    stds = [c[2] if math.isfinite(c[2]) else 0.0 for c in curve]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.axvspan(*PAPER_LAMBDA_PLATEAU, color="C1", alpha=0.12, label="paper: NSS > 2.08 (Fig. 8)")
    ax.axvline(PAPER_BEST_LAMBDA, color="C1", linestyle="--", linewidth=1, label="paper: best lambda")
    ax.errorbar(
        lams,
        means,
        yerr=stds if any(stds) else None,
        fmt="o-",
        color="C0",
        capsize=3,
        label=f"ours ({rep.setup.get('data_label', 'our data')})",
    )
    ax.set(xlabel="lambda (weight of the soft, teacher loss)", ylabel=metric, xlim=(-0.05, 1.05))
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------------
# Tables


def resolution_table(rep: Reproduction) -> str:
    ev = rep.evaluation
    summaries = {s.name: s for s in ev.predictors}
    rows_ours = [ev.overall_of(rep.resolution_models[r]) for r in sorted(rep.resolution_models, reverse=True)]
    best = best_per_metric(rows_ours)
    body = []
    for r in sorted(rep.resolution_models, reverse=True):
        name = rep.resolution_models[r]
        profile = summaries[name].profile
        cost = (
            ["—"] * 3
            if profile is None
            else [fmt(profile.activations_mb, 2), fmt(profile.memory_mb, 2), f"{profile.fps:,.0f}"]
        )
        paper = PAPER_TABLE_III.get(r)
        paper_cells = [fmt(paper[2]), fmt(PAPER_TABLE_V[r][4], 2), f"{PAPER_TABLE_V[r][3]:,}"] if paper else ["—"] * 3
        body.append([str(r), *metric_cells(ev.overall_of(name), best), *cost, *paper_cells])
    headers = [
        "R",
        *METRIC_HEADERS,
        "Activations (MB)",
        "Memory (MB)",
        "FPS (model)",
        "paper NSS",
        "paper memory (MB)",
        "paper CPU FPS",
    ]
    return markdown_table(headers, body)


def ablation_table(rep: Reproduction) -> str:
    ev = rep.evaluation
    keys = ["full", *[k for k in ("S", "T", "O") if k in rep.ablation_models]]
    names = {"full": rep.base_name, **rep.ablation_models}
    rows = [ev.overall_of(names[k]) for k in keys]
    best = best_per_metric(rows)
    body = []
    for key, row in zip(keys, rows, strict=True):
        label = f"full SKD ({rep.base_name})" if key == "full" else ABLATION_NAMES[key]
        body.append([label, *metric_cells(row, best), *[fmt(v) for v in PAPER_TABLE_IV[key]]])
    return markdown_table(["Model", *METRIC_HEADERS, *[f"paper {m}" for m in PAPER_METRICS]], body)


def lambda_table(rep: Reproduction) -> str:
    curve = {c[0]: c for c in lambda_curve(rep, "NSS")}
    body = []
    for lam in sorted(rep.lambda_models):
        names = rep.lambda_models[lam]
        rows = [rep.evaluation.overall_of(n) for n in names]
        means = {
            m: float(np.nanmean([r[m] for r in rows])) if any(math.isfinite(r[m]) for r in rows) else float("nan")
            for m in ("AUC", "sAUC", "NSS", "SIM", "CC", "KLD")
        }
        std = curve[lam][2]
        body.append(
            [
                f"{lam:g}",
                str(len(names)),
                *[fmt(means[m]) for m in ("AUC", "sAUC", "NSS", "SIM", "CC", "KLD")],
                fmt(std) if math.isfinite(std) else "—",
            ]
        )
    return markdown_table(["lambda", "seeds", *METRIC_HEADERS, "NSS std over seeds"], body)


def category_table(rep: Reproduction) -> str:
    rows = [r for r in rep.evaluation.per_category() if r["predictor"] == rep.base_name]
    best = best_per_metric(rows)
    body = []
    for row in rows:
        paper = PAPER_TABLE_II.get(row["category"])
        body.append(
            [
                row["category"],
                str(row["videos"]),
                str(row["frames"]),
                *metric_cells(row, best),
                fmt(paper[2]) if paper else "—",
                fmt(paper[4]) if paper else "—",
            ]
        )
    return markdown_table(["Category", "videos", "frames", *METRIC_HEADERS, "paper NSS", "paper CC"], body)


def paper_table_i() -> str:
    body = []
    for name, group, *values in PAPER_TABLE_I:
        metrics_, (params, memory, gpu, cpu) = values[:5], values[5:]
        body.append(
            [
                name,
                group,
                *[fmt(v) for v in metrics_],
                fmt(params, 2) if params else "—",
                fmt(memory, 2) if memory else "—",
                f"{gpu:,}" if gpu else "—",
                f"{cpu:,}" if cpu else "—",
            ]
        )
    return markdown_table(["Model", "Group", *PAPER_METRICS, "Params (M)", "Memory (MB)", "GPU FPS", "CPU FPS"], body)


def training_table(rep: Reproduction) -> str:
    body = []
    for run in rep.training:
        val = run.get("val_metrics") or {}
        body.append(
            [run["name"], f"`{run['run_dir']}`", run.get("stages", "—"), fmt(val.get("nss")), fmt(val.get("cc"))]
        )
    return markdown_table(["Model", "run directory", "stages run", "val NSS (model res.)", "val CC (model res.)"], body)


# --------------------------------------------------------------------------------------------------
# The document


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def write_reproduction_report(rep: Reproduction, report_path: str | Path, figures_dir: str | Path) -> Path:
    """Write the Markdown report and its figures (``reproduction_*.png`` in ``figures_dir``)."""
    report_path, figures_dir = Path(report_path), Path(figures_dir)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    here = report_path.parent
    setup = rep.setup
    ev = rep.evaluation
    figs = {
        "roc": plot_roc(
            ev, figures_dir / "reproduction_roc.png", "Mean ROC (AUC-Judd), Table I models", names=rep.table1_models
        ),
        "examples": plot_examples(ev, figures_dir / "reproduction_examples.png", names=rep.table1_models),
        "resolution": plot_resolution(rep, figures_dir / "reproduction_resolution.png"),
        "ablation": plot_ablation(rep, figures_dir / "reproduction_ablation.png") if rep.ablation_models else None,
        "lambda": plot_lambda(rep, figures_dir / "reproduction_lambda.png") if rep.lambda_models else None,
    }
    link = {k: _rel(v, here) for k, v in figs.items() if v is not None}
    synthetic = setup.get("synthetic", False)
    found = findings(rep)

    lines = [
        "# Reproducing the SKD paper's experiments",
        "",
        f"Written by `{setup.get('command', 'skd-reproduce')}`"
        + (f" on {setup['date']}" if setup.get("date") else "")
        + (f", commit `{setup['git_commit'][:10]}`" if setup.get("git_commit") else "")
        + (f", in {setup['wall_time_s'] / 60:.1f} min" if setup.get("wall_time_s") else "")
        + ". Regenerate it with the command at the end.",
        "",
        "## What was run, and on what",
        "",
    ]
    if synthetic:
        lines += [
            f"* **Data: synthetic.** `{setup.get('data_path')}`: {setup.get('data_description')}, procedurally "
            "generated (`skd-make-synthetic`; rendered top-down scenes with moving vehicles, people and boats; "
            "ground truth from *simulated* observers' gaze, not from human eye tracking). It stands in for AVS1K, "
            "which is not redistributable. Absolute numbers are therefore **not comparable** with the paper's; "
            "what can be compared is the *direction* of each finding.",
        ]
    else:
        lines += [f"* **Data:** `{setup.get('data_path')}`: {setup.get('data_description')}."]
    lines += [
        "* **The paper's numbers** (quoted next to ours) are on the AVS1K test set, with DVA as spatial teacher "
        "and TSNet as temporal teacher. **Ours** use this repository's built-in teachers "
        "(`skd_training.teachers`: a U-Net-style spatial network and a two-stream temporal network), trained here.",
        f"* Split evaluated: **{ev.info['split']}**, {ev.info['videos']} videos, {ev.info['frames']} frames"
        + (
            f" (at most {ev.info['max_frames_per_video']} per video, evenly spaced)"
            if ev.info["max_frames_per_video"]
            else ""
        )
        + ". Metrics: the MIT saliency benchmark's definitions (`skd_training/metrics.py`), at the ground truth's "
        "resolution, means over videos; NSS is the primary metric, as in the paper.",
        f"* Training: preset `{setup.get('preset')}` — {setup.get('preset_description', '')}. Config "
        f"`{setup.get('config')}`"
        + (f" with `{' '.join(setup['overrides'])}`" if setup.get("overrides") else "")
        + (
            f"; training on every {setup['frame_steps'][0]}th frame, validation on every {setup['frame_steps'][1]}th"
            if setup.get("frame_steps", (1, 1)) != (1, 1)
            else ""
        )
        + f"; base model R={rep.base_resolution}, lambda={rep.base_lambda:g}; seed(s) {setup.get('seeds', '0')}.",
        f"* Speed and memory measured on {setup.get('device', 'this machine')}; the paper used a GTX 1080Ti and one "
        "core of a 3.4 GHz CPU.",
    ]
    lines += [f"* Note: {n}" for n in ev.info.get("notes", [])]
    lines += [f"* Note: {n}" for n in setup.get("notes", [])]
    lines += [
        "",
        "## Findings at a glance",
        "",
        "Each claim of the paper, checked on our data (NSS decides; differences inside the seed-to-seed "
        "spread are marked, when several seeds were run):",
        "",
    ]
    lines.append(
        markdown_table(
            ["Paper's finding", "Paper (AVS1K)", "Ours", "Verdict"],
            [[f.claim, f.paper, f.ours, f"**{f.verdict}**"] for f in found],
        )
    )
    noise = seed_noise(rep)
    lines += [
        "",
        (
            f"Seed-to-seed spread of NSS (largest std over the lambda points): {fmt(noise)}."
            if noise
            else "Every model was trained once (one seed): small differences may be noise; run with "
            "`--repeats 3` (as the paper's Fig. 8) to measure it."
        ),
        "",
    ]

    lines += [
        "## Table I — models and baselines",
        "",
        "Ours (best per column in bold; KLD: lower is better):",
        "",
        overall_table(ev, rep.table1_models),
        "",
        "Memory = weights + the largest layer's activations at batch 1 (the paper's memory footprint, "
        "Table V, behaves like the activation part alone: it grows 4x per doubling of R). FPS (model): the "
        "network alone at batch 1; ms/frame (end-to-end): the predictor on original frames, preprocessing "
        "included." + busy_note(ev),
        "",
        "The paper (AVS1K):",
        "",
        paper_table_i(),
        "",
    ]
    if link.get("roc"):
        lines += [f"![mean ROC curves]({link['roc']})", ""]
    if link.get("examples"):
        lines += [
            "Example frames (ground truth: density, fixations in red; then each model's map):",
            "",
            f"![examples]({link['examples']})",
            "",
        ]

    lines += [
        "## Table II — per category",
        "",
        f"{rep.base_name} per category, with the paper's SKD-DVA-64:",
        "",
        category_table(rep),
        "",
    ]

    lines += [
        "## Table III (and V) — input resolution",
        "",
        f"Same teachers, students and fused model trained at each R (base R={rep.base_resolution}); "
        "the paper's columns are SKD-DVA-R (Tables III and V).",
        "",
        resolution_table(rep),
        "",
        f"![resolution sweep]({link['resolution']})",
        "",
    ]

    if rep.ablation_models:
        lines += [
            "## Table IV — ablations",
            "",
            "S / T: only the spatial / temporal student, distilled from its teacher, without the joint "
            "spatiotemporal step; O: the fused model trained from scratch on the ground truth, without "
            "teachers or students.",
            "",
            ablation_table(rep),
            "",
            f"![ablations]({link['ablation']})",
            "",
        ]

    if rep.lambda_models:
        lines += [
            "## Fig. 8 — the soft/hard loss weight lambda",
            "",
            "lambda weighs the teacher's soft labels against the ground truth in Step 1 (lambda = 0: ground "
            "truth only, 1: teacher only). The paper gives the curve only as a figure: NSS above 2.08 for "
            "lambda in [0, 0.6], best at 0.5, dropping sharply above 0.6.",
            "",
            lambda_table(rep),
            "",
            f"![lambda sweep]({link['lambda']})",
            "",
        ]

    if rep.training:
        lines += ["## Training runs", "", training_table(rep), ""]
    lines += [
        "## Reproduce",
        "",
        "```",
        setup.get("command", "skd-reproduce"),
        "```",
        "",
        f"Per-video and per-frame scores of every model: `{setup.get('eval_dir', '')}`.",
        "",
    ]
    report_path.write_text("\n".join(lines))
    return report_path

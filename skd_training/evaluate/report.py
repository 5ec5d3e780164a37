"""The report of an evaluation: Markdown tables, CSVs and figures.

``write_report`` writes, per predictor, per-video, per-category (AVS1K's Building/Human/Vehicle/Others)
and overall AUC-Judd, sAUC, NSS, SIM, CC and KLD; per network its parameters, memory footprint and
model-only speed (``skd_training.evaluate.cost``); per predictor the end-to-end time per frame.
Markdown + CSV + figures (mean ROC curves, a grid of frames with the ground truth and every
predictor's map). The tables and figures are also the reproduction report's (``skd_tools.reproduction.report``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skd_training import metrics
from skd_training.data.layouts import CATEGORIES, UNKNOWN_CATEGORY
from skd_training.evaluate.results import Evaluation, PredictorSummary
from skd_training.evaluate.scoring import FIXATION_METRICS, ROC_GRID
from skd_training.tables import fmt, markdown_table


def best_per_metric(rows: Sequence[dict]) -> dict[str, float]:
    best = {}
    for m in metrics.METRIC_NAMES:
        values = [r[m] for r in rows if math.isfinite(r[m])]
        if values:
            best[m] = min(values) if m in metrics.LOWER_IS_BETTER else max(values)
    return best


NOT_AVAILABLE = "n/a"


def metric_cells(row: dict, best: dict[str, float]) -> list[str]:
    """The row's metric values, the best of each column in bold, ``n/a`` where a metric has no value
    (``unavailable_note`` says why)."""
    cells = []
    for m in metrics.METRIC_NAMES:
        if not math.isfinite(row[m]):
            cells.append(NOT_AVAILABLE)
            continue
        text = fmt(row[m])
        cells.append(f"**{text}**" if m in best and row[m] == best[m] else text)
    return cells


COST_HEADERS = ["Params (M)", "Weights (MB)", "Activations (MB)", "Memory (MB)", "FPS (model)", "ms/frame (end-to-end)"]
METRIC_HEADERS = ["AUC", "sAUC", "NSS", "SIM", "CC", "KLD ↓"]
FIXATION_ORIGIN_LABELS = {"sampled": " (sampled fixations)", "mixed": " (partly sampled fixations)"}


def metric_headers(evaluation: Evaluation) -> list[str]:
    """``METRIC_HEADERS``, the fixation metrics labelled where their fixations were sampled from density maps."""
    suffix = FIXATION_ORIGIN_LABELS.get(evaluation.info.get("fixations"), "")
    return [f"{h}{suffix}" if h in FIXATION_METRICS else h for h in METRIC_HEADERS]


def unavailable_note(evaluation: Evaluation) -> str:
    """Why each ``n/a`` metric has no value ('' when every metric has one)."""
    reasons = evaluation.info.get("unavailable", {})
    by_reason: dict[str, list[str]] = {}
    for metric, reason in reasons.items():
        by_reason.setdefault(reason, []).append(metric)
    return " ".join(f"{NOT_AVAILABLE} ({', '.join(names)}): {reason}." for reason, names in by_reason.items())


def cost_cells(summary: PredictorSummary, headers: Sequence[str] = COST_HEADERS) -> list[str]:
    """One predictor's cost columns named in ``headers`` (any of ``COST_HEADERS``, in any order; every
    table that shows costs takes its cells from here): a dash where the predictor has no network."""
    p = summary.profile
    cells = dict.fromkeys(COST_HEADERS, "—")
    if p is not None:
        cells.update(
            {
                "Params (M)": fmt(p.parameters / 1e6, 3),
                "Weights (MB)": fmt(p.weights_mb, 2),
                "Activations (MB)": fmt(p.activations_mb, 2),
                "Memory (MB)": fmt(p.memory_mb, 2),
                "FPS (model)": f"{p.fps:,.0f}",
            }
        )
    cells["ms/frame (end-to-end)"] = fmt(summary.ms_per_frame_end_to_end, 2)
    return [cells[header] for header in headers]


def overall_table(evaluation: Evaluation, names: Sequence[str] | None = None) -> str:
    """Metrics and costs of every predictor (or of ``names``, in that order), best per column in bold."""
    overall = evaluation.overall()
    if names is not None:
        by_name = {r["predictor"]: r for r in overall}
        overall = [by_name[n] for n in names]
    best = best_per_metric(overall)
    summaries = {s.name: s for s in evaluation.predictors}
    rows = [
        [
            r["predictor"],
            summaries[r["predictor"]].group,
            *metric_cells(r, best),
            *cost_cells(summaries[r["predictor"]]),
        ]
        for r in overall
    ]
    return markdown_table(["Model", "Group", *metric_headers(evaluation), *COST_HEADERS], rows)


def category_table(evaluation: Evaluation) -> str:
    rows = evaluation.per_category()
    categories = sorted(
        {r["category"] for r in rows},
        key=lambda c: (*CATEGORIES, UNKNOWN_CATEGORY).index(c) if c in (*CATEGORIES, UNKNOWN_CATEGORY) else 99,
    )
    blocks = []
    for category in categories:
        subset = [r for r in rows if r["category"] == category]
        best = best_per_metric(subset)
        body = [[r["predictor"], *metric_cells(r, best)] for r in subset]
        blocks.append(
            f"**{category}** ({subset[0]['videos']} videos, {subset[0]['frames']} frames)\n\n"
            + markdown_table(["Model", *metric_headers(evaluation)], body)
        )
    return "\n\n".join(blocks)


def pyplot():
    """matplotlib's pyplot, drawing to files only (the Agg backend: no display needed). Imported when a
    figure is drawn rather than with this module: matplotlib takes a while to load and tables need none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_roc(
    evaluation: Evaluation, path: Path, title: str = "Mean ROC (AUC-Judd)", names: Sequence[str] | None = None
) -> Path | None:
    """Mean ROC curves (TPR averaged over frames at fixed FPR) of every predictor (or of ``names``);
    None without fixations."""
    curves = {n: t for n, t in evaluation.roc.items() if names is None or n in names}
    if not curves:
        return None
    plt = pyplot()
    overall = {r["predictor"]: r for r in evaluation.overall()}
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, tpr in curves.items():
        ax.plot(ROC_GRID, tpr, label=f"{name} (AUC {fmt(overall[name]['AUC'])})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_examples(evaluation: Evaluation, path: Path, names: Sequence[str] | None = None) -> Path | None:
    """A grid: one row per example frame; frame, ground truth (density, fixations in red), the map of
    every predictor (or of ``names``)."""
    if not evaluation.examples:
        return None
    plt = pyplot()
    names = [p.name for p in evaluation.predictors if names is None or p.name in names]
    n_rows, n_cols = len(evaluation.examples), 2 + len(names)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 1.35 * n_rows + 0.4), squeeze=False)
    for row, example in zip(axes, evaluation.examples, strict=True):
        row[0].imshow(example.frame_rgb)
        row[0].set_ylabel(f"{example.video}\n#{example.index}", fontsize=6)
        row[1].imshow(example.density, cmap="gray")
        if example.fixation is not None:
            ys, xs = np.nonzero(example.fixation > 0)
            row[1].scatter(xs, ys, s=1, c="red", linewidths=0)
        for ax, name in zip(row[2:], names, strict=True):
            ax.imshow(example.maps[name], cmap="gray")
    for ax, title in zip(axes[0], ["frame", "ground truth", *names], strict=True):
        ax.set_title(title, fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def busy_note(evaluation: Evaluation) -> str:
    """A warning when the CPU was shared while networks were timed (speeds then understate the hardware)."""
    profiles = [s.profile for s in evaluation.predictors if s.profile is not None and s.profile.load is not None]
    if not profiles or profiles[0].device != "cpu":
        return ""
    load, cores = max(p.load for p in profiles), os.cpu_count() or 1
    if load <= 0.75 * cores:
        return ""
    return (
        f" **The machine was busy while timing** (load average up to {load:.1f} on {cores} cores): the speeds "
        f"understate what this hardware does alone."
    )


def cost_notes(evaluation: Evaluation) -> str:
    profiles = [s.profile for s in evaluation.predictors if s.profile is not None]
    device = f"{profiles[0].device}, {profiles[0].threads} threads" if profiles else "—"
    return (
        f"Params: learned parameters. Memory = weights + activations, where activations is the largest single "
        f"layer's input + output tensors at batch 1 (the quantity the paper's Table V reports as memory "
        f"footprint scales like this). FPS (model): forward pass only, batch 1, median over runs ({device}). "
        f"ms/frame (end-to-end): the whole predictor call on original frames, including resizing and "
        f"normalisation, as measured during this evaluation." + busy_note(evaluation)
    )


def write_report(evaluation: Evaluation, out_dir: str | Path, title: str = "Saliency evaluation") -> Path:
    """Markdown (``evaluation.md``), CSVs (overall, per category, per video, per frame) and figures
    (``roc.png``, ``examples.png``) in ``out_dir``; returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = {s.name: s for s in evaluation.predictors}
    overall = [
        {**r, "group": summaries[r["predictor"]].group, **_cost_fields(summaries[r["predictor"]])}
        for r in evaluation.overall()
    ]
    write_csv(out / "overall.csv", overall)
    write_csv(out / "per_category.csv", evaluation.per_category())
    write_csv(out / "per_video.csv", evaluation.per_video())
    write_csv(out / "per_frame.csv", evaluation.frames)
    roc = plot_roc(evaluation, out / "roc.png")
    grid = plot_examples(evaluation, out / "examples.png")

    info = evaluation.info
    lines = [
        f"# {title}",
        "",
        f"Data: `{info['source']}` ({info['layout']} layout), split **{info['split']}**: {info['videos']} videos, "
        f"{info['frames']} evaluated frames (every {info['frame_step']} frame(s)"
        + (f", at most {info['max_frames_per_video']} per video" if info["max_frames_per_video"] else "")
        + f"). Seed {info['seed']}; sAUC negatives from {info['n_other_frames']} random frames of other videos.",
        "",
        "Metrics follow the MIT saliency benchmark (see `skd_training/metrics.py`); all but KLD are better when "
        "higher; scores are means over videos of per-video means over frames; best per column in bold.",
        "",
    ]
    lines += [f"> Note: {note}" for note in info["notes"]]
    missing = unavailable_note(evaluation)
    lines += ["", "## Overall", "", overall_table(evaluation), "", *([missing, ""] if missing else [])]
    lines += [cost_notes(evaluation), ""]
    lines += ["## Per category", "", category_table(evaluation), ""]
    if roc:
        lines += ["## ROC curves", "", f"![mean ROC curves]({roc.name})", ""]
    if grid:
        lines += ["## Examples", "", f"![frames, ground truth and maps]({grid.name})", ""]
    unscorable = evaluation.unscorable()
    skipped = {p: {m: c for m, c in counts.items() if c} for p, counts in unscorable.items()}
    if any(skipped.values()):
        first = next(iter(skipped.values()))
        lines += [
            "## Unscorable frames",
            "",
            "Frames left out of a metric's mean because their ground truth cannot score it "
            f"(e.g. {', '.join(f'{m}: {c}' for m, c in first.items())} for the first predictor).",
            "",
        ]
    lines += ["## Per video", "", "See `per_video.csv` (and `per_frame.csv`).", ""]
    path = out / "evaluation.md"
    path.write_text("\n".join(lines))
    return path


def _cost_fields(summary: PredictorSummary) -> dict:
    p = summary.profile
    return {
        "parameters": p.parameters if p else "",
        "weights_mb": p.weights_mb if p else "",
        "activations_mb": p.activations_mb if p else "",
        "memory_mb": p.memory_mb if p else "",
        "fps_model": p.fps if p else "",
        "ms_per_frame_end_to_end": summary.ms_per_frame_end_to_end,
    }

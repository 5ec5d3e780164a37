"""The reproduction report: our numbers next to the paper's, with plain verdicts on its findings.

``write_reproduction_report`` turns a ``Reproduction`` (``skd_tools.reproduction.findings``: one evaluation of every
trained variant and baseline, see ``skd_tools.reproduction.run``) into ``docs/REPRODUCTION.md`` with figures:
each of our tables next to the paper's (``skd_tools.reproduction.paper``), in the cells and formats of skd-eval's
report (``skd_training.evaluate.report``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from skd_tools.reproduction.findings import Reproduction, findings, lambda_curve, seed_noise
from skd_tools.reproduction.paper import (
    PAPER_BASE_RESOLUTION,
    PAPER_BEST_LAMBDA,
    PAPER_LAMBDA_PLATEAU,
    PAPER_METRICS,
    PAPER_TABLE_I,
    PAPER_TABLE_II,
    PAPER_TABLE_III,
    PAPER_TABLE_IV,
    PAPER_TABLE_V,
)
from skd_training.evaluate.report import (
    METRIC_HEADERS,
    best_per_metric,
    busy_note,
    cost_cells,
    metric_cells,
    overall_table,
    plot_examples,
    plot_roc,
    pyplot,
)
from skd_training.tables import fmt, markdown_table

# the cost columns of skd-eval's overall table that the paper's Table V reports per resolution
SPEED_HEADERS = ["Activations (MB)", "Memory (MB)", "FPS (model)"]
ABLATION_NAMES = {
    "S": "Ablation-S (spatial only)",
    "T": "Ablation-T (temporal only)",
    "O": "Ablation-O (no distillation)",
}


# --------------------------------------------------------------------------------------------------
# Figures


def plot_resolution(rep: Reproduction, path: Path, metric: str = "NSS") -> Path:
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
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
    """Tables III and V side by side: metrics, memory and speed at each R, ours and the paper's."""
    ev = rep.evaluation
    summaries = {s.name: s for s in ev.predictors}
    rows_ours = [ev.overall_of(rep.resolution_models[r]) for r in sorted(rep.resolution_models, reverse=True)]
    best = best_per_metric(rows_ours)
    body = []
    for r in sorted(rep.resolution_models, reverse=True):
        name = rep.resolution_models[r]
        paper = PAPER_TABLE_III.get(r)
        paper_cells = [fmt(paper[2]), fmt(PAPER_TABLE_V[r][4], 2), f"{PAPER_TABLE_V[r][3]:,}"] if paper else ["—"] * 3
        body.append(
            [
                str(r),
                *metric_cells(ev.overall_of(name), best),
                *cost_cells(summaries[name], SPEED_HEADERS),
                *paper_cells,
            ]
        )
    headers = ["R", *METRIC_HEADERS, *SPEED_HEADERS, "paper NSS", "paper memory (MB)", "paper CPU FPS"]
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

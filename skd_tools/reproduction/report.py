"""The reproduction report: our numbers next to the paper's, with plain verdicts on its findings.

``write_reproduction_report`` turns a ``Reproduction`` (``skd_tools.reproduction.findings``: one evaluation of every
trained variant and baseline, see ``skd_tools.reproduction.run``) into ``docs/REPRODUCTION.md`` with figures:
each of our tables, every row as the mean +- standard deviation over its seeds, next to the paper's
(``skd_tools.reproduction.paper``), in the cells and formats of skd-eval's report (``skd_training.evaluate.report``).
A metric that could not be computed shows as ``n/a``, with the reason under the table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import yaml

from skd_tools.reproduction.findings import (
    FAILS,
    HOLDS,
    OPEN,
    Reproduction,
    Stat,
    findings,
    lambda_curve,
    seed_noise,
    stat_of,
)
from skd_tools.reproduction.paper import (
    PAPER_BASE_RESOLUTION,
    PAPER_BEST_LAMBDA,
    PAPER_LAMBDA_PLATEAU,
    PAPER_METRICS,
    PAPER_TABLE_I,
    PAPER_TABLE_II,
    PAPER_TABLE_III,
    PAPER_TABLE_III_BY_TEACHER,
    PAPER_TABLE_IV,
    PAPER_TABLE_V,
)
from skd_tools.reproduction.recipe import SHARED_DEPARTURES, recipe_differences
from skd_training.evaluate.report import (
    COST_HEADERS,
    busy_note,
    cost_cells,
    metric_headers,
    plot_examples,
    plot_roc,
    pyplot,
    unavailable_note,
)
from skd_training.metrics import LOWER_IS_BETTER, METRIC_NAMES
from skd_training.tables import fmt, markdown_table

# the cost columns of skd-eval's overall table that the paper's Table V reports per resolution
SPEED_HEADERS = ["Activations (MB)", "Memory (MB)", "FPS (model)"]
ABLATION_NAMES = {
    "S": "Ablation-S (spatial only)",
    "T": "Ablation-T (temporal only)",
    "O": "Ablation-O (no distillation)",
}


# --------------------------------------------------------------------------------------------------
# Cells


def best_means(rows: Sequence[dict[str, Stat]]) -> dict[str, float]:
    best = {}
    for m in METRIC_NAMES:
        values = [r[m].mean for r in rows if r[m].available]
        if values:
            best[m] = min(values) if m in LOWER_IS_BETTER else max(values)
    return best


def stat_cells(row: dict[str, Stat], best: dict[str, float]) -> list[str]:
    """Mean +- std per metric, the best mean of each column in bold, ``n/a`` where there is no value."""
    cells = []
    for m in METRIC_NAMES:
        text = row[m].cell()
        cells.append(f"**{text}**" if row[m].available and best.get(m) == row[m].mean else text)
    return cells


def _seeds(names: Sequence[str]) -> str:
    return str(len(names))


# --------------------------------------------------------------------------------------------------
# Figures


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


# --------------------------------------------------------------------------------------------------
# Tables


def overall_stats_table(rep: Reproduction) -> str:
    """Table I: every row's metrics (mean ± std over seeds) and the first seed's costs."""
    ev = rep.evaluation
    summaries = {s.name: s for s in ev.predictors}
    stats = [rep.stats(names) for _, _, names in rep.table1_rows]
    best = best_means(stats)
    body = [
        [label, group, _seeds(names), *stat_cells(row, best), *cost_cells(summaries[names[0]])]
        for (label, group, names), row in zip(rep.table1_rows, stats, strict=True)
    ]
    return markdown_table(["Model", "Group", "seeds", *metric_headers(ev), *COST_HEADERS], body)


def resolution_table(rep: Reproduction) -> str:
    """Tables III and V side by side: metrics, memory and speed at each R, ours and the paper's."""
    ev = rep.evaluation
    summaries = {s.name: s for s in ev.predictors}
    order = sorted(rep.resolution_models, reverse=True)
    stats = [rep.stats(rep.resolution_models[r]) for r in order]
    best = best_means(stats)
    body = []
    for r, row in zip(order, stats, strict=True):
        names = rep.resolution_models[r]
        paper = PAPER_TABLE_III.get(r)
        paper_cells = [fmt(paper[2]), fmt(PAPER_TABLE_V[r][4], 2), f"{PAPER_TABLE_V[r][3]:,}"] if paper else ["—"] * 3
        body.append(
            [
                str(r),
                str(rep.teacher_resolution or "—"),
                _seeds(names),
                *stat_cells(row, best),
                *cost_cells(summaries[names[0]], SPEED_HEADERS),
                *paper_cells,
            ]
        )
    headers = ["R", "teacher px", "seeds", *metric_headers(ev), *SPEED_HEADERS, "paper NSS", "paper memory (MB)"]
    return markdown_table([*headers, "paper CPU FPS"], body)


def teacher_table(rep: Reproduction) -> str:
    """Table III's teacher half: each spatial teacher's own scores and the SKD model distilled from it at the
    base R (the temporal teacher fixed); a teacher that could not take part, with the reason."""
    ev = rep.evaluation
    stats = {name: rep.stats(names) for name, names in rep.teacher_models.items()}
    best = best_means(list(stats.values()))
    body = []
    for name, names in rep.teacher_models.items():
        own = ev.overall_of(rep.teacher_predictors[name])
        body.append(
            [
                name,
                str(rep.teacher_resolution or "—"),
                fmt(own["NSS"]) if math.isfinite(own["NSS"]) else "n/a",
                fmt(own["CC"]),
                _seeds(names),
                *stat_cells(stats[name], best),
            ]
        )
    for name, reason in rep.unavailable_teachers.items():
        body.append([f"{name} (n/a: {reason})", "—", "n/a", "n/a", "0", *(["n/a"] * len(METRIC_NAMES))])
    headers = ["spatial teacher", "teacher px", "teacher NSS", "teacher CC", "seeds"]
    headers += [f"SKD-{rep.base_resolution} {h}" for h in metric_headers(ev)]
    return markdown_table(headers, body)


def paper_teacher_table() -> str:
    body = [
        [teacher, *[fmt(v) for v in table[PAPER_BASE_RESOLUTION]]]
        for teacher, table in PAPER_TABLE_III_BY_TEACHER.items()
    ]
    return markdown_table(["spatial teacher (paper)", *[f"SKD-64 {m}" for m in PAPER_METRICS]], body)


def ablation_table(rep: Reproduction) -> str:
    keys = ["full", *[k for k in ("S", "T", "O") if k in rep.ablation_models]]
    names = {"full": rep.base_models, **rep.ablation_models}
    stats = [rep.stats(names[k]) for k in keys]
    best = best_means(stats)
    body = []
    for key, row in zip(keys, stats, strict=True):
        label = f"full SKD ({rep.base_name})" if key == "full" else ABLATION_NAMES[key]
        body.append([label, _seeds(names[key]), *stat_cells(row, best), *[fmt(v) for v in PAPER_TABLE_IV[key]]])
    headers = ["Model", "seeds", *metric_headers(rep.evaluation), *[f"paper {m}" for m in PAPER_METRICS]]
    return markdown_table(headers, body)


def lambda_table(rep: Reproduction) -> str:
    order = sorted(rep.lambda_models)
    stats = [rep.stats(rep.lambda_models[lam]) for lam in order]
    best = best_means(stats)
    body = [
        [f"{lam:g}", _seeds(rep.lambda_models[lam]), *stat_cells(row, best)]
        for lam, row in zip(order, stats, strict=True)
    ]
    return markdown_table(["lambda", "seeds", *metric_headers(rep.evaluation)], body)


def category_table(rep: Reproduction) -> str:
    """The base row per category: mean ± std over seeds of each seed's category score."""
    rows = [r for r in rep.evaluation.per_category() if r["predictor"] in rep.base_models]
    categories = list(dict.fromkeys(r["category"] for r in rows))
    stats, counts = [], []
    for category in categories:
        per_seed = [r for r in rows if r["category"] == category]
        stats.append({m: stat_of([r[m] for r in per_seed]) for m in METRIC_NAMES})
        counts.append((per_seed[0]["videos"], per_seed[0]["frames"]))
    best = best_means(stats)
    body = []
    for category, row, (videos, frames) in zip(categories, stats, counts, strict=True):
        paper = PAPER_TABLE_II.get(category)
        body.append(
            [
                category,
                str(videos),
                str(frames),
                *stat_cells(row, best),
                fmt(paper[2]) if paper else "—",
                fmt(paper[4]) if paper else "—",
            ]
        )
    headers = ["Category", "videos", "frames", *metric_headers(rep.evaluation), "paper NSS", "paper CC"]
    return markdown_table(headers, body)


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


def _setting(value) -> str:
    """A config value in a table cell: sources by file name, mappings and lists in YAML's flow style."""
    if isinstance(value, list) and all(isinstance(v, dict) and "path" in v for v in value):
        return ", ".join(Path(v["path"]).name for v in value) if value else "none"
    return f"`{yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip().removesuffix('...').strip()}`"


def recipe_lines(rep: Reproduction) -> list[str]:
    """Where config default's recipe differs from the paper's (config paper), and where both depart from it."""
    used = rep.setup.get("config")
    body = [[f"`{d.key}`", _setting(d.default), _setting(d.paper), d.reason] for d in recipe_differences()]
    return [
        "## The recipe: config `default` and the paper",
        "",
        "Config `paper` (`skd_training/configs/paper.yaml`, `skd-train --config paper`, `skd-reproduce --config "
        "paper`) is the paper as published: normalised L2 soft and hard losses (Eqs. 3-4), lambda = 0.5, Adam, "
        "the two steps, students at R from teachers at their own higher resolution, the fusion head from a "
        "truncated normal, Step 2 on the hard loss alone (Eq. 5). Config `default`, the shipped model's, differs "
        "in these settings:",
        "",
        markdown_table(["setting", "config default", "config paper", "why default differs"], body),
        "",
        "Both configs depart from the paper here:",
        "",
        *[f"* {line}" for line in SHARED_DEPARTURES],
        "",
        f"**This run's recipe: config `{used}`**"
        + (
            " with the paper's Step 2 (fuse.lam=0, so that the lambda sweep varies Step 1 alone); its remaining "
            "differences from the paper are the losses and the shared departures above."
            if used == "default"
            else "."
        ),
        "",
    ]


def summary_lines(found) -> list[str]:
    """Which of the paper's claims hold here, which do not, which the spread cannot decide."""
    lines = []
    for status, title in ((HOLDS, "Hold"), (FAILS, "Do not hold"), (OPEN, "Undecided or only partly decided")):
        claims = [f.claim if status != OPEN else f"{f.claim} — {f.verdict}" for f in found if f.status == status]
        lines.append(f"* **{title}:** " + ("; ".join(claims) if claims else "none") + ".")
    return lines


# --------------------------------------------------------------------------------------------------
# The document


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _with_na(table: str, rep: Reproduction) -> list[str]:
    note = unavailable_note(rep.evaluation)
    return [table, "", note, ""] if note else [table, ""]


def write_reproduction_report(rep: Reproduction, report_path: str | Path, figures_dir: str | Path) -> Path:
    """Write the Markdown report and its figures (``reproduction_*.png`` in ``figures_dir``)."""
    report_path, figures_dir = Path(report_path), Path(figures_dir)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    here = report_path.parent
    setup = rep.setup
    ev = rep.evaluation
    first_seed = [names[0] for _, _, names in rep.table1_rows]
    figs = {
        "roc": plot_roc(
            ev,
            figures_dir / "reproduction_roc.png",
            "Mean ROC (AUC-Judd), Table I models, first seed",
            names=first_seed,
        ),
        "examples": plot_examples(ev, figures_dir / "reproduction_examples.png", names=first_seed),
        "resolution": plot_resolution(rep, figures_dir / "reproduction_resolution.png"),
        "ablation": plot_ablation(rep, figures_dir / "reproduction_ablation.png") if rep.ablation_models else None,
        "lambda": plot_lambda(rep, figures_dir / "reproduction_lambda.png") if rep.lambda_models else None,
    }
    link = {k: _rel(v, here) for k, v in figs.items() if v is not None}
    synthetic = setup.get("synthetic", False)
    found = findings(rep)
    noise = seed_noise(rep)

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
        "(SalNet and SSNet too in Table III) and TSNet as temporal teacher. **Ours** use this repository's built-in "
        "teachers (`skd_training.teachers`: U-Net-style spatial networks and a two-stream temporal network), "
        "trained here.",
        f"* Split evaluated: **{ev.info['split']}**, {ev.info['videos']} videos, {ev.info['frames']} frames"
        + (
            f" (at most {ev.info['max_frames_per_video']} per video, evenly spaced)"
            if ev.info["max_frames_per_video"]
            else ""
        )
        + ". Metrics: the MIT saliency benchmark's definitions (`skd_training/metrics.py`), at the ground truth's "
        "resolution, means over videos; NSS is the primary metric, as in the paper. Fixations: "
        + {
            "recorded": "every test video has fixation maps, so every metric is computed.",
            "sampled": f"none recorded; {ev.info.get('sampled_fixations')} per frame sampled from the density maps "
            "(labelled in every table).",
            "mixed": "some sampled from the density maps (labelled in every table).",
            "partial": "only some videos have fixation maps (see the notes).",
            "none": "none: AUC, sAUC and NSS are n/a (see the notes).",
        }.get(ev.info.get("fixations"), "see the notes."),
        f"* Training: preset `{setup.get('preset')}` — {setup.get('preset_description', '')}. Recipe: config "
        f"`{setup.get('config')}`"
        + (f" with `{' '.join(setup['overrides'])}`" if setup.get("overrides") else "")
        + (
            f"; training on every {setup['frame_steps'][0]}th frame, validation on every {setup['frame_steps'][1]}th"
            if setup.get("frame_steps", (1, 1)) != (1, 1)
            else ""
        )
        + f"; base model R={rep.base_resolution}, lambda={rep.base_lambda:g}. Every row is trained with seeds "
        f"{setup.get('seeds', '0')} (students and fused model; the teachers once, with the first seed), and each "
        "table shows the mean ± the sample standard deviation over the seeds.",
        f"* Teachers label every frame at **{rep.teacher_resolution} px**, one resolution for every R: each R's soft "
        "labels are the teachers' maps degraded to R (never upsampled), as the paper degrades its high-resolution "
        "teachers' maps; the soft-label manifests record it, and a run asking for another resolution is refused.",
        f"* Speed and memory measured on {setup.get('device', 'this machine')}; the paper used a GTX 1080Ti and one "
        "core of a 3.4 GHz CPU.",
    ]
    lines += [f"* Note: {n}" for n in ev.info.get("notes", [])]
    for metric, reason in ev.info.get("unavailable", {}).items():
        lines.append(f"* Note: {metric} is n/a: {reason}.")
    for name, reason in rep.unavailable_teachers.items():
        lines.append(f"* Note: spatial teacher {name} is n/a: {reason}.")
    lines += [f"* Note: {n}" for n in setup.get("notes", [])]
    lines += [
        "",
        "## Findings at a glance",
        "",
        "Each claim of the paper, checked on our data. NSS decides. **A difference counts only where it exceeds "
        "the spread**: one row beats another when their means differ by more than the sum of their standard "
        "deviations over seeds; anything closer is *within the spread*, and a claim resting only on such "
        "differences is *undecided*."
        + ("" if rep.seeds > 1 else " With one seed there is no spread: every difference counts, however small."),
        "",
        markdown_table(
            ["Paper's finding", "Paper (AVS1K)", "Ours (mean ± std over seeds)", "Verdict"],
            [[f.claim, f.paper, f.ours, f"**{f.verdict}**"] for f in found],
        ),
        "",
        *summary_lines(found),
        "",
        f"Seed-to-seed spread of NSS (the largest std of any SKD row): {fmt(noise)}."
        if noise
        else "Every model was trained once (one seed): run with `--repeats 3` to measure the spread.",
        "",
    ]

    lines += recipe_lines(rep)
    lines += [
        "## Table I — models and baselines",
        "",
        "Ours (mean ± std over seeds; best mean per column in bold; KLD: lower is better; costs of the first "
        "seed's network, the same architecture for every seed):",
        "",
        *_with_na(overall_stats_table(rep), rep),
        "Memory = weights + the largest layer's activations at batch 1 (the paper's memory footprint, "
        "Table V, behaves like the activation part alone: it grows 4x per doubling of R). FPS (model): the "
        "network alone at batch 1; ms/frame (end-to-end): the predictor on original frames, preprocessing "
        "included. The students are the Ablation-S/T rows (a student in the fused model's format computes "
        "exactly the student's function)." + busy_note(ev),
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
            "Example frames (ground truth: density, fixations in red; then each model's map, first seed):",
            "",
            f"![examples]({link['examples']})",
            "",
        ]

    lines += [
        "## Table II — per category",
        "",
        f"{rep.base_name} per category (mean ± std over seeds), with the paper's SKD-DVA-64:",
        "",
        *_with_na(category_table(rep), rep),
    ]

    lines += [
        "## Table III (and V) — input resolution and spatial teacher",
        "",
        "### Resolution",
        "",
        f"The same teachers' soft labels ({rep.teacher_resolution} px, degraded to each R); students and fused "
        f"model trained at each R (base R={rep.base_resolution}); the paper's columns are SKD-DVA-R (Tables III "
        "and V).",
        "",
        *_with_na(resolution_table(rep), rep),
        f"![resolution sweep]({link['resolution']})",
        "",
        "### Spatial teacher",
        "",
        f"At R={rep.base_resolution}, one spatial teacher per row, the temporal teacher fixed (the base run's, as "
        "the paper fixes TSNet); each row's spatial student and fused model distilled from that teacher. The teachers "
        "are `skd_tools/reproduction/spatial_teachers.yaml`'s entries: a pretrained teacher, a TorchScript or ONNX "
        "file takes part with one more entry.",
        "",
        *_with_na(teacher_table(rep), rep),
        "The paper's teacher half at R=64 (its teachers are other networks than ours):",
        "",
        paper_teacher_table(),
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
            *_with_na(ablation_table(rep), rep),
            f"![ablations]({link['ablation']})",
            "",
        ]

    if rep.lambda_models:
        lines += [
            "## Fig. 8 — the soft/hard loss weight lambda",
            "",
            "lambda weighs the teacher's soft labels against the ground truth in Step 1 (lambda = 0: ground "
            "truth only, 1: teacher only). The paper gives the curve only as a figure: NSS above 2.08 for "
            "lambda in [0, 0.6], best at 0.5, dropping sharply above 0.6 (the mean over three tests).",
            "",
            *_with_na(lambda_table(rep), rep),
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

"""The reproduction report's tables: each of ours, every row as the mean ± std over its seeds with the best mean of
each column in bold, next to the paper's (``skd_tools.reproduction.paper``), in the cells and formats of skd-eval's
report (``skd_training.evaluate.report``); and the paper's own Tables I and III (teacher half)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from skd_tools.reproduction.findings import Reproduction, Stat, stat_of
from skd_tools.reproduction.paper import (
    PAPER_BASE_RESOLUTION,
    PAPER_METRICS,
    PAPER_TABLE_I,
    PAPER_TABLE_II,
    PAPER_TABLE_III,
    PAPER_TABLE_III_BY_TEACHER,
    PAPER_TABLE_IV,
    PAPER_TABLE_V,
)
from skd_training.evaluate.report import COST_HEADERS, cost_cells, metric_headers
from skd_training.metrics import LOWER_IS_BETTER, METRIC_NAMES
from skd_training.tables import fmt, markdown_table

# the cost columns of skd-eval's overall table that the paper's Table V reports per resolution
SPEED_HEADERS = ["Activations (MB)", "Memory (MB)", "FPS (model)"]
ABLATION_NAMES = {
    "S": "Ablation-S (spatial only)",
    "T": "Ablation-T (temporal only)",
    "O": "Ablation-O (no distillation)",
}


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

"""The reproduction's results, and a plain verdict on each of the paper's findings.

A ``Reproduction`` is one evaluation of every trained variant and baseline (see ``skd_tools.reproduction.run``)
with which model is which; ``findings`` compares it with the paper (``skd_tools.reproduction.paper``). The findings
checked (NSS is the paper's primary metric, Sec. IV-A; the other metrics are counted):

* Table III: the model at R = 64 beats the ones at R = 32 and R = 256;
* Table IV: full SKD beats each ablation (S: spatial only, T: temporal only, O: no distillation);
* Fig. 8: lambda around 0.5 is best (NSS high for lambda in [0, 0.6], dropping sharply above);
* Table I: SKD beats the heuristic baselines and is on par with or better than its teachers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from skd_tools.reproduction.paper import PAPER_LAMBDA_PLATEAU, PAPER_METRICS
from skd_training.evaluate.results import Evaluation
from skd_training.metrics import LOWER_IS_BETTER
from skd_training.tables import fmt


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

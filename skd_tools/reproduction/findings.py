"""The reproduction's results over seeds, and a plain verdict on each of the paper's findings.

A ``Reproduction`` is one evaluation of every trained variant and baseline (see ``skd_tools.reproduction.run``)
with which models make up which row: every row of Tables I, III and IV and of Fig. 8 is trained with several
seeds (``--repeats``), and a row's score is the mean over its seeds with their sample standard deviation
(``Stat``). The findings checked (NSS is the paper's primary metric, Sec. IV-A):

* Table III, resolution half: the model at the base R (64) beats the smallest and the largest R;
* Table III, teacher half: at the base R, the spatial teacher changes little (the paper's SKD-DVA/SalNet/SSNet-64
  score 2.100 / 2.108 / 2.100);
* Table IV: full SKD beats each ablation (S: spatial only, T: temporal only, O: no distillation);
* Fig. 8: lambda = 0.5 beats the other lambdas;
* Table I: SKD beats the heuristic baselines and is on par with or better than its teachers.

**A difference counts only where it exceeds the spread**: row A beats row B when their means differ by more
than the sum of their standard deviations over seeds (the mean +- std intervals do not touch). Anything closer
is *undecided*, and a verdict is stated only from decided comparisons (``compare``, ``verdict``). Teachers and
baselines are single deterministic models (trained once; no seed spread): only the SKD row's spread counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from skd_tools.reproduction.paper import PAPER_LAMBDA_PLATEAU
from skd_training.evaluate.results import Evaluation
from skd_training.metrics import LOWER_IS_BETTER, METRIC_NAMES
from skd_training.tables import fmt

BETTER, WORSE, UNDECIDED = "better", "worse", "undecided"
HOLDS, FAILS, OPEN = "holds", "does not hold", "undecided"


@dataclass(frozen=True)
class Stat:
    """A row's score over its seeds: the mean and the sample standard deviation (NaN with one seed)."""

    mean: float
    std: float
    n: int

    @property
    def available(self) -> bool:
        return math.isfinite(self.mean)

    @property
    def spread(self) -> float:
        return self.std if math.isfinite(self.std) else 0.0

    def cell(self, digits: int = 3) -> str:
        """``1.724 ± 0.081`` (one seed: ``1.724``; no value: ``n/a``)."""
        if not self.available:
            return "n/a"
        if self.n > 1 and math.isfinite(self.std):
            return f"{fmt(self.mean, digits)} ± {fmt(self.std, digits)}"
        return fmt(self.mean, digits)


def stat_of(values: Sequence[float]) -> Stat:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return Stat(float("nan"), float("nan"), 0)
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
    return Stat(float(np.mean(finite)), std, len(finite))


@dataclass
class Reproduction:
    """Everything the report needs: one evaluation holding every model, and which models make up each row
    (one predictor name per seed)."""

    evaluation: Evaluation
    base_name: str  # the base row's label, e.g. "SKD-64"
    base_resolution: int
    base_lambda: float
    base_models: list[str]
    resolution_models: dict[int, list[str]]
    ablation_models: dict[str, list[str]]  # "S" / "T" / "O"
    lambda_models: dict[float, list[str]]
    teacher_models: dict[str, list[str]] = field(default_factory=dict)  # spatial teacher -> SKD at the base R
    teacher_predictors: dict[str, str] = field(default_factory=dict)  # spatial teacher -> its own predictor
    unavailable_teachers: dict[str, str] = field(default_factory=dict)  # spatial teacher -> why it has no row
    table1_rows: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (label, group, names)
    teacher_resolution: int | None = None
    setup: dict = field(default_factory=dict)
    training: list[dict] = field(default_factory=list)  # per variant: name, run_dir, val metrics

    def stats(self, names: Sequence[str]) -> dict[str, Stat]:
        """Per metric, the mean and spread over ``names`` (the seeds of one row)."""
        rows = [self.evaluation.overall_of(n) for n in names]
        return {m: stat_of([r[m] for r in rows]) for m in METRIC_NAMES}

    @property
    def seeds(self) -> int:
        return len(self.base_models)


@dataclass
class Finding:
    claim: str
    paper: str
    ours: str
    verdict: str  # see ``verdict``; "not tested" when the run cannot check it

    @property
    def status(self) -> str:
        """holds / does not hold / undecided, for the summary."""
        if self.verdict == "agrees":
            return HOLDS
        if self.verdict == "disagrees":
            return FAILS
        return OPEN


def compare(a: Stat, b: Stat, metric: str) -> str:
    """Whether row ``a`` is better or worse than ``b`` on ``metric`` beyond the spread, else undecided."""
    if not (a.available and b.available):
        return UNDECIDED
    difference = a.mean - b.mean if metric not in LOWER_IS_BETTER else b.mean - a.mean
    if abs(difference) <= a.spread + b.spread:
        return UNDECIDED
    return BETTER if difference > 0 else WORSE


def verdict(outcomes: Sequence[str]) -> str:
    """The claim "A is better than each of these" from its comparisons: agrees / disagrees only when every
    comparison is decided one way; undecided when none is; otherwise the mixture, named."""
    better, worse = outcomes.count(BETTER), outcomes.count(WORSE)
    if better == len(outcomes):
        return "agrees"
    if worse == len(outcomes):
        return "disagrees"
    if not better and not worse:
        return "undecided"
    if not worse:
        return "partly agrees (rest undecided)"
    if not better:
        return "partly disagrees (rest undecided)"
    return "mixed"


def _vs(label: str, stat: Stat, ours: Stat, metric: str) -> str:
    outcome = compare(ours, stat, metric)
    word = {BETTER: "ours better", WORSE: "ours worse", UNDECIDED: "within the spread"}[outcome]
    return f"{label} {stat.cell()} ({word})"


def lambda_curve(rep: Reproduction, metric: str = "NSS") -> list[tuple[float, Stat]]:
    """(lambda, stat over seeds) per lambda, sorted."""
    return [(lam, rep.stats(rep.lambda_models[lam])[metric]) for lam in sorted(rep.lambda_models)]


def seed_noise(rep: Reproduction, metric: str = "NSS") -> float | None:
    """The largest seed-to-seed standard deviation of ``metric`` over the SKD rows (None with one seed)."""
    rows = [
        rep.base_models,
        *rep.resolution_models.values(),
        *rep.ablation_models.values(),
        *rep.lambda_models.values(),
        *rep.teacher_models.values(),
    ]
    stds = [rep.stats(names)[metric].std for names in rows if len(names) > 1]
    stds = [s for s in stds if math.isfinite(s)]
    return max(stds) if stds else None


def _resolution_finding(rep: Reproduction, base: Stat, metric: str) -> Finding:
    resolutions = sorted(rep.resolution_models)
    low, high = resolutions[0], resolutions[-1]
    claim = f"the base resolution (R={rep.base_resolution}; 64 in the paper) beats the smallest and the largest"
    paper = "NSS 2.100 at 64 vs 2.040 at 32 and 1.624 at 256 (Table III, DVA)"
    if not low < rep.base_resolution < high:
        return Finding(claim, paper, "the sweep does not bracket the base resolution", "not tested")
    lo = rep.stats(rep.resolution_models[low])[metric]
    hi = rep.stats(rep.resolution_models[high])[metric]
    outcomes = [compare(base, lo, metric), compare(base, hi, metric)]
    ours = (
        f"{metric} {base.cell()} at R={rep.base_resolution} vs {_vs(f'R={low}', lo, base, metric)} and "
        f"{_vs(f'R={high}', hi, base, metric)}"
    )
    return Finding(claim, paper, ours, verdict(outcomes))


def _teacher_finding(rep: Reproduction, metric: str) -> Finding | None:
    if len(rep.teacher_models) < 2:
        return None
    stats = {name: rep.stats(names)[metric] for name, names in rep.teacher_models.items()}
    names = list(stats)
    decided = [
        f"{a} vs {b}"
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if compare(stats[a], stats[b], metric) != UNDECIDED
    ]
    ours = f"{metric} at R={rep.base_resolution}: " + ", ".join(f"{n} {s.cell()}" for n, s in stats.items())
    if decided:
        ours += "; differing beyond the spread: " + ", ".join(decided)
    return Finding(
        f"at R={rep.base_resolution}, the choice of spatial teacher changes the distilled model little",
        "NSS 2.100 / 2.108 / 2.100 with DVA / SalNet / SSNet at 64 (Table III)",
        ours,
        "disagrees" if decided else "agrees",
    )


def _ablation_finding(rep: Reproduction, base: Stat, metric: str) -> Finding:
    parts, outcomes = [], []
    for key in ("S", "T", "O"):
        if key in rep.ablation_models:
            row = rep.stats(rep.ablation_models[key])[metric]
            outcomes.append(compare(base, row, metric))
            parts.append(_vs(key, row, base, metric))
    return Finding(
        "full SKD beats each ablation",
        "NSS 2.100 vs S 2.085, T 2.007, O 1.943 (Table IV)",
        f"{metric} {base.cell()} vs " + ", ".join(parts),
        verdict(outcomes),
    )


def _lambda_finding(rep: Reproduction, metric: str) -> Finding | None:
    curve = [(lam, s) for lam, s in lambda_curve(rep, metric) if s.available]
    if len(curve) < 2 or rep.base_lambda not in dict(curve):
        return None
    base = dict(curve)[rep.base_lambda]
    others = [(lam, s) for lam, s in curve if lam != rep.base_lambda]
    best_lam, best = max(curve, key=lambda c: c[1].mean)
    plateau = "inside" if PAPER_LAMBDA_PLATEAU[0] <= best_lam <= PAPER_LAMBDA_PLATEAU[1] else "outside"
    ours = (
        f"{metric} {base.cell()} at lambda={rep.base_lambda:g} vs "
        + ", ".join(_vs(f"{lam:g}", s, base, metric) for lam, s in others)
        + f"; highest mean at lambda={best_lam:g} ({plateau} the paper's plateau [0, 0.6])"
    )
    return Finding(
        f"lambda = {rep.base_lambda:g} beats the other lambdas",
        "best at 0.5; NSS > 2.08 for lambda in [0, 0.6], dropping sharply above (Fig. 8)",
        ours,
        verdict([compare(base, s, metric) for _, s in others]),
    )


def _group_rows(rep: Reproduction, group: str) -> list[tuple[str, list[str]]]:
    return [(label, names) for label, row_group, names in rep.table1_rows if row_group == group]


def findings(rep: Reproduction, metric: str = "NSS") -> list[Finding]:
    base = rep.stats(rep.base_models)[metric]
    if not base.available:
        reason = rep.evaluation.info.get("unavailable", {}).get(metric, "no value")
        return [Finding("all", "—", f"{metric} is n/a: {reason}", "not tested")]
    out = [_resolution_finding(rep, base, metric)]
    teacher = _teacher_finding(rep, metric)
    if teacher is not None:
        out.append(teacher)
    if rep.ablation_models:
        out.append(_ablation_finding(rep, base, metric))
    lam = _lambda_finding(rep, metric)
    if lam is not None:
        out.append(lam)
    baselines = _group_rows(rep, "baseline")
    if baselines:
        stats = {label: rep.stats(names)[metric] for label, names in baselines}
        out.append(
            Finding(
                "SKD beats the heuristic baselines",
                "SKD-DVA-64 NSS 2.100 vs heuristics 1.140-1.671 (Table I)",
                f"{metric} {base.cell()} vs " + ", ".join(_vs(label, s, base, metric) for label, s in stats.items()),
                verdict([compare(base, s, metric) for s in stats.values()]),
            )
        )
    teachers = _group_rows(rep, "teacher")
    if teachers:
        stats = {label: rep.stats(names)[metric] for label, names in teachers}
        # "on par or better": a difference inside the spread is on par, so only a decided loss counts against
        outcomes = [WORSE if compare(base, s, metric) == WORSE else BETTER for s in stats.values()]
        out.append(
            Finding(
                "the distilled model is on par with or better than its teachers",
                "SKD-DVA-64 NSS 2.100 vs its spatial teacher DVA 2.044 (Table I)",
                f"{metric} {base.cell()} vs " + ", ".join(_vs(label, s, base, metric) for label, s in stats.items()),
                verdict(outcomes),
            )
        )
    return out

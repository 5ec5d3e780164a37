"""What a reproduction evaluates: a predictor for every trained fused model, the base run's teachers (and
students), each other spatial teacher and the baselines; and the names the report's tables give them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from skd_ros.runtime import SaliencyEstimator
from skd_tools.reproduction.plan import Plan, Row, Variant
from skd_training.baselines import default_baselines
from skd_training.evaluate.predictors import baseline_predictor, fused_predictor
from skd_training.finished_run import run_predictors


def predictor_name(variant: Variant) -> str:
    return f"{variant.name} seed {variant.seed}"


def build_predictors(plan: Plan, trained: dict[str, dict], work_dir: Path, device: str, backend: str, students: bool):
    """Every trained fused model; the base run's teachers (and students, when no ablation row stands for them);
    each other spatial teacher of the teacher half; the baselines."""
    fused = {}
    for variant in plan.variants():
        estimator = SaliencyEstimator(weights=trained[variant.key]["final"], device=device, backend=backend)
        fused[variant.key] = fused_predictor(estimator, predictor_name(variant))
    from_base = run_predictors(work_dir / plan.base.variants[0].key, device, students=students)
    teachers = {}
    for name, row in plan.teachers.items():
        if row is plan.base:
            teachers[name] = next(p for p in from_base if p.name == "Teacher-spatial")
            continue
        own = run_predictors(work_dir / row.variants[0].key, device, students=False)
        spatial = next(p for p in own if p.name == "Teacher-spatial")
        teachers[name] = replace(spatial, name=f"Teacher-spatial ({name})")
    baselines = [baseline_predictor(b) for b in default_baselines()]
    return fused, from_base, teachers, baselines


def names_of(row: Row) -> list[str]:
    return [predictor_name(v) for v in row.variants]


def table1_rows(plan: Plan, from_base, baselines) -> list[tuple[str, str, list[str]]]:
    """SKD at the base resolution and the next smaller one (the paper's SKD-32 and SKD-64), the students (the
    Ablation-S/T rows: the same function), the teachers, the baselines."""
    base_r = plan.base.variants[0].resolution
    smaller = [r for r in plan.resolution if r < base_r]
    rows = []
    if smaller:
        row = plan.resolution[max(smaller)]
        rows.append((row.name, "SKD", names_of(row)))
    rows.append((plan.base.name, "SKD", names_of(plan.base)))
    for kind, student in (("S", "spatial"), ("T", "temporal")):
        if kind in plan.ablation:
            rows.append((f"Student-{student}-{base_r} (= Ablation-{kind})", "student", names_of(plan.ablation[kind])))
    rows += [(p.name, p.group, [p.name]) for p in from_base]
    rows += [(p.name, "baseline", [p.name]) for p in baselines]
    return rows

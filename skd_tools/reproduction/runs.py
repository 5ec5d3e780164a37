"""The training runs of a reproduction's plan: each run given what it borrows from the runs before it, then run
(``skd_training.pipeline.run_pipeline``, resumable: finished runs and stages are reused), under one progress bar
weighted by each run's estimated cost."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tqdm import tqdm

from skd_tools.reproduction.plan import Plan, Variant
from skd_training.config import PipelineConfig, apply_overrides, config_from_dict
from skd_training.pipeline import run_pipeline

log = logging.getLogger("skd_reproduce")


def _prepare(variant: Variant, run_dir: Path, work_dir: Path) -> None:
    """Give a variant what it borrows from the runs before it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for source, relative in variant.links:
        link, target = run_dir / relative, work_dir / source / relative
        if not link.exists() and target.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target.resolve(), target_is_directory=True)
    for source, stage_dir in variant.copies:
        target = run_dir / stage_dir
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(work_dir / source / stage_dir, target)


def estimated_cost(variant: Variant, config: PipelineConfig) -> float:
    """What a run costs relative to the others, for the progress bar's time estimate: epochs times R^2 for each
    network it trains (not the ones it borrows), with the ratios measured on a CPU: a fused-model epoch costs 1.6
    student epochs, a teacher 11 times a student per frame and pixel, labelling a frame 2.5 times a student's
    training step. An Ablation-S/T run trains nothing (it rewrites a student)."""
    pixels, teacher_pixels = config.resolution**2, config.teacher_resolution**2
    borrowed = {stage for _, stage in variant.copies}
    trained = [kind for kind in config.kinds() if f"student_{kind}" not in borrowed]
    cost = 0.0
    if "students" in variant.stages:
        cost += config.students.epochs * len(trained) * pixels
    if "fuse" in variant.stages and config.ablation not in ("S", "T"):
        cost += config.fuse.epochs * 1.6 * pixels
    own_teachers = [kind for kind in config.kinds() if f"teacher_{kind}" not in borrowed]
    if "teachers" in variant.stages:
        for kind in own_teachers:
            teacher = getattr(config.teachers, kind)
            if teacher.type == "builtin":
                cost += teacher.epochs * 11 * teacher_pixels / teacher.frame_step
    if "soft-labels" in variant.stages:
        cost += 2.5 * teacher_pixels * len(own_teachers)
    return cost


def train_variants(plan: Plan, config: dict, work_dir: Path, retrain: bool, progress: bool) -> dict[str, dict]:
    """Run every variant's stages from one resolved ``config`` (so that every run sees the same settings,
    whatever happens to the config files meanwhile); returns per variant its run dir, final checkpoint and
    validation metrics. The bar's time estimate weighs each run by ``estimated_cost``; runs with a final
    checkpoint count as done from the start (they are only checked and reloaded)."""
    variants = plan.variants()
    configs = {v.key: config_from_dict(apply_overrides(config, v.overrides(work_dir / v.key))) for v in variants}
    costs = {v.key: estimated_cost(v, configs[v.key]) for v in variants}
    finished = {
        v.key
        for v in variants
        if not retrain and (work_dir / v.key / "final" / f"skd_fused_{v.resolution}.pt").is_file()
    }
    if finished:
        log.info("%d of %d training runs already finished: reusing them", len(finished), len(variants))
    total = sum(costs.values())
    results = {}
    with tqdm(
        total=100.0,
        initial=100.0 * sum(costs[k] for k in finished) / total,
        desc="training runs",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}",
        smoothing=0,
        disable=not progress,
    ) as bar:
        for done, variant in enumerate(variants):
            bar.set_postfix_str(f"run {done + 1}/{len(variants)}: {variant.name} seed {variant.seed}")
            run_dir = work_dir / variant.key
            _prepare(variant, run_dir, work_dir)
            result = run_pipeline(
                config,
                stages=variant.stages,
                resume=not retrain,
                overwrite=retrain,
                overrides=variant.overrides(run_dir),
            )
            results[variant.key] = {
                "name": f"{variant.name} seed {variant.seed}",
                "run_dir": str(run_dir),
                "final": result.final_checkpoint,
                "stages": ", ".join(variant.stages),
                "val_metrics": result.val_metrics,
            }
            if variant.key not in finished:
                bar.update(100.0 * costs[variant.key] / total)
    return results

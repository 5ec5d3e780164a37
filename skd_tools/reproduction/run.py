"""skd-reproduce: the paper's experiments as one command, written up in docs/REPRODUCTION.md.

    skd-reproduce --preset compact --threads 1      # what docs/REPRODUCTION.md shows: about 80 min on one CPU thread
    skd-reproduce                                   # the full preset on the synthetic benchmark (a GPU job)
    skd-reproduce --config paper                    # the paper's recipe as published (skd_training/configs/paper.yaml)
    skd-reproduce --data /data/AVS1K                # the same on AVS1K (trainSet/validSet/testSet)
    skd-reproduce --preset tiny --data DIR          # seconds-long smoke run (tests)

What it trains (``skd_training.pipeline.run_pipeline``; each variant in its own run directory under
``--work-dir``, resumable: a rerun reuses every finished run and stage, the soft labels included, and refuses
changed settings). Every row is trained with ``--repeats`` seeds (3 by default), students and fused models
reseeded, the teachers trained once:

* ``base``: teachers -> soft labels -> students -> fused model at the config's resolution R and lambda
  (64 and 0.5, the paper's SKD-DVA-64);
* Table III, resolution half: the students and fused model at each R of ``--resolutions``, all from the same
  teachers' soft labels, computed at the preset's one ``teacher_resolution`` (at least the largest R, so that
  every R's soft labels are the teachers' maps degraded to R, never upsampled);
* Table III, teacher half: at the base R, one row per spatial teacher of ``spatial_teachers.yaml`` (the
  temporal teacher, its soft labels and the temporal students borrowed from the base run);
* Table IV: Ablation-S and -T (each seed's spatial / temporal student alone, without the joint step) and
  Ablation-O (the fused model from scratch on the ground truth);
* Fig. 8: students and fused model at each ``--lambdas`` value.

Then one evaluation (``skd_training.evaluate``) of every model, the teachers and the baselines on the test split,
and the report (``skd_tools.reproduction.report``): each table with the mean and spread over seeds next to the
paper's numbers (``skd_tools.reproduction.paper``), and a verdict on each of the paper's findings that counts a
difference only where it exceeds the spread (``skd_tools.reproduction.findings``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import torch
import yaml
from tqdm import tqdm

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.runtime import SaliencyEstimator
from skd_tools.reproduction.findings import Reproduction
from skd_tools.reproduction.report import write_reproduction_report
from skd_training.baselines import default_baselines
from skd_training.config import (
    ConfigError,
    PipelineConfig,
    apply_overrides,
    config_from_dict,
    read_config_file,
)
from skd_training.data import synthetic
from skd_training.data.layouts import DatasetError, open_source
from skd_training.evaluate.predictors import baseline_predictor, fused_predictor
from skd_training.evaluate.report import write_report
from skd_training.evaluate.scoring import evaluate
from skd_training.finished_run import run_predictors
from skd_training.pipeline import STAGES, git_commit, run_pipeline
from skd_training.teachers import TeacherError

log = logging.getLogger("skd_reproduce")

SYNTHETIC_MARKER = "synthetic.json"  # written by the synthetic benchmark generator into its root
SPATIAL_TEACHERS = Path(__file__).with_name("spatial_teachers.yaml")

# The paper's Step 2 trains the fused model on the hard loss alone. Config default's Step 2 also learns from the
# teachers (fuse.lam > 0, docs/TRAINING.md); here that would put the teachers' maps into every point of the lambda
# sweep, which varies Step 1 only. ``--set fuse.lam=0.5`` measures config default's Step 2 instead.
PAPER_STEP2 = ("fuse.lam=0",)
# a smaller budget than config default's: every 8th training frame, no MIT1003 pretraining, no unlabeled video
SMALL_BUDGET = (
    "data.unlabeled=[]",
    "teachers.spatial.pretrain=null",
    "teachers.spatial.epochs=3",
    "teachers.temporal.epochs=3",
    "students.epochs=8",
    "fuse.epochs=15",
)


@dataclass(frozen=True)
class Preset:
    """A size for the whole reproduction: which training config (the recipe, ``--config`` replaces it), which
    sweeps, how much data, training and evaluation. ``overrides`` change sizes and budgets only, so that they
    apply to any recipe. ``teacher_resolution``: the one resolution the teachers label at, for every R (at least
    the largest R). ``spatial_teachers``: entries of ``spatial_teachers.yaml`` for Table III's teacher half
    (None: all). ``synthetic``: the generator preset (``skd-make-synthetic --preset``) used when the data
    folder does not exist yet."""

    config: str
    resolutions: tuple[int, ...]
    lambdas: tuple[float, ...]
    synthetic: str
    teacher_resolution: int
    spatial_teachers: tuple[str, ...] | None = None
    overrides: tuple[str, ...] = ()
    train_frame_step: int = 1
    val_frame_step: int = 1
    max_frames_per_video: int | None = None
    profile_seconds: float = 0.5  # timing per network for the FPS column
    description: str = ""


MEDIUM = Preset(
    config="default",
    resolutions=(32, 64, 128, 256),
    lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
    synthetic="medium",
    teacher_resolution=256,
    overrides=SMALL_BUDGET,
    train_frame_step=8,
    val_frame_step=8,
    max_frames_per_video=8,
    description="config `default` with a small training budget (every 8th training frame, 3/8/15 epochs for "
    "teachers/students/fused model) on the medium synthetic benchmark (60 clips at 640x360), R = 32-256 with "
    "teachers at 256 px: about 3 h on one CPU thread with 3 seeds (R = 256 and its teachers over half of it)",
)
PRESETS = {
    "full": Preset(
        config="default",
        resolutions=(32, 64, 128, 256),
        lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
        synthetic="full",
        teacher_resolution=256,
        overrides=("data.unlabeled=[]",),
        max_frames_per_video=30,
        description="config `default` on the full synthetic benchmark (300 clips at 1280x720), teachers at 256 px: "
        "a GPU job",
    ),
    "medium": MEDIUM,
    # R = 256 (and the 256 px teachers it needs) costs more than everything else together on a CPU
    "compact": replace(
        MEDIUM,
        resolutions=(16, 32, 64, 128),
        teacher_resolution=128,
        description="the medium preset's data and budget with R = 16-128 and teachers at 128 px (R = 256 and its "
        "256 px teachers left out): about 80 min on one CPU thread of a shared 2-core machine with 3 seeds",
    ),
    "tiny": Preset(
        config="tiny",
        resolutions=(8, 16, 32),
        lambdas=(0.0, 0.5, 1.0),
        synthetic="test",
        teacher_resolution=32,
        spatial_teachers=("U-Net",),
        # sizes of config tiny for any recipe (--config paper included)
        overrides=(
            "data.unlabeled=[]",
            "teachers.spatial.pretrain=null",
            "widths={c1: 4, c2: 8, c3: 8, head: 8}",
            "teachers.spatial.widths=[4, 8, 16]",
            "teachers.temporal.widths=[4, 8, 16]",
            "teachers.spatial.epochs=1",
            "teachers.temporal.epochs=1",
            "teachers.spatial.batch_size=4",
            "teachers.temporal.batch_size=4",
            "students.epochs=1",
            "students.batch_size=4",
            "fuse.epochs=1",
            "fuse.batch_size=4",
        ),
        max_frames_per_video=2,
        profile_seconds=0.05,
        description="seconds-long smoke run of every step on tiny data (tests); numbers mean nothing",
    ),
}


# --------------------------------------------------------------------------------------------------
# The plan: rows of the paper's tables, one training run per row and seed


@dataclass
class Variant:
    """One training run: a run directory (``key``), the overrides that make it, the stages it runs and what it
    borrows from runs trained before it: ``links`` (run key, path in its run directory) are symlinked, e.g.
    soft labels, ``copies`` (run key, stage directory) copied, e.g. a finished student."""

    key: str
    name: str
    resolution: int
    lam: float
    ablation: str = "none"
    seed: int = 0
    stages: tuple[str, ...] = ("students", "fuse")
    links: tuple[tuple[str, str], ...] = ()
    copies: tuple[tuple[str, str], ...] = ()
    spatial_teacher: dict | None = None  # a ``teachers.spatial`` section replacing the recipe's

    def overrides(self, run_dir: Path) -> list[str]:
        extra = [] if self.spatial_teacher is None else [f"teachers.spatial={json.dumps(self.spatial_teacher)}"]
        return [
            f"run_dir={run_dir}",
            f"resolution={self.resolution}",
            f"students.lam={self.lam}",
            f"ablation={self.ablation}",
            f"seed={self.seed}",
            *extra,
        ]


@dataclass
class Row:
    """One row of a table: the same training at every seed (``variants[i]`` is seed ``seeds[i]``)."""

    name: str
    variants: list[Variant]


@dataclass
class Plan:
    seeds: list[int]
    base: Row
    resolution: dict[int, Row] = field(default_factory=dict)
    ablation: dict[str, Row] = field(default_factory=dict)
    lambdas: dict[float, Row] = field(default_factory=dict)
    teachers: dict[str, Row] = field(default_factory=dict)  # spatial teacher -> SKD at the base R
    unavailable_teachers: dict[str, str] = field(default_factory=dict)  # spatial teacher -> why it has no row

    def variants(self) -> list[Variant]:
        """Every run once, seed by seed (an interrupted reproduction has every row for the seeds it finished);
        within a seed the base run first (the others borrow from it), the higher resolutions (the costliest)
        last."""
        higher = [row for r, row in sorted(self.resolution.items()) if r > self.base.variants[0].resolution]
        lower = [row for r, row in sorted(self.resolution.items()) if r < self.base.variants[0].resolution]
        rows = [
            self.base,
            *lower,
            *self.ablation.values(),
            *self.lambdas.values(),
            *self.teachers.values(),
            *higher,
        ]
        seen, out = set(), []
        for index in range(len(self.seeds)):
            for row in rows:
                variant = row.variants[index]
                if variant.key not in seen:
                    seen.add(variant.key)
                    out.append(variant)
        return out


def slug(name: str) -> str:
    """A run-directory name from a teacher's name: ``U-Net (narrow)`` -> ``u-net-narrow``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def make_plan(
    resolution: int,
    lam: float,
    seeds: list[int],
    resolutions,
    lambdas,
    ablations: bool = True,
    spatial_teachers: dict[str, dict] | None = None,
) -> Plan:
    """The runs of a reproduction. The base run (R, lambda) stands in for its point in every sweep, and the
    spatial teacher entry ``{}`` (the recipe's own) for its row of the teacher half; ``spatial_teachers``
    maps each teacher's name to its ``teachers.spatial`` section."""
    first = seeds[0]

    def key(stem: str, seed: int) -> str:
        return stem if seed == first else f"{stem}_seed{seed}"

    def row(name: str, make) -> Row:
        return Row(name, [make(seed) for seed in seeds])

    soft = (("base", "soft_labels"),)
    base = row(
        f"SKD-{resolution}",
        lambda s: Variant(
            key("base", s),
            f"SKD-{resolution}",
            resolution,
            lam,
            seed=s,
            stages=STAGES if s == first else ("students", "fuse"),
            links=() if s == first else soft,
        ),
    )
    plan = Plan(seeds, base)
    for r in sorted(set(resolutions) | {resolution}):
        plan.resolution[r] = (
            base
            if r == resolution
            else row(f"SKD-{r}", lambda s, r=r: Variant(key(f"res_{r}", s), f"SKD-{r}", r, lam, seed=s, links=soft))
        )
    if ablations:
        for kind, student in (("S", "spatial"), ("T", "temporal")):
            plan.ablation[kind] = row(
                f"Ablation-{kind}",
                lambda s, kind=kind, student=student: Variant(
                    key(f"ablation_{kind}", s),
                    f"Ablation-{kind}",
                    resolution,
                    lam,
                    kind,
                    s,
                    ("fuse",),
                    copies=((key("base", s), f"student_{student}"),),
                ),
            )
        plan.ablation["O"] = row(
            "Ablation-O", lambda s: Variant(key("ablation_O", s), "Ablation-O", resolution, lam, "O", s, ("fuse",))
        )
    for value in sorted(set(lambdas)):
        plan.lambdas[value] = (
            base
            if value == lam
            else row(
                f"SKD-{resolution} λ={value:g}",
                lambda s, value=value: Variant(
                    f"lambda_{value:g}_seed{s}",
                    f"SKD-{resolution} λ={value:g}",
                    resolution,
                    value,
                    seed=s,
                    links=soft if value > 0 else (),
                ),
            )
        )
    for name, entry in (spatial_teachers or {}).items():
        if not entry:
            plan.teachers[name] = base
            continue
        stem = f"teacher_{slug(name)}"

        def variant(s: int, name=name, entry=entry, stem=stem) -> Variant:
            # the temporal side (teacher, soft labels, student of the same seed) is the base run's
            temporal_student = (key("base", s), "student_temporal")
            if s == first:  # trains its spatial teacher and labels with it
                links = (("base", "soft_labels/temporal"),)
                copies, stages = (("base", "teacher_temporal"), temporal_student), STAGES
            else:
                links, copies, stages = ((stem, "soft_labels"),), (temporal_student,), ("students", "fuse")
            return Variant(
                key(stem, s),
                f"SKD-{resolution} ({name})",
                resolution,
                lam,
                seed=s,
                stages=stages,
                links=links,
                copies=copies,
                spatial_teacher=entry,
            )

        plan.teachers[name] = row(f"SKD-{resolution} ({name})", variant)
    return plan


# --------------------------------------------------------------------------------------------------
# Spatial teachers of Table III's teacher half


def read_spatial_teachers(path: Path, wanted: tuple[str, ...] | None) -> dict[str, dict]:
    """The entries of a spatial-teacher list (``spatial_teachers.yaml``): name -> ``teachers.spatial`` section
    laid over the recipe's (``{}``: the recipe's own); only ``wanted`` where given."""
    try:
        entries = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"spatial-teacher list {path} cannot be read: {exc}") from exc
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise ConfigError(f"spatial-teacher list {path} must map each teacher's name to a teachers.spatial section")
    if wanted is not None:
        unknown = [name for name in wanted if name not in entries]
        if unknown:
            raise ConfigError(f"spatial teacher {unknown[0]!r} is not in {path} (it has {', '.join(entries)})")
        entries = {name: entries[name] for name in wanted}
    if not any(not entry for entry in entries.values()):
        raise ConfigError(f"{path} needs an entry {{}} for the recipe's own spatial teacher (the base run)")
    return entries


def resolve_spatial_teachers(entries: dict[str, dict], recipe: PipelineConfig) -> tuple[dict[str, dict], dict]:
    """(name -> the full ``teachers.spatial`` section of each usable teacher, name -> why the others cannot
    take part). Each section is checked as a config now, not hours into the run."""
    own = recipe.to_dict()["teachers"]["spatial"]
    usable, unavailable = {}, {}
    for name, entry in entries.items():
        if not entry:
            usable[name] = {}
            continue
        section = {**own, **entry}
        if section.get("type", "builtin") != "builtin":
            section.pop("pretrain", None)  # pretraining is for built-in networks
            if section.get("path") and not Path(section["path"]).exists():
                unavailable[name] = f"{section['type']} file {section['path']} does not exist on this machine"
                continue
        config_from_dict(apply_overrides(recipe.to_dict(), [f"teachers.spatial={json.dumps(section)}"]))
        usable[name] = section
    return usable, unavailable


# --------------------------------------------------------------------------------------------------
# Training


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


# --------------------------------------------------------------------------------------------------
# Evaluation and report


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


def is_synthetic(data: Path) -> bool:
    return (data / SYNTHETIC_MARKER).is_file()


def without_notes(args: list[str]) -> list[str]:
    """The command line minus its --note texts: they are prose, printed in the report itself."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            kept.append(arg)
    return kept


def default_data(preset: str, work_dir: Path) -> Path:
    return work_dir / "data" if preset == "tiny" else Path(f"runs/data/synthetic_{PRESETS[preset].synthetic}")


def generate_synthetic(path: Path, preset: Preset, progress: bool) -> None:
    size = synthetic.PRESETS[preset.synthetic]
    log.info(
        "no data at %s: generating the %r synthetic benchmark (%d clips of %d frames at %dx%d)",
        path,
        preset.synthetic,
        size.videos,
        size.frames,
        *size.size,
    )
    synthetic.generate(path, size.videos, size.frames, size.size, progress=progress)


def describe_data(data: Path, source) -> str:
    """The data in a sentence: clip count, frames and size from the synthetic generator's manifest."""
    manifest = data / SYNTHETIC_MARKER
    if manifest.is_file():
        settings = json.loads(manifest.read_text())
        width, height = settings["size"]
        return (
            f"synthetic benchmark, {len(source.videos)} clips of {settings['frames']} frames at "
            f"{width}x{height} (generator version {settings['generator_version']}, seed {settings['seed']})"
        )
    frames = sum(v.num_frames for v in source.videos)
    return f"{source.layout.upper()}-layout data, {len(source.videos)} videos, {frames} frames"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-reproduce",
        description="Reproduce the SKD paper's experiments (Tables I-IV, Fig. 8) and write docs/REPRODUCTION.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"  {k}: {p.description}" for k, p in PRESETS.items()),
    )
    parser.add_argument("--preset", choices=list(PRESETS), default="full", help="size of the reproduction")
    parser.add_argument(
        "--config",
        help="the training recipe: a bundled config (default: config default's recipe with the paper's Step 2; "
        "paper: the paper as published) or a YAML file; the preset's sizes and budget apply on top",
    )
    parser.add_argument(
        "--data",
        help="AVS1K-layout dataset with train/val/test splits (default: the synthetic benchmark, generated if missing)",
    )
    parser.add_argument("--data-label", help="what to call the data in the report (default: from the data)")
    parser.add_argument("--work-dir", help="training runs and evaluation outputs (default runs/reproduce/<preset>)")
    parser.add_argument("--report", default="docs/REPRODUCTION.md", help="report path (default docs/REPRODUCTION.md)")
    parser.add_argument("--figures", default="docs/figures", help="figure folder (default docs/figures)")
    parser.add_argument("--resolutions", type=int, nargs="+", help="resolution sweep (default: the preset's)")
    parser.add_argument("--lambdas", type=float, nargs="+", help="lambda sweep (default: the preset's)")
    parser.add_argument(
        "--spatial-teachers",
        help="YAML list of the spatial teachers of Table III's teacher half (default: "
        "skd_tools/reproduction/spatial_teachers.yaml, the preset's entries)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="seeds per row of every table (default 3, as the paper's Fig. 8)"
    )
    parser.add_argument("--no-ablations", action="store_true", help="skip Table IV")
    parser.add_argument("--max-frames-per-video", type=int, help="evaluation frames per video (default: the preset's)")
    parser.add_argument("--split", default="test", help="evaluation split (default test)")
    parser.add_argument(
        "--sampled-fixations",
        type=int,
        metavar="N",
        help="for test videos without fixation maps: N fixations per frame sampled from the density map "
        "(AUC, sAUC and NSS then labelled 'sampled fixations'); default: those metrics are n/a for them",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="training config override for every run, e.g. students.epochs=20 (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the first seed (then seed+1, ... with --repeats)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch and OpenCV (default: theirs, one per core)")
    parser.add_argument(
        "--backend",
        default="eager",
        help="inference backend of the fused models (skd_ros.engines.backends; default eager, the reference)",
    )
    parser.add_argument("--retrain", action="store_true", help="retrain every stage instead of reusing finished ones")
    parser.add_argument(
        "--note", action="append", default=[], help="a sentence to add to the report's notes (repeatable)"
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser


def recipe_overrides(preset: Preset, recipe: str) -> list[str]:
    """What the reproduction changes in the recipe, as the report lists it: the paper's Step 2 (config default's
    differs), the preset's one teacher resolution and budget."""
    step2 = [] if recipe == "paper" else list(PAPER_STEP2)
    return [*step2, f"teacher_resolution={preset.teacher_resolution}", *preset.overrides]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    preset = PRESETS[args.preset]
    recipe_name = args.config or preset.config
    work_dir = Path(args.work_dir or f"runs/reproduce/{args.preset}")
    data = Path(args.data) if args.data else default_data(args.preset, work_dir)
    progress = not args.no_progress
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    try:
        if args.repeats < 1:
            raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
        if not data.exists():
            if args.data:
                raise DatasetError(f"dataset {data} does not exist")
            generate_synthetic(data, preset, progress)
        source = open_source(data)
        for split in ("train", "val", args.split):
            if split not in source.splits:
                raise DatasetError(
                    f"{data} has no {split!r} split (it has {', '.join(source.splits)}); the "
                    "reproduction trains on train, selects on val and reports on test"
                )
        recipe = recipe_overrides(preset, recipe_name)
        overrides = [
            *recipe,
            f"data.train=[{{path: '{data}', split: train, frame_step: {preset.train_frame_step}}}]",
            f"data.val=[{{path: '{data}', split: val, frame_step: {preset.val_frame_step}}}]",
            f"device={args.device}",
            f"progress={str(progress).lower()}",
            *args.overrides,
        ]
        if not any(o.startswith("data.cache_dir=") for o in overrides):
            overrides.append(f"data.cache_dir={work_dir / 'cache'}")
        config = config_from_dict(apply_overrides(read_config_file(recipe_name), overrides)).to_dict()
        base_config = config_from_dict(config)
        resolutions = args.resolutions or preset.resolutions
        if max(resolutions) > base_config.teacher_resolution:
            raise ConfigError(
                f"resolution {max(resolutions)} is above the teacher resolution {base_config.teacher_resolution}: "
                "every R's soft labels must be the teachers' maps degraded to R (use a preset whose teachers label "
                "at the largest R, or --set teacher_resolution=...)"
            )
        teacher_list = Path(args.spatial_teachers) if args.spatial_teachers else SPATIAL_TEACHERS
        entries = read_spatial_teachers(teacher_list, None if args.spatial_teachers else preset.spatial_teachers)
        spatial_teachers, unavailable_teachers = resolve_spatial_teachers(entries, base_config)
        seeds = list(range(args.seed, args.seed + args.repeats))
        plan = make_plan(
            base_config.resolution,
            base_config.students.lam,
            seeds,
            resolutions,
            args.lambdas or preset.lambdas,
            ablations=not args.no_ablations,
            spatial_teachers=spatial_teachers,
        )
        plan.unavailable_teachers = unavailable_teachers
        for name, reason in unavailable_teachers.items():
            log.warning("spatial teacher %s is n/a: %s", name, reason)
        trained = train_variants(plan, config, work_dir, args.retrain, progress)
        fused, from_base, teachers, baselines = build_predictors(
            plan, trained, work_dir, args.device, args.backend, students=not plan.ablation
        )
        others = [t for t in teachers.values() if all(t is not p for p in from_base)]
        predictors = [*fused.values(), *from_base, *others, *baselines]
        max_frames = args.max_frames_per_video or preset.max_frames_per_video
        evaluation = evaluate(
            predictors,
            source,
            args.split,
            max_frames_per_video=max_frames,
            seed=args.seed,
            profile_seconds=preset.profile_seconds,
            progress=progress,
            sampled_fixations=args.sampled_fixations,
        )
    except (DatasetError, ConfigError, CheckpointError, TeacherError, FileNotFoundError, ValueError) as exc:
        message = str(exc).replace("--overwrite", "--retrain")
        print(f"skd-reproduce: error: {message}", file=sys.stderr)
        return 2

    eval_dir = work_dir / "eval"
    write_report(evaluation, eval_dir, "Evaluation of every model of the reproduction")
    synthetic_data = is_synthetic(data)
    args_given = argv if argv is not None else sys.argv[1:]
    command = "skd-reproduce " + " ".join(shlex.quote(a) for a in without_notes(args_given))
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else (f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    )
    rep = Reproduction(
        evaluation=evaluation,
        base_name=plan.base.name,
        base_resolution=base_config.resolution,
        base_lambda=base_config.students.lam,
        base_models=names_of(plan.base),
        resolution_models={r: names_of(row) for r, row in plan.resolution.items()},
        ablation_models={k: names_of(row) for k, row in plan.ablation.items()},
        lambda_models={lam: names_of(row) for lam, row in plan.lambdas.items()},
        teacher_models={name: names_of(row) for name, row in plan.teachers.items()},
        teacher_predictors={name: p.name for name, p in teachers.items()},
        unavailable_teachers=plan.unavailable_teachers,
        table1_rows=table1_rows(plan, from_base, baselines),
        teacher_resolution=base_config.teacher_resolution,
        setup={
            "command": command.strip(),
            "date": datetime.date.today().isoformat(),
            "git_commit": git_commit(),
            "wall_time_s": time.perf_counter() - started,
            "synthetic": synthetic_data,
            "data_path": str(data),
            "data_label": args.data_label
            or ("synthetic benchmark" if synthetic_data else f"{source.layout.upper()}-layout data"),
            "data_description": describe_data(data, source),
            "preset": args.preset,
            "preset_description": preset.description,
            "config": recipe_name,
            "overrides": [*recipe, *args.overrides],
            "frame_steps": (preset.train_frame_step, preset.val_frame_step),
            "seeds": ", ".join(str(s) for s in seeds),
            "device": device,
            "eval_dir": str(eval_dir),
            "notes": list(args.note),
        },
        training=[trained[v.key] for v in plan.variants()],
    )
    report = write_reproduction_report(rep, args.report, args.figures)
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

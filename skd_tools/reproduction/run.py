"""skd-reproduce: the paper's experiments as one command, written up in docs/REPRODUCTION.md.

    skd-reproduce                                   # the full preset on the synthetic benchmark
    skd-reproduce --data /data/AVS1K                # the same on AVS1K (trainSet/validSet/testSet)
    skd-reproduce --preset tiny --data DIR          # seconds-long smoke run (tests)

What it trains (``skd_training.pipeline.run_pipeline``; each variant in its own run directory under
``--work-dir``, resumable: a rerun reuses every finished stage and refuses changed settings):

* ``base``: teachers -> soft labels -> students -> fused model at the config's resolution R and lambda
  (64 and 0.5 in the full preset, as the paper's SKD-DVA-64);
* Table III: the students and fused model again at each other resolution of ``--resolutions``
  (32/64/128/256), from the same teachers' soft labels;
* Table IV: Ablation-S and -T (the base run's spatial / temporal student alone, without the joint
  step) and Ablation-O (the fused model from scratch on the ground truth);
* Fig. 8: students and fused model at each ``--lambdas`` value (``--repeats`` seeds each; the paper
  averages three).

Then one evaluation (``skd_training.evaluate``) of every model, the students, the teachers and the
baselines on the test split, and the report (``skd_tools.reproduction.report``): Table I-style comparison with
parameters, memory and FPS, per-category scores, the resolution sweep, the ablations, the lambda
curve, ROC curves and example maps, each next to the paper's numbers (``skd_tools.reproduction.paper``), with a
verdict on each of the paper's findings (``skd_tools.reproduction.findings``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.runtime import SaliencyEstimator
from skd_tools.reproduction.findings import Reproduction
from skd_tools.reproduction.report import write_reproduction_report
from skd_training.baselines import default_baselines
from skd_training.config import ConfigError, apply_overrides, config_from_dict, read_config_file
from skd_training.data import synthetic
from skd_training.data.layouts import DatasetError, open_source
from skd_training.evaluate.predictors import baseline_predictor, fused_predictor
from skd_training.evaluate.report import write_report
from skd_training.evaluate.scoring import evaluate
from skd_training.finished_run import run_predictors
from skd_training.pipeline import git_commit, run_pipeline
from skd_training.teachers import TeacherError

log = logging.getLogger("skd_reproduce")

SYNTHETIC_MARKER = "synthetic.json"  # written by the synthetic benchmark generator into its root

# The paper's Step 2 trains the fused model on the hard loss alone. The shipped model's Step 2 also learns from
# the teachers (fuse.lam > 0, docs/TRAINING.md); here that would put the teachers' maps into every point of the
# lambda sweep, which varies Step 1 only. ``--set fuse.lam=0.5`` measures the shipped recipe instead.
PAPER_STEP2 = ("fuse.lam=0",)


@dataclass(frozen=True)
class Preset:
    """A size for the whole reproduction: which training config, which sweeps, how much data and
    evaluation. ``synthetic``: the generator preset (``skd-make-synthetic --preset``) used when the
    data folder does not exist yet."""

    config: str
    resolutions: tuple[int, ...]
    lambdas: tuple[float, ...]
    synthetic: str
    overrides: tuple[str, ...] = ()
    train_frame_step: int = 1
    val_frame_step: int = 1
    max_frames_per_video: int | None = None
    profile_seconds: float = 0.5  # timing per network for the FPS column
    description: str = ""


PRESETS = {
    "full": Preset(
        config="default",
        resolutions=(32, 64, 128, 256),
        lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
        synthetic="full",
        # teachers at 256 so that the R=256 students learn from soft labels of their own resolution
        overrides=("teacher_resolution=256", "data.unlabeled=[]"),
        max_frames_per_video=30,
        description="config `default` on the full synthetic benchmark (300 clips at 1280x720): a GPU job",
    ),
    "medium": Preset(
        config="default",
        resolutions=(32, 64, 128, 256),
        lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
        synthetic="medium",
        overrides=(
            "data.unlabeled=[]",
            "teachers.spatial.pretrain=null",
            "teachers.spatial.epochs=3",
            "teachers.temporal.epochs=3",
            "students.epochs=8",
            "fuse.epochs=15",
            # with the paper's normalised L2 alone, the hard-loss fused models collapse to a constant map on
            # the synthetic gaze maps (a few small blobs); CC and KLD terms keep them learning (docs/TRAINING.md)
            "students.loss={l2: 1.0, kld: 0.1, cc: 0.5}",
            "fuse.loss={l2: 1.0, kld: 0.1, cc: 0.5}",
        ),
        train_frame_step=8,
        val_frame_step=8,
        max_frames_per_video=8,
        description="config `default` with a small training budget (every 8th training frame, fewer epochs) "
        "on the medium synthetic benchmark (60 clips at 640x360): about an hour on 2 CPU cores",
    ),
    "tiny": Preset(
        config="tiny",
        resolutions=(8, 16, 32),
        lambdas=(0.0, 0.5, 1.0),
        synthetic="test",
        overrides=(
            "data.unlabeled=[]",
            "teachers.spatial.epochs=1",
            "teachers.temporal.epochs=1",
            "students.epochs=1",
            "fuse.epochs=1",
        ),
        max_frames_per_video=2,
        profile_seconds=0.05,
        description="seconds-long smoke run of every step on tiny data (tests); numbers mean nothing",
    ),
}


@dataclass
class Variant:
    """One training run: a run directory, the overrides that make it, the stages it runs and what it
    borrows from the base run (soft labels are linked, finished students copied)."""

    key: str
    name: str
    resolution: int
    lam: float
    ablation: str = "none"
    seed: int = 0
    stages: tuple[str, ...] = ("students", "fuse")
    link_soft_labels: bool = True
    copy_students: tuple[str, ...] = ()

    def overrides(self, run_dir: Path) -> list[str]:
        return [
            f"run_dir={run_dir}",
            f"resolution={self.resolution}",
            f"students.lam={self.lam}",
            f"ablation={self.ablation}",
            f"seed={self.seed}",
        ]


@dataclass
class Plan:
    base: Variant
    resolution: dict[int, Variant] = field(default_factory=dict)
    ablation: dict[str, Variant] = field(default_factory=dict)
    lambdas: dict[float, list[Variant]] = field(default_factory=dict)

    def variants(self) -> list[Variant]:
        """Every run once, cheapest first after the base: the higher resolutions (the costliest runs)
        come last, so that an interrupted reproduction has everything else."""
        higher = [v for r, v in sorted(self.resolution.items()) if r > self.base.resolution]
        seen, out = set(), []
        for v in [
            self.base,
            *[v for r, v in sorted(self.resolution.items()) if r < self.base.resolution],
            *self.ablation.values(),
            *[v for vs in self.lambdas.values() for v in vs],
            *higher,
        ]:
            if v.key not in seen:
                seen.add(v.key)
                out.append(v)
        return out


def make_plan(
    resolution: int, lam: float, seed: int, resolutions, lambdas, repeats: int, ablations: bool = True
) -> Plan:
    """The variants of a reproduction; the base run (R, lambda, seed) stands in for its point in every sweep."""
    base = Variant(
        "base",
        f"SKD-{resolution}",
        resolution,
        lam,
        seed=seed,
        stages=("teachers", "soft-labels", "students", "fuse"),
        link_soft_labels=False,
    )
    plan = Plan(base)
    for r in sorted(set(resolutions) | {resolution}):
        plan.resolution[r] = base if r == resolution else Variant(f"res_{r}", f"SKD-{r}", r, lam, seed=seed)
    if ablations:
        plan.ablation["S"] = Variant(
            "ablation_S", "Ablation-S", resolution, lam, "S", seed, ("fuse",), False, ("spatial",)
        )
        plan.ablation["T"] = Variant(
            "ablation_T", "Ablation-T", resolution, lam, "T", seed, ("fuse",), False, ("temporal",)
        )
        plan.ablation["O"] = Variant("ablation_O", "Ablation-O", resolution, lam, "O", seed, ("fuse",), False)
    for value in sorted(set(lambdas)):
        runs = []
        for s in range(seed, seed + repeats):
            if value == lam and s == seed:
                runs.append(base)
            else:
                runs.append(
                    Variant(
                        f"lambda_{value:g}_seed{s}",
                        f"SKD-{resolution} λ={value:g} seed {s}",
                        resolution,
                        value,
                        seed=s,
                        link_soft_labels=value > 0,
                    )
                )
        plan.lambdas[value] = runs
    return plan


# --------------------------------------------------------------------------------------------------
# Training


def _prepare(variant: Variant, run_dir: Path, base_dir: Path) -> None:
    """Give a variant what it borrows from the base run."""
    run_dir.mkdir(parents=True, exist_ok=True)
    soft = run_dir / "soft_labels"
    if variant.link_soft_labels and not soft.exists() and (base_dir / "soft_labels").exists():
        soft.symlink_to((base_dir / "soft_labels").resolve(), target_is_directory=True)
    for kind in variant.copy_students:
        target = run_dir / f"student_{kind}"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(base_dir / f"student_{kind}", target)


def train_variants(plan: Plan, config: dict, work_dir: Path, retrain: bool, progress: bool) -> dict[str, dict]:
    """Run every variant's stages (base first) from one resolved ``config`` (so that every run sees the
    same settings, whatever happens to the config files meanwhile); returns per variant its run dir,
    final checkpoint and validation metrics."""
    results = {}
    base_dir = work_dir / plan.base.key
    variants = plan.variants()
    bar = tqdm(variants, desc="training runs", unit="run", disable=not progress)
    for variant in bar:
        bar.set_postfix_str(variant.name)
        run_dir = work_dir / variant.key
        _prepare(variant, run_dir, base_dir)
        result = run_pipeline(
            config,
            stages=variant.stages,
            resume=not retrain,
            overwrite=retrain,
            overrides=variant.overrides(run_dir),
        )
        results[variant.key] = {
            "name": variant.name,
            "run_dir": str(run_dir),
            "final": result.final_checkpoint,
            "stages": ", ".join(variant.stages),
            "val_metrics": result.val_metrics,
        }
    return results


# --------------------------------------------------------------------------------------------------
# Evaluation and report


def build_predictors(plan: Plan, trained: dict[str, dict], work_dir: Path, device: str, backend: str):
    """Every trained fused model, the base run's students and teachers, and the baselines."""
    fused = {}
    for variant in plan.variants():
        estimator = SaliencyEstimator(weights=trained[variant.key]["final"], device=device, backend=backend)
        fused[variant.key] = fused_predictor(estimator, variant.name)
    from_base = run_predictors(work_dir / plan.base.key, device)
    students = [p for p in from_base if p.group == "student"]
    teachers = [p for p in from_base if p.group == "teacher"]
    baselines = [baseline_predictor(b) for b in default_baselines()]
    return fused, students, teachers, baselines


def table1_names(plan: Plan, fused, students, teachers, baselines) -> list[str]:
    """SKD at the base resolution and the next smaller one (the paper's SKD-32 and SKD-64), students,
    teachers, baselines."""
    smaller = [r for r in plan.resolution if r < plan.base.resolution]
    skd = ([fused[plan.resolution[max(smaller)].key].name] if smaller else []) + [fused[plan.base.key].name]
    return [*skd, *[p.name for p in (*students, *teachers, *baselines)]]


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
    return work_dir / "data" if preset == "tiny" else Path(f"runs/data/synthetic_{preset}")


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
        "--data",
        help="AVS1K-layout dataset with train/val/test splits (default: the synthetic benchmark, generated if missing)",
    )
    parser.add_argument("--data-label", help="what to call the data in the report (default: from the data)")
    parser.add_argument("--work-dir", help="training runs and evaluation outputs (default runs/reproduce/<preset>)")
    parser.add_argument("--report", default="docs/REPRODUCTION.md", help="report path (default docs/REPRODUCTION.md)")
    parser.add_argument("--figures", default="docs/figures", help="figure folder (default docs/figures)")
    parser.add_argument("--resolutions", type=int, nargs="+", help="resolution sweep (default: the preset's)")
    parser.add_argument("--lambdas", type=float, nargs="+", help="lambda sweep (default: the preset's)")
    parser.add_argument("--repeats", type=int, default=1, help="seeds per lambda point (the paper uses 3)")
    parser.add_argument("--no-ablations", action="store_true", help="skip Table IV")
    parser.add_argument("--max-frames-per-video", type=int, help="evaluation frames per video (default: the preset's)")
    parser.add_argument("--split", default="test", help="evaluation split (default test)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="training config override for every run, e.g. students.epochs=20 (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    preset = PRESETS[args.preset]
    work_dir = Path(args.work_dir or f"runs/reproduce/{args.preset}")
    data = Path(args.data) if args.data else default_data(args.preset, work_dir)
    progress = not args.no_progress
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
        recipe = [*PAPER_STEP2, *preset.overrides]  # the training settings the report lists
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
        config = config_from_dict(apply_overrides(read_config_file(preset.config), overrides)).to_dict()
        base_config = config_from_dict(config)
        plan = make_plan(
            base_config.resolution,
            base_config.students.lam,
            args.seed,
            args.resolutions or preset.resolutions,
            args.lambdas or preset.lambdas,
            args.repeats,
            ablations=not args.no_ablations,
        )
        trained = train_variants(plan, config, work_dir, args.retrain, progress)
        fused, students, teachers, baselines = build_predictors(plan, trained, work_dir, args.device, args.backend)
        predictors = [*fused.values(), *students, *teachers, *baselines]
        max_frames = args.max_frames_per_video or preset.max_frames_per_video
        evaluation = evaluate(
            predictors,
            source,
            args.split,
            max_frames_per_video=max_frames,
            seed=args.seed,
            profile_seconds=preset.profile_seconds,
            progress=progress,
        )
    except (DatasetError, ConfigError, CheckpointError, TeacherError, FileNotFoundError, ValueError) as exc:
        message = str(exc).replace("--overwrite", "--retrain")
        print(f"skd-reproduce: error: {message}", file=sys.stderr)
        return 2

    eval_dir = work_dir / "eval"
    write_report(evaluation, eval_dir, "Evaluation of every model of the reproduction")
    synthetic = is_synthetic(data)
    args_given = argv if argv is not None else sys.argv[1:]
    command = "skd-reproduce " + " ".join(shlex.quote(a) for a in without_notes(args_given))
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else (f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    )
    rep = Reproduction(
        evaluation=evaluation,
        base_name=fused[plan.base.key].name,
        base_resolution=plan.base.resolution,
        base_lambda=plan.base.lam,
        resolution_models={r: fused[v.key].name for r, v in plan.resolution.items()},
        ablation_models={k: fused[v.key].name for k, v in plan.ablation.items()},
        lambda_models={lam: [fused[v.key].name for v in vs] for lam, vs in plan.lambdas.items()},
        table1_models=table1_names(plan, fused, students, teachers, baselines),
        setup={
            "command": command.strip(),
            "date": datetime.date.today().isoformat(),
            "git_commit": git_commit(),
            "wall_time_s": time.perf_counter() - started,
            "synthetic": synthetic,
            "data_path": str(data),
            "data_label": args.data_label
            or ("synthetic benchmark" if synthetic else f"{source.layout.upper()}-layout data"),
            "data_description": describe_data(data, source),
            "preset": args.preset,
            "preset_description": preset.description,
            "config": preset.config,
            "overrides": [*recipe, *args.overrides],
            "frame_steps": (preset.train_frame_step, preset.val_frame_step),
            "seeds": ", ".join(str(s) for s in range(args.seed, args.seed + args.repeats)),
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

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
import shlex
import sys
import time
from pathlib import Path

import cv2
import torch

from skd_ros.core.checkpoint import CheckpointError
from skd_tools.reproduction.findings import Reproduction
from skd_tools.reproduction.plan import SPATIAL_TEACHERS, make_plan, read_spatial_teachers, resolve_spatial_teachers
from skd_tools.reproduction.predictors import build_predictors, names_of, table1_rows
from skd_tools.reproduction.presets import PRESETS, Preset, recipe_overrides
from skd_tools.reproduction.report import write_reproduction_report
from skd_tools.reproduction.runs import train_variants
from skd_training.config import ConfigError, apply_overrides, config_from_dict, read_config_file
from skd_training.data import synthetic
from skd_training.data.layouts import DatasetError, open_source
from skd_training.evaluate.report import write_report
from skd_training.evaluate.scoring import evaluate
from skd_training.pipeline import git_commit
from skd_training.teachers import TeacherError

log = logging.getLogger("skd_reproduce")

SYNTHETIC_MARKER = "synthetic.json"  # written by the synthetic benchmark generator into its root


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

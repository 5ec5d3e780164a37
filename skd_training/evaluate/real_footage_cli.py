"""skd-eval-real: where the node's attention lands on real drone footage with target boxes.

    skd-eval-real [ROOT ...] [--model NAME=CHECKPOINT|FOLDS.json[@SIDE] ...] [--teachers REAL_RUN] [--priors DIR]

Every ROOT is a folder of frames with ``<folder>_bbox_gt.txt`` beside it, or a folder of such folders
(default: the three folders of real drone sequences in ../shared/data). Writes docs/REAL_FOOTAGE.md (a
summary against the targets, a table per metric, which model scored which sequence), its .json, and a
contact sheet per sequence. The protocol: ``skd_training.evaluate.real_footage``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.core.postprocess import ROIParams
from skd_ros.core.preprocess import check_resolution
from skd_training.baselines import AerialGazePrior, CentreBias, CentreWeighted, SpectralResidual
from skd_training.config import ConfigError
from skd_training.data.box_sequences import BoxSequence, find_box_sequences
from skd_training.data.layouts import DatasetError
from skd_training.evaluate.predictors import baseline_predictor
from skd_training.evaluate.real_footage import FoldedModel, evaluate_maps, evaluate_model, single_model
from skd_training.evaluate.real_footage_report import summary_table, write_report
from skd_training.finished_run import run_predictors
from skd_training.real.teacher_rows import teacher_predictors

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_ROOTS = [SHARED / "uav123_10fps_arcf", SHARED / "uav123_10fps_arcf_half", SHARED / "uav_more"]
DEFAULT_PRIORS = SHARED / "uavsal_priors"
SHIPPED = "shipped"


def read_folds(path: Path, name: str) -> FoldedModel:
    """A k-fold manifest written by training: {"folds": [{"checkpoint": ..., "held_out": [...]}, ...]},
    checkpoint paths relative to the manifest."""
    try:
        manifest = json.loads(path.read_text())
        folds = {str(path.parent / fold["checkpoint"]): list(fold["held_out"]) for fold in manifest["folds"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} is not a k-fold manifest ({{'folds': [{{checkpoint, held_out}}]}}): {exc}") from exc
    return FoldedModel(name, folds)


def models_from(values: list[str], sequences: list[BoxSequence]) -> list[FoldedModel]:
    """``NAME=CHECKPOINT``, ``NAME=FOLDS.json`` or ``NAME=shipped`` arguments (a bare path names itself), each
    with an optional ``@SIDE``: run at SIDE x SIDE input instead of the checkpoint's own (the node's
    ``resolution`` parameter; the network is fully convolutional)."""
    models = []
    for value in values or [f"SKD (shipped)={SHIPPED}"]:
        name, sep, target = value.partition("=")
        name, target = (name, target) if sep else (Path(value).stem, value)
        stem, at, side = target.rpartition("@")
        resolution = None
        if at and side.isdigit():
            target, resolution = stem, int(side)
            try:
                check_resolution(resolution)
            except ValueError as exc:
                raise DatasetError(f"--model {value}: {exc}") from exc
        if target == SHIPPED:
            model = single_model(name, None, sequences)
        elif not Path(target).exists():
            raise DatasetError(f"--model {value}: {target} does not exist")
        elif target.endswith(".json"):
            model = read_folds(Path(target), name)
        else:
            model = single_model(name, target, sequences)
        models.append(replace(model, resolution=resolution))
    return models


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-eval-real",
        description="Score where the saliency peak and the ROIs land on real drone footage with target boxes "
        "(peak on target, top-1/top-3 ROI hit, box-NSS), for SKD models, teachers and baselines.",
    )
    parser.add_argument(
        "roots", nargs="*", type=Path, default=DEFAULT_ROOTS, help="sequence folders or folders of them "
        "(default: ../shared/data/{uav123_10fps_arcf,uav123_10fps_arcf_half,uav_more})",
    )  # fmt: skip
    parser.add_argument(
        "--model", action="append", metavar="NAME=CHECKPOINT", help="a fused checkpoint, 'shipped', or a k-fold "
        "manifest (.json) from training, with @SIDE to run it at SIDE x SIDE input instead of its own (e.g. "
        "'mine=runs/real/folds.json@128', the node's resolution parameter); repeatable (default: the shipped weights)",
    )  # fmt: skip
    parser.add_argument("--reference", help="the model the targets are read on (default: the first --model)")
    parser.add_argument("--run-dir", type=Path, help="add the teachers of a finished skd-train run")
    parser.add_argument(
        "--teachers", type=Path, help="add the real-world teachers of a finished skd-train-real run (its --out)"
    )
    parser.add_argument(
        "--priors", type=Path, default=DEFAULT_PRIORS, help="folder of the UAVSal aerial gaze priors "
        "(AVS1K_ob_priors_train.mat, UAV2_ob_priors_train.mat; default ../shared/data/uavsal_priors)",
    )  # fmt: skip
    parser.add_argument("--no-baselines", action="store_true", help="skip the centre, prior and spectral rows")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "REAL_FOOTAGE.md")
    parser.add_argument(
        "--reading", type=Path, help="a Markdown file of what the numbers say, placed in the report after the targets"
    )
    parser.add_argument("--figures", type=Path, default=REPO / "docs" / "figures" / "real_footage")
    parser.add_argument("--sheet-frames", type=int, default=8, help="frames per contact sheet (0: none)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="eager", help="inference engine of the SKD models (default eager)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "skd-eval-real " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        reading = args.reading.read_text() if args.reading else ""
        sequences = find_box_sequences(args.roots)
        models = models_from(args.model, sequences)
        baselines = []
        if not args.no_baselines:
            baselines = [
                baseline_predictor(CentreBias(), "Centred Gaussian"),
                baseline_predictor(AerialGazePrior(args.priors), "Aerial gaze prior (UAVSal)"),
                baseline_predictor(CentreWeighted(SpectralResidual()), "Spectral residual x centre"),
            ]
        teachers = run_predictors(args.run_dir, args.device, students=False) if args.run_dir else []
        if args.teachers:
            teachers += teacher_predictors(args.teachers, sequences, args.priors)
    except (DatasetError, FileNotFoundError, CheckpointError, ConfigError) as exc:
        print(f"skd-eval-real: {exc}", file=sys.stderr)
        return 2
    frames = sum(len(s.boxes) for s in sequences)
    print(f"{len(sequences)} sequences, {frames} frames; {len(models)} models, {len(teachers)} teachers, "
          f"{len(baselines)} baselines")  # fmt: skip
    with tqdm(total=len(sequences) * (len(models) + len(teachers) + len(baselines)), unit="sequence") as bar:

        def step(message: str) -> None:
            bar.set_description(message)
            bar.update()

        roi_params = ROIParams()
        try:
            rows = [
                evaluate_model(m, sequences, roi_params, args.device, args.backend, args.sheet_frames, step)
                for m in models
            ]
            rows += [evaluate_maps(p, sequences, roi_params, 64, args.sheet_frames, step) for p in teachers + baselines]
        except (DatasetError, CheckpointError) as exc:
            print(f"skd-eval-real: {exc}", file=sys.stderr)
            return 2
    out = write_report(rows, sequences, args.out, args.figures, command, args.reference, reading)
    print(summary_table(rows))
    print(f"wrote {out} and {out.with_suffix('.json')}; contact sheets in {args.figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

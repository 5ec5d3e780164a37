"""skd-eval: score the fused SKD model, the students, the teachers and the baselines on a dataset split.

    skd-eval DATA [--split test] [--weights [NAME=]PATH] [--run-dir RUN] [--baselines centre spectral flow]

See docs/EVALUATION.md. ``--run-dir`` adds a finished ``skd-train`` run's students and teachers
(``skd_training.finished_run``); everything else is the evaluation library (``skd_training.evaluate``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from skd_ros.core.checkpoint import resolve_weights
from skd_ros.runtime import SaliencyEstimator
from skd_training.baselines import CentreBias, FlowMagnitude, SpectralResidual
from skd_training.data.layouts import DatasetError, open_source
from skd_training.evaluate.predictors import Predictor, baseline_predictor, fused_predictor
from skd_training.evaluate.report import overall_table, unavailable_note, write_report
from skd_training.evaluate.scoring import evaluate, labeled_videos
from skd_training.finished_run import run_predictors

log = logging.getLogger("skd_eval")

BASELINE_CHOICES = {"centre": CentreBias, "spectral": SpectralResidual, "flow": FlowMagnitude}


def _named_checkpoints(values: Sequence[str] | None) -> list[tuple[str | None, Path]]:
    """``NAME=PATH`` or ``PATH`` arguments (a shipped checkpoint's bare name too) -> (name or None, path)."""
    out = []
    for value in values or []:
        name, sep, path = value.partition("=")
        out.append((name if sep else None, resolve_weights(path if sep else value)))
    for _, path in out:
        if not path.exists():
            raise FileNotFoundError(f"fused-model checkpoint {path} does not exist")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-eval",
        description="Evaluate the fused SKD model, students, teachers and baselines on a dataset split "
        "(AUC, sAUC, NSS, SIM, CC, KLD per video / category / overall; parameters, memory, FPS).",
    )
    parser.add_argument("data", help="dataset root (AVS1K, DHF1K, a synthetic benchmark, a bag, ...)")
    parser.add_argument("--layout", default="auto", help="dataset layout (default: detected)")
    parser.add_argument(
        "--split", default="test", help="split to evaluate (default: test; 'all' for every labeled video)"
    )
    parser.add_argument("--topic", help="image topic, for rosbag data")
    parser.add_argument("--density-topic", help="density-map topic, for rosbag data")
    parser.add_argument("--fixation-topic", help="fixation-map topic, for rosbag data")
    parser.add_argument(
        "--weights",
        action="append",
        metavar="[NAME=]PATH",
        help="fused-model checkpoint (repeatable); default: the shipped weights",
    )
    parser.add_argument("--no-model", action="store_true", help="do not evaluate the fused model")
    parser.add_argument(
        "--run-dir",
        help="a skd-train run directory: evaluate its students and teachers too (and its final fused model "
        "unless --weights is given)",
    )
    parser.add_argument("--no-students", action="store_true", help="with --run-dir: leave the students out")
    parser.add_argument("--no-teachers", action="store_true", help="with --run-dir: leave the teachers out")
    parser.add_argument(
        "--backend",
        default="auto",
        help="inference backend of the fused model (skd_ros.engines.backends; default auto)",
    )
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=list(BASELINE_CHOICES),
        choices=list(BASELINE_CHOICES),
        help="baselines to run (default: all; give none to skip)",
    )
    parser.add_argument("--videos", nargs="+", help="only these videos")
    parser.add_argument("--frame-step", type=int, default=1, help="evaluate every N-th frame (default 1)")
    parser.add_argument(
        "--fps",
        type=float,
        help="the videos' frame rate (AVS1K and DHF1K: 30): a fused model that pairs frames a set time apart "
        "(meta pair_interval_s; the shipped ones: 0.1 s) then gets the pairs, and maps, the node gives it from a "
        "camera at this rate. Default: consecutive frames, for every predictor",
    )
    parser.add_argument("--max-frames-per-video", type=int, help="at most N frames per video, evenly spaced")
    parser.add_argument("--examples", type=int, default=4, help="example frames in the figure grid (default 4)")
    parser.add_argument(
        "--sampled-fixations",
        type=int,
        metavar="N",
        help="for videos without fixation maps: N fixations per frame sampled from the density map, so that AUC, "
        "sAUC and NSS are computed (labelled 'sampled fixations'; not recorded gaze). Default: those metrics are "
        "n/a for such videos",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile-seconds", type=float, default=0.5, help="time spent timing each network for FPS (default 0.5)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--out", default="runs/eval", help="output folder (default runs/eval)")
    return parser


def build_predictors(args, source) -> list[Predictor]:
    predictors = []
    if not args.no_model:
        checkpoints = _named_checkpoints(args.weights)
        if not checkpoints and args.run_dir:
            checkpoints = [(None, path) for path in sorted(Path(args.run_dir).glob("final/skd_fused_*.pt"))]
            if not checkpoints:
                raise FileNotFoundError(f"{args.run_dir} has no final fused model (final/skd_fused_*.pt)")
        for name, path in checkpoints or [(None, None)]:
            estimator = SaliencyEstimator(weights=path, device=args.device, backend=args.backend)
            if estimator.untrained:
                log.warning("evaluating an UNTRAINED fused model: its scores are meaningless")
            if estimator.pair_interval_ns and args.fps is None:
                log.warning(
                    "%s pairs frames %.3f s apart in the node; without --fps it is given consecutive frames here",
                    path or "the shipped model", estimator.pair_interval_ns / 1e9,
                )  # fmt: skip
            predictors.append(fused_predictor(estimator, name, args.fps, source.read_frame))
    if args.run_dir:
        predictors += run_predictors(args.run_dir, args.device, not args.no_students, not args.no_teachers)
    predictors += [baseline_predictor(BASELINE_CHOICES[key]()) for key in args.baselines]
    return predictors


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        source = open_source(args.data, args.layout, args.topic, args.density_topic, args.fixation_topic)
        split = None if args.split == "all" else args.split
        labeled_videos(source, split, args.videos)  # fail on a wrong split or video before loading models
        if args.fps is not None and args.fps <= 0:
            raise ValueError(f"--fps must be positive, got {args.fps}")
        predictors = build_predictors(args, source)
        if not predictors:
            raise ValueError("nothing to evaluate: --no-model and no --baselines")
        evaluation = evaluate(
            predictors,
            source,
            split,
            videos=args.videos,
            frame_step=args.frame_step,
            max_frames_per_video=args.max_frames_per_video,
            seed=args.seed,
            n_examples=args.examples,
            profile_seconds=args.profile_seconds,
            sampled_fixations=args.sampled_fixations,
        )
    except (DatasetError, FileNotFoundError, ValueError) as exc:  # CheckpointError, TeacherError: ValueErrors
        print(f"skd-eval: error: {exc}", file=sys.stderr)
        return 2
    report = write_report(evaluation, args.out)
    print(overall_table(evaluation))
    missing = unavailable_note(evaluation)
    if missing:
        print(missing)
    print(f"\nreport: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

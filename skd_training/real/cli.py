"""skd-train-real: distil real-world teachers into the fused model on real drone footage with target boxes.

    skd-train-real [ROOT ...] [--out runs/real] [--folds 5] [--no-final] [--epochs 16]

1. the spatial teacher's readout is trained on the still images with fixation maps (``--stills``, MIT1003)
   unless ``<out>/spatial_readout.pt`` exists;
2. the teachers' maps of every sequence are computed once and cached in ``<out>/cache``;
3. one student per fold (k-fold by sequence), each with the teacher mix chosen on its training sequences,
   and ``<out>/folds.json`` for ``skd-eval-real --model NAME=<out>/folds.json``;
4. the student to ship, trained on every sequence: ``<out>/skd_fused_<resolution>.pt``.
A rerun reuses the readout, the cached maps and every finished checkpoint.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.core.registration import ALIGNED, RAW
from skd_training.data.box_sequences import find_box_sequences, open_unlabeled_sequence
from skd_training.data.layouts import DatasetError
from skd_training.real.distill import RealDistillation, RealRecipe
from skd_training.real.soft_labels import MIN_MOTION_WIDTH, MOTION_WIDTH, SoftLabels
from skd_training.real.spatial_teacher import (
    READOUT_SIDE,
    SpatialTeacher,
    load_readout,
    save_readout,
    train_readout,
)
from skd_training.teachers import TeacherError

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_ROOTS = [SHARED / "uav123_10fps_arcf", SHARED / "uav123_10fps_arcf_half", SHARED / "uav_more"]
STILLS = SHARED / "mit1003_iccv100_cvzoya"


def motion_width(text: str) -> int:
    """--motion-width, refused before any work where SoftLabels would refuse it after the readout's training."""
    width = int(text)
    if width < MIN_MOTION_WIDTH:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_MOTION_WIDTH} pixels, got {width}")
    return width


def build_parser() -> argparse.ArgumentParser:
    recipe = RealRecipe()
    parser = argparse.ArgumentParser(prog="skd-train-real", description=__doc__.split("\n")[0])
    parser.add_argument(
        "roots", nargs="*", type=Path, default=DEFAULT_ROOTS, help="box-sequence folders or folders of them "
        "(default: ../shared/data/{uav123_10fps_arcf,uav123_10fps_arcf_half,uav_more})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/real"))
    parser.add_argument(
        "--stills", type=Path, default=STILLS, help="still images with fixation maps for the spatial teacher: "
        "a folder with stimuli/ and fixation_maps/ (default ../shared/data/mit1003_iccv100_cvzoya)",
    )  # fmt: skip
    parser.add_argument("--priors", type=Path, default=SHARED / "uavsal_priors", help="UAVSal aerial gaze priors")
    parser.add_argument(
        "--init", type=Path, help="a fused checkpoint to start from (e.g. skd-train's model of synthetic scenes); "
        "folds holding out a sequence it saw start from scratch",
    )  # fmt: skip
    parser.add_argument(
        "--unlabeled", type=Path, nargs="+", default=[], metavar="DIR",
        help="folders of frames without boxes (drone video of your own, e.g. ffmpeg -i flight.mp4 DIR/%%06d.jpg): "
        "the teachers label them and every student trains on them too; never held out or scored",
    )  # fmt: skip
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold by sequence (0: none)")
    parser.add_argument("--no-final", action="store_true", help="skip the model trained on every sequence")
    parser.add_argument(
        "--resolution", type=int, default=recipe.resolution, help="the student's input side (a multiple of 4)"
    )
    parser.add_argument(
        "--context-dilation", type=int, default=recipe.context_dilation,
        help="dilation of the model's 3x3 layers at 1/4 resolution after the first (1: the paper's; 2, the default: "
        "a view 1.6x as wide for the same parameters and multiply-adds)",
    )  # fmt: skip
    parser.add_argument(
        "--pairs", choices=(ALIGNED, RAW), default=recipe.pairs,
        help="the temporal stream's frame pairs: aligned (the camera's motion taken out first, the default; the "
        "runtime does the same for such a checkpoint) or raw (the paper's)",
    )  # fmt: skip
    parser.add_argument(
        "--pair-gap", type=int, default=recipe.pair_gap,
        help="frames of the training clips (10 fps) between a pair's previous and current frame; the runtime pairs "
        "live frames the same time apart",
    )  # fmt: skip
    parser.add_argument(
        "--paste", type=float, default=recipe.paste,
        help="the share of samples that get another training clip's target pasted in, moving on its own",
    )  # fmt: skip
    parser.add_argument(
        "--paste-objects", type=int, default=recipe.paste_objects, help="targets pasted into such a sample, at most"
    )
    parser.add_argument(
        "--photometric", type=float, default=recipe.photometric,
        help="contrast, brightness and saturation changes within +- this of unchanged, the same for a pair's frames",
    )  # fmt: skip
    parser.add_argument(
        "--min-crop", type=float, default=recipe.min_crop,
        help="the smallest random crop, as a share of each side of the frame (1: the whole frame, no zoom)",
    )  # fmt: skip
    parser.add_argument(
        "--lam", type=float, default=recipe.lam,
        help="the soft labels' share of the loss, the box label's is 1 - lam (the paper's lambda)",
    )  # fmt: skip
    parser.add_argument(
        "--no-centre-prior", dest="centre_prior", action="store_false",
        help="leave the maps as the network makes them (the paper's model) instead of multiplying them by the "
        "teacher mix's prior as a centred Gaussian (meta['centre_prior'], applied by the runtime)",
    )  # fmt: skip
    parser.add_argument(
        "--prior-in-loss", action=argparse.BooleanOptionalAction, default=recipe.prior_in_loss,
        help="the loss sees the maps multiplied by the centre prior, as the runtime shows them",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=recipe.epochs)
    parser.add_argument("--samples-per-sequence", type=int, default=recipe.samples_per_sequence)
    parser.add_argument("--seed", type=int, default=recipe.seed)
    parser.add_argument(
        "--fold-seed", type=int, default=None,
        help="seed of the k-fold split (default: --seed); hold it to compare training seeds on the same folds",
    )  # fmt: skip
    parser.add_argument("--teacher-width", type=int, default=640, help="frame width the spatial teacher sees")
    parser.add_argument(
        "--readout-side", type=int, default=READOUT_SIDE,
        help="long side of the still images the spatial teacher's readout is trained on, in pixels",
    )  # fmt: skip
    parser.add_argument(
        "--motion-width", type=motion_width, default=MOTION_WIDTH,
        help="frame width the motion teacher registers and differences (aspect kept)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the fastest on a loaded 2-core CPU)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        sequences = find_box_sequences(args.roots)
        unlabeled = [open_unlabeled_sequence(folder) for folder in args.unlabeled]
        readout_path = args.out / "spatial_readout.pt"
        if readout_path.is_file():
            readout, record = load_readout(readout_path)
            trained_side = record.get("long_side", READOUT_SIDE)
            if trained_side != args.readout_side:  # its maps are in the cache beside it
                raise TeacherError(
                    f"{readout_path} was trained on stills {trained_side} px on the long side, not "
                    f"--readout-side {args.readout_side}: give another --out, or delete it and its cache/"
                )
        else:
            for folder in (args.stills / "stimuli", args.stills / "fixation_maps"):
                if not folder.is_dir():
                    raise DatasetError(f"--stills: {folder} does not exist (the spatial teacher trains on it)")
            readout, record = train_readout(
                args.stills / "stimuli", args.stills / "fixation_maps", long_side=args.readout_side
            )
            save_readout(readout, readout_path, record)
        print(f"spatial teacher readout: {readout_path} ({record})")
        spatial = SpatialTeacher(readout, width=args.teacher_width)
        labels = SoftLabels(args.out / "cache", spatial, args.priors, args.resolution, args.motion_width)
        recipe = RealRecipe(
            resolution=args.resolution, context_dilation=args.context_dilation, pairs=args.pairs,
            pair_gap=args.pair_gap, epochs=args.epochs, samples_per_sequence=args.samples_per_sequence,
            seed=args.seed, min_crop=args.min_crop, paste=args.paste,
            paste_objects=args.paste_objects, photometric=args.photometric, lam=args.lam,
            centre_prior=args.centre_prior, prior_in_loss=args.prior_in_loss,
        )  # fmt: skip
        command = "skd-train-real " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
        distillation = RealDistillation(sequences, labels, args.out, recipe, args.init, command, unlabeled=unlabeled)
        if args.folds:
            manifest = distillation.train_folds(args.folds, args.fold_seed)
            print(f"score it with: skd-eval-real --model 'SKD-{args.resolution} (k-fold)={manifest}'")
        if not args.no_final:
            final = distillation.train_final()
            print(f"the model to ship: {final} (cp it to skd_ros/weights/)")
    except (DatasetError, TeacherError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"skd-train-real: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

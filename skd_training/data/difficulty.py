"""``skd-synthetic-difficulty``: does a saliency benchmark reward motion? (docs/DATA.md reports the numbers)

Scores, on one split, with the project's evaluator (``skd_training.evaluate``: MIT-benchmark metrics at
the ground truth's resolution, means over videos, per category):

* a centre-bias baseline (``CentreBias``: a Gaussian at the frame centre, no content);
* a static baseline (``SpectralResidual`` on the current frame);
* two motion baselines: ``FlowMagnitude`` (optical flow magnitude after removing the camera's median flow)
  and ``CompensatedDifference`` (frame difference after aligning the previous frame by the camera motion);
* unless ``--no-train``, two small networks trained the same way on the training split with the ground
  truth only, so that the sole difference is what they see: the spatial student
  (``skd_ros.core.model.Student('spatial')``, the current frame: static-only) and the fused two-stream
  ``SKDModel`` (previous and current frame: it can use motion).

    skd-synthetic-difficulty data/synthetic --split test --epochs 8 --out runs/difficulty
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from skd_ros.core.model import SKDModel, Student
from skd_ros.core.preprocess import preprocess
from skd_training.baselines import CentreBias, FlowMagnitude, SpectralResidual
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.layouts import DatasetError, open_source
from skd_training.evaluate.predictors import Predictor, baseline_predictor, student_predictor
from skd_training.evaluate.report import category_table, overall_table, write_report
from skd_training.evaluate.scoring import evaluate
from skd_training.losses import MapLoss

log = logging.getLogger("skd_difficulty")
# KLD and CC on top of the paper's L2: they converge in a few CPU epochs where L2 alone stays blurry
TRAINING_LOSS = MapLoss(l2_weight=1.0, kld_weight=1.0, cc_weight=1.0)


class CompensatedDifference:
    """Motion heuristic for small movers: the previous frame aligned to the current one by the camera's
    own motion (a similarity transform from tracked corners, RANSAC), then the blurred absolute
    difference. Finer than optical flow at a coarse size, so walkers a pixel wide still register."""

    name = "Frame difference (camera-compensated)"

    def __init__(self, width: int = 320, blur_sigma: float = 2.5):
        self.width = width
        self.blur_sigma = blur_sigma

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        rows, cols = current.shape[:2]
        size = (self.width, max(1, round(self.width * rows / cols)))
        before = cv2.resize(cv2.cvtColor(previous, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
        after = cv2.resize(cv2.cvtColor(current, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
        corners = cv2.goodFeaturesToTrack(before, 300, 0.01, 6)
        aligned, valid = before.astype(np.float32), np.ones(before.shape, np.float32)
        if corners is not None and len(corners) >= 6:
            moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, corners, None)
            good = status.ravel() == 1
            if good.sum() >= 6:
                matrix, _ = cv2.estimateAffinePartial2D(
                    corners[good], moved[good], method=cv2.RANSAC, ransacReprojThreshold=1.0
                )
                if matrix is not None:
                    aligned = cv2.warpAffine(before.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR)
                    valid = cv2.warpAffine(valid, matrix, size, flags=cv2.INTER_NEAREST)
        difference = np.abs(after.astype(np.float32) - aligned) * valid
        return cv2.GaussianBlur(difference, (0, 0), self.blur_sigma)


def _forward(model: nn.Module, batch: dict, device) -> torch.Tensor:
    current = batch["current"].to(device)
    if isinstance(model, SKDModel):
        return model(batch["previous"].to(device), current)
    return model(current)


def train_on_ground_truth(
    model: nn.Module,
    dataset: SaliencyVideoDataset,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Adam on ``TRAINING_LOSS`` against the ground-truth density at the dataset's resolution; returns
    the mean loss of each epoch. The same recipe for every model, so that only their inputs differ."""
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator, drop_last=True)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, epochs * len(loader)))
    history = []
    name = type(model).__name__ if not isinstance(model, Student) else f"Student-{model.kind}"
    for epoch in range(epochs):
        total, steps = 0.0, 0
        for batch in tqdm(loader, desc=f"{name} epoch {epoch + 1}/{epochs}", leave=False, disable=not progress):
            loss = TRAINING_LOSS(_forward(model, batch, device), batch["density"].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total, steps = total + loss.item(), steps + 1
        history.append(total / max(steps, 1))
        log.info("%s epoch %d: loss %.4f", name, epoch + 1, history[-1])
    return history


def fused_model_predictor(model: SKDModel, resolution: int, name: str, device: str = "cpu") -> Predictor:
    """A freshly trained ``SKDModel`` as an evaluator predictor (previous + current frame)."""
    model = model.to(device).eval()

    @torch.inference_mode()
    def predict(previous, current, video, index):
        prev = torch.from_numpy(preprocess(previous, resolution))[None].to(device)
        cur = torch.from_numpy(preprocess(current, resolution))[None].to(device)
        return model(prev, cur)[0, 0].float().cpu().numpy()

    example = torch.zeros(1, 3, resolution, resolution, device=device)
    return Predictor(name, predict, "SKD", model, (example, example.clone()), resolution)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skd-synthetic-difficulty", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="dataset root (a synthetic benchmark, AVS1K, ...)")
    parser.add_argument("--split", default="test", help="split to score (default test)")
    parser.add_argument("--train-split", default="train", help="split the two networks learn from (default train)")
    parser.add_argument("--no-train", action="store_true", help="baselines only")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-frame-step", type=int, default=1, help="train on every N-th frame (default 1)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cache", help="resized-frame cache folder for training (default: OUT/cache)")
    parser.add_argument("--max-frames-per-video", type=int, default=16, help="frames scored per video (default 16)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/difficulty", help="report folder (default runs/difficulty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    try:
        source = open_source(args.data)
        heuristics = (CentreBias(), SpectralResidual(), FlowMagnitude(), CompensatedDifference())
        predictors = [baseline_predictor(b) for b in heuristics]
        timings = {}
        if not args.no_train:
            torch.manual_seed(args.seed)
            train = SaliencyVideoDataset(
                source, split=args.train_split, resolution=args.resolution, teacher_resolution=None,
                cache_dir=args.cache or out / "cache", frame_step=args.train_frame_step,
            )  # fmt: skip
            models = {"static (spatial student)": Student("spatial"), "motion (SKDModel)": SKDModel()}
            for label, model in models.items():
                torch.manual_seed(args.seed)  # same initial draws where the architectures agree
                for module in model.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
                started = time.perf_counter()
                train_on_ground_truth(model, train, args.epochs, args.batch_size, args.lr, args.device, args.seed)
                timings[label] = time.perf_counter() - started
            predictors.append(
                student_predictor(
                    models["static (spatial student)"], args.resolution, "Static net (spatial student)", args.device
                )
            )
            predictors.append(
                fused_model_predictor(
                    models["motion (SKDModel)"], args.resolution, "Motion net (SKDModel)", args.device
                )
            )
        evaluation = evaluate(
            predictors,
            source,
            args.split,
            max_frames_per_video=args.max_frames_per_video,
            seed=args.seed,
            profile=False,
        )
    except (DatasetError, ValueError) as exc:
        print(f"skd-synthetic-difficulty: error: {exc}", file=sys.stderr)
        return 2
    report = write_report(evaluation, out, title=f"Difficulty of {args.data} ({args.split} split)")
    print(overall_table(evaluation))
    print()
    print(category_table(evaluation))
    for label, seconds in timings.items():
        print(f"trained {label} for {args.epochs} epochs in {seconds:.0f} s")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())

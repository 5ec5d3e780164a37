"""Real drone footage with target boxes: where the map's peak and the ROIs land, frame by frame.

No aerial eye-tracking data is reachable, but tracking benchmarks (UAV123, DTB70, UAVDT) give the box of
the object each clip is about, and a person watching such a clip looks at that object most of the time.
The clips are *box sequences* (``skd_training.data.box_sequences``); frames after the last box line are
not scored.

Per frame with a box (frames in order, so the temporal stream sees the camera's own frame interval):

* **peak on target**: the map's maximum (the node's ``~/attention`` point) lies inside the box grown by
  2.5 % of the frame width on every side;
* **top-1 / top-3 ROI hit**: the first / any of the first three ROIs (the node's ``~/rois``) overlaps the box;
* **box-NSS**: the mean of the z-scored map (resized to the frame, bilinear) inside the box.

SKD models run through ``skd_ros.runtime.SaliencyPipeline``, the node's own code: their ROIs and peak are
exactly what the node publishes. Every other predictor (baselines, teachers) gives a map that is resized
to the model resolution and goes through the same ROI extraction and peak (``skd_ros.core.postprocess``),
so all rows are comparable.

Nothing scores what it trained on: a fused checkpoint records the real sequences it trained on
(``meta["real_sequences"]``), and a sequence is only scored by a model that did not see it — a k-fold
training names the checkpoint of each fold and the sequences it held out (``FoldedModel``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from skd_ros.core.checkpoint import load_default_or
from skd_ros.core.postprocess import ROI, Peak, ROIParams, extract_rois, find_peak, resize_map
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_training.data.box_sequences import BoxSequence, sequences_seen
from skd_training.data.layouts import DatasetError
from skd_training.evaluate.predictors import Predictor

PEAK_MARGIN = 0.025  # of the frame width, on every side of the box
METRICS = ("peak_on_target", "top1_roi_hit", "top3_roi_hit", "box_nss")
METRIC_TITLES = {
    "peak_on_target": "peak on target",
    "top1_roi_hit": "top-1 ROI hit",
    "top3_roi_hit": "top-3 ROI hit",
    "box_nss": "box-NSS",
}
# the shared sequences are at 10 fps: the stamps a checkpoint that pairs frames a set time apart reads
FRAME_PERIOD_NS = 100_000_000


# --- scoring ---------------------------------------------------------------------------------------


def overlaps(roi: ROI, box: np.ndarray) -> bool:
    x, y, w, h = box
    return min(roi.x + roi.width, x + w) > max(roi.x, x) and min(roi.y + roi.height, y + h) > max(roi.y, y)


def score_frame(saliency: np.ndarray, rois: list[ROI], peak: Peak, box: np.ndarray, width: int, height: int) -> dict:
    """The four scores of one frame: ``saliency`` at model resolution, ROIs and peak in frame pixels."""
    x, y, w, h = box
    margin = PEAK_MARGIN * width
    on_target = x - margin <= peak.x <= x + w + margin and y - margin <= peak.y <= y + h + margin
    full = resize_map(saliency, width, height).astype(np.float64)
    spread = full.std()
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1, y1 = min(width, math.ceil(x + w)), min(height, math.ceil(y + h))
    inside = full[y0:y1, x0:x1]
    box_nss = float(((inside - full.mean()) / spread).mean()) if spread > 1e-12 and inside.size else 0.0
    return {
        "peak_on_target": float(on_target),
        "top1_roi_hit": float(bool(rois) and overlaps(rois[0], box)),
        "top3_roi_hit": float(any(overlaps(roi, box) for roi in rois[:3])),
        "box_nss": box_nss,
    }


@dataclass
class FrameOutcome:
    """What a predictor gave for one scored frame (kept for the contact sheets)."""

    index: int
    saliency: np.ndarray
    rois: list[ROI]
    peak: Peak
    box: np.ndarray


@dataclass
class SequenceScore:
    sequence: str
    frames: int
    scores: dict[str, float]
    scored_by: str
    outcomes: list[FrameOutcome] = field(default_factory=list, repr=False)


# --- what is scored --------------------------------------------------------------------------------

FrameResults = Iterator[tuple[int, np.ndarray, list[ROI], Peak]]


def model_results(estimator: SaliencyEstimator, sequence: BoxSequence, roi_params: ROIParams) -> FrameResults:
    """(index, map, ROIs, peak) of every frame up to the last box, through the node's own pipeline."""
    pipeline = SaliencyPipeline(estimator, roi_params)
    for index in range(len(sequence.boxes)):
        result = pipeline.step(sequence.read(index), index * FRAME_PERIOD_NS, sequence.name)
        yield index, result.saliency, result.rois, result.peak


def map_results(predictor: Predictor, sequence: BoxSequence, roi_params: ROIParams, resolution: int) -> FrameResults:
    """The same for a map predictor: its map at ``resolution``, then the node's ROI extraction and peak."""
    previous = None
    for index in range(len(sequence.boxes)):
        frame = sequence.read(index)
        raw = predictor.predict(frame if previous is None else previous, frame, sequence.name, index)
        saliency = cv2.resize(np.asarray(raw, np.float32), (resolution, resolution), interpolation=cv2.INTER_AREA)
        height, width = frame.shape[:2]
        yield index, saliency, extract_rois(saliency, width, height, roi_params), find_peak(saliency, width, height)
        previous = frame


@dataclass
class FoldedModel:
    """A fused model trained k-fold by sequence: ``folds`` maps a fold's checkpoint to the sequences it held
    out; each sequence is scored by the fold that held it out. A single checkpoint is one fold holding out
    every sequence it did not train on."""

    name: str
    folds: dict[str, list[str]]  # checkpoint path (or "" for the shipped weights) -> held-out sequences
    resolution: int | None = None  # the input side it runs at (the node's ``resolution``); None: each checkpoint's

    def checkpoint_for(self, sequence: str) -> str | None:
        return next((ckpt for ckpt, held_out in self.folds.items() if sequence in held_out), None)


def single_model(name: str, checkpoint: str | None, sequences: list[BoxSequence]) -> FoldedModel:
    """One checkpoint (None: the shipped weights) for every sequence it did not see in training
    (``sequences_seen``: its ``meta["real_sequences"]``, or frames under its training run's data sources);
    the others are left unscored."""
    seen = sequences_seen(load_default_or(checkpoint)[2], sequences)
    return FoldedModel(name, {checkpoint or "": [s.name for s in sequences if s.name not in seen]})


@dataclass
class Row:
    """One predictor's scores: per sequence (None where no model could score it) and the mean."""

    name: str
    group: str  # "SKD", "teacher" or "baseline"
    per_sequence: dict[str, SequenceScore | None]

    def mean(self, metric: str) -> float:
        values = [score.scores[metric] for score in self.per_sequence.values() if score is not None]
        return float(np.mean(values)) if values else math.nan

    @property
    def complete(self) -> bool:
        return all(score is not None for score in self.per_sequence.values())


def score_sequence(sequence: BoxSequence, results: FrameResults, scored_by: str, keep: set[int]) -> SequenceScore:
    rows, outcomes = [], []
    height, width = sequence.read(0).shape[:2]
    boxes = dict(sequence.scored())
    for index, saliency, rois, peak in results:
        box = boxes[index]
        if box is None:
            continue
        rows.append(score_frame(saliency, rois, peak, box, width, height))
        if index in keep:
            outcomes.append(FrameOutcome(index, saliency, rois, peak, box))
    if not rows:
        raise DatasetError(f"sequence {sequence.name!r} has no frame with a valid box")
    scores = {metric: float(np.mean([r[metric] for r in rows])) for metric in METRICS}
    return SequenceScore(sequence.name, len(rows), scores, scored_by, outcomes)


def sheet_frames(sequence: BoxSequence, count: int) -> set[int]:
    """``count`` scored frames spread evenly over the sequence, for its contact sheet."""
    valid = [index for index, box in sequence.scored() if box is not None]
    if not valid or count <= 0:
        return set()
    return {valid[round(i)] for i in np.linspace(0, len(valid) - 1, min(count, len(valid)))}


def evaluate_model(
    model: FoldedModel,
    sequences: list[BoxSequence],
    roi_params: ROIParams = ROIParams(),
    device: str = "cpu",
    backend: str = "eager",
    sheet_count: int = 8,
    progress: Callable[[str], None] = lambda message: None,
) -> Row:
    """Every sequence scored by the fold that held it out; a sequence no fold held out is left unscored
    (None), never scored by a model that saw it."""
    per_sequence: dict[str, SequenceScore | None] = {}
    estimators: dict[str, SaliencyEstimator] = {}
    for sequence in sequences:
        progress(f"{model.name}: {sequence.name}")
        checkpoint = model.checkpoint_for(sequence.name)
        if checkpoint is None:
            per_sequence[sequence.name] = None
            continue
        if checkpoint not in estimators:
            estimators[checkpoint] = SaliencyEstimator(
                checkpoint or None, model.resolution, device=device, backend=backend, threads=1
            )
        if sequence.name in sequences_seen(estimators[checkpoint].meta, [sequence]):
            model_file = checkpoint or "the shipped weights"
            raise DatasetError(f"{model_file} trained on {sequence.name!r}: it cannot score that sequence")
        results = model_results(estimators[checkpoint], sequence, roi_params)
        scored_by = Path(checkpoint).name if checkpoint else "shipped weights"
        per_sequence[sequence.name] = score_sequence(sequence, results, scored_by, sheet_frames(sequence, sheet_count))
    return Row(model.name, "SKD", per_sequence)


def evaluate_maps(
    predictor: Predictor,
    sequences: list[BoxSequence],
    roi_params: ROIParams = ROIParams(),
    resolution: int = 64,
    sheet_count: int = 8,
    progress: Callable[[str], None] = lambda message: None,
) -> Row:
    per_sequence = {}
    for sequence in sequences:
        progress(f"{predictor.name}: {sequence.name}")
        results = map_results(predictor, sequence, roi_params, resolution)
        per_sequence[sequence.name] = score_sequence(
            sequence, results, predictor.name, sheet_frames(sequence, sheet_count)
        )
    return Row(predictor.name, predictor.group, per_sequence)

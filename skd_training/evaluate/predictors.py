"""Predictors: everything ``skd-eval`` scores, behind one call.

The fused SKD model, the students, the teachers and the baselines all take the same input, a pair of
consecutive original frames (H x W x 3 uint8 BGR; the first frame of a video is paired with itself, as
``skd_ros.core.preprocess.FramePairBuffer`` does) and give a 2-D non-negative map for the newer frame,
at any size. A fused model that pairs frames a set time apart can instead be given the node's pairs at a
known frame rate (``fused_predictor``'s ``fps``). The fused model runs through
``skd_ros.runtime.SaliencyEstimator`` (the node's preprocessing and model code), so the node, the bag
evaluator and this evaluator give the same numbers for the same frames. A predictor with a network also
carries batch-1 inputs for its cost profile (``skd_training.evaluate.cost``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from skd_ros.core.model import Student, count_parameters
from skd_ros.core.preprocess import preprocess
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline

GROUPS = ("SKD", "student", "teacher", "baseline")

PredictFn = Callable[[np.ndarray, np.ndarray, str, int], np.ndarray]


@dataclass
class Predictor:
    """Something to evaluate.

    predict(previous_bgr, current_bgr, video, index) -> 2-D non-negative map for the current frame
    (``video``/``index`` name the frame, for predictors that look maps up rather than compute them).
    network / example_inputs: the torch module and batch-1 inputs at its working resolution, for the
    parameter count, memory footprint and model-only speed; None for heuristics."""

    name: str
    predict: PredictFn
    group: str = "baseline"
    network: nn.Module | None = None
    example_inputs: tuple[torch.Tensor, ...] | None = None
    resolution: int | None = None

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"predictor group must be one of {GROUPS}, got {self.group!r}")

    @property
    def parameters(self) -> int | None:
        return None if self.network is None else count_parameters(self.network)


def baseline_predictor(baseline: Callable[[np.ndarray, np.ndarray], np.ndarray], name: str | None = None) -> Predictor:
    """A ``(previous_bgr, current_bgr) -> map`` callable (``skd_training.baselines``) as a Predictor."""
    return Predictor(
        name=name or getattr(baseline, "name", type(baseline).__name__),
        predict=lambda previous, current, video, index: baseline(previous, current),
        group="baseline",
    )


def fused_predictor(
    estimator: SaliencyEstimator,
    name: str | None = None,
    fps: float | None = None,
    read_frame: Callable[[str, int], np.ndarray] | None = None,
) -> Predictor:
    """The fused model through the runtime core: ``estimator.prepare`` on both frames, the pair as the
    model expects it (``temporal_input``), ``infer``.

    ``fps``, the videos' frame rate, with ``read_frame(video, index)``: a checkpoint that pairs frames a set
    time apart (``meta["pair_interval_s"]``) gets the pairs the node gives it from a camera at that rate, and
    the same maps: every frame stamped ``index / fps`` through the node's own ``SaliencyPipeline``, the frames
    between the scored ones kept for its pairing and alignment. Without (or for a checkpoint that pairs
    consecutive frames) the pair is the two frames given."""
    if fps is not None and estimator.pair_interval_ns:
        if fps <= 0 or read_frame is None:
            raise ValueError(f"pairing by time needs a positive fps and a frame reader, got fps={fps}")
        predict = _node_paired(estimator, fps, read_frame)
    else:

        def predict(previous, current, video, index):
            current_input = estimator.prepare(current)
            previous_input = current_input if previous is current else estimator.prepare(previous)
            return estimator.infer(estimator.temporal_input(previous_input, current_input), current_input)

    resolution = estimator.resolution
    example = torch.zeros(1, 3, resolution, resolution, device=estimator.device)
    return Predictor(
        name=name or f"SKD-{resolution}",
        predict=predict,
        group="SKD",
        network=estimator.model,
        example_inputs=(example, example.clone()),
        resolution=resolution,
    )


def _node_paired(estimator: SaliencyEstimator, fps: float, read_frame: Callable[[str, int], np.ndarray]) -> PredictFn:
    """``predict`` through one ``SaliencyPipeline`` per video (the one being scored: it holds its kept frames),
    started afresh a pair's reach before a frame it cannot continue to."""
    period_ns = 1e9 / fps
    # frames back a pair can reach: the one closest to the interval, and the one just past it
    reach = math.ceil(estimator.pair_interval_ns / period_ns) + 1
    streamed, pipeline, upcoming = None, None, 0  # the video, its pipeline, the next index it has not seen

    def predict(previous, current, video, index):
        nonlocal streamed, pipeline, upcoming
        if streamed != video or not index - reach <= upcoming <= index:
            streamed, pipeline, upcoming = video, SaliencyPipeline(estimator), max(0, index - reach)
            pipeline.find_rois = False
        for skipped in range(upcoming, index):
            pipeline.keep(read_frame(video, skipped), round(skipped * period_ns), video)
        upcoming = index + 1
        return pipeline.step(current, round(index * period_ns), video).saliency

    return predict


def student_predictor(student: Student, resolution: int, name: str | None = None, device: str = "cpu") -> Predictor:
    """A spatial (current frame) or temporal (previous + current) student at ``resolution``."""
    dev = torch.device(device)
    student = student.to(dev).eval()

    @torch.inference_mode()
    def predict(previous, current, video, index):
        cur = torch.from_numpy(preprocess(current, resolution))[None].to(dev)
        if student.kind == "spatial":
            x = cur
        else:
            x = torch.cat([torch.from_numpy(preprocess(previous, resolution))[None].to(dev), cur], dim=1)
        return student(x)[0, 0].float().cpu().numpy()

    channels = 3 if student.kind == "spatial" else 6
    return Predictor(
        name=name or f"Student-{student.kind}-{resolution}",
        predict=predict,
        group="student",
        network=student,
        example_inputs=(torch.zeros(1, channels, resolution, resolution, device=dev),),
        resolution=resolution,
    )


def teacher_predictor(teacher, resolution: int, name: str | None = None) -> Predictor:
    """A ``skd_training.teachers.Teacher`` fed frames preprocessed at ``resolution`` (its working
    resolution); built-in teacher networks are also profiled."""

    def predict(previous, current, video, index):
        batch = {
            "previous_hr": torch.from_numpy(preprocess(previous, resolution))[None],
            "current_hr": torch.from_numpy(preprocess(current, resolution))[None],
            "video": [video],
            "frame": [index],
        }
        return teacher.predict(batch)[0, 0].float().cpu().numpy()

    network = getattr(teacher, "net", None)
    example = None
    if network is not None:
        device = next(network.parameters()).device
        frame = torch.zeros(1, 3, resolution, resolution, device=device)
        example = (frame, frame.clone())
    return Predictor(
        name=name or f"Teacher-{teacher.kind}",
        predict=predict,
        group="teacher",
        network=network,
        example_inputs=example,
        resolution=resolution,
    )

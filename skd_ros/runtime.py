"""The ROS-free core: preprocess -> model -> postprocess, shared by the node, the demo, the bag
evaluator and the training evaluator so that all of them give the same numbers.

``SaliencyEstimator`` runs the model on batches of frame pairs; ``SaliencyPipeline`` adds the
frame-pair buffer and ROI extraction for a stream of frames from one camera.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from skd_ros.checkpoint import load_default_or
from skd_ros.postprocess import ROI, Peak, ROIParams, extract_rois, find_peak
from skd_ros.preprocess import FramePairBuffer, check_resolution, preprocess

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    return torch.device(device)


class SaliencyEstimator:
    """The fused model at a fixed resolution, on one device.

    weights: a fused-model checkpoint path; None takes the shipped weights (or untrained ones, with
    a warning, if this build ships none). resolution: None takes the checkpoint's."""

    def __init__(self, weights: str | Path | None = None, resolution: int | None = None, device: str = "auto"):
        model, trained_resolution, self.meta = load_default_or(weights)
        self.resolution = int(resolution or trained_resolution)
        check_resolution(self.resolution)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.untrained = bool(self.meta.get("untrained", False))

    @torch.inference_mode()
    def infer(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """previous, current: N x 3 x R x R (or 3 x R x R) preprocessed frames -> N x R x R maps
        (or R x R) in [0, 1]."""
        single = current.ndim == 3
        prev_t = torch.from_numpy(previous[None] if single else previous).to(self.device)
        cur_t = torch.from_numpy(current[None] if single else current).to(self.device)
        maps = self.model(prev_t, cur_t)[:, 0].float().cpu().numpy()
        return maps[0] if single else maps

    def prepare(self, frame: np.ndarray, encoding: str = "bgr8") -> np.ndarray:
        return preprocess(frame, self.resolution, encoding)


@dataclass
class SaliencyResult:
    """One frame's output. ``saliency`` is at model resolution; ROIs and peak are in source pixels."""

    saliency: np.ndarray
    rois: list[ROI]
    peak: Peak
    source_width: int
    source_height: int
    paired_with_previous: bool
    timings: dict = field(default_factory=dict)


class SaliencyPipeline:
    """A stream of frames from one camera -> one SaliencyResult per frame, for the newest frame."""

    def __init__(self, estimator: SaliencyEstimator, roi_params: ROIParams = ROIParams(), encoding: str = "bgr8"):
        self.estimator = estimator
        self.roi_params = roi_params
        self.encoding = encoding
        self.buffer = FramePairBuffer()

    def step(self, frame: np.ndarray, stamp_ns: int | None = None, frame_id: str | None = None) -> SaliencyResult:
        t0 = time.perf_counter()
        tensor = self.estimator.prepare(frame, self.encoding)
        pair = self.buffer.push(tensor, stamp_ns, frame_id)
        t1 = time.perf_counter()
        saliency = self.estimator.infer(pair.previous, pair.current)
        t2 = time.perf_counter()
        height, width = frame.shape[:2]
        result = SaliencyResult(
            saliency=saliency,
            rois=extract_rois(saliency, width, height, self.roi_params),
            peak=find_peak(saliency, width, height),
            source_width=width,
            source_height=height,
            paired_with_previous=not pair.first,
        )
        t3 = time.perf_counter()
        result.timings = {"preprocess": t1 - t0, "inference": t2 - t1, "postprocess": t3 - t2}
        return result

"""The ROS-free core: preprocess -> model -> postprocess, shared by the node, the demo, the bag
evaluator and the training evaluator so that all of them give the same numbers.

``SaliencyEstimator`` runs the model on batches of frame pairs through an inference backend
(``skd_ros.engines.backends``: the fastest available by default); ``SaliencyPipeline`` adds the frame-pair
buffer and ROI extraction for a stream of frames from one camera, and ``step_cameras`` runs one frame
from each of several cameras in a single forward pass, spreading the cameras' own work over a thread pool
when given one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from skd_ros.core.checkpoint import input_side, load_default_or
from skd_ros.core.device import resolve_device, usable_cores
from skd_ros.core.postprocess import ROI, CentrePrior, Peak, ROIParams, extract_rois, find_peak
from skd_ros.core.preprocess import FramePairBuffer, check_resolution, preprocess
from skd_ros.core.registration import ALIGNED, camera_motion, chained_motion, grey, pairs_of, warp_onto
from skd_ros.engines.backends import AUTO, create_backend


class SaliencyEstimator:
    """The fused model at a fixed resolution, on one device.

    weights: a fused-model checkpoint path; None takes the shipped weights (or untrained ones, with
    a warning, if this build ships none). resolution: None takes the checkpoint's. backend: an
    inference backend name from ``skd_ros.engines.backends.BACKEND_CHOICES``; "auto" races the available
    full-precision ones and keeps the fastest (logged). threads: CPU threads for inference (None: the
    engine's default, all cores). The maps come out multiplied by the checkpoint's centre prior when its meta
    has one (``skd_ros.core.postprocess.CentrePrior``); ``centre_prior`` False leaves them as the network
    made them."""

    def __init__(
        self,
        weights: str | Path | None = None,
        resolution: int | None = None,
        device: str = "auto",
        backend: str = AUTO,
        threads: int | None = None,
        centre_prior: bool = True,
    ):
        model, trained_resolution, self.meta = load_default_or(weights)
        self.resolution = int(resolution or input_side(trained_resolution, self.meta))
        check_resolution(self.resolution)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.untrained = bool(self.meta.get("untrained", False))
        self.pairs = pairs_of(self.meta)  # raw, or with the camera's motion taken out (core.registration)
        # how far apart the training pairs' frames were (0: consecutive frames, the paper's): FramePairBuffer
        self.pair_interval_ns = round(float(self.meta.get("pair_interval_s", 0.0)) * 1e9)
        self.backend = create_backend(backend, self.model, self.resolution, self.device, threads)
        self.centre_prior = CentrePrior.of(self.meta) if centre_prior else None
        self._prior_weights = self.centre_prior.weights(self.resolution, self.resolution) if self.centre_prior else None
        # a thread for half of each frame's resize (preprocess.area_resize), where this process has a second core
        self.resize_helper = ThreadPoolExecutor(1, "skd_resize") if usable_cores() > 1 else None

    def infer(self, previous: np.ndarray, current: np.ndarray, pool: Executor | None = None) -> np.ndarray:
        """previous, current: N x 3 x R x R (or 3 x R x R) preprocessed frames -> N x R x R maps
        (or R x R) in [0, 1]. ``pool``: threads to run the pairs of a batch on at once, one pair per call,
        where the backend takes concurrent calls (``Backend.concurrent``); otherwise one batched call."""
        single = current.ndim == 3
        previous, current = (previous[None], current[None]) if single else (previous, current)
        if pool is not None and len(current) > 1 and self.backend.concurrent:
            maps = np.concatenate(list(pool.map(self.backend, previous[:, None], current[:, None])))
        else:
            maps = self.backend(previous, current)
        if self._prior_weights is not None:
            maps = maps * self._prior_weights
        return maps[0] if single else maps

    def prepare(self, frame: np.ndarray, encoding: str = "bgr8", pool: Executor | None = None) -> np.ndarray:
        """One frame -> this model's input (``preprocess``); ``pool``: a thread for half of the resize."""
        return preprocess(frame, self.resolution, encoding, pool)

    def temporal_input(
        self, previous: np.ndarray, current: np.ndarray, between: tuple = (), links: dict | None = None
    ) -> np.ndarray:
        """The previous frame (3 x R x R) as this model's temporal stream expects it: as it is, or aligned
        onto ``current`` when the checkpoint was trained on aligned pairs (``skd_ros.core.registration``).

        ``between``: frames between the two (``FramePair.between``). The camera's motion is then followed from
        frame to frame and chained: over the few degrees a camera turns in 0.1 s the direct fit can have two near
        solutions that a few grey levels tip, frame to frame it has one; the direct fit where a link cannot be
        estimated. ``links``: a stream's cache of frame-to-frame motions (``SaliencyPipeline.links``), left
        holding this chain's, the ones a later frame's chain can use: one new estimate a frame."""
        if self.pairs != ALIGNED or previous is current:
            return previous
        chain = tuple(pairwise((previous, *between, current)))
        motion = chained_motion([link(a, b, links) for a, b in chain])
        if links is not None:
            for key in links.keys() - {(id(a), id(b)) for a, b in chain}:
                del links[key]
        if motion is None and between:
            motion = camera_motion(grey(previous), grey(current))
        return warp_onto(previous, current, motion)


def link(earlier: np.ndarray, later: np.ndarray, cache: dict | None) -> np.ndarray | None:
    """The camera's motion from ``earlier`` to ``later`` (``camera_motion``), from ``cache`` when it holds it."""
    if cache is None:
        return camera_motion(grey(earlier), grey(later))
    cached = cache.get((id(earlier), id(later)))
    if cached is None or cached[0] is not earlier or cached[1] is not later:  # ids of freed frames are reused
        cached = cache[(id(earlier), id(later))] = (earlier, later, camera_motion(grey(earlier), grey(later)))
    return cached[2]


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
    """A stream of frames from one camera -> one SaliencyResult per frame, for the newest frame.
    ``find_rois`` False leaves the results' ``rois`` empty (a node whose ROIs nobody reads)."""

    def __init__(self, estimator: SaliencyEstimator, roi_params: ROIParams = ROIParams(), encoding: str = "bgr8"):
        self.estimator = estimator
        self.roi_params = roi_params
        self.encoding = encoding
        self.buffer = FramePairBuffer(estimator.pair_interval_ns)
        self.links: dict = {}  # frame-to-frame camera motions of the kept frames (SaliencyEstimator.temporal_input)
        self.find_rois = True

    def step(self, frame: np.ndarray, stamp_ns: int | None = None, frame_id: str | None = None) -> SaliencyResult:
        return step_cameras([self], [frame], [stamp_ns], [frame_id])[0]

    def keep(self, frame: np.ndarray, stamp_ns: int | None = None, frame_id: str | None = None) -> None:
        """A frame the model is not run on (a caller that scores only some frames) but that later frames pair
        with, and align through, as in a run over every frame."""
        tensor = self.estimator.prepare(frame, self.encoding, self.estimator.resize_helper)
        self.buffer.push(tensor, stamp_ns, frame_id, (frame.shape[1], frame.shape[0], self.encoding))


def step_cameras(
    pipelines: list[SaliencyPipeline],
    frames: list[np.ndarray],
    stamps_ns: list[int | None] | None = None,
    frame_ids: list[str | None] | None = None,
    sources: list[tuple[int, int, str]] | None = None,
    pool: Executor | None = None,
) -> list[SaliencyResult]:
    """One new frame for each of several cameras (one pipeline each, all on the same estimator), run
    in a single batched forward pass; returns one result per camera, in order. ``timings`` are those
    of the whole batch.

    ``pool``: threads over which each camera's preprocessing and alignment, and on a backend that allows
    it the batch's pairs, run at once (OpenCV and the engines release Python's lock). The cameras
    are independent until the forward pass, so the results are those of the serial path; a node that its
    cameras overload gets the other cores' help. None: one camera after the other.

    ``sources``: per frame, (width, height, encoding) as the camera sent it. The width and height are
    the pixels ROIs and peaks are reported in (a frame decoded at reduced size is smaller); a change of
    any of the three restarts that camera's pairing. None: each frame's own size and its pipeline's
    encoding."""
    count = len(pipelines)
    stamps_ns = stamps_ns if stamps_ns is not None else [None] * count
    frame_ids = frame_ids if frame_ids is not None else [None] * count
    if not (len(frames) == len(stamps_ns) == len(frame_ids) == count) or count == 0:
        raise ValueError(f"need one frame, stamp and frame_id per pipeline ({count} pipelines, {len(frames)} frames)")
    if sources is None:
        sources = [(frame.shape[1], frame.shape[0], p.encoding) for p, frame in zip(pipelines, frames, strict=True)]
    if len(sources) != count:
        raise ValueError(f"need one source size per frame ({count} frames, {len(sources)} sources)")
    estimator = pipelines[0].estimator
    if any(p.estimator is not estimator for p in pipelines):
        raise ValueError("pipelines batched together must share one SaliencyEstimator")
    each = in_pool(pool)
    t0 = time.perf_counter()
    encodings = [p.encoding for p in pipelines]
    if pool is None:  # one frame after the other, each resized in two halves at once (the estimator's helper)
        helper = estimator.resize_helper
        tensors = [estimator.prepare(frame, code, helper) for frame, code in zip(frames, encodings, strict=True)]
    else:  # the pool's threads are busy with the other cameras' frames
        tensors = each(estimator.prepare, frames, encodings)
    pairs = [
        p.buffer.push(tensor, stamp, frame_id, source)
        for p, tensor, stamp, frame_id, source in zip(pipelines, tensors, stamps_ns, frame_ids, sources, strict=True)
    ]
    t_pairs = time.perf_counter()
    current = np.stack([pair.current for pair in pairs])

    def temporal_input(p: SaliencyPipeline, pair) -> np.ndarray:  # the kept frames, not the batch's copies:
        return estimator.temporal_input(pair.previous, pair.current, pair.between, p.links)  # the links are theirs

    previous = np.stack(each(temporal_input, pipelines, pairs))
    t1 = time.perf_counter()
    maps = estimator.infer(previous, current, pool)
    t2 = time.perf_counter()

    def result_of(p: SaliencyPipeline, source: tuple[int, int, str], pair, saliency: np.ndarray) -> SaliencyResult:
        width, height, _ = source
        return SaliencyResult(
            saliency=saliency,
            rois=extract_rois(saliency, width, height, p.roi_params) if p.find_rois else [],
            peak=find_peak(saliency, width, height),
            source_width=width,
            source_height=height,
            paired_with_previous=not pair.first,
        )

    # serial: finding ROIs is mostly small numpy calls that hold Python's lock, slower spread over threads
    results = list(map(result_of, pipelines, sources, pairs, maps))
    t3 = time.perf_counter()
    for result in results:
        result.timings = {
            "preprocess": t_pairs - t0, "align": t1 - t_pairs, "inference": t2 - t1, "postprocess": t3 - t2,
        }  # fmt: skip
    return results


def in_pool(pool: Executor | None) -> Callable[..., list]:
    """``map`` into a list, over ``pool``'s threads when there is one (an exception in a call is raised here)."""
    if pool is None:
        return lambda function, *arguments: list(map(function, *arguments))
    return lambda function, *arguments: list(pool.map(function, *arguments))

"""The cameras one node serves (``CameraStream``): each camera's input, pairing, calibration, ROI identities,
statistics and outputs; and what loading a model (``attach_model``) or a parameter change (``apply_settings``)
gives each. ROS-free: the node's subscriptions and publishers are held here as plain objects."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from skd_ros.core.image_codec import ImageDecodeError
from skd_ros.core.tracking import RoiTracker
from skd_ros.node.settings import NodeSettings
from skd_ros.node.stats import FrameGapCounter, StreamStats
from skd_ros.node.stream import CameraCalibration, LiveSaliency
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline


@dataclass
class CameraStream:
    """One camera the node serves: its input, pairing, calibration, ROI identities, statistics and outputs."""

    name: str  # "" for the single camera of a node without the `cameras` parameter
    stats: StreamStats = field(default_factory=StreamStats)
    gaps: FrameGapCounter = field(default_factory=FrameGapCounter)
    calibration: CameraCalibration = field(default_factory=CameraCalibration)
    tracker: RoiTracker = field(default_factory=RoiTracker)
    live: LiveSaliency | None = None
    subscription: object = None
    info_subscription: object = None
    input_topic: str = ""
    info_topic: str = ""
    outputs: dict = field(default_factory=dict)

    def topic(self, name: str) -> str:
        """``name`` inside this camera's namespace: "image" -> "front/image"."""
        return f"{self.name}/{name}" if self.name else name


def attach_model(
    cameras: list[CameraStream],
    estimator: SaliencyEstimator,
    settings: NodeSettings,
    on_refused: Callable[[CameraStream, ImageDecodeError], None],
) -> None:
    """Give every camera a live pipeline on ``estimator``; ``on_refused(camera, error)``: a skipped predecessor
    that could not be read."""
    for camera in cameras:  # one estimator, so that the cameras' frames batch into one forward pass
        pipeline = SaliencyPipeline(estimator, settings.roi_params)
        camera.tracker.params = settings.track_params  # the same tracker: ids are never reused, even after a reload
        camera.live = LiveSaliency(
            pipeline,
            compressed=settings.input_compressed,
            max_pixels=settings.max_input_pixels,
            # a JPEG twice the model's size on each side still feeds a full area average
            min_side=2 * estimator.resolution,
            on_refused=functools.partial(on_refused, camera),
        )


def apply_settings(cameras: list[CameraStream], settings: NodeSettings) -> None:
    """A runtime parameter change, in effect from the next frame on."""
    for camera in cameras:
        camera.tracker.params = settings.track_params
        if camera.live is not None:
            camera.live.pipeline.roi_params = settings.roi_params
            camera.live.max_pixels = settings.max_input_pixels

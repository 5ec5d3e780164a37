"""Do the node's maps agree with the reference path's on real footage? Each frame of a clip goes through the node's
own path (``skd_ros.node.stream.LiveSaliency``: a sensor_msgs message as the node receives it, decoded, paired and
run as the node's worker runs it, a JPEG decoded at reduced size) and through the reference path
(``SaliencyPipeline.step`` on the decoded frame, as skd-eval runs it), with the same weights and engine; the
Pearson correlation (CC) of the two maps is taken frame by frame. Raw bgr8 and rgb8 input must give the reference's
maps; JPEG input (quality 90, what the camera sends) may differ by what compression and reduced decoding change."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from skd_ros.node.stream import LiveSaliency
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_tools.bench.transports import FRAME_ID
from skd_training.metrics import cc

# the real drone clip of shared/data (AVS1K's Vehicle_00083: 1280x720, 120 frames), beside the repository
REAL_CLIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "avs1k_clip_horus" / "Vehicle_00083.avi"
INPUTS = ("bgr8", "rgb8", "jpeg")
MIN_CC = 0.99  # per frame: the faster path must not change what the maps say
JPEG_QUALITY = 90
FRAME_PERIOD_NS = 33_333_333  # the clip's 30 fps


@dataclass
class Agreement:
    """Per input (bgr8, rgb8, jpeg): the lowest and mean per-frame CC and the largest absolute map difference
    against the reference; ``skipped`` says why nothing was compared (no clip)."""

    source: str
    frames: int = 0
    min_cc: dict[str, float] = field(default_factory=dict)
    mean_cc: dict[str, float] = field(default_factory=dict)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    skipped: str = ""

    def met(self, kind: str) -> bool:
        return self.frames > 0 and self.min_cc.get(kind, math.nan) >= MIN_CC


def video_frames(path: Path) -> Iterator[np.ndarray]:
    """The BGR frames of a video file, in order."""
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def camera_message(frame: np.ndarray, kind: str, stamp_ns: int) -> SimpleNamespace:
    """``frame`` (BGR) as a camera sends it: a bgr8 or rgb8 sensor_msgs/Image, or a JPEG CompressedImage (the node
    reads messages by attribute, so a namespace with the fields stands in for the ROS type)."""
    header = SimpleNamespace(
        stamp=SimpleNamespace(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=FRAME_ID
    )
    if kind == "jpeg":
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return SimpleNamespace(header=header, format="jpeg", data=data.tobytes())
    pixels = frame if kind == "bgr8" else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    height, width = pixels.shape[:2]
    return SimpleNamespace(
        header=header, height=height, width=width, encoding=kind, is_bigendian=0, step=width * 3, data=pixels.tobytes()
    )


def map_agreement(estimator: SaliencyEstimator, frames: Iterable[np.ndarray], source: str) -> Agreement:
    """Every frame of ``frames`` (BGR, one camera in order) through the node's path for each of ``INPUTS`` and
    through the reference path, on ``estimator``."""
    reference = SaliencyPipeline(estimator)
    # as the node sets it up (saliency_node._load_model): a JPEG twice the model's size on each side is decoded
    # at reduced size
    live = {
        kind: LiveSaliency(SaliencyPipeline(estimator), compressed=kind == "jpeg", min_side=2 * estimator.resolution)
        for kind in INPUTS
    }
    scores: dict[str, list[float]] = {kind: [] for kind in INPUTS}
    largest = dict.fromkeys(INPUTS, 0.0)
    count = 0
    for index, frame in enumerate(frames):
        stamp_ns = (index + 1) * FRAME_PERIOD_NS
        expected = reference.step(frame, stamp_ns, FRAME_ID).saliency
        for kind, stream in live.items():
            result, _ = stream.run(camera_message(frame, kind, stamp_ns), None)
            scores[kind].append(cc(result.saliency, expected))
            largest[kind] = max(largest[kind], float(np.abs(result.saliency - expected).max()))
        count += 1
    return Agreement(
        source=source,
        frames=count,
        min_cc={kind: float(min(values)) for kind, values in scores.items() if values},
        mean_cc={kind: float(np.mean(values)) for kind, values in scores.items() if values},
        max_abs_diff=largest,
    )


def real_footage_agreement(estimator: SaliencyEstimator, clip: Path = REAL_CLIP) -> Agreement:
    """``map_agreement`` on the real clip; skipped, saying so, when the clip is not there."""
    if not clip.is_file():
        return Agreement(source=str(clip), skipped=f"{clip} is absent (shared/data is not beside this checkout)")
    return map_agreement(estimator, video_frames(clip), str(clip))

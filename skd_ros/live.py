"""The ROS-free half of the saliency node: parameters, the newest-frame mailbox, pairing, statistics.

The node (``skd_ros.node``) is a thin rclpy shell around these pieces, so that everything here can be
tested without DDS and reused by other front ends.

Processing model. The subscription callback only drops each message into a ``NewestPairMailbox``
(no decoding, no copy). One worker thread takes the newest message from it and runs the model, so
when inference is slower than the camera, frames that arrived in between are *skipped* (counted)
instead of queueing up: the node always works on the newest frame and never on a stale backlog.
A node serving several cameras takes the newest frame of every camera that has one and runs them
in one batched forward pass (``run_cameras``); each camera keeps its own pairing and outputs.

Which pair. The map for the newest frame is computed from (the frame received just before it, the
newest frame), in receive order: the temporal stream then always sees the camera's own frame
interval, the one it was trained on, however far behind the node falls. (Pairing with the last
*processed* frame instead would feed it larger, variable jumps whenever frames are skipped.) That
predecessor is decoded and preprocessed only when it was skipped; otherwise it is already in the
pipeline's ``FramePairBuffer``. The buffer restarts pairing when the ``frame_id`` changes or time goes
backwards (a looping bag), so frames from different cameras or from before a jump are never paired;
an unreadable frame also restarts it, since the next good frame has no valid predecessor.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from skd_ros.backends import AUTO, BACKEND_CHOICES
from skd_ros.image_codec import DecodedImage, ImageDecodeError, decode_compressed, decode_raw
from skd_ros.postprocess import ROIParams, resize_map, to_uint8
from skd_ros.roi_record import roi_peaks, rois_to_records
from skd_ros.runtime import SaliencyPipeline, SaliencyResult, step_cameras
from skd_ros.visualize import overlay

SALIENCY_ENCODINGS = ("mono8", "32FC1")
QOS_RELIABILITIES = ("best_effort", "reliable")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
CAMERA_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its default (which fixes its type), what it does, and its limits.

    ``read_only``: fixed for the node's lifetime (set it in the params file or on the command line);
    ``value_range``: (low, high, step) for integers, (low, high) for floats, inclusive;
    ``choices``: the allowed strings."""

    name: str
    default: bool | int | float | str
    description: str
    read_only: bool = False
    value_range: tuple | None = None
    choices: tuple[str, ...] | None = None


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "weights",
        "",
        "Fused-model checkpoint (.pt). Empty: the weights shipped with the package (untrained, with a "
        "warning, if this build ships none).",
        read_only=True,
    ),
    ParamSpec(
        "device",
        "auto",
        "Where the model runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N.",
        read_only=True,
    ),
    ParamSpec(
        "resolution",
        64,
        "Model input resolution (square, multiple of 4); 0 takes the checkpoint's own.",
        read_only=True,
        value_range=(0, 1024, 4),
    ),
    ParamSpec(
        "backend",
        AUTO,
        "Inference engine (skd_ros.backends): auto races the available full-precision ones at configure and "
        "keeps the fastest; auto-reduced also races int8/bf16; any other name forces that engine.",
        read_only=True,
        choices=BACKEND_CHOICES,
    ),
    ParamSpec(
        "cpu_threads",
        1,
        "CPU threads for inference (0: the engine's default, one per core). One is fastest for this small "
        "model inside a ROS process: more PyTorch threads spin against the executor's and DDS's threads.",
        read_only=True,
        value_range=(0, 256, 1),
    ),
    ParamSpec(
        "cameras",
        "",
        "Serve several cameras from this node, batched into one forward pass per frame: comma-separated names "
        "(front,down). Camera <name> is read from <name>/image and published under ~/<name>/. Empty: one camera "
        "on image, outputs directly under ~/.",
        read_only=True,
    ),
    ParamSpec(
        "input_compressed",
        False,
        "Subscribe to sensor_msgs/CompressedImage on <image>/compressed instead of sensor_msgs/Image on image.",
        read_only=True,
    ),
    ParamSpec(
        "qos_reliability",
        "best_effort",
        "Input reliability. best_effort (sensor-data QoS) accepts reliable and best-effort publishers; "
        "reliable accepts reliable publishers only.",
        read_only=True,
        choices=QOS_RELIABILITIES,
    ),
    ParamSpec(
        "qos_depth",
        5,
        "History depth (keep last) of the input subscription and of the outputs.",
        read_only=True,
        value_range=(1, 100, 1),
    ),
    ParamSpec(
        "saliency_encoding",
        "mono8",
        "~/saliency encoding: mono8 (0..255) or 32FC1 (0..1).",
        choices=SALIENCY_ENCODINGS,
    ),
    ParamSpec(
        "saliency_full_size",
        False,
        "Publish ~/saliency at the input image's size (bilinear) instead of the model resolution.",
    ),
    ParamSpec("max_rois", 5, "Publish at most this many attention ROIs (best first).", value_range=(0, 64, 1)),
    ParamSpec(
        "roi_threshold",
        0.5,
        "A model cell is attended when saliency >= min + roi_threshold * (peak - min); in (0, 1].",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_min_contrast",
        0.05,
        "Maps whose peak - min is below this are flat and give no ROI.",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_merge_radius",
        1,
        "Blobs closer than this many model cells are merged into one ROI (0: no merging).",
        value_range=(0, 16, 1),
    ),
    ParamSpec(
        "roi_min_score",
        ROIParams.min_score,
        "Drop ROIs holding less than this share of the map's saliency mass.",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "auto_start",
        True,
        "Configure and activate on start-up. false: wait for a lifecycle manager (ros2 lifecycle set ...).",
        read_only=True,
    ),
    ParamSpec(
        "diagnostics_period",
        1.0,
        "Seconds between diagnostic_msgs/DiagnosticArray messages on /diagnostics.",
        read_only=True,
        value_range=(0.1, 60.0),
    ),
)
PARAMETER_SPECS = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeSettings:
    """Validated parameter values (see ``PARAMETERS`` for what each one does)."""

    weights: str
    device: str
    resolution: int
    backend: str
    cpu_threads: int
    cameras: str
    input_compressed: bool
    qos_reliability: str
    qos_depth: int
    saliency_encoding: str
    saliency_full_size: bool
    max_rois: int
    roi_threshold: float
    roi_min_contrast: float
    roi_merge_radius: int
    roi_min_score: float
    auto_start: bool
    diagnostics_period: float

    @classmethod
    def from_values(cls, values: dict) -> NodeSettings:
        """Check every value; raise ValueError naming each bad parameter, its value and what is allowed."""
        problems = [problem for spec in PARAMETERS if (problem := _check(spec, values.get(spec.name)))]
        if not problems:
            if not DEVICE_PATTERN.fullmatch(values["device"]):
                problems.append(f"device must be auto, cpu, cuda or cuda:N, got {values['device']!r}")
            if values["resolution"] % 4:
                problems.append(f"resolution must be a multiple of 4 (or 0), got {values['resolution']}")
            if values["roi_threshold"] <= 0.0:
                problems.append(f"roi_threshold must be in (0, 1], got {values['roi_threshold']}")
            try:
                camera_names(values["cameras"])
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("invalid parameters: " + "; ".join(problems))
        return cls(**{f.name: type(PARAMETER_SPECS[f.name].default)(values[f.name]) for f in fields(cls)})

    def values(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def roi_params(self) -> ROIParams:
        return ROIParams(
            max_rois=self.max_rois,
            rel_threshold=self.roi_threshold,
            min_contrast=self.roi_min_contrast,
            merge_radius=self.roi_merge_radius,
            min_score=self.roi_min_score,
        )


def camera_names(cameras: str) -> list[str]:
    """The ``cameras`` parameter ("front, down") -> ["front", "down"]; "" -> [] (one unnamed camera).
    Each name becomes a topic namespace, so it must be a ROS name token, and names must differ."""
    names = [name.strip() for name in cameras.split(",")] if cameras.strip() else []
    bad = [name for name in names if not CAMERA_NAME_PATTERN.fullmatch(name)]
    if bad:
        raise ValueError(
            f"cameras must be comma-separated names of letters, digits and underscores, each starting with a "
            f"letter, got {cameras!r} (bad: {', '.join(map(repr, bad))})"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"cameras must not name a camera twice, got {cameras!r}")
    return names


def _check(spec: ParamSpec, value) -> str | None:
    expected = type(spec.default)
    if value is None:
        return f"{spec.name} is missing"
    if type(value) is not expected and not (expected is float and type(value) is int):
        return f"{spec.name} must be a {expected.__name__}, got {value!r}"
    if spec.choices is not None and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if spec.value_range is not None:
        low, high = spec.value_range[:2]
        if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
            return f"{spec.name} must be in [{low}, {high}], got {value!r}"
    return None


class NewestPairMailbox:
    """Hands each camera's newest message, and the one received just before it, from the subscription
    callbacks to the inference worker. ``put`` never blocks and never queues: a message that the worker
    has not taken yet is replaced (and reported as skipped). One condition for all cameras, so that
    the worker wakes for whichever camera sends first and takes every camera's newest frame at once."""

    def __init__(self, cameras: int = 1):
        if cameras < 1:
            raise ValueError(f"a mailbox needs at least one camera, got {cameras}")
        self._cond = threading.Condition()
        self._forget(cameras)
        self._closed = False

    def _forget(self, cameras: int) -> None:
        """Per camera: the message waiting for the worker, the one received before it, the last received."""
        self._pending, self._before_pending, self._last_received = ([None] * cameras for _ in range(3))

    def put(self, message, camera: int = 0) -> bool:
        """Store ``message`` as ``camera``'s newest; True when it replaced one the worker never took."""
        with self._cond:
            skipped = self._pending[camera] is not None
            self._before_pending[camera] = self._last_received[camera]
            self._last_received[camera] = self._pending[camera] = message
            self._cond.notify()
            return skipped

    def take(self, timeout: float | None = None) -> dict[int, tuple] | None:
        """{camera: (newest, the message received before it or None)} for every camera with a message
        waiting, once at least one has; None when closed or on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or any(m is not None for m in self._pending), timeout)
            if self._closed:
                return None
            pairs = {
                camera: (newest, self._before_pending[camera])
                for camera, newest in enumerate(self._pending)
                if newest is not None
            }
            self._pending = [None] * len(self._pending)
            return pairs or None

    def close(self) -> None:
        """Wake the worker and make ``take`` return None; drops what is stored."""
        with self._cond:
            self._closed = True
            self._forget(len(self._pending))
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False


def header_of(message) -> tuple[int, str]:
    """(stamp in ns, frame_id) of a message with a std_msgs/Header."""
    stamp = message.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec), str(message.header.frame_id)


class LiveSaliency:
    """A ``SaliencyPipeline`` fed from a live stream: ``run(newest, before)`` decodes the newest
    message and computes its map, paired with ``before`` (the message received just before it).
    ``run_cameras`` does the same for several streams in one forward pass."""

    def __init__(self, pipeline: SaliencyPipeline, compressed: bool = False):
        self.pipeline = pipeline
        self.decode: Callable[[object], DecodedImage] = decode_compressed if compressed else decode_raw
        self._last_run = None

    def run(self, newest, before) -> tuple[SaliencyResult, DecodedImage]:
        """Raises ImageDecodeError (after restarting pairing) when ``newest`` cannot be read."""
        (outcome,) = run_cameras([self], [(newest, before)])
        if isinstance(outcome, ImageDecodeError):
            raise outcome
        return outcome

    def _frame(self, newest, before) -> DecodedImage:
        """Decode ``newest``, first pushing its true predecessor when frames were skipped."""
        last_run, self._last_run = self._last_run, newest
        buffer = self.pipeline.buffer
        try:
            frame = self.decode(newest)
        except ImageDecodeError:
            buffer.reset()
            raise
        if before is not None and before is not last_run:  # frames were skipped: restore the true predecessor
            try:
                previous = self.decode(before)
            except ImageDecodeError:
                buffer.reset()
            else:
                buffer.push(self.pipeline.estimator.prepare(previous.pixels, previous.order), *header_of(before))
        self.pipeline.encoding = frame.order
        return frame


def run_cameras(
    streams: list[LiveSaliency], pairs: list[tuple]
) -> list[tuple[SaliencyResult, DecodedImage] | ImageDecodeError]:
    """One (newest, before) message pair per stream (streams sharing one estimator), all readable frames
    in a single batched forward pass (``skd_ros.runtime.step_cameras``). An unreadable newest frame gives
    its ImageDecodeError in its place, after restarting that stream's pairing; the others still run."""
    outcomes: list = [None] * len(streams)
    ready = []
    for index, (stream, (newest, before)) in enumerate(zip(streams, pairs, strict=True)):
        try:
            ready.append((index, stream, newest, stream._frame(newest, before)))
        except ImageDecodeError as exc:
            outcomes[index] = exc
    if ready:
        headers = [header_of(newest) for _, _, newest, _ in ready]
        results = step_cameras(
            [stream.pipeline for _, stream, _, _ in ready],
            [frame.pixels for *_, frame in ready],
            [stamp for stamp, _ in headers],
            [frame_id for _, frame_id in headers],
        )
        for (index, *_, frame), result in zip(ready, results, strict=True):
            outcomes[index] = (result, frame)
    return outcomes


def saliency_pixels(result: SaliencyResult, encoding: str, full_size: bool) -> np.ndarray:
    """The map to publish: mono8 (uint8) or 32FC1 (float32), at model resolution or the source size."""
    saliency = result.saliency
    if full_size:
        saliency = resize_map(saliency, result.source_width, result.source_height)
    return to_uint8(saliency) if encoding == "mono8" else saliency.astype(np.float32, copy=False)


def roi_records(result: SaliencyResult) -> np.ndarray:
    """The ROIs as ``skd_ros.roi_record.ROI_DTYPE`` records (with each box's peak), for ``~/rois``."""
    peaks = roi_peaks(result.saliency, result.rois, result.source_width, result.source_height)
    return rois_to_records(result.rois, peaks)


def overlay_rgb(frame: DecodedImage, result: SaliencyResult) -> np.ndarray:
    """Heat map + ROI boxes + peak over the input frame, RGB (for an rgb8 ~/overlay)."""
    drawn = overlay(frame.as_bgr(), result.saliency, result.rois, result.peak)
    return cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB)


class WarningThrottle:
    """At most one message per ``period_s`` for each kind of problem, so that a broken stream at 30 Hz
    does not flood the log while a second, different problem is still reported at once."""

    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.period_s = period_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: Counter = Counter()

    def allow(self, kind: str) -> int | None:
        """None: stay quiet; otherwise log now, mentioning the returned count of messages held back."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.period_s:
            self._suppressed[kind] += 1
            return None
        self._last[kind] = now
        return self._suppressed.pop(kind, 0)


@dataclass
class StatsReport:
    """One diagnostics period: rates in Hz, times in ms (NaN when nothing was processed), totals."""

    period_s: float
    input_hz: float
    output_hz: float
    inference_ms_mean: float
    inference_ms_max: float
    latency_ms_mean: float
    latency_ms_max: float
    rejected_in_period: int
    received: int
    processed: int
    skipped: int
    failed: int
    rejected: dict[str, int] = field(default_factory=dict)


class StreamStats:
    """Counters shared by the subscription callback and the worker (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.received = self.processed = self.skipped = self.failed = 0
        self.rejected: Counter = Counter()
        self._period_start = clock()
        self._reset_period()

    def _reset_period(self) -> None:
        self._received_in_period = self._processed_in_period = self._rejected_in_period = 0
        self._inference_s: list[float] = []
        self._latency_s: list[float] = []

    def count_received(self, skipped: bool) -> None:
        with self._lock:
            self.received += 1
            self._received_in_period += 1
            self.skipped += int(skipped)

    def count_rejected(self, kind: str) -> None:
        with self._lock:
            self.rejected[kind] += 1
            self._rejected_in_period += 1

    def count_failed(self) -> None:
        with self._lock:
            self.failed += 1

    def count_processed(self, latency_s: float, inference_s: float) -> None:
        with self._lock:
            self.processed += 1
            self._processed_in_period += 1
            self._latency_s.append(latency_s)
            self._inference_s.append(inference_s)

    def report(self) -> StatsReport:
        """The statistics since the previous report (rates, times) and since start (totals)."""
        with self._lock:
            now = self._clock()
            period = max(now - self._period_start, 1e-9)
            inference = np.array(self._inference_s) * 1e3
            latency = np.array(self._latency_s) * 1e3
            report = StatsReport(
                period_s=period,
                input_hz=self._received_in_period / period,
                output_hz=self._processed_in_period / period,
                inference_ms_mean=float(inference.mean()) if inference.size else math.nan,
                inference_ms_max=float(inference.max()) if inference.size else math.nan,
                latency_ms_mean=float(latency.mean()) if latency.size else math.nan,
                latency_ms_max=float(latency.max()) if latency.size else math.nan,
                rejected_in_period=self._rejected_in_period,
                received=self.received,
                processed=self.processed,
                skipped=self.skipped,
                failed=self.failed,
                rejected=dict(self.rejected),
            )
            self._period_start = now
            self._reset_period()
            return report

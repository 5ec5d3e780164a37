"""The ROS-free path of a frame through the node: the newest-frame mailbox, decoding and pairing.

The node (``skd_ros.node.saliency_node``) is a thin rclpy shell around these pieces, so that everything here can be
tested without DDS and reused by other front ends (the bag evaluator runs the same path offline).

Processing model. The subscription callback only drops each message into a ``NewestPairMailbox``
(no decoding, no copy). One worker thread takes the newest message from it and runs the model, so
when inference is slower than the camera, frames that arrived in between are *skipped* (counted)
instead of queueing up: the node always works on the newest frame and never on a stale backlog.
A node serving several cameras takes the newest frame of every camera that has one and runs them
in one batched forward pass (``run_cameras``); each camera keeps its own pairing and outputs.

Which pair. For a checkpoint trained on frames a set time apart (``meta["pair_interval_s"]``), the
newest frame pairs with the received frame whose stamp is closest to that long before it; for the paper's
consecutive frames, with (the frame received just before it, the newest frame), in receive order. Either way
the temporal stream sees the interval it was trained on however far behind the node falls. (Pairing with the
last *processed* frame instead would feed it larger, variable jumps whenever frames are skipped.) The mailbox
names both messages; a skipped one is decoded and preprocessed then (the one just before the newest always,
so that pairing restarts and refusals are those of a run over every frame), one already run is in the
pipeline's ``FramePairBuffer``. The buffer restarts pairing when the ``frame_id`` changes or time goes
backwards (a looping bag), so frames from different cameras or from before a jump are never paired;
an unreadable frame also restarts it, since the next good frame has no valid predecessor.
"""

from __future__ import annotations

import posixpath
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from skd_ros.core.bearings import CameraInfoError, CameraModel, camera_model_from_info
from skd_ros.core.device import usable_cores
from skd_ros.core.image_codec import DecodedImage, ImageDecodeError, decode_compressed, decode_raw
from skd_ros.core.preprocess import FramePairBuffer, closest, forget_unreachable
from skd_ros.runtime import SaliencyPipeline, SaliencyResult, in_pool, step_cameras


class NewestPairMailbox:
    """Hands each camera's newest message from the subscription callbacks to the inference worker, with the
    message received just before it and, with ``interval_ns`` (``pair_by_interval``), the received message whose
    stamp is closest to that long before the newest one's: the one to pair it with. ``put`` never queues: a
    message that the worker has not taken yet is replaced (and reported as skipped). One condition for all
    cameras, so that the worker wakes for whichever camera sends first and takes every camera's newest frame
    at once.

    ``put(..., hand_over_s)`` waits, up to that long, until a worker that was idle in ``take`` holds the message.
    Why: the caller is rclpy's executor thread, which after a callback spends a few hundred microseconds of
    Python preparing its next wait, holding the interpreter lock; a worker woken meanwhile cannot run until it
    is done. Blocked here, the executor thread holds no lock, so the worker starts at once, and the executor's
    Python runs later, beside the worker's first call that releases the lock (OpenCV's resize). A busy worker is
    not waited for."""

    def __init__(self, cameras: int = 1, interval_ns: int = 0):
        if cameras < 1:
            raise ValueError(f"a mailbox needs at least one camera, got {cameras}")
        self._cond = threading.Condition()
        self._interval_ns = interval_ns
        self._forget(cameras)
        self._closed = False
        self._worker_idle = False

    def _forget(self, cameras: int) -> None:
        """Per camera: the message waiting for the worker, the one received before it, the last received, and
        (pairing by interval) the (stamp, message) received that a later message may pair with."""
        self._pending, self._before_pending, self._last_received = ([None] * cameras for _ in range(3))
        self._received = [deque(maxlen=FramePairBuffer.MAX_KEPT) for _ in range(cameras)]

    def pair_by_interval(self, interval_ns: int) -> None:
        """Hand over partners ``interval_ns`` before the newest message (0: the message received just before)."""
        with self._cond:
            self._interval_ns = interval_ns
            self._forget(len(self._pending))

    def _remember(self, camera: int, message) -> None:
        stamp = header_of(message)[0]
        received = self._received[camera]
        if received and stamp < received[-1][0]:  # time went backwards: nothing before pairs with what follows
            received.clear()
        received.append((stamp, message))
        forget_unreachable(received, stamp, self._interval_ns)

    def _partner(self, camera: int, newest):
        if not self._interval_ns:
            return None
        earlier = [(stamp, message) for stamp, message in self._received[camera] if message is not newest]
        return earlier[closest(earlier, header_of(newest)[0] - self._interval_ns)][1] if earlier else None

    def put(self, message, camera: int = 0, hand_over_s: float = 0.0) -> bool:
        """Store ``message`` as ``camera``'s newest; True when it replaced one the worker never took. With
        ``hand_over_s``, wait that long at most for an idle worker to take it (see the class)."""
        with self._cond:
            skipped = self._pending[camera] is not None
            self._before_pending[camera] = self._last_received[camera]
            self._last_received[camera] = self._pending[camera] = message
            if self._interval_ns:
                self._remember(camera, message)
            # all: another put() may be waiting on the condition too (callbacks on a multi-threaded executor), and a
            # single notify could wake it instead of the worker
            self._cond.notify_all()
            if hand_over_s > 0 and self._worker_idle:
                self._cond.wait_for(lambda: self._pending[camera] is not message or self._closed, hand_over_s)
            return skipped

    def take(self, timeout: float | None = None) -> dict[int, tuple] | None:
        """{camera: (newest, the message received before it, the message an interval before it)} for every camera
        with a message waiting, once at least one has (None where there is no such message, and for the last
        when not pairing by interval); None when closed or on timeout."""
        with self._cond:
            self._worker_idle = True
            try:
                self._cond.wait_for(lambda: self._closed or any(m is not None for m in self._pending), timeout)
            finally:
                self._worker_idle = False
            if self._closed:
                return None
            pairs = {
                camera: (newest, self._before_pending[camera], self._partner(camera, newest))
                for camera, newest in enumerate(self._pending)
                if newest is not None
            }
            self._pending = [None] * len(self._pending)
            self._cond.notify_all()  # a put() waiting for its message to be taken
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


def camera_info_beside(image_topic: str) -> str:
    """image_transport's convention: the CameraInfo of /cam/image_raw is /cam/camera_info."""
    return posixpath.join(posixpath.dirname(image_topic), "camera_info")


class CameraCalibration:
    """The newest sensor_msgs/CameraInfo of one camera as a ``CameraModel``, parsed once per distinct
    calibration (a camera sends the same one with every frame). ``update`` runs in the subscription callback and
    ``model_for`` in the worker; each replaces or reads one reference, so they need no lock. ``status`` says,
    for /diagnostics, whether the last frame got bearings and, if not, why."""

    NO_CAMERA_INFO = "no CameraInfo received"

    def __init__(self):
        self._key = None
        self._current: tuple[CameraModel | None, str | None] = (None, self.NO_CAMERA_INFO)
        self._reported: set[str] = set()
        self.status = f"none: {self.NO_CAMERA_INFO}"

    def update(self, info) -> None:
        roi = info.roi
        key = (
            str(info.distortion_model),
            tuple(info.d),
            tuple(info.k),
            (info.binning_x, info.binning_y, info.width, info.height),
            (roi.x_offset, roi.y_offset, roi.width, roi.height),
        )
        if key == self._key:
            return
        try:
            self._current = (camera_model_from_info(info), None)
        except CameraInfoError as exc:
            self._current = (None, str(exc))
        self._key = key

    def model_for(self, width: int, height: int) -> tuple[CameraModel | None, str | None]:
        """(the model, None) when the newest CameraInfo describes a ``width`` x ``height`` image; otherwise
        (None, why not) the first time that reason comes up, so that it is reported once, and (None, None) after
        that and before any CameraInfo (the node runs without one)."""
        model, problem = self._current
        if model is not None:
            try:
                model.check_image_size(width, height)
            except CameraInfoError as exc:
                model, problem = None, str(exc)
        self.status = f"published ({model.distortion_model})" if model is not None else f"none: {problem}"
        if problem == self.NO_CAMERA_INFO or problem in self._reported:
            return model, None
        if problem is not None:
            self._reported.add(problem)
        return model, problem


def header_of(message) -> tuple[int, str]:
    """(stamp in ns, frame_id) of a message with a std_msgs/Header."""
    stamp = message.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec), str(message.header.frame_id)


class LiveSaliency:
    """A ``SaliencyPipeline`` fed from a live stream: ``run(newest, before)`` decodes the newest
    message and computes its map, paired with ``before`` (the message received just before it).
    ``run_cameras`` does the same for several streams in one forward pass.

    ``max_pixels``: frames declaring more pixels are refused before decoding. ``min_side``: the smallest
    frame side the model needs, so that a JPEG can be decoded at reduced size (None: always full size;
    ``full_frames`` forces full size while someone needs the frame itself, e.g. for the overlay).
    ``on_refused``: called with the ImageDecodeError of a skipped predecessor that could not be read
    (the newest frame's own error is raised)."""

    UNREADABLE = "unreadable frame"

    def __init__(
        self,
        pipeline: SaliencyPipeline,
        compressed: bool = False,
        max_pixels: int | None = None,
        min_side: int | None = None,
        on_refused: Callable[[ImageDecodeError], None] | None = None,
    ):
        self.pipeline = pipeline
        self.compressed = compressed
        self.max_pixels = max_pixels
        self.min_side = min_side
        self.full_frames = False
        self.on_refused = on_refused or (lambda error: None)
        self._last_run = None
        self._attempted: deque[int] = deque(maxlen=FramePairBuffer.MAX_KEPT)  # stamps of the frames decoded or tried

    def decode(self, message) -> DecodedImage:
        if self.compressed:
            return decode_compressed(message, self.max_pixels, None if self.full_frames else self.min_side)
        return decode_raw(message, self.max_pixels)

    def run(self, newest, before, partner=None) -> tuple[SaliencyResult, DecodedImage]:
        """Raises ImageDecodeError (after restarting pairing) when ``newest`` cannot be read."""
        (outcome,) = run_cameras([self], [(newest, before, partner)])
        if isinstance(outcome, ImageDecodeError):
            raise outcome
        return outcome

    def _frame(self, newest, before, partner=None) -> DecodedImage:
        """Decode ``newest``, first restoring what the worker skipped that the pairing needs: the message received
        just before it (pairing restarts on it as on every frame, and its refusal is counted) and, pairing by
        interval, ``partner``, the frame it pairs with."""
        last_run, self._last_run = self._last_run, newest
        buffer = self.pipeline.buffer
        try:
            frame = self.decode(newest)
        except ImageDecodeError:
            self._attempted.append(header_of(newest)[0])
            buffer.reset(self.UNREADABLE)
            raise
        if before is not None and before is not last_run:
            self._restore(before, buffer.push)
        if partner is not None and buffer.interval_ns and header_of(partner)[0] not in self._attempted:
            self._restore(partner, buffer.recall)
        self._attempted.append(header_of(newest)[0])
        self.pipeline.encoding = frame.order
        return frame

    def _restore(self, message, keep: Callable) -> None:
        """A skipped message decoded and preprocessed, handed to ``keep`` (the buffer's ``push`` or ``recall``);
        unreadable, it restarts pairing and is counted."""
        self._attempted.append(header_of(message)[0])
        try:
            decoded = self.decode(message)
        except ImageDecodeError as error:
            self.pipeline.buffer.reset(self.UNREADABLE)
            self.on_refused(error)
        else:
            keep(self.pipeline.estimator.prepare(decoded.pixels, decoded.order), *header_of(message), decoded.source)


def camera_pool(threads: int, cameras: int) -> Executor | None:
    """The threads a node with several cameras spreads their work over (``run_cameras``); ``threads`` 0: one per
    CPU core this process may use, at most one per camera. None where there would be one thread."""
    threads = threads or min(cameras, usable_cores())
    return ThreadPoolExecutor(threads, thread_name_prefix="skd_camera") if cameras > 1 and threads > 1 else None


def run_cameras(
    streams: list[LiveSaliency], pairs: list[tuple], pool: Executor | None = None
) -> list[tuple[SaliencyResult, DecodedImage] | ImageDecodeError]:
    """The (newest, before[, partner]) messages of each stream (``NewestPairMailbox.take``; streams sharing one
    estimator), all readable frames in a single batched forward pass (``skd_ros.runtime.step_cameras``). An
    unreadable newest frame gives its ImageDecodeError in its place, after restarting that stream's pairing; the
    others still run.
    ``pool``: threads for the streams' decoding and for ``step_cameras``; each stream's own state is touched by
    one thread only."""

    def frame_of(stream: LiveSaliency, pair: tuple) -> DecodedImage | ImageDecodeError:
        try:
            return stream._frame(*pair)
        except ImageDecodeError as exc:
            return exc

    outcomes: list = [None] * len(streams)
    ready = []
    frames = in_pool(pool)(frame_of, streams, pairs)
    for index, (stream, (newest, *_), frame) in enumerate(zip(streams, pairs, frames, strict=True)):
        if isinstance(frame, ImageDecodeError):
            outcomes[index] = frame
        else:
            ready.append((index, stream, newest, frame))
    if ready:
        headers = [header_of(newest) for _, _, newest, _ in ready]
        results = step_cameras(
            [stream.pipeline for _, stream, _, _ in ready],
            [frame.pixels for *_, frame in ready],
            [stamp for stamp, _ in headers],
            [frame_id for _, frame_id in headers],
            [frame.source for *_, frame in ready],
            pool,
        )
        for (index, *_, frame), result in zip(ready, results, strict=True):
            outcomes[index] = (result, frame)
    return outcomes

"""Frames in: validation, resizing to the model resolution, normalisation, and frame pairing.

Frames are H x W x 3 uint8 arrays, **BGR by default** (OpenCV's and ``bgr8``'s order); pass
``encoding="rgb8"`` for RGB. The model itself sees RGB normalised with the ImageNet mean and standard
deviation, the usual convention for saliency networks.

Pairing: the temporal stream sees (previous, current) and the saliency map belongs to the *current*,
newest frame. The paper pairs (current, next); we shift that by one frame so that a live node never
waits for a future frame. The first frame of a sequence (or after a reset) is paired with itself,
i.e. the temporal stream sees no motion for it.

Which previous frame: the one just before (the paper's), or, for a checkpoint that says how far apart its
training pairs were (``meta["pair_interval_s"]``), the frame received closest to that long before the current
one, whatever the camera's rate: a model trained on 10 fps clips then sees 0.1 s of motion from a 30 fps
camera too, not a third of it.
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np

ENCODINGS = ("bgr8", "rgb8")
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# area_resize halves a frame first when it is at least this many times the target on both axes: a source
# block of 6 pixels or more then loses at most a twelfth of a pixel's weight at its fractional edges
HALVING_FACTOR = 6
# a uint8 level -> its normalised value, per RGB channel: one table lookup a pixel instead of four float passes
# over the image (the same float32 arithmetic, so the same values)
_NORMALISED = ((np.arange(256, dtype=np.float32)[:, None] * np.float32(1.0 / 255.0) - MEAN_RGB) / STD_RGB).T.copy()


def check_frame(frame: np.ndarray) -> None:
    """Raise ValueError unless ``frame`` is a non-empty H x W x 3 uint8 array."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be H x W x 3 (3 colour channels), got shape {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame is empty: shape {frame.shape}")


def check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution % 4:
        raise ValueError(f"model resolution must be a positive multiple of 4, got {resolution}")


def area_resize(frame: np.ndarray, width: int, height: int, pool: Executor | None = None) -> np.ndarray:
    """``cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)``, faster for camera frames.

    Area averaging is separable (a source pixel's weight is its x-overlap times its y-overlap), so it
    can run as two 1-D passes. When one axis shrinks by a whole factor (1920 -> 64: 30), OpenCV's
    integer-factor path does that axis over the full frame and only a small image is left for the
    fractional axis. Frames at least ``HALVING_FACTOR`` times larger than the target on both axes are
    first halved with OpenCV's 2x2 fast path (a quarter of the cost of any other area resize of the full
    frame), which moves a fractional block edge by at most half a source pixel: 1920x1080 -> 64x64 takes
    1.4 ms instead of 12 for the 2-D call on one core, 1280x720 -> 96x96 (no whole factor) 0.9 ms
    instead of 2.6, and both stay within a few grey levels of it on camera frames (mean difference
    0.1-0.3; test_backends.py).

    ``pool``: a thread that resizes the frame's bottom half while the caller resizes its top half, where the
    halves map onto whole rows of the result (even heights): an output row averages source rows of one half
    only, so the result is the same to the bit (test_core.py), in about two thirds of the time where a core
    is free (OpenCV's general area path runs on one thread)."""
    source_height, source_width = frame.shape[:2]
    if width > source_width or height > source_height:  # not a pure shrink: INTER_AREA is not separable there
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    large = source_width >= HALVING_FACTOR * width and source_height >= HALVING_FACTOR * height
    halve = large and source_width % 2 == 0 and source_height % 2 == 0
    if pool is not None and height % 2 == 0 and source_height % (4 if halve else 2) == 0:
        middle = source_height // 2
        bottom = pool.submit(_separable_area_resize, frame[middle:], width, height // 2, halve)
        top = _separable_area_resize(frame[:middle], width, height // 2, halve)
        return np.vstack([top, bottom.result()])
    return _separable_area_resize(frame, width, height, halve)


def _separable_area_resize(frame: np.ndarray, width: int, height: int, halve: bool) -> np.ndarray:
    """``area_resize``'s passes, ``halve``: whether the 2x2 step comes first (decided on the whole frame, so a
    half frame takes the same passes)."""
    source_height, source_width = frame.shape[:2]
    if halve:
        source_width, source_height = source_width // 2, source_height // 2
        frame = cv2.resize(frame, (source_width, source_height), interpolation=cv2.INTER_AREA)
    if source_width % width == 0 and source_width > width:
        frame = cv2.resize(frame, (width, source_height), interpolation=cv2.INTER_AREA)
    elif source_height % height == 0 and source_height > height:
        frame = cv2.resize(frame, (source_width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def preprocess(frame: np.ndarray, resolution: int, encoding: str = "bgr8", pool: Executor | None = None) -> np.ndarray:
    """One frame -> a 3 x R x R float32 array, RGB, ImageNet-normalised.

    Resizing uses area interpolation (the paper's resolution reduction: every source pixel counts,
    so small targets are not skipped by the sampling grid). ``pool``: a thread for half the resize
    (``area_resize``)."""
    check_frame(frame)
    check_resolution(resolution)
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    small = area_resize(frame, resolution, resolution, pool)
    normalised = np.empty((3, resolution, resolution), np.float32)
    for channel, source in enumerate((2, 1, 0) if encoding == "bgr8" else (0, 1, 2)):
        np.take(_NORMALISED[channel], small[:, :, source], out=normalised[channel])
    return normalised


def closest(stamped, wanted_ns: int) -> int:
    """The index of the entry of ``stamped`` ((stamp, item) pairs, oldest first) whose stamp is closest to
    ``wanted_ns``; the older of two as close."""
    return min(range(len(stamped)), key=lambda index: abs(stamped[index][0] - wanted_ns))


def forget_unreachable(stamped: deque, newest_ns: int, interval_ns: int) -> None:
    """Drop from the front of ``stamped`` ((stamp, item) pairs, oldest first) the entries no frame from
    ``newest_ns`` on can pair with: an entry with a newer one at least ``interval_ns`` before the newest is never
    the closest again."""
    while len(stamped) > 1 and stamped[1][0] <= newest_ns - interval_ns:
        stamped.popleft()


@dataclass(frozen=True)
class FramePair:
    """Two preprocessed frames of one camera, ``previous`` the earlier (``FramePairBuffer`` says which);
    the saliency map belongs to ``current``."""

    previous: np.ndarray
    current: np.ndarray
    first: bool  # True when ``previous`` is ``current`` (start of a sequence or after a reset)
    # pairing by interval: the kept frames between the two, oldest first (the camera's motion from ``previous``
    # to ``current`` is followed through them, skd_ros.runtime)
    between: tuple[np.ndarray, ...] = ()


class FramePairBuffer:
    """Pairs each new frame with an earlier one from the same camera.

    ``interval_ns`` 0: the frame just before it. Above 0: the kept frame whose stamp is closest to the new
    frame's stamp minus ``interval_ns`` (before that much time has passed, the oldest kept frame; frames
    without a stamp pair with the one just before). The buffer keeps only the frames a later frame can
    still pair with, at most ``MAX_KEPT``; ``recall`` adds one that was skipped, so that a live node that
    skips frames pairs as a run over every frame does.

    The buffer resets (the next frame is paired with itself) when the ``frame_id`` changes, time goes
    backwards (a looping bag, a restarted camera) or the image's size or encoding changes: frames from
    different cameras, from before a jump or of a different kind are never paired. ``resets`` counts the
    restarts, ``reset_reasons`` counts them by reason."""

    FRAME_ID_CHANGED = "frame_id changed"
    TIME_WENT_BACKWARDS = "time went backwards"
    IMAGE_CHANGED = "image size or encoding changed"
    MAX_KEPT = 64  # frames: 0.2 s of a 300 fps camera; a faster one pairs over a shorter interval

    def __init__(self, interval_ns: int = 0):
        if interval_ns < 0:
            raise ValueError(f"interval_ns must be >= 0, got {interval_ns}")
        self.interval_ns = int(interval_ns)
        self._kept: deque[tuple[int | None, np.ndarray]] = deque(maxlen=self.MAX_KEPT)  # (stamp, frame), oldest first
        self._last: np.ndarray | None = None
        self._last_stamp: int | None = None
        self._last_frame_id: str | None = None
        self._last_source: tuple | None = None
        self._run_start: int | None = None  # the stamp of the frame the current run of pairs began with
        self.resets = 0
        self.reset_reasons: Counter = Counter()

    def reset(self, reason: str | None = None) -> None:
        """Forget the last frame; ``reason`` (e.g. an unreadable frame in between) counts it as a restart."""
        if reason is not None and self._last is not None:
            self.resets += 1
            self.reset_reasons[reason] += 1
        self._kept.clear()
        self._last = None
        self._last_stamp = None
        self._last_frame_id = None
        self._last_source = None
        self._run_start = None

    def push(
        self, tensor: np.ndarray, stamp_ns: int | None = None, frame_id: str | None = None, source: tuple | None = None
    ) -> FramePair:
        """``source``: what the frame was sent as, e.g. (width, height, encoding); a change restarts pairing."""
        if self._last is not None:
            if frame_id != self._last_frame_id:
                self.reset(self.FRAME_ID_CHANGED)
            elif stamp_ns is not None and self._last_stamp is not None and stamp_ns < self._last_stamp:
                self.reset(self.TIME_WENT_BACKWARDS)
            elif source != self._last_source:
                self.reset(self.IMAGE_CHANGED)
        if self._last is None:
            self._run_start = stamp_ns
        previous, between = (tensor, ()) if self._last is None else self._partner(stamp_ns)
        pair = FramePair(previous=previous, current=tensor, first=self._last is None, between=between)
        self._last, self._last_stamp, self._last_frame_id, self._last_source = tensor, stamp_ns, frame_id, source
        self._keep(tensor, stamp_ns)
        return pair

    def recall(self, tensor: np.ndarray, stamp_ns: int, frame_id: str | None, source: tuple | None = None) -> bool:
        """Keep a frame that was received but not pushed (a live node skipped it) for the next ``push`` to
        pair with, when pairing by interval and it belongs to the current run: the last pushed frame's
        ``frame_id`` and ``source``, no older than the run's first frame. Returns whether it was kept."""
        belongs = self._last is not None and frame_id == self._last_frame_id and source == self._last_source
        in_run = self._run_start is not None and self._last_stamp is not None and stamp_ns >= self._run_start
        kept_already = any(stamp == stamp_ns for stamp, _ in self._kept)
        if not (self.interval_ns and belongs and in_run) or kept_already or len(self._kept) == self.MAX_KEPT:
            return False
        self._kept.insert(sum(1 for stamp, _ in self._kept if stamp < stamp_ns), (stamp_ns, tensor))  # by stamp
        return True

    def _partner(self, stamp_ns: int | None) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The frame to pair with, and the kept frames between it and the new one."""
        if not self.interval_ns or stamp_ns is None or self._last_stamp is None:
            return self._last, ()
        kept = list(self._kept)
        index = closest(kept, stamp_ns - self.interval_ns)
        return kept[index][1], tuple(tensor for _, tensor in kept[index + 1 :])

    def _keep(self, tensor: np.ndarray, stamp_ns: int | None) -> None:
        if not self.interval_ns or stamp_ns is None or (self._kept and self._kept[0][0] is None):
            self._kept.clear()
        self._kept.append((stamp_ns, tensor))
        forget_unreachable(self._kept, stamp_ns, self.interval_ns)

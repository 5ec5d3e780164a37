"""Per-camera counters and timings for ``/diagnostics``, frames lost before the node (``FrameGapCounter``),
and a log throttle, shared by the subscription callbacks and the worker (thread-safe, ROS-free)."""

from __future__ import annotations

import bisect
import math
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


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


class FrameGapCounter:
    """Frames lost before the node (in the camera driver, in transport, in a queue), counted from gaps in the
    camera's header stamps: a gap of k frame periods between two frames that arrived means k - 1 frames in
    between never did. Frames the node itself skips are not in it: they arrived.

    The frame period is ``period_ns`` when given (the camera's known rate); otherwise it is learned from the
    stream: roughly, the median of the shortest recent intervals that agree with each other (at least
    ``MIN_AGREEING`` within ``AGREEMENT`` of the shortest, among the last ``WINDOW``), so that a stream that loses
    most of its frames still teaches the period through the pairs that did arrive back to back, while a lone short
    interval (two frames stamped together) teaches nothing; then exactly, as the median of every recent interval
    divided by the whole number of rough periods it spans. Stamps alone cannot tell a 10 Hz camera from a 30 Hz camera
    that loses two frames in three: until the stream shows one period (or ``period_ns`` is given), nothing is
    counted, and a steady rate that lasts longer than the window is taken as the camera's own.

    A new frame_id or a stamp that goes back restarts the count (another camera, a looping bag); a gap longer
    than ``MAX_GAP_NS`` is an interruption of the stream (a paused or restarted driver), not lost frames."""

    WINDOW = 100
    MIN_AGREEING = 3
    AGREEMENT = 1.25
    MAX_GAP_NS = 2_000_000_000

    def __init__(self, period_ns: int | None = None):
        self.fixed_period_ns = period_ns
        self._intervals: deque[int] = deque(maxlen=self.WINDOW)
        self._learned_ns: float | None = None
        self._last: tuple[int, str] | None = None

    @property
    def period_ns(self) -> float | None:
        """The frame period in use: the given one, the learned one, or None while still learning."""
        return self.fixed_period_ns or self._learned_ns

    def restart(self) -> None:
        """Forget the last stamp (the stream was interrupted on purpose, e.g. by a deactivate); keep the period."""
        self._last = None

    def add(self, stamp_ns: int, frame_id: str) -> int:
        """Note one frame that arrived -> the number of frames lost just before it."""
        last, self._last = self._last, (stamp_ns, frame_id)
        if last is not None and frame_id != last[1]:
            self._intervals.clear()
            self._learned_ns = None
        if last is None or frame_id != last[1] or not 0 < stamp_ns - last[0] <= self.MAX_GAP_NS:
            return 0
        interval = stamp_ns - last[0]
        if self.fixed_period_ns is None:
            self._intervals.append(interval)
            self._learned_ns = self._learn()
        period = self.period_ns
        return max(0, round(interval / period) - 1) if period else 0

    def _learn(self) -> float | None:
        ordered = sorted(self._intervals)
        for index, shortest in enumerate(ordered):
            end = bisect.bisect_right(ordered, shortest * self.AGREEMENT, lo=index)
            if end - index >= self.MIN_AGREEING:
                rough = statistics.median(ordered[index:end])
                # every interval is a whole number of periods: a long one pins the period down to its jitter / k
                return statistics.median(value / max(1, round(value / rough)) for value in ordered)
        return None


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
    unpublished_in_period: int
    lost_in_period: int
    lost_percent: float  # of the frames the camera sent in this period (received + lost), 0 when none
    received: int
    processed: int
    skipped: int
    lost: int
    failed: int
    rejected: dict[str, int] = field(default_factory=dict)
    unpublished: dict[str, int] = field(default_factory=dict)


class StreamStats:
    """Counters shared by the subscription callback and the worker (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.received = self.processed = self.skipped = self.lost = self.failed = 0
        self.rejected: Counter = Counter()
        self.unpublished: Counter = Counter()  # outputs the middleware would not take, by output name
        self._period_start = clock()
        self._reset_period()

    def _reset_period(self) -> None:
        self._received_in_period = self._processed_in_period = self._rejected_in_period = 0
        self._unpublished_in_period = self._lost_in_period = 0
        self._inference_s: list[float] = []
        self._latency_s: list[float] = []

    def count_received(self, skipped: bool, lost: int = 0) -> None:
        """One frame arrived; ``skipped``: it replaced one the worker never took; ``lost``: frames the camera sent
        before it that never arrived (``FrameGapCounter``)."""
        with self._lock:
            self.received += 1
            self._received_in_period += 1
            self.skipped += int(skipped)
            self.lost += lost
            self._lost_in_period += lost

    def count_rejected(self, kind: str) -> None:
        with self._lock:
            self.rejected[kind] += 1
            self._rejected_in_period += 1

    def count_unpublished(self, output: str) -> None:
        with self._lock:
            self.unpublished[output] += 1
            self._unpublished_in_period += 1

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
                unpublished_in_period=self._unpublished_in_period,
                lost_in_period=self._lost_in_period,
                lost_percent=100.0 * self._lost_in_period / max(1, self._lost_in_period + self._received_in_period),
                received=self.received,
                processed=self.processed,
                skipped=self.skipped,
                lost=self.lost,
                failed=self.failed,
                rejected=dict(self.rejected),
                unpublished=dict(self.unpublished),
            )
            self._period_start = now
            self._reset_period()
            return report

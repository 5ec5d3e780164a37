"""Per-camera counters and timings for ``/diagnostics``, and a log throttle, shared by the subscription
callbacks and the worker (thread-safe, ROS-free)."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
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
    received: int
    processed: int
    skipped: int
    failed: int
    rejected: dict[str, int] = field(default_factory=dict)
    unpublished: dict[str, int] = field(default_factory=dict)


class StreamStats:
    """Counters shared by the subscription callback and the worker (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.received = self.processed = self.skipped = self.failed = 0
        self.rejected: Counter = Counter()
        self.unpublished: Counter = Counter()  # outputs the middleware would not take, by output name
        self._period_start = clock()
        self._reset_period()

    def _reset_period(self) -> None:
        self._received_in_period = self._processed_in_period = self._rejected_in_period = 0
        self._unpublished_in_period = 0
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
                received=self.received,
                processed=self.processed,
                skipped=self.skipped,
                failed=self.failed,
                rejected=dict(self.rejected),
                unpublished=dict(self.unpublished),
            )
            self._period_start = now
            self._reset_period()
            return report

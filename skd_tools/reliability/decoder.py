"""The decoder fuzz: generated messages through the node's own decoding (``skd_ros.node.stream.LiveSaliency``
over ``skd_ros.core.image_codec``, with the node's default limits), in this process, each under a watchdog.

For every case it records what the decoder did (a frame, or the ``ImageDecodeError`` kind), how long it took,
and whether that was right (``messages.FuzzCase.allowed``, the exact pixels of a lossless valid frame, a
decoded size that matches the declared one). Anything else the decoder raises is a crash; a case that runs
past the watchdog is a hang. Frames declaring a huge size are also measured for what they allocate
(tracemalloc, which sees numpy and OpenCV's output arrays, and the process's resident peak, which sees
everything).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from skd_ros.core.image_codec import DecodedImage, ImageDecodeError
from skd_ros.node.settings import PARAMETER_SPECS
from skd_ros.node.stream import LiveSaliency
from skd_tools.reliability.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from skd_tools.reliability.messages import ACCEPTED, FuzzCase
from skd_tools.reliability.parameters import NODE_RESOLUTION

NODE_MAX_PIXELS = PARAMETER_SPECS["max_input_pixels"].default
NODE_MIN_SIDE = 2 * NODE_RESOLUTION  # what the node asks the JPEG decoder for
WATCHDOG_S = 10.0
CRASH, HANG = "crash", "hang"
MEASURED = ("declared huge", "declared at the limit")  # families whose allocations are measured
EXAMPLES_KEPT = 20


class Hang(Exception):
    """Raised into the main thread by the watchdog when a case runs too long."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise ``Hang`` in the main thread after ``seconds`` (between bytecodes: a loop in Python is stopped,
    a call into C is stopped when it returns). Off the main thread, signals cannot be used: no watchdog."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def node_decoder(compressed: bool) -> LiveSaliency:
    """The node's decoding as configured by default (no model: only ``decode`` is used)."""
    return LiveSaliency(None, compressed=compressed, max_pixels=NODE_MAX_PIXELS, min_side=NODE_MIN_SIDE)


def outcome_of(decoder: LiveSaliency, message) -> tuple[str, DecodedImage | None]:
    """(``ACCEPTED`` and the frame) or (the refusal's kind, None); anything else propagates."""
    try:
        return ACCEPTED, decoder.decode(message)
    except ImageDecodeError as error:
        return error.kind, None


def declared_size(message) -> tuple[int, int] | None:
    """(width, height) as a raw image declares it; None for compressed data (its header is what was tested)."""
    return (message.width, message.height) if hasattr(message, "encoding") else None


def problem_with(case: FuzzCase, outcome: str, frame: DecodedImage | None) -> str:
    """Why ``outcome`` is wrong for ``case``; "" when it is right."""
    if outcome not in case.allowed:
        return f"{outcome}, expected {' or '.join(sorted(case.allowed))}"
    if frame is None:
        return ""
    pixels = frame.pixels
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return f"decoded to a {pixels.shape} {pixels.dtype} array, expected H x W x 3 uint8"
    size = declared_size(case.message)
    if size is not None and (frame.source_width, frame.source_height) != size:
        return f"source size {frame.source_width}x{frame.source_height}, declared {size[0]}x{size[1]}"
    if not any(
        (frame.width, frame.height) == (math.ceil(frame.source_width / n), math.ceil(frame.source_height / n))
        for n in (1, 2, 4, 8)
    ):
        source = f"{frame.source_width}x{frame.source_height}"
        return f"decoded {frame.width}x{frame.height} is no reduction of the source {source}"
    if case.reference is not None and not np.array_equal(frame.as_bgr(), case.reference):
        return "decoded pixels differ from the pixels sent"
    return ""


@dataclass
class FamilyStats:
    """One family's cases; for a measured family, the largest allocation of one case: ``traced_bytes``
    (tracemalloc) and ``rss_rise_bytes`` (resident peak above the RSS before it; None where /proc does not
    let the peak be reset)."""

    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    wrong: int = 0
    measured: bool = False
    traced_bytes: int = 0
    rss_rise_bytes: int | None = None


@dataclass
class DecoderFuzz:
    """What the decoder fuzz found. ``examples``: the first cases that went wrong (family, outcome, problem)."""

    families: dict[str, FamilyStats] = field(default_factory=dict)
    examples: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(stats.cases for stats in self.families.values())

    def count(self, outcome: str) -> int:
        return sum(stats.outcomes[outcome] for stats in self.families.values())

    @property
    def wrong(self) -> int:
        return sum(stats.wrong for stats in self.families.values())

    @property
    def refused(self) -> Counter:
        """Refusals by kind (what the node must count in /diagnostics for the same messages)."""
        total = Counter()
        for stats in self.families.values():
            total.update({kind: n for kind, n in stats.outcomes.items() if kind not in (ACCEPTED, CRASH, HANG)})
        return total

    def add(self, case: FuzzCase, outcome: str, seconds: float, problem: str) -> FamilyStats:
        stats = self.families.setdefault(case.family, FamilyStats())
        stats.cases += 1
        stats.outcomes[outcome] += 1
        stats.seconds.append(seconds)
        if problem:
            stats.wrong += 1
            if len(self.examples) < EXAMPLES_KEPT:
                self.examples.append((case.family, outcome, problem))
        return stats


def run_decoder_fuzz(cases: Iterable[FuzzCase], compressed: bool, watchdog_s: float = WATCHDOG_S) -> DecoderFuzz:
    """Every case through the node's decoding; see the module docstring."""
    decoder, found = node_decoder(compressed), DecoderFuzz()
    can_reset_peak = reset_peak_rss()
    for case in cases:
        measured = any(family in case.family for family in MEASURED)
        if measured:
            tracemalloc.start()
            rss_before = rss_bytes()
            reset_peak_rss()
        started = time.perf_counter()
        try:
            with watchdog(watchdog_s):
                outcome, frame = outcome_of(decoder, case.message)
            problem = problem_with(case, outcome, frame)
        except Hang as exc:
            outcome, problem = HANG, str(exc)
        except Exception as exc:  # the point of a fuzz run: anything but ImageDecodeError is a finding
            outcome, problem = CRASH, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        stats = found.add(case, outcome, seconds, problem)
        if measured:
            stats.measured = True
            stats.traced_bytes = max(stats.traced_bytes, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            if can_reset_peak:
                stats.rss_rise_bytes = max(stats.rss_rise_bytes or 0, peak_rss_bytes() - rss_before)
    return found

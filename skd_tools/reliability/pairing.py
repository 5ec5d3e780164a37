"""The pairing fuzz: one topic carrying several cameras (frame_ids), sizes and encodings, with stamps that
go backwards, repeat, are zero or lie far in the future, and bad frames in between, through the node's
ROS-free path (``NewestPairMailbox`` -> ``LiveSaliency.run``) with a worker that falls behind at random.

An estimator stand-in (``RecordingEstimator``) reads each frame's identity from its pixels (the first three
pixels hold it, base 256, in every channel, so that colour order and grey expansion keep it) and records
which two frames every inference paired. Each pair is checked against the node's rule (docs/NODE.md, "How
frames are processed"): the newest frame is paired with the frame received just before it when that one was
readable, of the same frame_id, size and encoding, and not later than it; otherwise with itself. Frames of
different cameras or sizes, across a time jump or across an unreadable frame, are never paired. Every
refusal is counted exactly as the node counts it: the newest frame's own, and a skipped predecessor's when
the newest is readable.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from skd_ros.core.image_codec import RAW_ENCODINGS, ImageDecodeError
from skd_ros.core.preprocess import FramePairBuffer
from skd_ros.node.stream import LiveSaliency, NewestPairMailbox, header_of
from skd_ros.runtime import SaliencyPipeline
from skd_tools.reliability.messages import (
    SECOND,
    CompressedImage,
    RawImage,
    compressed,
    cut_short,
    data_truncated,
    declared_huge_compressed,
    declared_huge_raw,
    empty_data,
    encoded,
    other_format,
    raw_message,
    stamped,
    step_too_short,
    unsupported_encoding,
    zero_size,
)

CAMERAS = ("cam_front", "cam_down", "cam_side")
SIZES = ((32, 24), (40, 30), (24, 32))
BAD_RAW = (step_too_short, data_truncated, zero_size, unsupported_encoding, declared_huge_raw)
BAD_COMPRESSED = (cut_short, declared_huge_compressed, other_format, empty_data)
IDENTITY_DIGITS = 3  # frames 1 .. 256**3 - 1; float32 holds these exactly
EXAMPLES_KEPT = 20


def with_identity(pixels: np.ndarray, identity: int) -> np.ndarray:
    """``pixels`` with ``identity`` written into its first pixels, one base-256 digit per pixel, in every
    channel (16-bit pixels: in the high byte, which is what survives the decoder's scaling to 8 bits)."""
    shift = 8 if pixels.dtype == np.uint16 else 0
    for position in range(IDENTITY_DIGITS):
        pixels[0, position] = ((identity >> (8 * position)) & 0xFF) << shift
    return pixels


def identity_of(pixels: np.ndarray) -> int:
    """The identity ``with_identity`` wrote, read back from a decoded frame (H x W x 3, uint8)."""
    return sum(int(pixels[0, position, 0]) << (8 * position) for position in range(IDENTITY_DIGITS))


class RecordingEstimator:
    """Stands in for ``SaliencyEstimator``: ``prepare`` turns a frame into a tensor filled with the frame's
    identity, ``infer`` records the (previous, current) identities of every pair and returns flat maps."""

    resolution = 8
    pair_interval_ns = 0  # the node's rule for consecutive pairs, the one checked here
    resize_helper = None  # no resize to split

    def __init__(self):
        self.pairs: list[tuple[int, int]] = []

    def prepare(self, pixels: np.ndarray, order: str = "bgr8", pool: Executor | None = None) -> np.ndarray:
        return np.full((3, self.resolution, self.resolution), identity_of(pixels), np.float32)

    def temporal_input(self, previous: np.ndarray, current: np.ndarray, between=(), links=None) -> np.ndarray:
        return previous  # raw pairs: the identities must reach ``infer`` as they were paired

    def infer(self, previous: np.ndarray, current: np.ndarray, pool: Executor | None = None) -> np.ndarray:
        self.pairs.extend(zip(previous[:, 0, 0, 0].astype(int), current[:, 0, 0, 0].astype(int), strict=True))
        return np.zeros((len(current), self.resolution, self.resolution), np.float32)


@dataclass(frozen=True)
class Sent:
    """What the pairing rule needs to know about a message: its header, what it was sent as, and the kind
    of refusal it must get (None: readable)."""

    identity: int
    stamp_ns: int
    frame_id: str
    source: tuple
    refusal: str | None


@dataclass
class PairingFuzz:
    """What the pairing fuzz found. ``violations``: (the rule broken, details) for the first cases that broke
    it; ``counted``/``expected``: refusals by kind as the node's counters would show them, and as the rule
    says they must be."""

    messages: int = 0
    processed: int = 0
    skipped: int = 0
    paired: int = 0
    restarts: Counter = field(default_factory=Counter)
    counted: Counter = field(default_factory=Counter)
    expected: Counter = field(default_factory=Counter)
    anomalies: Counter = field(default_factory=Counter)
    violations: list[tuple[str, str]] = field(default_factory=list)
    violation_count: int = 0

    def violate(self, rule: str, details: str) -> None:
        self.violation_count += 1
        if len(self.violations) < EXAMPLES_KEPT:
            self.violations.append((rule, details))


class StreamGenerator:
    """Messages of one topic: runs of frames from one camera, size and encoding, then a switch; a clock that
    mostly ticks at 30 Hz and now and then jumps (``anomalies`` counts which)."""

    def __init__(self, rng: np.random.Generator, compressed_input: bool, bad_share: float):
        self.rng, self.compressed_input, self.bad_share = rng, compressed_input, bad_share
        self.camera, self.size, self.encoding = CAMERAS[0], SIZES[0], "bgr8"
        self.clock_ns = 1_000 * SECOND
        self.anomalies: Counter = Counter()

    def _switch(self) -> None:
        rng = self.rng
        if rng.random() < 0.15:
            self.camera = CAMERAS[int(rng.integers(len(CAMERAS)))]
        if rng.random() < 0.1:
            self.size = SIZES[int(rng.integers(len(SIZES)))]
        if not self.compressed_input and rng.random() < 0.1:
            self.encoding = str(rng.choice(list(RAW_ENCODINGS)))

    def _stamp(self) -> int:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.04:
            self.anomalies["backwards"] += 1
            self.clock_ns -= int(rng.integers(1, 10 * SECOND))
        elif roll < 0.08:
            self.anomalies["repeated"] += 1
            return self.clock_ns
        elif roll < 0.10:
            self.anomalies["zero"] += 1
            return 0
        elif roll < 0.12:
            self.anomalies["far future"] += 1
            return (2**31 - 1) * SECOND + int(rng.integers(SECOND))
        else:
            self.clock_ns += SECOND // 30
        return self.clock_ns

    def next(self, identity: int) -> tuple[RawImage | CompressedImage, Sent]:
        self._switch()
        stamp_ns, (width, height) = self._stamp(), self.size
        if self.rng.random() < self.bad_share:
            families = BAD_COMPRESSED if self.compressed_input else BAD_RAW
            case = families[int(self.rng.integers(len(families)))](self.rng)
            (refusal,) = case.allowed
            message, source = case.message, ()
        else:
            refusal = None
            if self.compressed_input:
                pixels = with_identity(self.rng.integers(0, 256, (height, width, 3), dtype=np.uint8), identity)
                message, source = compressed(encoded(pixels, ".png"), "png"), (width, height, "png")
            else:
                channels, depth = RAW_ENCODINGS[self.encoding]
                dtype = np.uint16 if depth == 2 else np.uint8
                shape = (height, width) if channels == 1 else (height, width, channels)
                pixels = self.rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=np.int64).astype(dtype)
                message = raw_message(with_identity(pixels, identity), self.encoding)
                source = (width, height, self.encoding)
        message.header = stamped(stamp_ns, self.camera)
        return message, Sent(identity, *header_of(message), source, refusal)


def restart_reason(before: Sent, newest: Sent) -> str | None:
    """Why the node's rule restarts pairing between two readable frames received one after the other (the
    reasons ``FramePairBuffer`` counts, checked in its order), or None when they pair."""
    if before.frame_id != newest.frame_id:
        return FramePairBuffer.FRAME_ID_CHANGED
    if newest.stamp_ns < before.stamp_ns:
        return FramePairBuffer.TIME_WENT_BACKWARDS
    if before.source != newest.source:
        return FramePairBuffer.IMAGE_CHANGED
    return None


def expected_previous(newest: Sent, before: Sent | None) -> int:
    """The identity the node's rule pairs ``newest`` with."""
    if before is None or before.refusal is not None or restart_reason(before, newest):
        return newest.identity
    return before.identity


def run_pairing_fuzz(count: int, seed: int = 0, compressed_input: bool = False, bad_share: float = 0.1) -> PairingFuzz:
    """``count`` messages through the mailbox and ``LiveSaliency``; the worker takes the newest after each
    message with probability 1/2, so about half the frames are skipped and their predecessors decoded."""
    rng = np.random.default_rng(seed)
    estimator = RecordingEstimator()
    found = PairingFuzz()
    live = LiveSaliency(
        SaliencyPipeline(estimator),
        compressed=compressed_input,
        max_pixels=7680 * 4320,
        on_refused=lambda error: found.counted.update([error.kind]),
    )
    mailbox, stream = NewestPairMailbox(), StreamGenerator(rng, compressed_input, bad_share)
    sent: dict[int, Sent] = {}
    sent_as: dict[int, int] = {}  # id() of a message the mailbox may hand back -> its identity
    last_run: Sent | None = None
    for identity in range(1, count + 1):
        message, sent[identity] = stream.next(identity)
        sent_as[id(message)] = identity
        found.skipped += mailbox.put(message)
        found.messages += 1
        if rng.random() < 0.5 and identity < count:
            continue
        ((newest_message, before_message, _),) = mailbox.take(timeout=0).values()  # consecutive pairs: no partner
        newest = sent[sent_as[id(newest_message)]]
        before = None if before_message is None else sent[sent_as[id(before_message)]]
        pairs_before = len(estimator.pairs)
        try:
            result, _ = live.run(newest_message, before_message)
        except ImageDecodeError as error:
            found.counted[error.kind] += 1
            result = None
        check_step(found, estimator.pairs[pairs_before:], newest, before, last_run, sent, result)
        last_run = newest
    found.restarts = Counter(live.pipeline.buffer.reset_reasons)
    found.anomalies = stream.anomalies
    return found


def check_step(found: PairingFuzz, pairs, newest: Sent, before: Sent | None, last_run, sent, result) -> None:
    """One worker step against the rule; updates the expected refusal counts."""
    if newest.refusal is not None:
        found.expected[newest.refusal] += 1
        if pairs or result is not None:
            found.violate("a refused frame was run through the model", f"frame {newest.identity}: pairs {pairs}")
        return
    if before is not None and before is not last_run and before.refusal is not None:
        found.expected[before.refusal] += 1  # a skipped predecessor, decoded for the pairing: counted
    if len(pairs) != 1:
        found.violate("one inference per readable newest frame", f"frame {newest.identity}: pairs {pairs}")
        return
    found.processed += 1
    (previous, current), wanted = pairs[0], expected_previous(newest, before)
    found.paired += previous != current
    if current != newest.identity or previous != wanted:
        found.violate(
            "the newest frame is paired with its readable, compatible predecessor or itself",
            f"paired ({previous}, {current}), expected ({wanted}, {newest.identity})",
        )
    if previous != current:
        first = sent[previous]
        mismatch = [
            what
            for what, differs in (
                ("camera", first.frame_id != newest.frame_id),
                ("size or encoding", first.source != newest.source),
                ("time order", first.stamp_ns > newest.stamp_ns),
            )
            if differs
        ]
        if mismatch:
            found.violate(f"paired across {', '.join(mismatch)}", f"{first} with {newest}")

"""One node process under test and the bookkeeping every phase of the live fuzz shares (``NodeSession``): the
watchdog around each exchange (an unanswered message past it is a hang, a node process that is gone a crash), the
sentinels and stamps, what /diagnostics counted during a phase, the node's exit code and log at the end; and the
results, phase by phase (``PhaseResult``) and node by node (``NodeRun``)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skd_ros.core import image_codec
from skd_ros.core.image_codec import RAW_ENCODINGS
from skd_tools.reliability.memory import RssSampler
from skd_tools.reliability.messages import (
    SECOND,
    CompressedImage,
    encoded,
    random_pixels,
    raw_message,
    sentinel_frame,
    stamped,
)
from skd_tools.reliability.node_driver import WATCHDOG_S, NodeLink, NodeProcess, key_of

STARTUP_S = 120.0
HANGS_BEFORE_GIVING_UP = 3
EXAMPLES_KEPT = 20
# a phrase of each refusal kind's log line (skd_ros.core.image_codec's messages): every kind counted must be logged
KIND_LOG_PHRASES = {
    image_codec.EMPTY: ("is empty", "has no data"),
    image_codec.UNSUPPORTED_ENCODING: ("unsupported encoding", "is a depth image"),
    image_codec.BAD_STEP: ("is shorter than one row",),
    image_codec.SIZE_MISMATCH: ("data is truncated", "data is too long"),
    image_codec.UNDECODABLE: ("cannot decode compressed image",),
    image_codec.TOO_LARGE: ("more than max_input_pixels",),
}


@dataclass
class PhaseResult:
    """One phase against one node. ``cases``: messages, changes or transitions tried; ``expected`` and
    ``counted``: refusals by kind, as the rule says and as /diagnostics counted them during the phase;
    ``rss_after_case``: the node's RSS after each case; ``round_trips_s``: sentinel answers' round trips;
    ``details``: the phase's own numbers."""

    name: str
    cases: int = 0
    hangs: int = 0
    crashed: bool = False
    problem_count: int = 0
    problems: list[str] = field(default_factory=list)
    expected: Counter = field(default_factory=Counter)
    counted: Counter = field(default_factory=Counter)
    rss_after_case: list[int] = field(default_factory=list)
    round_trips_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < EXAMPLES_KEPT:
            self.problems.append(text)

    @property
    def ok(self) -> bool:
        return not (self.hangs or self.crashed or self.problem_count) and self.counted == self.expected


@dataclass
class NodeRun:
    """Everything one node process went through: ``baseline_rss``: after the warm-up; ``rss``: the sampler's
    (seconds, bytes, phase) series; ``exit_code`` and ``log_problems`` once stopped."""

    input_kind: str
    command: str
    phases: list[PhaseResult] = field(default_factory=list)
    baseline_rss: int = 0
    rss: list[tuple[float, int, str]] = field(default_factory=list)
    exit_code: int | None = None
    log_problems: list[str] = field(default_factory=list)
    log_path: str = ""


def bad_input_counts(values: dict[str, str]) -> Counter:
    prefix = "bad input: "
    return Counter({key[len(prefix) :]: int(value) for key, value in values.items() if key.startswith(prefix)})


class NodeSession:
    """One node process under test and what every phase shares: the watchdog exchange, sentinels, stamps, the
    phase bookkeeping, the end (see ``skd_tools.reliability.live``)."""

    def __init__(self, context, namespace: str, log_path: Path, compressed: bool, seed: int):
        self.compressed = compressed
        self.rng = np.random.default_rng(seed)
        self.traffic_rng = np.random.default_rng(seed + 1)  # for the lifecycle phase's second thread
        self.seed = seed
        self.process = NodeProcess(namespace, log_path, compressed)
        self.link = NodeLink(context, namespace, compressed)
        self.sampler = RssSampler(self.process.pid)
        self.run = NodeRun("CompressedImage" if compressed else "Image", " ".join(self.process.command))
        self.run.log_path = str(log_path)
        self._sentinels = 0
        self._stamp_ns = 2 * 10**6 * SECOND  # traffic stamps: after the fuzz cases' and the sentinels'

    # --- shared steps ---------------------------------------------------------------------------------

    def connect(self, timeout: float = STARTUP_S) -> None:
        deadline = time.monotonic() + timeout
        while not self.link.connected():
            if not self.process.alive():
                raise RuntimeError(
                    f"the node exited with code {self.process.process.returncode}:\n{self.process.log()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node did not subscribe within {timeout:g} s:\n{self.process.log()}")
            time.sleep(0.05)

    def next_sentinel(self):
        self._sentinels += 1
        return sentinel_frame(self._sentinels, self.compressed)

    def next_stamp(self) -> int:
        self._stamp_ns += SECOND // 30
        return self._stamp_ns

    def exchange(self, message, phase: PhaseResult, resend: bool = False) -> bool:
        """Publish ``message`` and wait for its answer under the watchdog (republishing every second with
        ``resend``, for the moment after an activation when the node's subscription is still matching).
        Records a hang or the crash; True when answered."""
        started, key = time.monotonic(), key_of(message)
        count = self.link.answers(key) + 1
        while True:
            self.link.publish(message)
            wait = 1.0 if resend else WATCHDOG_S
            if self.link.wait_for_answer(key, count, wait):
                phase.round_trips_s.append(time.monotonic() - started)
                return True
            if not self.process.alive():
                phase.crashed = True
                return False
            if time.monotonic() - started >= WATCHDOG_S:
                phase.hangs += 1
                return False

    def begin(self, name: str) -> tuple[PhaseResult, Counter, float]:
        self.sampler.mark(name)
        values = self.link.fresh_diagnostics() or {}
        return PhaseResult(name), bad_input_counts(values), time.monotonic()

    def end(self, phase: PhaseResult, counted_before: Counter, started: float) -> PhaseResult:
        """Read what /diagnostics counted during the phase; check that no output answers a refused message."""
        values = self.link.fresh_diagnostics() if self.process.alive() else None
        if values is None:
            phase.problem("no /diagnostics at the end of the phase")
        else:
            phase.counted = bad_input_counts(values) - counted_before
            if values.get("frames failed", "0") != "0":
                phase.problem(f"/diagnostics: frames failed = {values['frames failed']}")
            unpublished = {k: v for k, v in values.items() if k.startswith("not published")}
            if unpublished:
                phase.problem(f"/diagnostics: {unpublished}")
        phase.seconds = time.monotonic() - started
        self.run.phases.append(phase)
        return phase

    def give_up(self, phase: PhaseResult) -> bool:
        return phase.crashed or phase.hangs >= HANGS_BEFORE_GIVING_UP

    def good_frame(self, width: int, height: int, rng: np.random.Generator, frame_id: str):
        """A readable frame: JPEG for compressed input, else one of the raw encodings, 16-bit included."""
        if self.compressed:
            message = CompressedImage(stamped(0), "jpeg", encoded(random_pixels(rng, height, width, 3), ".jpg"))
        else:
            encoding = str(rng.choice(["bgr8", "rgb8", "mono8", "bgra8", "mono16"]))
            channels, depth = RAW_ENCODINGS[encoding]
            pixels = random_pixels(rng, height, width, channels, np.uint16 if depth == 2 else np.uint8)
            message = raw_message(pixels, encoding)
        message.header = stamped(self.next_stamp(), frame_id)
        return message

    # --- the end --------------------------------------------------------------------------------------

    def finish(self) -> NodeRun:
        """Stop the node (SIGINT), then check its exit code and log: no traceback, a line for every kind of
        refusal it counted."""
        self.sampler.stop()
        self.run.rss = list(self.sampler.samples)
        self.link.close()
        self.run.exit_code = self.process.stop()
        log = self.process.log()
        if "Traceback" in log:
            self.run.log_problems.append("the log holds a traceback")
        kinds = {kind for phase in self.run.phases for kind in phase.counted}
        for kind in sorted(kinds):
            if not any(phrase in log for phrase in KIND_LOG_PHRASES.get(kind, (kind,))):
                self.run.log_problems.append(f"no log line for refusals of kind {kind!r}")
        return self.run

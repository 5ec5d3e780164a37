"""The live-node fuzz: the node as its own process (``python -m skd_ros.node.saliency_node``, the code this
package was imported from) driven over DDS by this process with generated bad input, header anomalies,
runtime parameter changes, lifecycle transitions under traffic and a soak, its resident memory read from /proc.

Counting is exact because every bad message is looked at: messages go reliably to a reliable subscription,
and each bad one is followed by a good *sentinel* frame whose output is awaited. The node either takes the
bad frame as its newest (refused, counted) or skips it and decodes it as the sentinel's predecessor
(refused, counted), so /diagnostics must show, kind by kind, exactly the refusals that this process's own
run of the same decoding gives for the same messages. A wait past the watchdog is a hang; a node process
that is gone is a crash. No output may ever carry the header of a refused message.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage as RosCompressedImage
from sensor_msgs.msg import Image as RosImage
from sensor_msgs.msg import PointCloud2

import skd_ros
from skd_ros.core import image_codec
from skd_ros.core.image_codec import RAW_ENCODINGS
from skd_ros.node.settings import PARAMETER_SPECS
from skd_ros.node.stream import header_of
from skd_tools.reliability.decoder import CRASH, node_decoder, outcome_of
from skd_tools.reliability.memory import RssSampler, rss_bytes
from skd_tools.reliability.messages import (
    ACCEPTED,
    SECOND,
    CompressedImage,
    FuzzCase,
    declared_huge_compressed,
    declared_huge_raw,
    encoded,
    iter_cases,
    random_pixels,
    raw_message,
    sentinel_frame,
    stamped,
)
from skd_tools.reliability.pairing import StreamGenerator, restart_reason
from skd_tools.reliability.parameters import defaults_of_writable, parameter_change, saliency_size

PACKAGE_ROOT = Path(skd_ros.__file__).resolve().parents[1]  # the node runs the code this driver imported
NODE_PARAMETERS = {"backend": "eager", "qos_reliability": "reliable", "diagnostics_period": 0.2}
RESOLUTION = PARAMETER_SPECS["resolution"].default
WATCHDOG_S = 10.0
STARTUP_S = 120.0
HANGS_BEFORE_GIVING_UP = 3
EXAMPLES_KEPT = 20
OUTPUT_TYPES = {"saliency": RosImage, "rois": PointCloud2, "attention": PointStamped}
# a phrase of each refusal kind's log line (skd_ros.core.image_codec's messages): every kind counted must be logged
KIND_LOG_PHRASES = {
    image_codec.EMPTY: ("is empty", "has no data"),
    image_codec.UNSUPPORTED_ENCODING: ("unsupported encoding", "is a depth image"),
    image_codec.BAD_STEP: ("is shorter than one row",),
    image_codec.SIZE_MISMATCH: ("data is truncated", "data is too long"),
    image_codec.UNDECODABLE: ("cannot decode compressed image",),
    image_codec.TOO_LARGE: ("more than max_input_pixels",),
}
TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
}
LIFECYCLE = {  # (state, transition) -> the state it leads to; any other transition must be refused
    ("unconfigured", "configure"): "inactive",
    ("inactive", "cleanup"): "unconfigured",
    ("inactive", "activate"): "active",
    ("active", "deactivate"): "inactive",
}


def key_of(message) -> tuple[str, int]:
    """(frame_id, stamp in ns): how an output is matched to the input it answers."""
    stamp_ns, frame_id = header_of(message)
    return frame_id, stamp_ns


def to_ros(message):
    """A ``messages.RawImage`` / ``CompressedImage`` as the rclpy message with the same fields."""
    if isinstance(message, CompressedImage):
        ros = RosCompressedImage(format=message.format)
    else:
        fields = ("height", "width", "encoding", "is_bigendian", "step")
        ros = RosImage(**{name: getattr(message, name) for name in fields})
    ros.data = message.data
    ros.header.stamp.sec, ros.header.stamp.nanosec = message.header.stamp.sec, message.header.stamp.nanosec
    ros.header.frame_id = message.header.frame_id
    return ros


class NodeProcess:
    """The node under test: ``python -m skd_ros.node.saliency_node`` in ``namespace``, its output in a log file."""

    def __init__(self, namespace: str, log_path: Path, compressed: bool):
        parameters = {**NODE_PARAMETERS, "input_compressed": compressed}
        self.command = [sys.executable, "-m", "skd_ros.node.saliency_node", "--ros-args", "-r", f"__ns:={namespace}"]
        for name, value in parameters.items():
            self.command += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PACKAGE_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss(self) -> int:
        """Resident memory in bytes; 0 once the process is gone."""
        try:
            return rss_bytes(self.pid)
        except (OSError, KeyError):
            return 0

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT, as Ctrl-C; the exit code (killed after ``timeout``: -9)."""
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class NodeLink:
    """This process's side of the link to the node: a publisher of its input, subscribers of its outputs and
    /diagnostics, and clients of its lifecycle and parameter services, spun in a background thread."""

    def __init__(self, context, namespace: str, compressed: bool):
        self.fqn = f"{namespace}/saliency_node"
        self.context = context
        self.node = rclpy.create_node(f"skd_reliability_{os.getpid()}", context=context)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        topic = f"{namespace}/image" + ("/compressed" if compressed else "")
        self.publisher = self.node.create_publisher(RosCompressedImage if compressed else RosImage, topic, qos)
        self._cond = threading.Condition()
        self.outputs: Counter = Counter()  # (output, frame_id, stamp_ns) -> messages received
        self.saliency_shapes: dict[tuple[str, int], tuple[str, int, int]] = {}  # key -> (encoding, width, height)
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_received = 0
        for name, msg_type in OUTPUT_TYPES.items():
            self.node.create_subscription(msg_type, f"{self.fqn}/{name}", functools.partial(self._record, name), qos)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._record_diagnostics, 50)
        self._change_state = self.node.create_client(ChangeState, f"{self.fqn}/change_state")
        self._get_state = self.node.create_client(GetState, f"{self.fqn}/get_state")
        self._set_parameters = self.node.create_client(SetParameters, f"{self.fqn}/set_parameters")
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, name="skd_reliability_spin", daemon=True)
        self._thread.start()

    def _record(self, name: str, msg) -> None:
        key = (msg.header.frame_id, msg.header.stamp.sec * SECOND + msg.header.stamp.nanosec)
        with self._cond:
            self.outputs[(name, *key)] += 1
            if name == "saliency":
                self.saliency_shapes[key] = (msg.encoding, msg.width, msg.height)
            self._cond.notify_all()

    def _record_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name == f"{self.fqn}: saliency":
                with self._cond:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics_received += 1
                    self._cond.notify_all()

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=5.0)
        self._thread.join(5.0)
        self.node.destroy_node()

    def connected(self) -> bool:
        return self.publisher.get_subscription_count() > 0

    def publish(self, message) -> None:
        self.publisher.publish(to_ros(message))

    def answers(self, key: tuple[str, int]) -> int:
        with self._cond:
            return self.outputs[("saliency", *key)]

    def wait_for_answer(self, key: tuple[str, int], count: int = 1, timeout: float = WATCHDOG_S) -> bool:
        """Whether ``~/saliency`` answered ``key`` ``count`` times within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.outputs[("saliency", *key)] >= count, timeout)

    def fresh_diagnostics(self, timeout: float = WATCHDOG_S) -> dict[str, str] | None:
        """The values of a /diagnostics message the node sent after everything it published so far (the
        second one to arrive from now: the first may have been on its way already)."""
        with self._cond:
            wanted = self.diagnostics_received + 2
            if not self._cond.wait_for(lambda: self.diagnostics_received >= wanted, timeout):
                return None
            return dict(self.diagnostics)

    def _call(self, client, request, timeout: float):
        """The service's response, or None when it did not come within ``timeout``."""
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        return future.result() if done.wait(timeout) else None

    def change_state(self, transition: str, timeout: float = WATCHDOG_S) -> bool | None:
        request = ChangeState.Request(transition=Transition(id=TRANSITIONS[transition]))
        response = self._call(self._change_state, request, timeout)
        return None if response is None else response.success

    def state(self, timeout: float = WATCHDOG_S) -> str | None:
        response = self._call(self._get_state, GetState.Request(), timeout)
        return None if response is None else response.current_state.label

    def set_parameter(self, name: str, value, timeout: float = WATCHDOG_S):
        """The node's SetParametersResult for one parameter, or None on timeout."""
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        response = self._call(self._set_parameters, request, timeout)
        return None if response is None else response.results[0]


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


class LiveFuzz:
    """One node process and the phases run against it (see the module docstring)."""

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

    # --- phases ---------------------------------------------------------------------------------------

    def warm_up(self, frames: int) -> PhaseResult:
        """Sentinels only: the round trip and the resident memory every later case is compared with."""
        phase, before, started = self.begin("warm-up")
        for _ in range(frames):
            phase.cases += 1
            if not self.exchange(self.next_sentinel(), phase, resend=phase.cases == 1) and self.give_up(phase):
                break
        self.run.baseline_rss = self.process.rss()
        return self.end(phase, before, started)

    def message_fuzz(self, cases: Iterable[FuzzCase], name: str = "message fuzz") -> PhaseResult:
        """Each case, then a sentinel whose answer is awaited; refusals must be counted exactly as this
        process's own decoding refuses the same messages, and no output may answer a refused one."""
        phase, before, started = self.begin(name)
        decoder, refused_keys = node_decoder(self.compressed), []
        for case in cases:
            try:
                outcome, _ = outcome_of(decoder, case.message)
            except Exception as exc:  # the decoder fuzz reports these; here the node must survive it
                outcome = CRASH
                phase.problem(f"{case.family}: this process's decoder raised {exc!r}")
            if outcome != ACCEPTED:
                phase.expected[outcome] += 1
                refused_keys.append(key_of(case.message))
            phase.cases += 1
            self.link.publish(case.message)
            answered = self.exchange(self.next_sentinel(), phase)
            phase.rss_after_case.append(self.process.rss())
            if not answered and self.give_up(phase):
                break
        phase.expected.pop(CRASH, None)  # the node counts those as failures, not refusals
        answered_refused = [key for key in refused_keys for name in OUTPUT_TYPES if self.link.outputs[(name, *key)]]
        for key in answered_refused[:EXAMPLES_KEPT]:
            phase.problem(f"an output answered the refused message {key}")
        phase.details["outputs for refused messages"] = len(answered_refused)
        return self.end(phase, before, started)

    def huge_headers(self, count: int) -> PhaseResult:
        """Messages declaring 16000 x 16000, 20000 x 20000 and larger, each followed by a sentinel: counted,
        answered as fast as a sentinel alone, and without the node's memory moving."""
        family = declared_huge_compressed if self.compressed else declared_huge_raw
        cases = []
        for index in range(count):
            case = family(self.rng)
            case.message.header = stamped((index + 1) * SECOND, "huge")
            cases.append(case)
        return self.message_fuzz(cases, "declared huge")

    def header_anomalies(self, count: int) -> PhaseResult:
        """Readable frames, one after the other, from several cameras, sizes and encodings, with stamps going
        backwards, repeated, zero and far in the future: each answered with its exact header, and each pairing
        restart counted under the reason the rule gives."""
        phase, before, started = self.begin("header anomalies")
        stream = StreamGenerator(self.rng, self.compressed, bad_share=0.0)
        previous, restarts, first_values = None, Counter(), None
        for identity in range(1, count + 1):
            message, sent = stream.next(identity)
            phase.cases += 1
            if not self.exchange(message, phase):
                if self.give_up(phase):
                    break
                continue
            if previous is None:  # the first frame's restart depends on what came before the phase
                first_values = self.link.fresh_diagnostics() or {}
            elif reason := restart_reason(previous, sent):
                restarts[reason] += 1
            previous = sent
            phase.rss_after_case.append(self.process.rss())
        phase.details["anomalies"] = dict(stream.anomalies)
        phase.details["restarts expected"] = dict(restarts)
        values = self.link.fresh_diagnostics() or {}
        counted = Counter({
            key.split(": ", 1)[1]: int(value) - int((first_values or {}).get(key, 0))
            for key, value in values.items()
            if key.startswith("pairing restarts: ")
        })  # fmt: skip
        phase.details["restarts counted"] = dict(+counted)
        if +counted != restarts:
            phase.problem(f"pairing restarts counted {dict(+counted)}, expected {dict(restarts)}")
        return self.end(phase, before, started)

    def parameter_fuzz(self, count: int) -> PhaseResult:
        """Random parameter changes over the service, each followed by a sentinel: invalid ones refused with
        a reason, valid ones taken and in effect for the very next frame; the defaults restored at the end."""
        phase, before, started = self.begin("parameters")
        values = defaults_of_writable()
        outcomes: Counter = Counter()
        for _ in range(count):
            change = parameter_change(self.rng)
            phase.cases += 1
            result = self.link.set_parameter(change.name, change.value)
            if result is None:
                phase.hangs += 1
            else:
                outcomes[(change.why, "taken" if result.successful else "refused")] += 1
                if result.successful != change.accepted:
                    phase.problem(f"{change.name} = {change.value!r} ({change.why}): successful={result.successful}")
                elif not result.successful and not result.reason.strip():
                    phase.problem(f"{change.name} = {change.value!r} refused without a reason")
                if result.successful:
                    values[change.name] = change.value
            if not self._check_answer(phase, values) and self.give_up(phase):
                break
        for name, value in defaults_of_writable().items():
            result = self.link.set_parameter(name, value)
            if result is None or not result.successful:
                phase.problem(f"restoring {name} = {value!r} failed: {result}")
        phase.details["outcomes"] = {f"{why}: {taken}": n for (why, taken), n in sorted(outcomes.items())}
        return self.end(phase, before, started)

    def _check_answer(self, phase: PhaseResult, values: dict) -> bool:
        """A sentinel's answer, in the encoding and size the parameters now ask for."""
        sentinel = self.next_sentinel()
        if not self.exchange(sentinel, phase):
            return False
        phase.rss_after_case.append(self.process.rss())
        shape = self.link.saliency_shapes.get(key_of(sentinel))
        width, height = saliency_size(values, (64, 48), RESOLUTION)
        if shape != (values["saliency_encoding"], width, height):
            phase.problem(f"answer {shape} after {values}, expected ({values['saliency_encoding']}, {width}, {height})")
        return True

    def lifecycle_fuzz(self, count: int, traffic_hz: float = 100.0, dwell_s: float = 0.1) -> PhaseResult:
        """Random transitions (valid and not, repeated) while frames keep arriving from a second thread:
        every transition does what the state machine says, the node answers whenever it is active, and
        never answers a frame sent while it was surely not (no transition in flight, not active)."""
        phase, before, started = self.begin("lifecycle")
        state = self.link.state()
        lock, stop = threading.Lock(), threading.Event()
        guard = {"state": state, "in flight": False}
        must_not_answer: list[tuple[str, int]] = []

        def traffic() -> None:
            while not stop.wait(1.0 / traffic_hz):
                message = self._good_frame(64, 48, self.traffic_rng, "traffic")
                with lock:
                    self.link.publish(message)
                    if guard["state"] != "active" and not guard["in flight"]:
                        must_not_answer.append(key_of(message))

        thread = threading.Thread(target=traffic, name="skd_reliability_traffic", daemon=True)
        thread.start()
        taken: Counter = Counter()
        try:
            for _ in range(count):
                valid = [t for t in TRANSITIONS if (state, t) in LIFECYCLE]
                # half the time a transition the state allows, so that the node goes round its states
                transition = str(self.rng.choice(valid if self.rng.random() < 0.5 else list(TRANSITIONS)))
                phase.cases += 1
                with lock:
                    guard["in flight"] = True
                success = self.link.change_state(transition)
                now = self.link.state()
                with lock:
                    guard["state"], guard["in flight"] = now, False
                wanted = LIFECYCLE.get((state, transition))
                taken[(transition, "taken" if success else "refused")] += 1
                if success is None or now is None:
                    phase.hangs += 1
                elif success != (wanted is not None) or now != (wanted or state):
                    phase.problem(
                        f"{transition} from {state}: success={success}, now {now}, expected {wanted or state}"
                    )
                state = now or state
                if state == "active" and not self.exchange(self.next_sentinel(), phase, resend=True):
                    phase.problem(f"no answer while active (after {transition})")
                elif state != "active":
                    time.sleep(dwell_s)  # traffic in this state: none of it may be answered
                phase.rss_after_case.append(self.process.rss())
                if self.give_up(phase):
                    break
        finally:
            stop.set()
            thread.join()
        for transition in self._path_to_active(state):
            if not self.link.change_state(transition):
                phase.problem(f"could not {transition} back to active")
        self.exchange(self.next_sentinel(), phase, resend=True)
        answered = [key for key in must_not_answer if self.link.answers(key)]
        for key in answered[:EXAMPLES_KEPT]:
            phase.problem(f"answered {key}, sent while not active")
        phase.details["transitions"] = {f"{t}: {outcome}": n for (t, outcome), n in sorted(taken.items())}
        phase.details["frames sent while not active"] = len(must_not_answer)
        return self.end(phase, before, started)

    @staticmethod
    def _path_to_active(state: str) -> list[str]:
        return {"unconfigured": ["configure", "activate"], "inactive": ["activate"]}.get(state, [])

    def soak(self, frames: int, window: int = 4, bad_share: float = 0.25) -> PhaseResult:
        """``frames`` frames in windows of ``window`` sent back to back (so that the node skips some and
        decodes skipped predecessors), the last of each a sentinel whose answer is awaited and the one before
        it bad in ``bad_share`` of the windows (so that every bad frame is looked at and counted)."""
        phase, before, started = self.begin("soak")
        bad_families, decoder = iter_cases(frames, self.seed + 2, self.compressed), node_decoder(self.compressed)
        sizes = ((320, 240), (160, 120), (64, 48))
        sent = 0
        while sent < frames:
            for _ in range(window - 2):
                width, height = sizes[int(self.rng.integers(len(sizes)))]
                self.link.publish(self._good_frame(width, height, self.rng, "soak"))
            candidate = next(bad_families)
            if self.rng.random() < bad_share and candidate.must_refuse:
                outcome, _ = outcome_of(decoder, candidate.message)
                phase.expected[outcome] += 1
                candidate.message.header = stamped(self.next_stamp(), "soak")
                self.link.publish(candidate.message)
            else:
                self.link.publish(self._good_frame(160, 120, self.rng, "soak"))
            sent += window
            phase.cases += window
            answered = self.exchange(self.next_sentinel(), phase)
            phase.rss_after_case.append(self.process.rss())
            if not answered and self.give_up(phase):
                break
        return self.end(phase, before, started)

    def _good_frame(self, width: int, height: int, rng: np.random.Generator, frame_id: str):
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


@dataclass(frozen=True)
class LiveSizes:
    """How much of each phase one node gets."""

    warm_up: int = 200
    messages: int = 1000
    huge: int = 100
    anomalies: int = 300
    parameters: int = 100
    transitions: int = 20
    soak: int = 2000


def run_live(
    context, kind: str, sizes: LiveSizes, workdir: Path, seed: int = 0, progress: Callable[[str], None] = print
) -> NodeRun:
    """One node process (``kind``: "Image" or "CompressedImage") through every phase; raw-image input also
    gets the parameter, lifecycle and soak phases."""
    compressed = kind == "CompressedImage"
    namespace = f"/skd_reliability_{os.getpid()}_{'compressed' if compressed else 'raw'}"
    fuzz = LiveFuzz(context, namespace, workdir / f"node_{'compressed' if compressed else 'raw'}.log", compressed, seed)
    try:
        fuzz.connect()
        steps = [
            ("warm-up", lambda: fuzz.warm_up(sizes.warm_up)),
            ("message fuzz", lambda: fuzz.message_fuzz(iter_cases(sizes.messages, seed, compressed))),
            ("declared huge", lambda: fuzz.huge_headers(sizes.huge)),
            ("header anomalies", lambda: fuzz.header_anomalies(sizes.anomalies)),
        ]
        if not compressed:
            steps += [
                ("parameters", lambda: fuzz.parameter_fuzz(sizes.parameters)),
                ("lifecycle", lambda: fuzz.lifecycle_fuzz(sizes.transitions)),
                ("soak", lambda: fuzz.soak(sizes.soak)),
            ]
        for name, step in steps:
            progress(f"{kind}: {name} ...")
            phase = step()
            progress(f"{kind}: {name}: {phase.cases} cases in {phase.seconds:.1f} s, ok={phase.ok}")
            if phase.crashed:
                break
    finally:
        run = fuzz.finish()
    return run

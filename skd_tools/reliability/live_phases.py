"""The phases of the live fuzz, each against one ``NodeSession``: warm-up, bad messages each followed by a
sentinel, declared-huge frames, header anomalies, runtime parameter changes, lifecycle transitions under traffic and
the soak. Each returns its ``PhaseResult``: cases, hangs, a crash, problems, refusals expected and counted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable

from skd_tools.reliability.decoder import CRASH, node_decoder, outcome_of
from skd_tools.reliability.live_session import EXAMPLES_KEPT, NodeSession, PhaseResult
from skd_tools.reliability.messages import (
    ACCEPTED,
    SECOND,
    FuzzCase,
    declared_huge_compressed,
    declared_huge_raw,
    iter_cases,
    stamped,
)
from skd_tools.reliability.node_driver import OUTPUT_TYPES, TRANSITIONS, key_of
from skd_tools.reliability.pairing import StreamGenerator, restart_reason
from skd_tools.reliability.parameters import NODE_RESOLUTION, defaults_of_writable, parameter_change, saliency_size

LIFECYCLE = {  # (state, transition) -> the state it leads to; any other transition must be refused
    ("unconfigured", "configure"): "inactive",
    ("inactive", "cleanup"): "unconfigured",
    ("inactive", "activate"): "active",
    ("active", "deactivate"): "inactive",
}


def warm_up(session: NodeSession, frames: int) -> PhaseResult:
    """Sentinels only: the round trip and the resident memory every later case is compared with."""
    phase, before, started = session.begin("warm-up")
    for _ in range(frames):
        phase.cases += 1
        if not session.exchange(session.next_sentinel(), phase, resend=phase.cases == 1) and session.give_up(phase):
            break
    session.run.baseline_rss = session.process.rss()
    return session.end(phase, before, started)


def message_fuzz(session: NodeSession, cases: Iterable[FuzzCase], name: str = "message fuzz") -> PhaseResult:
    """Each case, then a sentinel whose answer is awaited; refusals must be counted exactly as this
    process's own decoding refuses the same messages, and no output may answer a refused one."""
    phase, before, started = session.begin(name)
    decoder, refused_keys = node_decoder(session.compressed), []
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
        session.link.publish(case.message)
        answered = session.exchange(session.next_sentinel(), phase)
        phase.rss_after_case.append(session.process.rss())
        if not answered and session.give_up(phase):
            break
    phase.expected.pop(CRASH, None)  # the node counts those as failures, not refusals
    answered_refused = [key for key in refused_keys for name in OUTPUT_TYPES if session.link.outputs[(name, *key)]]
    for key in answered_refused[:EXAMPLES_KEPT]:
        phase.problem(f"an output answered the refused message {key}")
    phase.details["outputs for refused messages"] = len(answered_refused)
    return session.end(phase, before, started)


def huge_headers(session: NodeSession, count: int) -> PhaseResult:
    """Messages declaring 16000 x 16000, 20000 x 20000 and larger, each followed by a sentinel: counted,
    answered as fast as a sentinel alone, and without the node's memory moving."""
    family = declared_huge_compressed if session.compressed else declared_huge_raw
    cases = []
    for index in range(count):
        case = family(session.rng)
        case.message.header = stamped((index + 1) * SECOND, "huge")
        cases.append(case)
    return message_fuzz(session, cases, "declared huge")


def header_anomalies(session: NodeSession, count: int) -> PhaseResult:
    """Readable frames, one after the other, from several cameras, sizes and encodings, with stamps going
    backwards, repeated, zero and far in the future: each answered with its exact header, and each pairing
    restart counted under the reason the rule gives."""
    phase, before, started = session.begin("header anomalies")
    stream = StreamGenerator(session.rng, session.compressed, bad_share=0.0)
    previous, restarts, first_values = None, Counter(), None
    for identity in range(1, count + 1):
        message, sent = stream.next(identity)
        phase.cases += 1
        if not session.exchange(message, phase):
            if session.give_up(phase):
                break
            continue
        if previous is None:  # the first frame's restart depends on what came before the phase
            first_values = session.link.fresh_diagnostics() or {}
        elif reason := restart_reason(previous, sent):
            restarts[reason] += 1
        previous = sent
        phase.rss_after_case.append(session.process.rss())
    phase.details["anomalies"] = dict(stream.anomalies)
    phase.details["restarts expected"] = dict(restarts)
    values = session.link.fresh_diagnostics() or {}
    counted = Counter({
        key.split(": ", 1)[1]: int(value) - int((first_values or {}).get(key, 0))
        for key, value in values.items()
        if key.startswith("pairing restarts: ")
    })  # fmt: skip
    phase.details["restarts counted"] = dict(+counted)
    if +counted != restarts:
        phase.problem(f"pairing restarts counted {dict(+counted)}, expected {dict(restarts)}")
    return session.end(phase, before, started)


def parameter_fuzz(session: NodeSession, count: int) -> PhaseResult:
    """Random parameter changes over the service, each followed by a sentinel: invalid ones refused with
    a reason, valid ones taken and in effect for the very next frame; the defaults restored at the end."""
    phase, before, started = session.begin("parameters")
    values = defaults_of_writable()
    outcomes: Counter = Counter()
    for _ in range(count):
        change = parameter_change(session.rng)
        phase.cases += 1
        result = session.link.set_parameter(change.name, change.value)
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
        if not _check_answer(session, phase, values) and session.give_up(phase):
            break
    for name, value in defaults_of_writable().items():
        result = session.link.set_parameter(name, value)
        if result is None or not result.successful:
            phase.problem(f"restoring {name} = {value!r} failed: {result}")
    phase.details["outcomes"] = {f"{why}: {taken}": n for (why, taken), n in sorted(outcomes.items())}
    return session.end(phase, before, started)


def _check_answer(session: NodeSession, phase: PhaseResult, values: dict) -> bool:
    """A sentinel's answer, in the encoding and size the parameters now ask for."""
    sentinel = session.next_sentinel()
    if not session.exchange(sentinel, phase):
        return False
    phase.rss_after_case.append(session.process.rss())
    shape = session.link.saliency_shapes.get(key_of(sentinel))
    width, height = saliency_size(values, (64, 48), NODE_RESOLUTION)
    if shape != (values["saliency_encoding"], width, height):
        phase.problem(f"answer {shape} after {values}, expected ({values['saliency_encoding']}, {width}, {height})")
    return True


def lifecycle_fuzz(session: NodeSession, count: int, traffic_hz: float = 100.0, dwell_s: float = 0.1) -> PhaseResult:
    """Random transitions (valid and not, repeated) while frames keep arriving from a second thread:
    every transition does what the state machine says, the node answers whenever it is active, and
    never answers a frame sent while it was surely not (no transition in flight, not active)."""
    phase, before, started = session.begin("lifecycle")
    state = session.link.state()
    lock, stop = threading.Lock(), threading.Event()
    guard = {"state": state, "in flight": False}
    must_not_answer: list[tuple[str, int]] = []

    def traffic() -> None:
        while not stop.wait(1.0 / traffic_hz):
            message = session.good_frame(64, 48, session.traffic_rng, "traffic")
            with lock:
                session.link.publish(message)
                if guard["state"] != "active" and not guard["in flight"]:
                    must_not_answer.append(key_of(message))

    thread = threading.Thread(target=traffic, name="skd_reliability_traffic", daemon=True)
    thread.start()
    taken: Counter = Counter()
    try:
        for _ in range(count):
            valid = [t for t in TRANSITIONS if (state, t) in LIFECYCLE]
            # half the time a transition the state allows, so that the node goes round its states
            transition = str(session.rng.choice(valid if session.rng.random() < 0.5 else list(TRANSITIONS)))
            phase.cases += 1
            with lock:
                guard["in flight"] = True
            success = session.link.change_state(transition)
            now = session.link.state()
            with lock:
                guard["state"], guard["in flight"] = now, False
            wanted = LIFECYCLE.get((state, transition))
            taken[(transition, "taken" if success else "refused")] += 1
            if success is None or now is None:
                phase.hangs += 1
            elif success != (wanted is not None) or now != (wanted or state):
                phase.problem(f"{transition} from {state}: success={success}, now {now}, expected {wanted or state}")
            state = now or state
            if state == "active" and not session.exchange(session.next_sentinel(), phase, resend=True):
                phase.problem(f"no answer while active (after {transition})")
            elif state != "active":
                time.sleep(dwell_s)  # traffic in this state: none of it may be answered
            phase.rss_after_case.append(session.process.rss())
            if session.give_up(phase):
                break
    finally:
        stop.set()
        thread.join()
    for transition in _path_to_active(state):
        if not session.link.change_state(transition):
            phase.problem(f"could not {transition} back to active")
    session.exchange(session.next_sentinel(), phase, resend=True)
    answered = [key for key in must_not_answer if session.link.answers(key)]
    for key in answered[:EXAMPLES_KEPT]:
        phase.problem(f"answered {key}, sent while not active")
    phase.details["transitions"] = {f"{t}: {outcome}": n for (t, outcome), n in sorted(taken.items())}
    phase.details["frames sent while not active"] = len(must_not_answer)
    return session.end(phase, before, started)


def _path_to_active(state: str) -> list[str]:
    return {"unconfigured": ["configure", "activate"], "inactive": ["activate"]}.get(state, [])


def soak(session: NodeSession, frames: int, window: int = 4, bad_share: float = 0.25) -> PhaseResult:
    """``frames`` frames in windows of ``window`` sent back to back (so that the node skips some and
    decodes skipped predecessors), the last of each a sentinel whose answer is awaited and the one before
    it bad in ``bad_share`` of the windows (so that every bad frame is looked at and counted)."""
    phase, before, started = session.begin("soak")
    bad_families, decoder = iter_cases(frames, session.seed + 2, session.compressed), node_decoder(session.compressed)
    sizes = ((320, 240), (160, 120), (64, 48))
    sent = 0
    while sent < frames:
        for _ in range(window - 2):
            width, height = sizes[int(session.rng.integers(len(sizes)))]
            session.link.publish(session.good_frame(width, height, session.rng, "soak"))
        candidate = next(bad_families)
        if session.rng.random() < bad_share and candidate.must_refuse:
            outcome, _ = outcome_of(decoder, candidate.message)
            phase.expected[outcome] += 1
            candidate.message.header = stamped(session.next_stamp(), "soak")
            session.link.publish(candidate.message)
        else:
            session.link.publish(session.good_frame(160, 120, session.rng, "soak"))
        sent += window
        phase.cases += window
        answered = session.exchange(session.next_sentinel(), phase)
        phase.rss_after_case.append(session.process.rss())
        if not answered and session.give_up(phase):
            break
    return session.end(phase, before, started)

"""The live-node fuzz: the node as its own process (``python -m skd_ros.node.saliency_node``, the code this
package was imported from) driven over DDS by this process with generated bad input, header anomalies,
runtime parameter changes, lifecycle transitions under traffic and a soak, its resident memory read from /proc.

Counting is exact because every bad message is looked at: messages go reliably to a reliable subscription,
and each bad one is followed by a good *sentinel* frame whose output is awaited. The node either takes the
bad frame as its newest (refused, counted) or skips it and decodes it as the sentinel's predecessor
(refused, counted), so /diagnostics must show, kind by kind, exactly the refusals that this process's own
run of the same decoding gives for the same messages. A wait past the watchdog is a hang; a node process
that is gone is a crash. No output may ever carry the header of a refused message.

Here the sizes and the order of the phases (``run_live``); ``node_driver`` runs the node and links to it,
``live_session`` holds what every phase shares (the watchdog, the bookkeeping, the end), ``live_phases`` the
phases themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skd_tools.reliability.live_phases import (
    header_anomalies,
    huge_headers,
    lifecycle_fuzz,
    message_fuzz,
    parameter_fuzz,
    soak,
    warm_up,
)
from skd_tools.reliability.live_session import NodeRun, NodeSession
from skd_tools.reliability.messages import iter_cases


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
    session = NodeSession(
        context, namespace, workdir / f"node_{'compressed' if compressed else 'raw'}.log", compressed, seed
    )
    try:
        session.connect()
        steps = [
            ("warm-up", lambda: warm_up(session, sizes.warm_up)),
            ("message fuzz", lambda: message_fuzz(session, iter_cases(sizes.messages, seed, compressed))),
            ("declared huge", lambda: huge_headers(session, sizes.huge)),
            ("header anomalies", lambda: header_anomalies(session, sizes.anomalies)),
        ]
        if not compressed:
            steps += [
                ("parameters", lambda: parameter_fuzz(session, sizes.parameters)),
                ("lifecycle", lambda: lifecycle_fuzz(session, sizes.transitions)),
                ("soak", lambda: soak(session, sizes.soak)),
            ]
        for name, step in steps:
            progress(f"{kind}: {name} ...")
            phase = step()
            progress(f"{kind}: {name}: {phase.cases} cases in {phase.seconds:.1f} s, ok={phase.ok}")
            if phase.crashed:
                break
    finally:
        run = session.finish()
    return run

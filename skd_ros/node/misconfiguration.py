"""What the node says when it is set up wrong, so that no mistake passes in silence: a parameter it does not
declare (with the declared names closest to it), a QoS that keeps the camera's frames away (with both sides'
settings and the parameter that fixes it), frames lost before the node (with the transport remedy).
ROS-free: the node hands in names and plain strings."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

TRANSPORT_REMEDY = (
    "large images between processes need the shared-memory Fast DDS profile in every process that exchanges them, "
    "the camera driver's included (export FASTDDS_DEFAULT_PROFILES_FILE=<skd_ros>/config/fastdds_shm.xml; "
    'README, "Inference backends and transport"), or the camera\'s compressed topic (input_compressed: true)'
)


def closest_names(name: str, declared: Iterable[str], count: int = 3) -> list[str]:
    """The declared names most like ``name`` (a misspelling, a missing prefix), best first; [] when none is close."""
    declared = list(declared)
    close = difflib.get_close_matches(name, declared, n=count, cutoff=0.6)
    # a name given without its prefix (reliability for qos_reliability) is a close match even when short
    suffixed = [candidate for candidate in declared if candidate.endswith("_" + name) and candidate not in close]
    return (close + suffixed)[:count]


def unknown_parameter_message(name: str, declared: Iterable[str]) -> str:
    """One line about a parameter the node was given but does not declare."""
    suggestions = closest_names(name, declared)
    hint = f"did you mean {' or '.join(f'{s}?' for s in suggestions)}" if suggestions else "no declared name is close"
    return f"parameter '{name}' is not a parameter of this node and is ignored: {hint} (config/saliency.yaml has all)"


def incompatible_qos_message(topic: str, policy: str, requested: dict[str, str], offered: list[str]) -> str:
    """A subscription on ``topic`` matched a publisher whose QoS it cannot accept (``policy``, e.g. RELIABILITY):
    ``requested`` is this node's side ({"reliability": "reliable", ...}), ``offered`` describes each publisher."""
    ours = ", ".join(f"{key} {value}" for key, value in requested.items())
    theirs = "; ".join(offered) or "(the publisher is gone again)"
    message = (
        f"{topic}: a publisher offers a QoS this subscription cannot accept ({policy}), so nothing it publishes "
        f"arrives. The node requests {ours}; publishers on the topic: {theirs}."
    )
    if policy.upper().startswith("RELIABILITY"):
        message += (
            " Set the parameter qos_reliability: best_effort (-p qos_reliability:=best_effort): a best-effort "
            "subscription accepts reliable and best-effort publishers."
        )
    return message


def frames_lost_message(lost: int, period_ns: float, total: int) -> str:
    """``lost`` frames never arrived before the frame just received (a gap in the camera's header stamps)."""
    return (
        f"{lost} frame{'s' if lost != 1 else ''} lost before the node (a gap of {lost + 1} frame periods of "
        f"{period_ns / 1e6:.1f} ms in the header stamps; {total} lost since start): {TRANSPORT_REMEDY}"
    )

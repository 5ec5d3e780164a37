"""Generated runtime parameter changes for the live node: valid ones, and ones with the wrong type, out of range,
not among the choices, read-only, not finite or not declared, each with whether the node must take it.

The node's rules are ``skd_ros.node.settings.PARAMETERS`` (types, ranges, choices, read-only) as rclpy enforces
them from the descriptors, plus the node's own checks (``NodeSettings.from_values``). Valid values keep the
sentinel frames readable (``max_input_pixels`` stays above their size), so the node must keep answering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skd_ros.node.outputs import fit_within
from skd_ros.node.settings import PARAMETERS, ZERO_EXCLUDED, ParamSpec

# the model resolution the suite runs the node at, set explicitly (not the default weights' own 128: a small side keeps
# the suite quick): the node's default, 0, takes whatever the checkpoint says, and the expected answers follow from it
NODE_RESOLUTION = 64

SENTINEL_PIXELS = 64 * 48  # messages.sentinel_frame's size
UNKNOWN_NAME = "no_such_parameter"


@dataclass(frozen=True)
class ParameterChange:
    """``accepted``: whether the node must take ``value`` for ``name``; ``why``: the case, for the report."""

    name: str
    value: object
    accepted: bool
    why: str


def valid_value(spec: ParamSpec, rng: np.random.Generator):
    """A value of the right type, in range and among the choices."""
    if spec.choices:
        return str(rng.choice(spec.choices))
    if isinstance(spec.default, bool):
        return bool(rng.random() < 0.5)
    if spec.value_range is None:
        return spec.default
    if isinstance(spec.default, int):
        low, high, step = spec.value_range
        if spec.name == "max_input_pixels":
            low = SENTINEL_PIXELS  # smaller would refuse the sentinels the run checks the node with
        return int(low + step * rng.integers(0, (high - low) // step + 1))
    low, high = spec.value_range
    value = float(rng.uniform(low, high))
    return value if value > 0 or spec.name not in ZERO_EXCLUDED else high


def wrong_type(spec: ParamSpec, rng: np.random.Generator):
    choices = [value for value in ("text", 3, 0.5, True, [1, 2]) if type(value) is not type(spec.default)]
    value = choices[int(rng.integers(len(choices)))]
    return list(value) if isinstance(value, list) else value


def out_of_range(spec: ParamSpec, rng: np.random.Generator):
    if spec.choices:
        return "".join(chr(c) for c in rng.integers(97, 123, 6))  # a lowercase word that is no choice
    if isinstance(spec.default, int):
        low, high, _ = spec.value_range
        return int(rng.choice([low - 1, high + 1, -(2**63), 2**63 - 1]))
    low, high = spec.value_range
    return float(rng.choice([low - 0.5, high + 0.5, math.nan, math.inf, -math.inf]))


WRITABLE = tuple(spec for spec in PARAMETERS if not spec.read_only)


def parameter_change(rng: np.random.Generator) -> ParameterChange:
    """A random change: mostly of a parameter that can change at run time (a fifth of the time any parameter,
    read-only ones included)."""
    specs = PARAMETERS if rng.random() < 0.2 else WRITABLE
    spec = specs[int(rng.integers(len(specs)))]
    roll = rng.random()
    if roll < 0.05:
        return ParameterChange(UNKNOWN_NAME, 1, False, "not declared")
    if spec.read_only:
        return ParameterChange(spec.name, valid_value(spec, rng), False, "read-only")
    if roll < 0.4:
        return ParameterChange(spec.name, valid_value(spec, rng), True, "valid")
    if roll < 0.65:
        return ParameterChange(spec.name, wrong_type(spec, rng), False, "wrong type")
    if spec.value_range is None and not spec.choices:
        return ParameterChange(spec.name, wrong_type(spec, rng), False, "wrong type")
    if spec.name in ZERO_EXCLUDED and roll < 0.7:
        return ParameterChange(spec.name, 0.0, False, "out of range")  # in the descriptor's range, not the node's
    return ParameterChange(spec.name, out_of_range(spec, rng), False, "out of range")


def defaults_of_writable() -> dict[str, object]:
    """The parameters that can change at run time, at their defaults: what a run restores at its end."""
    return {spec.name: spec.default for spec in WRITABLE}


def saliency_size(values: dict[str, object], source: tuple[int, int], resolution: int) -> tuple[int, int]:
    """(width, height) of ``~/saliency`` for a ``source``-sized frame under the parameter ``values``."""
    if not values["saliency_full_size"]:
        return resolution, resolution
    return fit_within(*source, values["max_output_pixels"])

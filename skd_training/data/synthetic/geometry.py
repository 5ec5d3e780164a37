"""Plane geometry in world metres (x right, y down, as on the canvas): polylines with arc-length lookup,
rotated boxes and frames, line intersections, and the focus rectangle the camera will look at.

Nothing here draws random numbers or paints; the world's painters, the scene recipes and the actors
share these shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Polyline:
    """A path in metres with arc-length lookup."""

    points: np.ndarray  # M x 2

    def __post_init__(self):
        self.points = np.asarray(self.points, np.float64)
        steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        self.cumulative = np.concatenate([[0.0], np.cumsum(steps)])
        self.length = float(self.cumulative[-1])

    def at(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """(point, unit tangent) at arc length ``s`` (clamped to the ends)."""
        s = min(max(s, 0.0), self.length)
        i = int(np.clip(np.searchsorted(self.cumulative, s, side="right") - 1, 0, len(self.points) - 2))
        a, b = self.points[i], self.points[i + 1]
        segment = self.cumulative[i + 1] - self.cumulative[i]
        t = (s - self.cumulative[i]) / segment if segment > 0 else 0.0
        tangent = (b - a) / segment if segment > 0 else np.array([1.0, 0.0])
        return a + (b - a) * t, tangent

    def offset(self, distance: float) -> np.ndarray:
        """The polyline shifted sideways (positive = to the right of the direction of travel)."""
        tangents = np.gradient(self.points, axis=0)
        tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-9)
        normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
        return self.points + normals * distance


@dataclass(frozen=True)
class Focus:
    """The rectangle (metres) the camera will look at during the clip."""

    centre: np.ndarray
    half: np.ndarray

    def sample(self, rng, shrink: float = 1.0) -> np.ndarray:
        return self.centre + rng.uniform(-1, 1, 2) * self.half * shrink

    def contains(self, points, grow: float = 1.0) -> np.ndarray:
        return np.all(np.abs(np.asarray(points) - self.centre) <= self.half * grow, axis=-1)


def rotate(x, y, angle: float):
    """(x, y) expressed in a frame turned by ``angle``: the object-frame coordinates of world offsets."""
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


def box(centre, size, angle: float) -> np.ndarray:
    """Corners of a ``size`` = (length, width) rectangle centred at ``centre``, its length along ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = size[0] / 2, size[1] / 2
    corners = np.array([(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)])
    return np.asarray(centre) + corners @ np.array([[c, s], [-s, c]])


def intersection(p1, p2, q1, q2):
    """Where the lines through p1-p2 and q1-q2 cross; None for parallel lines."""
    d1, d2 = p2 - p1, q2 - q1
    det = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(det) < 1e-9:
        return None
    t = ((q1[0] - p1[0]) * d2[1] - (q1[1] - p1[1]) * d2[0]) / det
    return p1 + t * d1

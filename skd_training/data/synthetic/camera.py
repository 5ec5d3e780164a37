"""The drone camera: a nadir view that pans, follows a target, hovers or circles slowly, zooms a little,
turns a little and shakes a little, and the transform from world metres to screen pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CAMERA_MODES = ("pan", "track", "hover", "orbit")
MAX_ROTATION = math.radians(8.0)  # over a whole clip
ZOOM_RANGE = (0.88, 1.15)  # relative to the base scale, over a whole clip
MAX_SPEED = 6.0  # m/s, panning
TRACK_SPEED = 30.0  # m/s, following a vehicle


@dataclass
class CameraPath:
    """Per frame: centre (metres), zoom (x base scale) and angle (radians) of the view."""

    centre: np.ndarray  # frames x 2
    zoom: np.ndarray  # frames
    angle: np.ndarray  # frames
    base_scale: float  # screen pixels per metre at zoom 1
    size: tuple[int, int]  # (width, height) pixels

    def matrix(self, t: int, source_scale: float, origin=(0.0, 0.0)) -> np.ndarray:
        """2 x 3 affine from a canvas with ``source_scale`` px/m (whose pixel (0, 0) lies at canvas
        pixel ``origin``) to screen pixels."""
        k = self.base_scale * self.zoom[t] / source_scale
        c, s = math.cos(self.angle[t]), math.sin(self.angle[t])
        a = k * np.array([[c, s], [-s, c]])
        centre_px = self.centre[t] * source_scale
        b = np.array(self.size, np.float64) / 2 - a @ (centre_px - np.asarray(origin, np.float64))
        return np.hstack([a, b[:, None]])

    def to_screen(self, t: int, points_m: np.ndarray) -> np.ndarray:
        m = self.matrix(t, 1.0)
        return np.asarray(points_m) @ m[:, :2].T + m[:, 2]

    def screen_scale(self, t: int) -> float:
        return self.base_scale * self.zoom[t]

    def view_corners(self, t: int) -> np.ndarray:
        """The screen corners in world metres."""
        m = self.matrix(t, 1.0)
        w, h = self.size
        corners = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float64)
        return (corners - m[:, 2]) @ np.linalg.inv(m[:, :2]).T


def view_half_extent(size: tuple[int, int], base_scale: float) -> np.ndarray:
    """Half-width and half-height (metres) of the world region any view of the clip can cover."""
    w, h = size
    c, s = math.cos(MAX_ROTATION), math.sin(MAX_ROTATION)
    return np.array([(w / 2 * c + h / 2 * s), (w / 2 * s + h / 2 * c)]) / (base_scale * ZOOM_RANGE[0])


def plan_camera(
    rng: np.random.Generator,
    mode: str,
    frames: int,
    fps: float,
    size: tuple[int, int],
    base_scale: float,
    start: np.ndarray,
    travel: float,
    follow: np.ndarray | None = None,
) -> CameraPath:
    """A camera path of ``mode`` starting at ``start`` (metres) that never moves more than ``travel``
    metres from it; ``follow`` (frames x 2 metres) is the target of ``track``."""
    if mode not in CAMERA_MODES:
        raise ValueError(f"camera mode must be one of {CAMERA_MODES}, got {mode!r}")
    dt = 1.0 / fps
    duration = max(frames - 1, 1) * dt
    speed = {
        "pan": rng.uniform(0.8, 4.0),
        "hover": rng.uniform(0.0, 0.4),
        "orbit": rng.uniform(0.2, 1.2),
        "track": 0.0,
    }[mode]
    speed = min(speed, travel / duration)
    heading = rng.uniform(-math.pi, math.pi)
    turn = rng.normal(0, 0.05)
    zoom_rate = rng.uniform(-0.04, 0.06) if mode != "orbit" else rng.uniform(0.02, 0.07)
    spin = rng.normal(0, math.radians(1.5 if mode != "orbit" else 3.0))
    angle0 = rng.normal(0, math.radians(2))
    wobble = rng.uniform(0.0, 0.08)  # metres of hover shake
    centre = np.zeros((frames, 2))
    zoom = np.zeros(frames)
    angle = np.zeros(frames)
    position = np.asarray(start, np.float64) - (0.5 * speed * duration) * np.array(
        [math.cos(heading), math.sin(heading)]
    )
    velocity = np.zeros(2)
    if mode == "track" and follow is not None:  # already following when the clip starts
        position = follow[0] + rng.normal(0, 3.0, 2)
        away = position - start
        if np.linalg.norm(away) > travel:
            position = start + away * (travel / np.linalg.norm(away))
        velocity = (follow[min(1, frames - 1)] - follow[0]) / dt
    shake = np.zeros(2)
    for t in range(frames):
        time = t * dt
        if mode == "track" and follow is not None:
            wanted = (follow[t] - position) * 1.2 + (follow[min(t + 1, frames - 1)] - follow[t]) / dt
            velocity = velocity + np.clip(wanted - velocity, -8.0 * dt, 8.0 * dt)
            norm = np.linalg.norm(velocity)
            if norm > TRACK_SPEED:
                velocity *= TRACK_SPEED / norm
        else:
            heading += turn * dt
            velocity = speed * np.array([math.cos(heading), math.sin(heading)])
        if t:
            position = position + velocity * dt
        offset = position - start
        if np.linalg.norm(offset) > travel:
            position = start + offset * (travel / np.linalg.norm(offset))
        shake = 0.9 * shake + rng.normal(0, wobble * 0.45, 2)
        centre[t] = position + shake
        zoom[t] = float(np.clip(math.exp(zoom_rate * time), *ZOOM_RANGE))
        angle[t] = float(np.clip(angle0 + spin * time + rng.normal(0, math.radians(0.03)), -MAX_ROTATION, MAX_ROTATION))
    return CameraPath(centre, zoom, angle, base_scale, size)

"""Procedural textures: fractal value noise from upsampled random grids (cheap with OpenCV)."""

from __future__ import annotations

import math

import cv2
import numpy as np


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cell: float,
    octaves: int = 4,
    persistence: float = 0.5,
) -> np.ndarray:
    """Zero-mean, unit-std float32 noise of ``shape`` (rows, cols) whose coarsest features are about
    ``cell`` pixels wide; each further octave halves the feature size and scales the amplitude by
    ``persistence``."""
    rows, cols = shape
    total = np.zeros(shape, np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        size = max(cell / 2**octave, 1.0)
        grid_rows, grid_cols = math.ceil(rows / size) + 3, math.ceil(cols / size) + 3
        grid = rng.standard_normal((grid_rows, grid_cols), dtype=np.float32)
        up = cv2.resize(grid, (math.ceil(grid_cols * size), math.ceil(grid_rows * size)), interpolation=cv2.INTER_CUBIC)
        offset_y, offset_x = int(rng.integers(0, max(1, int(size)))), int(rng.integers(0, max(1, int(size))))
        total += amplitude * up[offset_y : offset_y + rows, offset_x : offset_x + cols]
        amplitude *= persistence
    total -= total.mean()
    std = total.std()
    return total / std if std > 0 else total


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lerp_colour(a, b, t: np.ndarray) -> np.ndarray:
    """Per-pixel mix of two RGB colours by ``t`` (rows x cols) -> rows x cols x 3."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a + (b - a) * t[..., None]

"""Probe frames: synthetic aerial-like (previous, current) pairs, preprocessed like camera frames, for
calibrating int8 ranges and for checking engines against eager on frames that look like input."""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.core.preprocess import check_resolution, preprocess


def synthetic_pairs(resolution: int, count: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` preprocessed (previous, current) pairs of synthetic aerial-like frames, each
    count x 3 x R x R, deterministic for a given seed. Used to calibrate int8 ranges and to compare
    backends on frames that look like input rather than noise.

    What matters for calibration is the range of every layer's activations, so the frames carry what
    aerial footage has: texture at every scale (value-noise octaves down to single pixels), varied
    brightness and contrast, hard-edged structures (roads, building blocks), a slight camera drift, and
    small objects that move on their own. (A version with only smooth terrain under-ranged the edge
    filters: its int8 model lost 0.02 NSS on the synthetic benchmark, this one none; docs/BENCHMARKS.md.)"""
    check_resolution(resolution)
    rng = np.random.default_rng(seed)
    side = 4 * resolution  # drawn larger than the model input, so preprocessing's area resize is exercised
    margin = 4  # room for the camera drift
    size = side + 2 * margin
    previous, current = [], []
    for _ in range(count):
        terrain = np.zeros((size, size, 3), np.float32)
        for octave, cells in enumerate((4, 16, 64, size // 2)):
            grid = rng.random((cells + 1, cells + 1, 3), dtype=np.float32)
            terrain += 0.5**octave * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        terrain = (terrain - terrain.min()) / (np.ptp(terrain) + 1e-6)
        gain, offset = rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.5)
        terrain = np.clip((terrain * gain + offset) * 255, 0, 255).astype(np.uint8)
        for _ in range(rng.integers(1, 4)):  # roads
            start, end = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
            cv2.line(terrain, start, end, _colour(rng), int(rng.integers(2, side // 24 + 3)))
        for _ in range(rng.integers(0, 6)):  # building blocks
            x, y = (int(v) for v in rng.integers(0, size - side // 8, 2))
            w, h = (int(v) for v in rng.integers(side // 32 + 2, side // 8, 2))
            cv2.rectangle(terrain, (x, y), (x + w, y + h), _colour(rng), -1)
        dy, dx = rng.integers(-margin + 1, margin, 2)
        before = terrain[margin : margin + side, margin : margin + side].copy()
        after = terrain[margin + dy : margin + dy + side, margin + dx : margin + dx + side].copy()
        for _ in range(rng.integers(1, 5)):  # movers
            box = int(rng.integers(side // 40 + 2, side // 12 + 3))
            x, y = (int(v) for v in rng.integers(box, side - 2 * box, 2))
            step_x, step_y = (int(v) for v in rng.integers(-side // 40 - 1, side // 40 + 2, 2))
            colour = _colour(rng)
            cv2.rectangle(before, (x, y), (x + box, y + box), colour, -1)
            cv2.rectangle(after, (x + step_x, y + step_y), (x + step_x + box, y + step_y + box), colour, -1)
        previous.append(preprocess(before, resolution))
        current.append(preprocess(after, resolution))
    return np.stack(previous), np.stack(current)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))

"""The zone map: a coarse grid (``ZONE_CELL`` metres a cell) of what is where in the world - road,
pavement, building, water, trees, field, car park or free ground.

Painters record what they paint here; placement asks it whether a footprint is free, and people,
animals and boats ask it where they may go, so that nothing ends up on a roof or in the water.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

ZONE_CELL = 0.5  # metres per zone cell
FREE, ROAD, WALK, BUILDING, WATER, TREE, FIELD, PARKING = range(8)


class ZoneMap:
    """Zone codes of a ``width_m`` x ``height_m`` world; ``codes[row, col]`` is the cell at
    (col, row) x ``ZONE_CELL`` metres."""

    def __init__(self, width_m: float, height_m: float):
        self.width_m, self.height_m = width_m, height_m
        self.codes = np.zeros((int(math.ceil(height_m / ZONE_CELL)), int(math.ceil(width_m / ZONE_CELL))), np.uint8)

    def at(self, point) -> int:
        """The zone code at ``point`` (metres); -1 outside the world."""
        col, row = int(point[0] / ZONE_CELL), int(point[1] / ZONE_CELL)
        if 0 <= row < self.codes.shape[0] and 0 <= col < self.codes.shape[1]:
            return int(self.codes[row, col])
        return -1

    def fill_polygon(self, points_m, code: int) -> None:
        cv2.fillPoly(self.codes, [np.round(np.asarray(points_m) / ZONE_CELL * 16).astype(np.int32)], code, shift=4)

    def fill_line(self, points_m, width_m: float, code: int) -> None:
        pts = np.round(np.asarray(points_m) / ZONE_CELL * 16).astype(np.int32)
        cv2.polylines(self.codes, [pts], False, code, max(1, round(width_m / ZONE_CELL)), shift=4)

    def fill_pixels(self, rows: np.ndarray, cols: np.ndarray, scale: float, code: int) -> None:
        """Mark the cells under canvas pixels (``scale`` pixels per metre), e.g. a shape's painted footprint."""
        self.codes[
            (rows / scale / ZONE_CELL).astype(int).clip(0, self.codes.shape[0] - 1),
            (cols / scale / ZONE_CELL).astype(int).clip(0, self.codes.shape[1] - 1),
        ] = code

    def free(self, points_m, allowed=(FREE,), margin_m: float = 1.0) -> bool:
        """True when the polygon (grown by ``margin_m``) covers only ``allowed`` zones inside the world."""
        pts = np.asarray(points_m)
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        if lo[0] < 0 or lo[1] < 0 or hi[0] >= self.width_m or hi[1] >= self.height_m:
            return False
        c0, r0 = (lo / ZONE_CELL).astype(int)
        c1, r1 = (hi / ZONE_CELL).astype(int) + 1
        probe = np.zeros((r1 - r0, c1 - c0), np.uint8)
        local = np.round((pts / ZONE_CELL - [c0, r0]) * 16).astype(np.int32)
        cv2.fillPoly(probe, [local], 1, shift=4)
        if margin_m > 0:
            k = 2 * int(round(margin_m / ZONE_CELL)) + 1
            probe = cv2.dilate(probe, np.ones((k, k), np.uint8))
        return bool(np.isin(self.codes[r0:r1, c0:c1][probe > 0], allowed).all())

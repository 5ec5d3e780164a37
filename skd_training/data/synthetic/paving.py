"""Paved open places off the road network: squares (paving with joints where the pixels resolve them)
and car parks (painted bays, partly filled with parked cars - static look-alikes of traffic)."""

from __future__ import annotations

import math

import numpy as np

from skd_training.data.synthetic.canvas import ASPHALT, CONCRETE, PAVING, Canvas
from skd_training.data.synthetic.geometry import box
from skd_training.data.synthetic.statics import StaticObjects
from skd_training.data.synthetic.zones import PARKING, WALK, ZoneMap

BAY_WIDTH, BAY_LENGTH = 2.6, 5.0  # metres
AISLE = 6.0  # metres between two rows of bays


class Paving:
    """Paints squares and car parks on ``canvas``, records them in ``zones``, parks cars in ``statics``."""

    def __init__(self, canvas: Canvas, zones: ZoneMap, statics: StaticObjects, rng: np.random.Generator):
        self.canvas, self.zones, self.statics, self.rng = canvas, zones, statics, rng

    def plaza(self, centre, size, angle: float, round_plaza: bool = False) -> np.ndarray:
        """A paved square (or round) plaza; returns its outline."""
        canvas, rng = self.canvas, self.rng
        if round_plaza:
            a = np.linspace(0, 2 * math.pi, 48, endpoint=False)
            outline = np.asarray(centre) + np.stack([np.cos(a) * size[0] / 2, np.sin(a) * size[1] / 2], axis=1)
        else:
            outline = box(centre, size, angle)
        tiles = canvas.texture(PAVING if rng.random() < 0.6 else CONCRETE, 0.04, 0.03, 0.02)
        tile = rng.uniform(0.6, 1.2)
        strength = 0.06 * min(1.0, max(0.0, (canvas.scale * tile - 3) / 5))  # joints only where pixels resolve them
        if strength > 0:
            ys, xs = np.mgrid[0 : canvas.rows, 0 : canvas.cols].astype(np.float32) / (canvas.scale * tile)
            joints = np.minimum(
                np.abs(np.sin(math.pi * (xs * math.cos(angle) + ys * math.sin(angle)))),
                np.abs(np.sin(math.pi * (ys * math.cos(angle) - xs * math.sin(angle)))),
            )
            tiles.factor = 1.0 - strength * (joints < 0.15)
        canvas.paint_polygon(outline, tiles)
        self.zones.fill_polygon(outline, WALK)
        return outline

    def car_park(self, centre, size, angle: float, occupancy: float) -> None:
        """A car park with painted bays and parked cars (static distractors that look like traffic)."""
        rng = self.rng
        outline = box(centre, size, angle)
        self.canvas.paint_polygon(outline, self.canvas.texture(np.asarray(ASPHALT) * 1.08, 0.05, 0.06, 0.06))
        self.zones.fill_polygon(outline, PARKING)
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        rows = max(1, int(size[1] // (2 * BAY_LENGTH + AISLE)))
        for row in range(rows):
            for side in (-1, 1):
                offset = (
                    -size[1] / 2
                    + row * (2 * BAY_LENGTH + AISLE)
                    + (BAY_LENGTH / 2 if side < 0 else 1.5 * BAY_LENGTH + AISLE)
                )
                if offset + BAY_LENGTH / 2 > size[1] / 2:
                    continue
                for u in np.arange(-size[0] / 2 + BAY_WIDTH / 2 + 0.5, size[0] / 2 - BAY_WIDTH / 2, BAY_WIDTH):
                    bay = np.asarray(centre) + direction * u + normal * offset
                    line_a = bay + direction * (BAY_WIDTH / 2) - normal * (BAY_LENGTH / 2)
                    self.canvas.line([line_a, line_a + normal * BAY_LENGTH], 0.12, (0.85, 0.85, 0.82), 0.7)
                    if rng.random() < occupancy:
                        heading = angle + math.pi / 2 + (math.pi if rng.random() < 0.5 else 0) + rng.normal(0, 0.04)
                        self.statics.park(
                            "car" if rng.random() < 0.85 else "van", bay + rng.normal(0, 0.15, 2), heading
                        )

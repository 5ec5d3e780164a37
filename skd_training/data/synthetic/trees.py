"""Trees: planted one by one or in clusters while the world is laid out, painted together at the end as
irregular lumpy crowns with per-tree tones; their crown heights feed the sun's shading and shadows."""

from __future__ import annotations

import numpy as np

from skd_training.data.synthetic.canvas import Canvas
from skd_training.data.synthetic.geometry import box
from skd_training.data.synthetic.noise import fractal_noise, lerp_colour, smoothstep
from skd_training.data.synthetic.zones import BUILDING, FIELD, FREE, ROAD, TREE, WALK, WATER, ZoneMap


class Trees:
    """The trees of one world: ``planted`` (position, crown radius) and, once painted, their crown cover,
    crown height map and tree-top heights."""

    def __init__(self, canvas: Canvas, zones: ZoneMap, rng: np.random.Generator):
        self.canvas, self.zones, self.rng = canvas, zones, rng
        self.planted: list[tuple[np.ndarray, float]] = []
        self.tops: list[float] = []
        self.crown = np.zeros((canvas.rows, canvas.cols), np.float32)  # crown cover, set by ``paint``
        self.crown_height = np.zeros((canvas.rows, canvas.cols), np.float32)

    def plant(self, position, radius: float) -> None:
        self.planted.append((np.asarray(position, np.float64), radius))
        if self.zones.at(position) not in (BUILDING, WATER, ROAD):
            self.zones.fill_polygon(box(position, (radius * 2.0, radius * 2.0), 0.0), TREE)

    def cluster(self, centre, count: int, spread: float, radius=(2.0, 5.0), allowed=(FREE, WALK, FIELD, TREE)) -> None:
        """Up to ``count`` trees scattered around ``centre``; those that fall outside ``allowed`` zones are skipped."""
        for _ in range(count):
            p = np.asarray(centre) + self.rng.normal(0, spread, 2)
            r = self.rng.uniform(*radius)
            if self.zones.at(p) in allowed:
                self.plant(p, r)

    def paint(self) -> None:
        """Tree crowns: irregular lumpy domes (for sun-facing shading) coloured with per-tree tones."""
        canvas, rng = self.canvas, self.rng
        self.crown = np.zeros((canvas.rows, canvas.cols), np.float32)
        self.crown_height = np.zeros((canvas.rows, canvas.cols), np.float32)
        if not self.planted:
            return
        tone = np.ones((canvas.rows, canvas.cols), np.float32)
        self.tops = []
        for position, radius in self.planted:
            top = radius * rng.uniform(1.0, 1.8) + rng.uniform(2, 5)
            self.tops.append(top)
            u, v, roi = canvas.local(position, 0.0, radius * 1.2 + 1)
            d = np.hypot(u, v) / radius * (1.0 + 0.12 * canvas.medium[roi])
            dome = np.sqrt(np.clip(1 - d**2, 0, 1))
            cover = np.clip((1 - d) * radius * canvas.scale + 0.5, 0, 1)
            self.crown_height[roi] = np.maximum(
                self.crown_height[roi], np.where(cover > 0.3, top - radius * (1 - dome), 0)
            )
            tone[roi] = np.where(cover > self.crown[roi], rng.uniform(0.85, 1.15), tone[roi])
            self.crown[roi] = np.maximum(self.crown[roi], cover)
        leaves = fractal_noise(rng, self.crown.shape, max(1.0 * canvas.scale, 1.0), octaves=2)
        self.crown_height += self.crown * 0.3 * leaves  # clumps of leaves, shaded by the sun below
        dark = np.array((0.15, 0.25, 0.10)) * rng.uniform(0.9, 1.1, 3)
        light = np.array((0.33, 0.43, 0.18)) * rng.uniform(0.9, 1.1, 3)
        colour = lerp_colour(dark, light, smoothstep(-1.8, 1.8, canvas.medium + 0.6 * leaves)) * tone[..., None]
        canvas.rgb += (colour - canvas.rgb) * self.crown[..., None]

"""The ground everything else stands on: grass with drier patches and bare soil, agricultural fields with
crop rows, and water with a quay along a wandering shoreline."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_training.data.synthetic.canvas import CONCRETE, WATER_COLOUR, Canvas
from skd_training.data.synthetic.geometry import Polyline
from skd_training.data.synthetic.noise import lerp_colour, smoothstep
from skd_training.data.synthetic.zones import FIELD, WALK, WATER, ZoneMap

CROPS = ((0.36, 0.45, 0.20), (0.55, 0.50, 0.30), (0.45, 0.36, 0.25), (0.30, 0.40, 0.18), (0.65, 0.58, 0.36))


class Terrain:
    """Paints the ground of ``canvas`` and records fields and water in ``zones``."""

    def __init__(self, canvas: Canvas, zones: ZoneMap, rng: np.random.Generator):
        self.canvas, self.zones, self.rng = canvas, zones, rng

    def ground(self, lush: float) -> None:
        """Grass with drier patches and a little bare soil; ``lush`` in [0, 1] shifts green <-> dry."""
        rng, canvas = self.rng, self.canvas
        green_a = np.array((0.27, 0.37, 0.18)) * rng.uniform(0.92, 1.08)
        green_b = np.array((0.36, 0.44, 0.23)) * rng.uniform(0.92, 1.08)
        dry = np.array((0.55, 0.52, 0.37)) * rng.uniform(0.92, 1.08)
        soil = np.array((0.50, 0.45, 0.35)) * rng.uniform(0.92, 1.08)
        grass = lerp_colour(green_a, green_b, smoothstep(-1.5, 1.5, 0.6 * canvas.medium + 0.7 * canvas.coarse))
        dryness = smoothstep(0.0, 1.0, (1.0 - lush) + 0.45 * canvas.coarse + 0.1 * canvas.medium - 0.5)
        ground = grass + (dry - grass) * dryness[..., None]
        bare = smoothstep(1.6, 2.4, canvas.coarse * 0.6 + canvas.medium * 0.6) * 0.8
        ground += (soil - ground) * bare[..., None]
        canvas.rgb[:] = ground * (1.0 + 0.045 * canvas.fine)[..., None]

    def fields(self, angle: float, size: tuple[float, float]) -> None:
        """Agricultural parcels in a rotated grid, each with its crop colour and row texture."""
        rng, canvas = self.rng, self.canvas
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        reach = math.hypot(canvas.width_m, canvas.height_m)
        centre = np.array([canvas.width_m, canvas.height_m]) / 2
        ys, xs = np.mgrid[0 : canvas.rows, 0 : canvas.cols].astype(np.float32) / canvas.scale
        along = xs * direction[0] + ys * direction[1]
        u = -reach / 2
        while u < reach / 2:
            length = rng.uniform(*size)
            v = -reach / 2
            while v < reach / 2:
                width = rng.uniform(*size)
                corners = [
                    centre + direction * a + normal * b
                    for a, b in ((u, v), (u + length, v), (u + length, v + width), (u, v + width))
                ]
                inset = np.mean(corners, axis=0)
                corners = [c + (inset - c) * (1.5 / max(length, width)) for c in corners]  # tracks between parcels
                colour = np.array(CROPS[rng.integers(len(CROPS))]) * rng.uniform(0.9, 1.1)
                period = rng.uniform(0.8, 2.5)
                rows = 1.0 + 0.07 * np.sin(2 * math.pi * along / period) * min(1.0, canvas.scale * period / 6)
                canvas.paint_polygon(corners, canvas.texture(colour, 0.06, 0.05, 0.05, factor=rows))
                self.zones.fill_polygon(corners, FIELD)
                v += width
            u += length

    def water(self, coverage: float) -> Polyline:
        """A shoreline crossing the world with water on one side; returns the shoreline."""
        rng, canvas = self.rng, self.canvas
        horizontal = rng.random() < 0.5
        span = canvas.width_m if horizontal else canvas.height_m
        depth = canvas.height_m if horizontal else canvas.width_m
        steps = np.arange(-10, span + 10, 4.0)
        level = depth * (1 - coverage) + np.cumsum(rng.normal(0, 0.6, len(steps)))
        level = cv2.GaussianBlur(level.reshape(1, -1), (0, 0), 3).ravel()
        shore = np.stack([steps, level], axis=1) if horizontal else np.stack([level, steps], axis=1)
        far = (
            [(span + 10, depth + 20), (-10, depth + 20)] if horizontal else [(depth + 20, span + 10), (depth + 20, -10)]
        )
        polygon = np.concatenate([shore, np.array(far if horizontal else far[::-1])])
        if rng.random() < 0.5:  # water on the other side
            polygon = np.concatenate(
                [shore, np.array([(span + 10, -20), (-10, -20)] if horizontal else [(-20, span + 10), (-20, -10)])]
            )
        ripples = 1.0 + 0.06 * canvas.medium + 0.04 * canvas.fine
        water = lerp_colour(WATER_COLOUR, np.array(WATER_COLOUR) * (0.8, 1.2, 1.1), smoothstep(-2, 2, canvas.coarse))
        canvas.paint_polygon(polygon, canvas.texture(CONCRETE, 0.03, 0.04, 0.04))  # quay edge
        inner = np.concatenate(
            [Polyline(shore).offset(2.5 if _water_right(polygon, shore) else -2.5), polygon[len(shore) :]]
        )
        canvas.paint_polygon(inner, water * ripples[..., None])
        self.zones.fill_polygon(polygon, WALK)
        self.zones.fill_polygon(inner, WATER)
        return Polyline(shore)


def _water_right(polygon: np.ndarray, shore: np.ndarray) -> bool:
    """Whether the water polygon lies to the right of the shoreline's direction of travel."""
    middle = shore[len(shore) // 2]
    tangent = shore[len(shore) // 2 + 1] - shore[len(shore) // 2 - 1]
    right = middle + np.array([-tangent[1], tangent[0]]) / (np.linalg.norm(tangent) + 1e-9) * 5.0
    return cv2.pointPolygonTest(polygon.astype(np.float32), (float(right[0]), float(right[1])), False) >= 0

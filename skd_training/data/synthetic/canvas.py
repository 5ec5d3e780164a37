"""The world's image while it is painted: a float RGB canvas in metres x ``scale`` pixels, the height map
that shading and shadows are computed from, the shared noise fields materials are textured with, the
ground materials, and the drawing primitives every painter uses (polygons, thick polylines, blending
through masks, object-frame coordinates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from skd_training.data.synthetic.geometry import rotate
from skd_training.data.synthetic.noise import fractal_noise

ASPHALT = (0.27, 0.27, 0.285)
DIRT = (0.50, 0.42, 0.32)
CONCRETE = (0.62, 0.61, 0.58)
PAVING = (0.60, 0.57, 0.53)
WATER_COLOUR = (0.14, 0.24, 0.27)


@dataclass
class Texture:
    """A material: colour x (1 + noise mix) x optional factor, computed per painted region."""

    colour: np.ndarray
    coarse: float
    medium: float
    fine: float
    factor: np.ndarray | None = None

    def at(self, canvas: Canvas, roi) -> np.ndarray:
        mix = 1.0 + self.coarse * canvas.coarse[roi] + self.medium * canvas.medium[roi] + self.fine * canvas.fine[roi]
        if self.factor is not None:
            mix = mix * self.factor[roi]
        return self.colour * mix[..., None]


class Canvas:
    """``rgb`` (rows x cols x 3 float32 in [0, 1]) and ``height_map`` (metres above the ground) of a world
    of ``size_m`` metres at ``scale`` pixels per metre, with the noise fields drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator, size_m: tuple[float, float], scale: float):
        self.scale = scale
        self.cols, self.rows = (max(8, int(math.ceil(v * scale))) for v in size_m)
        self.width_m, self.height_m = self.cols / scale, self.rows / scale
        self.rgb = np.zeros((self.rows, self.cols, 3), np.float32)
        self.height_map = np.zeros((self.rows, self.cols), np.float32)
        shape = (self.rows, self.cols)
        # shared noise fields (coarse 40 m, medium 4 m, fine 0.6 m); materials mix them differently
        self.coarse = fractal_noise(rng, shape, 40 * scale, octaves=3)
        self.medium = fractal_noise(rng, shape, 4 * scale, octaves=3)
        self.fine = fractal_noise(rng, shape, max(0.6 * scale, 1.0), octaves=2)

    def px(self, points_m) -> np.ndarray:
        return np.asarray(points_m, np.float64) * self.scale

    def texture(self, colour, coarse=0.05, medium=0.05, fine=0.04, factor: np.ndarray | None = None) -> Texture:
        """``colour`` modulated by the shared noise fields (and an optional full-canvas ``factor``),
        evaluated only where it is painted."""
        return Texture(np.asarray(colour, np.float32), coarse, medium, fine, factor)

    def mask(self) -> np.ndarray:
        return np.zeros((self.rows, self.cols), np.uint8)

    def blend(self, mask: np.ndarray, colour, alpha: float = 1.0) -> None:
        """Paint ``colour`` (an RGB triple, a ``Texture`` or a full-canvas image) where the uint8 ``mask``
        is set, working only inside the mask's bounding box."""
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return
        roi = (slice(y, y + h), slice(x, x + w))
        weight = mask[roi].astype(np.float32)[..., None] * (alpha / 255.0)
        if isinstance(colour, Texture):
            target = colour.at(self, roi)
        elif isinstance(colour, np.ndarray) and colour.ndim == 3:
            target = colour[roi]
        else:
            target = np.asarray(colour, np.float32)
        self.rgb[roi] += (target - self.rgb[roi]) * weight

    def paint_polygon(self, points_m, colour, alpha: float = 1.0, mask: np.ndarray | None = None) -> None:
        """Fill a polygon (metres) with ``colour``; with ``mask``, only draw it there (to paint later)."""
        target = self.mask() if mask is None else mask
        cv2.fillPoly(target, [np.round(self.px(points_m) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        if mask is None:
            self.blend(target, colour, alpha)

    def polyline_mask(self, points_m, width_m: float) -> np.ndarray:
        mask = self.mask()
        pts = np.round(self.px(points_m) * 16).astype(np.int32)
        cv2.polylines(mask, [pts], False, 255, max(1, round(width_m * self.scale)), cv2.LINE_AA, shift=4)
        return mask

    def line(self, points_m, width_m: float, colour, alpha: float = 0.85) -> None:
        """A solid painted line along ``points_m`` (kerb lines, bay lines, fences)."""
        self.blend(self.polyline_mask(points_m, width_m), colour, alpha)

    def local(self, centre, angle: float, reach_m: float):
        """(u, v, roi): object-frame coordinates (metres, u along ``angle``) of the canvas pixels within
        ``reach_m`` of ``centre``, and the canvas region they cover."""
        cx, cy = centre[0] * self.scale, centre[1] * self.scale
        reach = reach_m * self.scale
        x0, x1 = max(0, int(cx - reach)), min(self.cols, int(cx + reach) + 1)
        y0, y1 = max(0, int(cy - reach)), min(self.rows, int(cy + reach) + 1)
        roi = (slice(y0, max(y0, y1)), slice(x0, max(x0, x1)))
        ys, xs = np.mgrid[roi[0], roi[1]].astype(np.float32)
        dx, dy = (xs + 0.5) / self.scale - centre[0], (ys + 0.5) / self.scale - centre[1]
        u, v = rotate(dx, dy, angle)
        return u, v, roi

    def graded(self, rng: np.random.Generator) -> np.ndarray:
        """The finished image after a camera-like colour response (contrast, saturation, white balance),
        as uint8 RGB."""
        grey = self.rgb.mean(axis=2, keepdims=True)
        saturation = rng.uniform(0.75, 1.1)
        image = grey + (self.rgb - grey) * saturation
        image = (image - 0.45) * rng.uniform(0.9, 1.15) + 0.45
        image *= rng.uniform(0.94, 1.06, 3).astype(np.float32)
        return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)

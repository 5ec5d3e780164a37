"""Buildings, painted from above and written into the height map (which gives their roofs sun-facing
shading and their cast shadows): flat roofs with parapets, air-conditioning units, skylights and solar
panels; gable and hip roofs with tile rows; and the landmark of a Building video - a dome, a tower with
a helipad, a stadium or a cross-shaped church."""

from __future__ import annotations

import math

import numpy as np

from skd_training.data.synthetic.canvas import CONCRETE, Canvas
from skd_training.data.synthetic.geometry import box, rotate
from skd_training.data.synthetic.statics import StaticObjects, Thing
from skd_training.data.synthetic.zones import BUILDING, FIELD, FREE, ZoneMap

ROOFS = (  # terracotta, dark and light grey, white membrane, brown, slate, green/red metal
    (0.62, 0.33, 0.24),
    (0.30, 0.30, 0.32),
    (0.62, 0.62, 0.60),
    (0.84, 0.84, 0.82),
    (0.42, 0.30, 0.22),
    (0.35, 0.38, 0.42),
    (0.30, 0.44, 0.38),
    (0.58, 0.22, 0.18),
)
LANDMARK_COLOURS = {
    "dome": ((0.45, 0.62, 0.55), (0.72, 0.62, 0.35), (0.55, 0.55, 0.58)),
    "tower": ((0.80, 0.80, 0.78), (0.35, 0.36, 0.40)),
    "stadium": ((0.75, 0.74, 0.72),),
    "church": ((0.60, 0.30, 0.22), (0.30, 0.31, 0.34)),
}


class Buildings:
    """Places buildings where ``zones`` has room, paints them on ``canvas`` and records them in ``statics``
    (the landmark, if any, in ``landmark``)."""

    def __init__(self, canvas: Canvas, zones: ZoneMap, statics: StaticObjects, rng: np.random.Generator):
        self.canvas, self.zones, self.statics, self.rng = canvas, zones, statics, rng
        self.landmark: Thing | None = None

    def building(self, centre, size, angle: float, height: float, roof: str, colour, record=True, margin=1.5) -> bool:
        """A building with a ``flat``, ``gable`` or ``hip`` roof, if its footprint (grown by ``margin``
        metres) is free."""
        canvas = self.canvas
        outline = box(centre, size, angle)
        if not self.zones.free(outline, (FREE, FIELD), margin_m=margin):
            return False
        self.zones.fill_polygon(outline, BUILDING)
        length, width = size
        local_u, local_v, roi = canvas.local(centre, angle, max(size) * 0.75 + 2)
        inside = np.minimum(length / 2 - np.abs(local_u), width / 2 - np.abs(local_v))
        alpha = np.clip(inside * canvas.scale + 0.5, 0, 1)
        if roof == "flat":
            parapet = (inside < 0.45).astype(np.float32)
            shape = height + 0.4 * parapet
            tone = 1.0 + 0.10 * parapet + 0.05 * canvas.fine[roi]
        else:
            pitch = self.rng.uniform(0.5, 0.9)
            if roof == "gable":
                rise = width / 2 - np.abs(local_v)
                across = local_v
            else:
                rise = inside
                across = np.where(width / 2 - np.abs(local_v) < length / 2 - np.abs(local_u), local_v, local_u)
            shape = height + pitch * np.clip(rise, 0, None)
            rows_amp = 0.07 * min(1.0, max(0.0, (canvas.scale - 3) / 6))  # tile rows only where pixels resolve them
            tone = 1.0 + rows_amp * np.sin(2 * math.pi * across / 0.33) + 0.04 * canvas.fine[roi]
        rgb = np.asarray(colour, np.float32) * tone[..., None]
        self._raise(roi, alpha, shape, rgb)
        if roof == "flat":
            self._roof_equipment(centre, size, angle, height)
        if record:
            contrast = float(np.clip(np.linalg.norm(np.asarray(colour) - 0.45) * 1.2, 0, 1))
            self.statics.add(
                Thing("building", "Building", np.asarray(centre, np.float64), angle, length, width, contrast)
            )
        return True

    def _raise(self, roi, alpha: np.ndarray, shape: np.ndarray, rgb: np.ndarray) -> None:
        """Write a roof of heights ``shape`` and colours ``rgb`` into the canvas region ``roi``: heights where
        the roof covers more than half a pixel, colour blended by the coverage ``alpha``."""
        canvas = self.canvas
        canvas.height_map[roi] = np.where(
            alpha > 0.5, np.maximum(canvas.height_map[roi], shape), canvas.height_map[roi]
        )
        canvas.rgb[roi] += (rgb - canvas.rgb[roi]) * alpha[..., None]

    def _roof_equipment(self, centre, size, angle, height) -> None:
        """Air-conditioning units, skylights and sometimes solar panels on a flat roof."""
        rng = self.rng
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        for _ in range(rng.integers(0, 4)):
            w, h = rng.uniform(1.5, 4.0, 2)
            u = rng.uniform(-size[0] / 2 + w, size[0] / 2 - w) if size[0] > 2 * w + 1 else 0.0
            v = rng.uniform(-size[1] / 2 + h, size[1] / 2 - h) if size[1] > 2 * h + 1 else 0.0
            c = np.asarray(centre) + direction * u + normal * v
            self._box_on_roof(c, (w, h), angle, height + rng.uniform(0.8, 2.0), (0.7, 0.7, 0.68))
        if rng.random() < 0.3 and min(size) > 12:
            panels = (0.12, 0.15, 0.28)
            for k in range(int(size[0] // 4) - 1):
                c = np.asarray(centre) + direction * (-size[0] / 2 + 3 + 4 * k) + normal * rng.uniform(-2, 2)
                self._box_on_roof(c, (3.0, min(size[1] - 4, 8)), angle, height + 0.3, panels)

    def _box_on_roof(self, centre, size, angle, top, colour) -> None:
        canvas = self.canvas
        local_u, local_v, roi = canvas.local(centre, angle, max(size) * 0.75 + 1)
        inside = np.minimum(size[0] / 2 - np.abs(local_u), size[1] / 2 - np.abs(local_v))
        alpha = np.clip(inside * canvas.scale + 0.5, 0, 1)
        self._raise(roi, alpha, top, np.asarray(colour, np.float32) * (1 + 0.04 * canvas.fine[roi])[..., None])

    def landmark_building(self, centre, style: str) -> Thing:
        """The main target of a Building video: dome, tower with helipad, stadium or cross-shaped church."""
        rng, canvas = self.rng, self.canvas
        radius = rng.uniform(9, 17)
        local_u, local_v, roi = canvas.local(centre, 0.0, radius * 1.6 + 3)
        r = np.hypot(local_u, local_v)
        colour_choice = LANDMARK_COLOURS[style]
        colour = np.asarray(colour_choice[rng.integers(len(colour_choice))], np.float32)
        angle = rng.uniform(0, math.pi)
        if style == "dome":
            dome = radius * np.sqrt(np.clip(1 - (r / radius) ** 2, 0, 1))
            shape = 12 + dome * (r < radius)
            alpha = np.clip((radius * 1.25 - r) * canvas.scale + 0.5, 0, 1)
            rgb = np.where((r < radius)[..., None], colour, np.float32(CONCRETE) * 1.1)
            length = width = 2.5 * radius
        elif style == "tower":
            side = radius * 1.3
            cu, cv = rotate(local_u, local_v, angle)
            inside = np.minimum(side / 2 - np.abs(cu), side / 2 - np.abs(cv))
            alpha = np.clip(inside * canvas.scale + 0.5, 0, 1)
            shape = np.full_like(r, rng.uniform(45, 70))
            rgb = np.broadcast_to(colour, (*r.shape, 3)).copy()
            ring = np.abs(r - side * 0.28) < 0.45
            bars = (np.abs(np.abs(cu) - side * 0.08) < 0.45) & (np.abs(cv) < side * 0.12)
            letter = bars | ((np.abs(cu) < side * 0.08) & (np.abs(cv) < 0.45))
            rgb[ring | letter] = (0.9, 0.9, 0.2) if colour[0] < 0.5 else (0.85, 0.2, 0.15)
            length = width = side
        elif style == "stadium":
            a, b = radius * 1.9, radius * 1.35
            cu, cv = rotate(local_u, local_v, angle)
            e = np.hypot(cu / a, cv / b)
            alpha = np.clip((1 - e) * min(a, b) * canvas.scale + 0.5, 0, 1)
            stands = e > 0.62
            shape = np.where(stands, 4 + 14 * np.clip((e - 0.62) / 0.38, 0, 1), 0.0).astype(np.float32)
            pitch = (0.20, 0.45, 0.18)
            stripes = 1 + 0.06 * np.sign(np.sin(cu / 3.0))
            rgb = np.where(stands[..., None], colour, np.asarray(pitch, np.float32) * stripes[..., None])
            track = (e > 0.5) & (e <= 0.62)
            rgb[track] = (0.62, 0.30, 0.22)
            length, width = 2 * a, 2 * b
        else:  # church: cross-shaped gable roofs and a tower
            nave_l, nave_w = radius * 2.2, radius * 0.75
            cu, cv = rotate(local_u, local_v, angle)
            nave = np.minimum(nave_l / 2 - np.abs(cu), nave_w / 2 - np.abs(cv))
            transept = np.minimum(nave_w / 2 - np.abs(cu - nave_l * 0.15), nave_l * 0.35 - np.abs(cv))
            inside = np.maximum(nave, transept)
            alpha = np.clip(inside * canvas.scale + 0.5, 0, 1)
            rise = np.where(nave >= transept, nave_w / 2 - np.abs(cv), nave_w / 2 - np.abs(cu - nave_l * 0.15))
            shape = 14 + 0.9 * np.clip(rise, 0, None)
            tower = np.maximum(np.abs(cu + nave_l / 2 - 3.5), np.abs(cv)) < 3.5
            shape = np.where(tower, 38.0, shape)
            across = np.where(nave >= transept, cv, cu)
            rgb = (
                colour
                * (1 + 0.06 * np.sin(2 * math.pi * across / 0.33) * min(1.0, max(0.0, (canvas.scale - 3) / 6)))[
                    ..., None
                ]
            )
            length, width = nave_l, nave_l * 0.7
        self._raise(roi, alpha, shape, rgb.astype(np.float32))
        footprint = np.argwhere(alpha > 0.5)
        if len(footprint):
            self.zones.fill_pixels(
                footprint[:, 0] + roi[0].start, footprint[:, 1] + roi[1].start, canvas.scale, BUILDING
            )
        contrast = float(np.clip(np.linalg.norm(colour - 0.42) * 1.3 + 0.3, 0, 1))
        self.landmark = Thing(
            style, "Building", np.asarray(centre, np.float64), angle, length, width, contrast, "landmark"
        )
        return self.landmark

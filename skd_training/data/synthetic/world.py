"""The static world under the drone: terrain, fields, water, roads, buildings, trees, lighting, parked things.

A world is built once per video as an RGB canvas in metres x ``scale`` pixels, large enough for the
whole camera path. Height matters: buildings (flat, gable and hip roofs, roof equipment), tree crowns
and landmarks are written into a height map, from which the roofs and crowns get their sun-facing
shading and everything gets physically placed cast shadows (one sun per video). A coarse ``zone`` map
(one cell per 0.5 m) records what is where (road, pavement, building, water, pasture, ...), which
placement, people, animals and boats use to stay where they belong.

``SCENES`` lists the scene recipes; ``build_world`` picks nothing itself - the caller chooses the
scene (the video's category decides which scenes fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from skd_training.data.synthetic.noise import fractal_noise, lerp_colour, smoothstep
from skd_training.data.synthetic.sprites import Light, Look, draw_layers, random_look, sprite

ZONE_CELL = 0.5  # metres per zone cell
FREE, ROAD, WALK, BUILDING, WATER, TREE, FIELD, PARKING = range(8)
SCENES = ("urban", "suburban", "rural_road", "plaza", "harbour", "pasture")

ASPHALT = (0.27, 0.27, 0.285)
DIRT = (0.50, 0.42, 0.32)
CONCRETE = (0.62, 0.61, 0.58)
PAVING = (0.60, 0.57, 0.53)
WATER_COLOUR = (0.14, 0.24, 0.27)
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


@dataclass
class Road:
    path: Polyline
    width: float  # carriageway (m)
    lanes: int  # per direction
    sidewalk: float  # each side (m), 0 = none
    surface: str = "asphalt"  # "dirt", or "path" (a footpath: people and bicycles only)
    parking: float = 0.0  # width of the kerb parking strip on each side (m)

    def lane_offsets(self) -> list[tuple[float, int]]:
        """(sideways offset, direction) of each lane; right-hand traffic."""
        lane = (self.width - 2 * self.parking) / (2 * self.lanes)
        out = []
        for k in range(self.lanes):
            out.append(((k + 0.5) * lane, +1))
            out.append((-(k + 0.5) * lane, -1))
        return out


@dataclass
class Thing:
    """Something observers may look at: a static object (parked car, standing person, building,
    landmark, moored boat, ...) or the start state of a moving one."""

    kind: str
    category: str  # Vehicle, Human, Others, Building
    centre: np.ndarray  # metres
    heading: float
    length: float
    width: float
    contrast: float = 0.5
    semantic: str = ""  # attention class (defaults to kind)
    look: Look | None = None  # drawn as a sprite (parked vehicles, standing people, ...); None: part of the map

    def __post_init__(self):
        self.semantic = self.semantic or self.kind


@dataclass
class World:
    canvas: np.ndarray  # rows x cols x 3 uint8 RGB
    scale: float  # canvas pixels per metre
    light: Light
    zone: np.ndarray  # ZONE_CELL grid of zone codes
    scene: str
    roads: list[Road] = field(default_factory=list)
    statics: list[Thing] = field(default_factory=list)
    landmark: Thing | None = None

    @property
    def size_m(self) -> tuple[float, float]:
        return self.canvas.shape[1] / self.scale, self.canvas.shape[0] / self.scale

    def zone_at(self, point) -> int:
        col, row = int(point[0] / ZONE_CELL), int(point[1] / ZONE_CELL)
        if 0 <= row < self.zone.shape[0] and 0 <= col < self.zone.shape[1]:
            return int(self.zone[row, col])
        return -1

    def colour_around(self, point, radius_m: float) -> np.ndarray:
        """Mean RGB [0, 1] of the canvas in a square around ``point``."""
        x, y, r = (int(v * self.scale) for v in (point[0], point[1], max(radius_m, 1.0 / self.scale)))
        patch = self.canvas[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
        return patch.reshape(-1, 3).mean(axis=0) / 255.0 if patch.size else np.full(3, 0.5)

    def contrast_of(self, colour, point, size_m: float) -> float:
        """How much a colour stands out from the ground around ``point``, in [0, 1]."""
        ground = self.colour_around(point, 2.0 * size_m + 2.0)
        return float(np.clip(np.linalg.norm(np.asarray(colour) - ground) * 1.6, 0.0, 1.0))


@dataclass
class Texture:
    """A material: colour x (1 + noise mix) x optional factor, computed per painted region."""

    colour: np.ndarray
    coarse: float
    medium: float
    fine: float
    factor: np.ndarray | None = None

    def at(self, builder: _Builder, roi) -> np.ndarray:
        mix = (
            1.0 + self.coarse * builder.coarse[roi] + self.medium * builder.medium[roi] + self.fine * builder.fine[roi]
        )
        if self.factor is not None:
            mix = mix * self.factor[roi]
        return self.colour * mix[..., None]


class _Builder:
    """Mutable state while a world is built (float canvas, height map, zones)."""

    def __init__(self, rng: np.random.Generator, size_m: tuple[float, float], scale: float):
        self.rng = rng
        self.scale = scale
        self.cols, self.rows = (max(8, int(math.ceil(v * scale))) for v in size_m)
        self.width_m, self.height_m = self.cols / scale, self.rows / scale
        self.canvas = np.zeros((self.rows, self.cols, 3), np.float32)
        self.height = np.zeros((self.rows, self.cols), np.float32)
        self.zone = np.zeros(
            (int(math.ceil(self.height_m / ZONE_CELL)), int(math.ceil(self.width_m / ZONE_CELL))), np.uint8
        )
        shape = (self.rows, self.cols)
        # shared noise fields (coarse 40 m, medium 4 m, fine 0.6 m); materials mix them differently
        self.coarse = fractal_noise(rng, shape, 40 * scale, octaves=3)
        self.medium = fractal_noise(rng, shape, 4 * scale, octaves=3)
        self.fine = fractal_noise(rng, shape, max(0.6 * scale, 1.0), octaves=2)
        self.roads: list[Road] = []
        self.statics: list[Thing] = []
        self.landmark: Thing | None = None
        self.trees: list[tuple[np.ndarray, float]] = []
        self.tree_tops: list[float] = []
        self.crown = np.zeros(shape, np.float32)  # tree crown cover, set by ``paint_trees``
        self.crown_height = np.zeros(shape, np.float32)

    # -- painting ----------------------------------------------------------------------------------
    def px(self, points_m) -> np.ndarray:
        return np.asarray(points_m, np.float64) * self.scale

    def texture(self, colour, coarse=0.05, medium=0.05, fine=0.04, factor: np.ndarray | None = None) -> Texture:
        """``colour`` modulated by the shared noise fields (and an optional full-canvas ``factor``),
        evaluated only where it is painted."""
        return Texture(np.asarray(colour, np.float32), coarse, medium, fine, factor)

    def blend(self, mask: np.ndarray, colour, alpha: float = 1.0) -> None:
        """Paint ``colour`` (an RGB triple or a full-canvas image) where the uint8 ``mask`` is set,
        working only inside the mask's bounding box."""
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
        self.canvas[roi] += (target - self.canvas[roi]) * weight

    def mask(self) -> np.ndarray:
        return np.zeros((self.rows, self.cols), np.uint8)

    def zone_poly(self, points_m, code: int) -> None:
        cv2.fillPoly(self.zone, [np.round(np.asarray(points_m) / ZONE_CELL * 16).astype(np.int32)], code, shift=4)

    def zone_line(self, points_m, width_m: float, code: int) -> None:
        pts = np.round(np.asarray(points_m) / ZONE_CELL * 16).astype(np.int32)
        cv2.polylines(self.zone, [pts], False, code, max(1, round(width_m / ZONE_CELL)), shift=4)

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
        return bool(np.isin(self.zone[r0:r1, c0:c1][probe > 0], allowed).all())

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

    # -- terrain -----------------------------------------------------------------------------------
    def ground(self, lush: float) -> None:
        """Grass with drier patches and a little bare soil; ``lush`` in [0, 1] shifts green <-> dry."""
        rng = self.rng
        green_a = np.array((0.27, 0.37, 0.18)) * rng.uniform(0.92, 1.08)
        green_b = np.array((0.36, 0.44, 0.23)) * rng.uniform(0.92, 1.08)
        dry = np.array((0.55, 0.52, 0.37)) * rng.uniform(0.92, 1.08)
        soil = np.array((0.50, 0.45, 0.35)) * rng.uniform(0.92, 1.08)
        grass = lerp_colour(green_a, green_b, smoothstep(-1.5, 1.5, 0.6 * self.medium + 0.7 * self.coarse))
        dryness = smoothstep(0.0, 1.0, (1.0 - lush) + 0.45 * self.coarse + 0.1 * self.medium - 0.5)
        ground = grass + (dry - grass) * dryness[..., None]
        bare = smoothstep(1.6, 2.4, self.coarse * 0.6 + self.medium * 0.6) * 0.8
        ground += (soil - ground) * bare[..., None]
        self.canvas[:] = ground * (1.0 + 0.045 * self.fine)[..., None]

    def fields(self, angle: float, size: tuple[float, float]) -> None:
        """Agricultural parcels in a rotated grid, each with its crop colour and row texture."""
        rng = self.rng
        crops = ((0.36, 0.45, 0.20), (0.55, 0.50, 0.30), (0.45, 0.36, 0.25), (0.30, 0.40, 0.18), (0.65, 0.58, 0.36))
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        reach = math.hypot(self.width_m, self.height_m)
        centre = np.array([self.width_m, self.height_m]) / 2
        ys, xs = np.mgrid[0 : self.rows, 0 : self.cols].astype(np.float32) / self.scale
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
                colour = np.array(crops[rng.integers(len(crops))]) * rng.uniform(0.9, 1.1)
                period = rng.uniform(0.8, 2.5)
                rows = 1.0 + 0.07 * np.sin(2 * math.pi * along / period) * min(1.0, self.scale * period / 6)
                self.paint_polygon(corners, self.texture(colour, 0.06, 0.05, 0.05, factor=rows))
                self.zone_poly(corners, FIELD)
                v += width
            u += length

    def water(self, coverage: float) -> Polyline:
        """A shoreline crossing the world with water on one side; returns the shoreline."""
        rng = self.rng
        horizontal = rng.random() < 0.5
        span = self.width_m if horizontal else self.height_m
        depth = self.height_m if horizontal else self.width_m
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
        ripples = 1.0 + 0.06 * self.medium + 0.04 * self.fine
        water = lerp_colour(WATER_COLOUR, np.array(WATER_COLOUR) * (0.8, 1.2, 1.1), smoothstep(-2, 2, self.coarse))
        self.paint_polygon(polygon, self.texture(CONCRETE, 0.03, 0.04, 0.04))  # quay edge
        inner = np.concatenate(
            [Polyline(shore).offset(2.5 if _water_right(polygon, shore) else -2.5), polygon[len(shore) :]]
        )
        self.paint_polygon(inner, water * ripples[..., None])
        self.zone_poly(polygon, WALK)
        self.zone_poly(inner, WATER)
        return Polyline(shore)

    # -- roads -------------------------------------------------------------------------------------
    def straight_road(self, through, angle: float, **kw) -> Road:
        direction = np.array([math.cos(angle), math.sin(angle)])
        reach = math.hypot(self.width_m, self.height_m) + 40
        points = [np.asarray(through) + direction * t for t in np.linspace(-reach, reach, 9)]
        return self.add_road(np.array(points), **kw)

    def curvy_road(self, through, angle: float, bendiness: float = 0.04, **kw) -> Road:
        """A winding road through the point ``through`` (metres), heading ``angle`` there."""
        halves = [self._wander_out(through, angle + turn, bendiness) for turn in (math.pi, 0.0)]
        return self.add_road(np.concatenate([halves[0][::-1], halves[1][1:]]), **kw)

    def _wander_out(self, start, heading: float, bendiness: float) -> np.ndarray:
        """Points every 4 m from ``start`` with a smoothly drifting heading until 40 m past the world's edge."""
        points, point, drift = [np.asarray(start, np.float64)], np.asarray(start, np.float64), 0.0
        while -40 < point[0] < self.width_m + 40 and -40 < point[1] < self.height_m + 40 and len(points) < 1000:
            drift = 0.9 * drift + self.rng.normal(0, bendiness)
            heading += drift * 0.3
            point = point + 4.0 * np.array([math.cos(heading), math.sin(heading)])
            points.append(point)
        return np.array(points)

    def add_road(self, points, width=7.5, lanes=1, sidewalk=0.0, surface="asphalt", parking=0.0) -> Road:
        road = Road(Polyline(points), width, lanes, sidewalk, surface, parking)
        self.roads.append(road)
        return road

    def paint_roads(self, markings: bool = True) -> None:
        """All roads at once: pavements, carriageways, then markings (so crossings look continuous)."""
        for road in self.roads:
            if road.sidewalk > 0:
                self.blend(
                    self.polyline_mask(road.path.points, road.width + 2 * road.sidewalk),
                    self.texture(CONCRETE, 0.03, 0.04, 0.03),
                )
                self.zone_line(road.path.points, road.width + 2 * road.sidewalk, WALK)
        for road in self.roads:
            if road.surface == "path":
                self.path(road.path.points, road.width)
                continue
            colour = ASPHALT if road.surface == "asphalt" else DIRT
            wear = self.texture(colour, 0.06, 0.06, 0.06)
            self.blend(self.polyline_mask(road.path.points, road.width), wear)
            self.zone_line(road.path.points, road.width, ROAD)
        if markings:
            for road in self.roads:
                if road.surface == "asphalt":
                    self.mark_road(road)
            self.crossings()

    def line(
        self, points_m, width_m: float, colour, alpha: float = 0.85, dash: tuple[float, float] | None = None
    ) -> None:
        path = Polyline(points_m)
        if dash is None:
            self.blend(self.polyline_mask(path.points, width_m), colour, alpha)
            return
        mask = self.mask()
        thickness = max(1, round(width_m * self.scale))
        s = self.rng.uniform(0, dash[0] + dash[1])
        while s < path.length:
            a, _ = path.at(s)
            b, _ = path.at(min(s + dash[0], path.length))
            pts = np.round(self.px([a, b]) * 16).astype(np.int32)
            cv2.line(mask, tuple(pts[0]), tuple(pts[1]), 255, thickness, cv2.LINE_AA, shift=4)
            s += dash[0] + dash[1]
        self.blend(mask, colour, alpha)

    def mark_road(self, road: Road) -> None:
        white, yellow = (0.88, 0.88, 0.85), (0.85, 0.72, 0.25)
        lane = road.width / (2 * road.lanes)
        wear = self.rng.uniform(0.5, 0.9)
        if road.parking > 0:
            for sign in (-1, 1):
                self.line(
                    road.path.offset(sign * (road.width / 2 - road.parking)), 0.12, white, wear * 0.7, dash=(5.5, 0.8)
                )
        if road.lanes == 1:
            self.line(road.path.points, 0.15, white if self.rng.random() < 0.7 else yellow, wear, dash=(3.0, 6.0))
        else:
            for side in (-0.15, 0.15):
                self.line(road.path.offset(side), 0.12, yellow, wear)
            for k in range(1, road.lanes):
                for sign in (-1, 1):
                    self.line(road.path.offset(sign * k * lane), 0.15, white, wear, dash=(3.0, 9.0))
        if road.parking == 0:
            for sign in (-1, 1):
                self.line(road.path.offset(sign * (road.width / 2 - 0.35)), 0.15, white, wear * 0.8)

    def crossings(self) -> None:
        """Zebra crossings on each arm of every crossing of two straight asphalt roads with pavements."""
        straight = [r for r in self.roads if len(r.path.points) == 9 and r.surface == "asphalt" and r.sidewalk > 0]
        stripes = self.mask()
        for i, a in enumerate(straight):
            for b in straight[i + 1 :]:
                point = _intersection(a.path.points[0], a.path.points[-1], b.path.points[0], b.path.points[-1])
                if point is None:
                    continue
                for road, other in ((a, b), (b, a)):
                    direction = road.path.points[-1] - road.path.points[0]
                    direction /= np.linalg.norm(direction)
                    normal = np.array([-direction[1], direction[0]])
                    for side in (-1, 1):
                        centre = point + side * direction * (other.width / 2 + other.sidewalk + 2.0)
                        for k in np.arange(-road.width / 2 + 0.6, road.width / 2 - 0.4, 1.0):
                            c = centre + normal * k
                            stripe = [
                                c + direction * u + normal * v
                                for u, v in ((-1.5, -0.25), (1.5, -0.25), (1.5, 0.25), (-1.5, 0.25))
                            ]
                            self.paint_polygon(stripe, None, mask=stripes)
        self.blend(stripes, (0.86, 0.86, 0.83), 0.8)

    def plaza(self, centre, size, angle: float, round_plaza: bool = False) -> np.ndarray:
        """A paved square (or round) plaza; returns its outline."""
        if round_plaza:
            a = np.linspace(0, 2 * math.pi, 48, endpoint=False)
            outline = np.asarray(centre) + np.stack([np.cos(a) * size[0] / 2, np.sin(a) * size[1] / 2], axis=1)
        else:
            outline = _box(centre, size, angle)
        tiles = self.texture(PAVING if self.rng.random() < 0.6 else CONCRETE, 0.04, 0.03, 0.02)
        tile = self.rng.uniform(0.6, 1.2)
        strength = 0.06 * min(1.0, max(0.0, (self.scale * tile - 3) / 5))  # joints only where pixels resolve them
        if strength > 0:
            ys, xs = np.mgrid[0 : self.rows, 0 : self.cols].astype(np.float32) / (self.scale * tile)
            joints = np.minimum(
                np.abs(np.sin(math.pi * (xs * math.cos(angle) + ys * math.sin(angle)))),
                np.abs(np.sin(math.pi * (ys * math.cos(angle) - xs * math.sin(angle)))),
            )
            tiles.factor = 1.0 - strength * (joints < 0.15)
        self.paint_polygon(outline, tiles)
        self.zone_poly(outline, WALK)
        return outline

    def path(self, points, width: float) -> None:
        self.blend(self.polyline_mask(points, width), self.texture((0.66, 0.63, 0.57), 0.03, 0.04, 0.03))
        self.zone_line(points, width, WALK)

    def parking(self, centre, size, angle: float, occupancy: float) -> None:
        """A car park with painted bays and parked cars (static distractors that look like traffic)."""
        outline = _box(centre, size, angle)
        self.paint_polygon(outline, self.texture(np.asarray(ASPHALT) * 1.08, 0.05, 0.06, 0.06))
        self.zone_poly(outline, PARKING)
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        bay_w, bay_l = 2.6, 5.0
        rows = max(1, int(size[1] // (2 * bay_l + 6)))
        for row in range(rows):
            for side in (-1, 1):
                offset = -size[1] / 2 + row * (2 * bay_l + 6) + (bay_l / 2 if side < 0 else 1.5 * bay_l + 6)
                if offset + bay_l / 2 > size[1] / 2:
                    continue
                for u in np.arange(-size[0] / 2 + bay_w / 2 + 0.5, size[0] / 2 - bay_w / 2, bay_w):
                    bay = np.asarray(centre) + direction * u + normal * offset
                    line_a = bay + direction * (bay_w / 2) - normal * (bay_l / 2)
                    self.line([line_a, line_a + normal * bay_l], 0.12, (0.85, 0.85, 0.82), 0.7)
                    if self.rng.random() < occupancy:
                        heading = (
                            angle + math.pi / 2 + (math.pi if self.rng.random() < 0.5 else 0) + self.rng.normal(0, 0.04)
                        )
                        self.parked(
                            "car" if self.rng.random() < 0.85 else "van", bay + self.rng.normal(0, 0.15, 2), heading
                        )

    def kerb_parking(self, road: Road, occupancy: float) -> None:
        """Cars parked along the kerbs of ``road``."""
        path = road.path
        for sign in (-1, 1):
            s = self.rng.uniform(0, 6)
            while s < path.length:
                if self.rng.random() < occupancy:
                    point, tangent = path.at(s)
                    normal = np.array([-tangent[1], tangent[0]])
                    position = point + normal * sign * (road.width / 2 - 1.1)
                    heading = math.atan2(tangent[1], tangent[0]) + (0 if sign > 0 else math.pi)
                    if 0 < position[0] < self.width_m and 0 < position[1] < self.height_m:
                        self.parked("car", position, heading + self.rng.normal(0, 0.02))
                s += self.rng.uniform(5.6, 7.5)

    def parked(self, kind: str, position, heading: float, category: str = "Vehicle", look: Look | None = None) -> None:
        """A static sprite (drawn after lighting by ``draw_statics``, with its own shadow)."""
        look = look or random_look(self.rng, kind)
        self.statics.append(
            Thing(kind, category, np.asarray(position, np.float64), heading, look.length, look.width, look=look)
        )

    # -- buildings ---------------------------------------------------------------------------------
    def building(self, centre, size, angle: float, height: float, roof: str, colour, record=True, margin=1.5) -> bool:
        """A building with a ``flat``, ``gable`` or ``hip`` roof, if its footprint (grown by ``margin``
        metres) is free."""
        outline = _box(centre, size, angle)
        if not self.free(outline, (FREE, FIELD), margin_m=margin):
            return False
        self.zone_poly(outline, BUILDING)
        length, width = size
        local_u, local_v, roi = self._local(centre, angle, max(size) * 0.75 + 2)
        inside = np.minimum(length / 2 - np.abs(local_u), width / 2 - np.abs(local_v))
        alpha = np.clip(inside * self.scale + 0.5, 0, 1)
        if roof == "flat":
            parapet = (inside < 0.45).astype(np.float32)
            shape = height + 0.4 * parapet
            tone = 1.0 + 0.10 * parapet + 0.05 * self.fine[roi]
        else:
            pitch = self.rng.uniform(0.5, 0.9)
            if roof == "gable":
                rise = width / 2 - np.abs(local_v)
                across = local_v
            else:
                rise = inside
                across = np.where(width / 2 - np.abs(local_v) < length / 2 - np.abs(local_u), local_v, local_u)
            shape = height + pitch * np.clip(rise, 0, None)
            rows_amp = 0.07 * min(1.0, max(0.0, (self.scale - 3) / 6))
            tone = 1.0 + rows_amp * np.sin(2 * math.pi * across / 0.33) + 0.04 * self.fine[roi]
        self.height[roi] = np.where(alpha > 0.5, np.maximum(self.height[roi], shape), self.height[roi])
        rgb = np.asarray(colour, np.float32) * tone[..., None]
        self.canvas[roi] += (rgb - self.canvas[roi]) * alpha[..., None]
        if roof == "flat":
            self._roof_equipment(centre, size, angle, height)
        if record:
            contrast = float(np.clip(np.linalg.norm(np.asarray(colour) - 0.45) * 1.2, 0, 1))
            self.statics.append(
                Thing("building", "Building", np.asarray(centre, np.float64), angle, length, width, contrast)
            )
        return True

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
        local_u, local_v, roi = self._local(centre, angle, max(size) * 0.75 + 1)
        inside = np.minimum(size[0] / 2 - np.abs(local_u), size[1] / 2 - np.abs(local_v))
        alpha = np.clip(inside * self.scale + 0.5, 0, 1)
        self.height[roi] = np.where(alpha > 0.5, np.maximum(self.height[roi], top), self.height[roi])
        self.canvas[roi] += (
            np.asarray(colour, np.float32) * (1 + 0.04 * self.fine[roi])[..., None] - self.canvas[roi]
        ) * alpha[..., None]

    def landmark_building(self, centre, style: str) -> Thing:
        """The main target of a Building video: dome, tower with helipad, stadium or cross-shaped church."""
        rng = self.rng
        radius = rng.uniform(9, 17)
        local_u, local_v, roi = self._local(centre, 0.0, radius * 1.6 + 3)
        r = np.hypot(local_u, local_v)
        colour_choice = {
            "dome": ((0.45, 0.62, 0.55), (0.72, 0.62, 0.35), (0.55, 0.55, 0.58)),
            "tower": ((0.80, 0.80, 0.78), (0.35, 0.36, 0.40)),
            "stadium": ((0.75, 0.74, 0.72),),
            "church": ((0.60, 0.30, 0.22), (0.30, 0.31, 0.34)),
        }[style]
        colour = np.asarray(colour_choice[rng.integers(len(colour_choice))], np.float32)
        angle = rng.uniform(0, math.pi)
        if style == "dome":
            base = (r < radius * 1.25).astype(np.float32)
            dome = radius * np.sqrt(np.clip(1 - (r / radius) ** 2, 0, 1))
            shape = 12 + dome * (r < radius) + 0 * base
            alpha = np.clip((radius * 1.25 - r) * self.scale + 0.5, 0, 1)
            rgb = np.where((r < radius)[..., None], colour, np.float32(CONCRETE) * 1.1)
            length = width = 2.5 * radius
        elif style == "tower":
            side = radius * 1.3
            cu, cv = _rotate(local_u, local_v, angle)
            inside = np.minimum(side / 2 - np.abs(cu), side / 2 - np.abs(cv))
            alpha = np.clip(inside * self.scale + 0.5, 0, 1)
            shape = np.full_like(r, rng.uniform(45, 70))
            rgb = np.broadcast_to(colour, (*r.shape, 3)).copy()
            ring = np.abs(r - side * 0.28) < 0.45
            bars = (np.abs(np.abs(cu) - side * 0.08) < 0.45) & (np.abs(cv) < side * 0.12)
            letter = bars | ((np.abs(cu) < side * 0.08) & (np.abs(cv) < 0.45))
            rgb[ring | letter] = (0.9, 0.9, 0.2) if colour[0] < 0.5 else (0.85, 0.2, 0.15)
            length = width = side
        elif style == "stadium":
            a, b = radius * 1.9, radius * 1.35
            cu, cv = _rotate(local_u, local_v, angle)
            e = np.hypot(cu / a, cv / b)
            alpha = np.clip((1 - e) * min(a, b) * self.scale + 0.5, 0, 1)
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
            cu, cv = _rotate(local_u, local_v, angle)
            nave = np.minimum(nave_l / 2 - np.abs(cu), nave_w / 2 - np.abs(cv))
            transept = np.minimum(nave_w / 2 - np.abs(cu - nave_l * 0.15), nave_l * 0.35 - np.abs(cv))
            inside = np.maximum(nave, transept)
            alpha = np.clip(inside * self.scale + 0.5, 0, 1)
            rise = np.where(nave >= transept, nave_w / 2 - np.abs(cv), nave_w / 2 - np.abs(cu - nave_l * 0.15))
            shape = 14 + 0.9 * np.clip(rise, 0, None)
            tower = np.maximum(np.abs(cu + nave_l / 2 - 3.5), np.abs(cv)) < 3.5
            shape = np.where(tower, 38.0, shape)
            across = np.where(nave >= transept, cv, cu)
            rgb = (
                colour
                * (1 + 0.06 * np.sin(2 * math.pi * across / 0.33) * min(1.0, max(0.0, (self.scale - 3) / 6)))[..., None]
            )
            length, width = nave_l, nave_l * 0.7
        self.height[roi] = np.where(alpha > 0.5, np.maximum(self.height[roi], shape), self.height[roi])
        self.canvas[roi] += (rgb.astype(np.float32) - self.canvas[roi]) * alpha[..., None]
        footprint = np.argwhere(alpha > 0.5)
        if len(footprint):
            rows = footprint[:, 0] + roi[0].start
            cols = footprint[:, 1] + roi[1].start
            self.zone[
                (rows / self.scale / ZONE_CELL).astype(int).clip(0, self.zone.shape[0] - 1),
                (cols / self.scale / ZONE_CELL).astype(int).clip(0, self.zone.shape[1] - 1),
            ] = BUILDING
        contrast = float(np.clip(np.linalg.norm(colour - 0.42) * 1.3 + 0.3, 0, 1))
        self.landmark = Thing(
            style, "Building", np.asarray(centre, np.float64), angle, length, width, contrast, "landmark"
        )
        return self.landmark

    def _local(self, centre, angle: float, reach_m: float):
        """Object-frame coordinates (metres) of the canvas pixels within ``reach_m`` of ``centre``."""
        cx, cy = centre[0] * self.scale, centre[1] * self.scale
        reach = reach_m * self.scale
        x0, x1 = max(0, int(cx - reach)), min(self.cols, int(cx + reach) + 1)
        y0, y1 = max(0, int(cy - reach)), min(self.rows, int(cy + reach) + 1)
        roi = (slice(y0, max(y0, y1)), slice(x0, max(x0, x1)))
        ys, xs = np.mgrid[roi[0], roi[1]].astype(np.float32)
        dx, dy = (xs + 0.5) / self.scale - centre[0], (ys + 0.5) / self.scale - centre[1]
        u, v = _rotate(dx, dy, angle)
        return u, v, roi

    # -- vegetation --------------------------------------------------------------------------------
    def tree(self, position, radius: float) -> None:
        self.trees.append((np.asarray(position, np.float64), radius))
        if self.zone_at(position) not in (BUILDING, WATER, ROAD):
            self.zone_poly(_box(position, (radius * 2.0, radius * 2.0), 0.0), TREE)

    def tree_cluster(
        self, centre, count: int, spread: float, radius=(2.0, 5.0), allowed=(FREE, WALK, FIELD, TREE)
    ) -> None:
        for _ in range(count):
            p = np.asarray(centre) + self.rng.normal(0, spread, 2)
            r = self.rng.uniform(*radius)
            if self.zone_at(p) in allowed:
                self.tree(p, r)

    def zone_at(self, point) -> int:
        col, row = int(point[0] / ZONE_CELL), int(point[1] / ZONE_CELL)
        if 0 <= row < self.zone.shape[0] and 0 <= col < self.zone.shape[1]:
            return int(self.zone[row, col])
        return -1

    def paint_trees(self) -> None:
        """Tree crowns: irregular lumpy domes (for sun-facing shading) coloured with per-tree tones."""
        self.crown = np.zeros((self.rows, self.cols), np.float32)
        self.crown_height = np.zeros((self.rows, self.cols), np.float32)
        if not self.trees:
            return
        tone = np.ones((self.rows, self.cols), np.float32)
        rng = self.rng
        self.tree_tops = []
        for position, radius in self.trees:
            top = radius * rng.uniform(1.0, 1.8) + rng.uniform(2, 5)
            self.tree_tops.append(top)
            u, v, roi = self._local(position, 0.0, radius * 1.2 + 1)
            d = np.hypot(u, v) / radius * (1.0 + 0.12 * self.medium[roi])
            dome = np.sqrt(np.clip(1 - d**2, 0, 1))
            cover = np.clip((1 - d) * radius * self.scale + 0.5, 0, 1)
            self.crown_height[roi] = np.maximum(
                self.crown_height[roi], np.where(cover > 0.3, top - radius * (1 - dome), 0)
            )
            tone[roi] = np.where(cover > self.crown[roi], rng.uniform(0.85, 1.15), tone[roi])
            self.crown[roi] = np.maximum(self.crown[roi], cover)
        leaves = fractal_noise(rng, self.crown.shape, max(1.0 * self.scale, 1.0), octaves=2)
        self.crown_height += self.crown * 0.3 * leaves  # clumps of leaves, shaded by the sun below
        dark = np.array((0.15, 0.25, 0.10)) * rng.uniform(0.9, 1.1, 3)
        light = np.array((0.33, 0.43, 0.18)) * rng.uniform(0.9, 1.1, 3)
        colour = lerp_colour(dark, light, smoothstep(-1.8, 1.8, self.medium + 0.6 * leaves)) * tone[..., None]
        self.canvas += (colour - self.canvas) * self.crown[..., None]

    # -- light -------------------------------------------------------------------------------------
    def light_and_shadows(self, light: Light, elevation: float) -> None:
        """Sun-facing shading of roofs and crowns from the height maps' slopes, cast shadows of buildings
        (height field: they fall on whatever is lower) and of tree crowns (offset crowns on the ground)."""
        surface = np.maximum(self.height, self.crown_height)
        gy, gx = np.gradient(surface)
        gx, gy = gx * self.scale, gy * self.scale  # metres per metre
        sun = np.array([-light.shadow[0], -light.shadow[1]], np.float64)
        sun /= np.linalg.norm(sun)
        lx, ly, lz = sun[0] * math.cos(elevation), sun[1] * math.cos(elevation), math.sin(elevation)
        facing = np.clip((-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1) / lz, 0.0, 1.6)
        occluder = self.height.copy()
        direction = np.array(light.shadow) / np.linalg.norm(light.shadow)
        drop = 1.0 / (np.linalg.norm(light.shadow) * self.scale)  # metres of height lost per pixel of shadow
        longest = float(self.height.max()) / drop
        step = 1.0
        while step < longest + 1:
            # max-plus doubling: after this pass ``occluder`` covers shadow lengths up to 2 * step
            shift = np.float32([[1, 0, direction[0] * step], [0, 1, direction[1] * step]])
            moved = cv2.warpAffine(occluder, shift, (self.cols, self.rows), flags=cv2.INTER_LINEAR, borderValue=0)
            np.maximum(occluder, moved - step * drop, out=occluder)
            step *= 2
        shadow = smoothstep(0.05, 0.35, occluder - surface)
        if self.trees:
            crowns = self.mask()
            angle = math.degrees(math.atan2(light.shadow[1], light.shadow[0]))
            stretch = math.hypot(1.0, np.linalg.norm(light.shadow))  # 1 / sin(elevation)
            for (position, radius), top in zip(self.trees, self.tree_tops, strict=True):
                # a crown of radius r centred at height top - r throws an ellipse, joined to the trunk's foot
                centre = self.px(position + np.array(light.shadow) * (top - radius))
                axes = (round(radius * stretch * self.scale * 16), round(radius * 0.95 * self.scale * 16))
                cv2.ellipse(
                    crowns, tuple(np.round(centre * 16).astype(int)), axes, angle, 0, 360, 255, -1, cv2.LINE_AA, shift=4
                )
                foot = np.round(self.px(position) * 16).astype(int)
                trunk = max(1, round(0.4 * self.scale))
                cv2.line(
                    crowns, tuple(foot), tuple(np.round(centre * 16).astype(int)), 255, trunk, cv2.LINE_AA, shift=4
                )
            on_ground = (1.0 - self.crown) * (self.height < 0.5)
            shadow = np.maximum(shadow, crowns.astype(np.float32) / 255.0 * on_ground)
        shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.6, 0.15 * self.scale))
        lit = facing * (1.0 - shadow)
        tint = np.asarray(light.tint, np.float32)
        self.canvas *= tint + (1 - tint) * lit[..., None]

    def draw_statics(self, light: Light) -> None:
        """Parked vehicles, standing people and animals, moored boats (after lighting: own shadows)."""
        for thing in self.statics:
            look = thing.look
            if look is None:
                continue
            thing.contrast = _contrast(self.canvas, look.colour, thing.centre, self.scale, look.length)
            layers = sprite(
                look, self.px(thing.centre), thing.heading, self.scale, light, phase=self.rng.uniform(0, 6.3)
            )
            draw_layers(self.canvas, layers)

    def grade(self) -> np.ndarray:
        """Camera-like colour response: contrast, saturation, white balance; -> uint8 RGB."""
        rng = self.rng
        grey = self.canvas.mean(axis=2, keepdims=True)
        saturation = rng.uniform(0.75, 1.1)
        image = grey + (self.canvas - grey) * saturation
        image = (image - 0.45) * rng.uniform(0.9, 1.15) + 0.45
        image *= rng.uniform(0.94, 1.06, 3).astype(np.float32)
        return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def _contrast(canvas, colour, centre, scale, size_m) -> float:
    r = max(2, int((2 * size_m + 2) * scale))
    x, y = int(centre[0] * scale), int(centre[1] * scale)
    patch = canvas[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
    ground = patch.reshape(-1, 3).mean(axis=0) if patch.size else np.full(3, 0.5)
    return float(np.clip(np.linalg.norm(np.asarray(colour) - ground) * 1.6, 0.0, 1.0))


def _rotate(x, y, angle: float):
    c, s = math.cos(angle), math.sin(angle)
    return x * c + y * s, -x * s + y * c


def _box(centre, size, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = size[0] / 2, size[1] / 2
    corners = np.array([(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)])
    return np.asarray(centre) + corners @ np.array([[c, s], [-s, c]])


def _intersection(p1, p2, q1, q2):
    d1, d2 = p2 - p1, q2 - q1
    det = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(det) < 1e-9:
        return None
    t = ((q1[0] - p1[0]) * d2[1] - (q1[1] - p1[1]) * d2[0]) / det
    return p1 + t * d1


def _water_right(polygon: np.ndarray, shore: np.ndarray) -> bool:
    """Whether the water polygon lies to the right of the shoreline's direction of travel."""
    middle = shore[len(shore) // 2]
    tangent = shore[len(shore) // 2 + 1] - shore[len(shore) // 2 - 1]
    right = middle + np.array([-tangent[1], tangent[0]]) / (np.linalg.norm(tangent) + 1e-9) * 5.0
    return cv2.pointPolygonTest(polygon.astype(np.float32), (float(right[0]), float(right[1])), False) >= 0

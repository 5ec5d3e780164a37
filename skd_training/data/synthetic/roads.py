"""The road network: roads laid out as polylines (straight, winding, or given), each with its lanes,
pavements, surface and kerb parking; painting them (pavements, carriageways, footpaths), their lane
markings and zebra crossings; cars parked along the kerbs.

Traffic and pedestrians follow ``Road`` objects later (``actors.LaneFollower``), so a road's geometry is
the same for painting and for driving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from skd_training.data.synthetic.canvas import ASPHALT, CONCRETE, DIRT, Canvas
from skd_training.data.synthetic.geometry import Polyline, intersection
from skd_training.data.synthetic.statics import StaticObjects
from skd_training.data.synthetic.zones import ROAD, WALK, ZoneMap

WHITE_PAINT, YELLOW_PAINT = (0.88, 0.88, 0.85), (0.85, 0.72, 0.25)
STRAIGHT_POINTS = 9  # a straight road is this many points; crossings are only sought between straight roads


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


class RoadNetwork:
    """The roads of one world, in the order they were laid; iterating gives the roads."""

    def __init__(self, canvas: Canvas, zones: ZoneMap, statics: StaticObjects, rng: np.random.Generator):
        self.canvas, self.zones, self.statics, self.rng = canvas, zones, statics, rng
        self.roads: list[Road] = []

    def __iter__(self):
        return iter(self.roads)

    # -- layout ------------------------------------------------------------------------------------
    def straight(self, through, angle: float, **kw) -> Road:
        """A straight road through the point ``through`` (metres), reaching well past the world's edges."""
        direction = np.array([math.cos(angle), math.sin(angle)])
        reach = math.hypot(self.canvas.width_m, self.canvas.height_m) + 40
        points = [np.asarray(through) + direction * t for t in np.linspace(-reach, reach, STRAIGHT_POINTS)]
        return self.add(np.array(points), **kw)

    def curvy(self, through, angle: float, bendiness: float = 0.04, **kw) -> Road:
        """A winding road through the point ``through`` (metres), heading ``angle`` there."""
        halves = [self._wander_out(through, angle + turn, bendiness) for turn in (math.pi, 0.0)]
        return self.add(np.concatenate([halves[0][::-1], halves[1][1:]]), **kw)

    def _wander_out(self, start, heading: float, bendiness: float) -> np.ndarray:
        """Points every 4 m from ``start`` with a smoothly drifting heading until 40 m past the world's edge."""
        width_m, height_m = self.canvas.width_m, self.canvas.height_m
        points, point, drift = [np.asarray(start, np.float64)], np.asarray(start, np.float64), 0.0
        while -40 < point[0] < width_m + 40 and -40 < point[1] < height_m + 40 and len(points) < 1000:
            drift = 0.9 * drift + self.rng.normal(0, bendiness)
            heading += drift * 0.3
            point = point + 4.0 * np.array([math.cos(heading), math.sin(heading)])
            points.append(point)
        return np.array(points)

    def add(self, points, width=7.5, lanes=1, sidewalk=0.0, surface="asphalt", parking=0.0) -> Road:
        road = Road(Polyline(points), width, lanes, sidewalk, surface, parking)
        self.roads.append(road)
        return road

    # -- painting ----------------------------------------------------------------------------------
    def paint(self, markings: bool = True) -> None:
        """All roads at once: pavements, carriageways, then markings (so crossings look continuous)."""
        canvas = self.canvas
        for road in self.roads:
            if road.sidewalk > 0:
                canvas.blend(
                    canvas.polyline_mask(road.path.points, road.width + 2 * road.sidewalk),
                    canvas.texture(CONCRETE, 0.03, 0.04, 0.03),
                )
                self.zones.fill_line(road.path.points, road.width + 2 * road.sidewalk, WALK)
        for road in self.roads:
            if road.surface == "path":
                self.footpath(road.path.points, road.width)
                continue
            colour = ASPHALT if road.surface == "asphalt" else DIRT
            wear = canvas.texture(colour, 0.06, 0.06, 0.06)
            canvas.blend(canvas.polyline_mask(road.path.points, road.width), wear)
            self.zones.fill_line(road.path.points, road.width, ROAD)
        if markings:
            for road in self.roads:
                if road.surface == "asphalt":
                    self._mark(road)
            self._crossings()

    def footpath(self, points, width: float) -> None:
        self.canvas.blend(
            self.canvas.polyline_mask(points, width), self.canvas.texture((0.66, 0.63, 0.57), 0.03, 0.04, 0.03)
        )
        self.zones.fill_line(points, width, WALK)

    def _mark(self, road: Road) -> None:
        """Lane markings: centre line(s), lane dividers, kerb lines or parking-strip edges."""
        lane = road.width / (2 * road.lanes)
        wear = self.rng.uniform(0.5, 0.9)
        if road.parking > 0:
            for sign in (-1, 1):
                self._dashed_line(
                    road.path.offset(sign * (road.width / 2 - road.parking)), 0.12, WHITE_PAINT, wear * 0.7, (5.5, 0.8)
                )
        if road.lanes == 1:
            colour = WHITE_PAINT if self.rng.random() < 0.7 else YELLOW_PAINT
            self._dashed_line(road.path.points, 0.15, colour, wear, (3.0, 6.0))
        else:
            for side in (-0.15, 0.15):
                self.canvas.line(road.path.offset(side), 0.12, YELLOW_PAINT, wear)
            for k in range(1, road.lanes):
                for sign in (-1, 1):
                    self._dashed_line(road.path.offset(sign * k * lane), 0.15, WHITE_PAINT, wear, (3.0, 9.0))
        if road.parking == 0:
            for sign in (-1, 1):
                self.canvas.line(road.path.offset(sign * (road.width / 2 - 0.35)), 0.15, WHITE_PAINT, wear * 0.8)

    def _dashed_line(self, points_m, width_m: float, colour, alpha: float, dash: tuple[float, float]) -> None:
        """``dash`` = (painted, gap) metres, starting at a random phase."""
        canvas = self.canvas
        path = Polyline(points_m)
        mask = canvas.mask()
        thickness = max(1, round(width_m * canvas.scale))
        s = self.rng.uniform(0, dash[0] + dash[1])
        while s < path.length:
            a, _ = path.at(s)
            b, _ = path.at(min(s + dash[0], path.length))
            pts = np.round(canvas.px([a, b]) * 16).astype(np.int32)
            cv2.line(mask, tuple(pts[0]), tuple(pts[1]), 255, thickness, cv2.LINE_AA, shift=4)
            s += dash[0] + dash[1]
        canvas.blend(mask, colour, alpha)

    def _crossings(self) -> None:
        """Zebra crossings on each arm of every crossing of two straight asphalt roads with pavements."""
        straight = [
            r for r in self.roads if len(r.path.points) == STRAIGHT_POINTS and r.surface == "asphalt" and r.sidewalk > 0
        ]
        stripes = self.canvas.mask()
        for i, a in enumerate(straight):
            for b in straight[i + 1 :]:
                point = intersection(a.path.points[0], a.path.points[-1], b.path.points[0], b.path.points[-1])
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
                            self.canvas.paint_polygon(stripe, None, mask=stripes)
        self.canvas.blend(stripes, (0.86, 0.86, 0.83), 0.8)

    # -- parking -----------------------------------------------------------------------------------
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
                    if 0 < position[0] < self.canvas.width_m and 0 < position[1] < self.canvas.height_m:
                        self.statics.park("car", position, heading + self.rng.normal(0, 0.02))
                s += self.rng.uniform(5.6, 7.5)

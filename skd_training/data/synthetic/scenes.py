"""Scene recipes: which world and which moving things a video of each category gets.

* Vehicle: ``urban`` (street grid, kerb and lot parking, pedestrians), ``suburban`` (winding streets,
  houses with gardens, pools, driveways) or ``rural_road`` (fields, a road or highway, farms); traffic is
  the main target, parked cars are look-alike distractors.
* Human: ``plaza`` (a square and park with paths, fountains, benches) or ``urban`` streets full of
  pedestrians; walkers, groups, people who stop and start, cyclists; standing people are distractors.
* Building: ``landmark`` - a dome, tower with helipad, stadium or church among ordinary buildings,
  with little traffic.
* Others: ``harbour`` (boats with wakes, moored boats, a promenade) or ``pasture`` (herds of cattle or
  sheep, hay bales, farm tracks).

Everything that matters is placed in the ``focus`` rectangle, the part of the world the camera will see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skd_training.data.synthetic.actors import Actor, Cruiser, Follower, LaneFollower, Still, Walker
from skd_training.data.synthetic.sprites import Layer, Light, draw_layers, ellipse, place, random_look, shadow_of
from skd_training.data.synthetic.world import (
    FIELD,
    FREE,
    ROOFS,
    TREE,
    WALK,
    WATER,
    Thing,
    World,
    _box,
    _Builder,
)

CATEGORY_SCENES = {
    "Vehicle": (("urban", 0.4), ("suburban", 0.3), ("rural_road", 0.3)),
    "Human": (("plaza", 0.6), ("urban", 0.4)),
    "Building": (("landmark", 1.0),),
    "Others": (("harbour", 0.5), ("pasture", 0.5)),
}


@dataclass(frozen=True)
class Focus:
    """The rectangle (metres) the camera will look at during the clip."""

    centre: np.ndarray
    half: np.ndarray

    def sample(self, rng, shrink: float = 1.0) -> np.ndarray:
        return self.centre + rng.uniform(-1, 1, 2) * self.half * shrink

    def contains(self, points, grow: float = 1.0) -> np.ndarray:
        return np.all(np.abs(np.asarray(points) - self.centre) <= self.half * grow, axis=-1)


def choose_scene(rng, category: str) -> str:
    scenes, weights = zip(*CATEGORY_SCENES[category], strict=True)
    return scenes[rng.choice(len(scenes), p=np.array(weights) / sum(weights))]


class _Population:
    """Creates actors and static look-alikes inside the focus."""

    def __init__(self, b: _Builder, focus: Focus):
        self.b, self.rng, self.focus = b, b.rng, focus
        self.actors: list[Actor] = []

    def _actor(self, kind: str, category: str, position, heading: float, controller) -> Actor:
        actor = Actor(random_look(self.rng, kind), category, np.asarray(position, np.float64), heading, controller)
        actor.phase = self.rng.uniform(0, 2 * math.pi)
        self.actors.append(actor)
        return actor

    def _lane_positions(self, road, offset: float, grow: float = 1.15) -> np.ndarray:
        """Arc lengths along ``road`` whose point lies in the focus grown by ``grow``."""
        s = np.arange(0.0, road.path.length, 2.0)
        points = np.array([road.path.at(v)[0] for v in s])
        return s[self.focus.contains(points, grow=grow)]

    def traffic(
        self,
        roads,
        gap=(20.0, 60.0),
        kinds=(("car", 0.8), ("van", 0.1), ("truck", 0.05), ("bus", 0.05)),
        speed=(7.0, 14.0),
        limit: int = 40,
    ):
        """Vehicles on every lane that crosses the (grown) focus, ``gap`` metres apart on average, so
        that traffic keeps flowing through the view during the clip."""
        names, weights = zip(*kinds, strict=True)
        spawned = 0
        for road in [r for r in roads if r.surface != "path"]:
            for offset, direction in road.lane_offsets():
                candidates = self._lane_positions(road, offset, grow=1.5)
                if len(candidates) == 0:
                    continue
                cruise_lane = self.rng.uniform(*speed) * (0.6 if road.surface == "dirt" else 1.0)
                s = float(candidates[0]) + self.rng.uniform(0, gap[1])
                while s <= candidates[-1] and spawned < limit:
                    near = np.abs(candidates - s).min() < 2.5
                    if near:
                        kind = names[self.rng.choice(len(names), p=np.array(weights) / sum(weights))]
                        cruise = cruise_lane * self.rng.uniform(0.85, 1.1) * (0.8 if kind in ("truck", "bus") else 1.0)
                        controller = LaneFollower(road, offset, direction, s, cruise)
                        actor = self._actor(kind, "Vehicle", (0, 0), 0.0, controller)
                        actor.speed = cruise
                        controller.place(actor)
                        spawned += 1
                    s += max(self.rng.uniform(*gap), 12.0)

    def pavement_walkers(self, roads, count: int) -> None:
        """People walking along pavements (or footpaths), both directions."""
        walkable = [r for r in roads if r.sidewalk > 0 or r.surface == "path"]
        for _ in range(count * 4):
            if count <= 0 or not walkable:
                return
            road = walkable[self.rng.integers(len(walkable))]
            if road.surface == "path":
                offset = self.rng.uniform(-0.3, 0.3) * road.width
            else:
                offset = (road.width / 2 + road.sidewalk * self.rng.uniform(0.3, 0.7)) * (
                    1 if self.rng.random() < 0.5 else -1
                )
            candidates = self._lane_positions(road, offset)
            if len(candidates) == 0:
                continue
            s = float(candidates[self.rng.integers(len(candidates))])
            direction = 1 if self.rng.random() < 0.5 else -1
            kind = "cyclist" if road.surface == "path" and self.rng.random() < 0.2 else "person"
            cruise = self.rng.uniform(4.0, 6.5) if kind == "cyclist" else self.rng.uniform(1.0, 1.7)
            controller = LaneFollower(road, offset, direction, s, cruise, follow=False)
            actor = self._actor(kind, "Human", (0, 0), 0.0, controller)
            actor.speed = cruise
            controller.place(actor)
            count -= 1

    def free_walkers(self, count: int, zones=(WALK,), group_chance: float = 0.3, stop_go: float = 0.3) -> None:
        """People walking freely in ``zones``: some in groups of two or three, some stopping and starting."""
        for _ in range(count * 10):
            if count <= 0:
                return
            p = self.focus.sample(self.rng, 1.05)
            if self.b.zone_at(p) not in zones:
                continue
            moving = self.rng.random() > 0.25
            stops = stop_go if self.rng.random() < 0.5 else 0.0
            walker = Walker(
                zones, self.rng.uniform(0.9, 1.7), self.rng, stop_rate=0.25 * stops, go_rate=0.5, moving=moving
            )
            leader = self._actor("person", "Human", p, self.rng.uniform(-math.pi, math.pi), walker)
            count -= 1
            if self.rng.random() < group_chance:
                for k in range(self.rng.integers(1, 3)):
                    follower = self._actor("person", "Human", p, leader.heading, Follower())
                    follower.leader = leader
                    follower.offset = np.array([self.rng.normal(0, 0.2), 0.65 * (k + 1) * (1 if k % 2 == 0 else -1)])
                    count -= 1

    def standing_people(self, count: int, zones=(WALK,)) -> None:
        """People who do not move during the clip (look-alike distractors)."""
        for _ in range(count * 10):
            if count <= 0:
                return
            p = self.focus.sample(self.rng, 1.05)
            if self.b.zone_at(p) in zones:
                self._actor("person", "Human", p, self.rng.uniform(-math.pi, math.pi), Still())
                count -= 1

    def herd(self, centre, count: int, kind: str, spread: float) -> None:
        drift = self.rng.uniform(-math.pi, math.pi)
        anchor_state = {"centre": np.asarray(centre, np.float64)}

        def anchor():
            return anchor_state["centre"]

        for _ in range(count):
            p = np.asarray(centre) + self.rng.normal(0, spread, 2)
            if self.b.zone_at(p) not in (FREE, FIELD):
                continue
            moving = self.rng.random() < 0.6
            walker = Walker(
                (FREE, FIELD),
                self.rng.uniform(0.3, 1.0),
                self.rng,
                turn=0.9,
                stop_rate=0.15,
                go_rate=0.15,
                moving=moving,
                anchor=anchor,
                radius=spread * 1.5,
            )
            self._actor(kind, "Others", p, drift + self.rng.normal(0, 0.8), walker)

    def boats(self, count: int, water_cells: np.ndarray) -> None:
        focus_cells = water_cells[self.focus.contains((water_cells[:, ::-1] + 0.5) * 0.5, grow=0.9)]
        for _ in range(count):
            if len(focus_cells) == 0:
                return
            cell = focus_cells[self.rng.integers(len(focus_cells))]
            p = (cell[::-1] + 0.5) * 0.5
            actor = self._actor(
                "boat",
                "Others",
                p,
                self.rng.uniform(-math.pi, math.pi),
                Cruiser(self.rng.uniform(2.0, 7.0), self.rng, water_cells),
            )
            actor.speed = actor.controller.cruise * 0.8


def _houses_along(b: _Builder, road, spacing=(16, 26), setback=(5, 10)) -> None:
    """Detached houses on both sides of a road with driveways, gardens, pools and trees."""
    rng = b.rng
    for side in (-1, 1):
        s = rng.uniform(0, 10)
        while s < road.path.length:
            point, tangent = road.path.at(s)
            normal = np.array([-tangent[1], tangent[0]]) * side
            depth, front = rng.uniform(9, 14), rng.uniform(10, 16)
            gap = road.width / 2 + road.sidewalk + rng.uniform(*setback)
            centre = point + normal * (gap + depth / 2)
            angle = math.atan2(tangent[1], tangent[0]) + rng.normal(0, 0.03)
            roof = "gable" if rng.random() < 0.55 else "hip"
            colour = np.asarray(ROOFS[rng.choice([0, 1, 4, 5, 0, 7])]) * rng.uniform(0.85, 1.1)
            if b.building(centre, (front, depth), angle, rng.uniform(5, 8), roof, colour):
                side_of_house = tangent * (front / 2 + 2.0)
                drive_a = point + normal * (road.width / 2) + side_of_house
                drive_b = point + normal * (gap + depth * 0.6) + side_of_house
                drive = [
                    drive_a - tangent * 1.5,
                    drive_a + tangent * 1.5,
                    drive_b + tangent * 1.5,
                    drive_b - tangent * 1.5,
                ]
                if b.free(drive[2:] + [drive_b], (FREE, TREE), 0.0):
                    b.paint_polygon(drive, b.texture((0.60, 0.59, 0.56), 0.02, 0.03, 0.03))
                    b.zone_poly(drive, WALK)
                    if rng.random() < 0.5:
                        park_at = point + normal * (gap + rng.uniform(0, depth * 0.3)) + side_of_house
                        b.parked(
                            "car", park_at, math.atan2(normal[1], normal[0]) + (math.pi if rng.random() < 0.5 else 0)
                        )
                garden = centre + normal * (depth / 2 + rng.uniform(4, 7))
                if rng.random() < 0.3 and b.free(_box(garden, (7, 3.5), angle), (FREE,), 0.5):
                    b.paint_polygon(_box(garden, (7, 3.5), angle), b.texture((0.30, 0.62, 0.70), 0.02, 0.03, 0.03))
                    b.zone_poly(_box(garden, (7, 3.5), angle), WATER)
                b.tree_cluster(garden + tangent * rng.uniform(-6, 6), rng.integers(1, 4), 3.0, (1.8, 4.0))
            s += rng.uniform(*spacing)


def _scatter_buildings(
    b: _Builder, focus: Focus, attempts: int, size=(10, 35), height=(6, 30), flat=0.7, angle=0.0
) -> None:
    rng = b.rng
    grown = Focus(focus.centre, focus.half * 1.5 + 20)
    for _ in range(attempts):
        centre = grown.sample(rng)
        dims = (rng.uniform(*size), rng.uniform(size[0], size[1] * 0.8))
        orientation = angle + (math.pi / 2 if rng.random() < 0.5 else 0) + rng.normal(0, 0.02)
        roof = "flat" if rng.random() < flat else ("gable" if rng.random() < 0.6 else "hip")
        colour = np.asarray(ROOFS[rng.integers(len(ROOFS))]) * rng.uniform(0.85, 1.1)
        b.building(centre, dims, orientation, rng.uniform(*height), roof, colour)


def _fill_blocks(b: _Builder, focus: Focus, origin, angle: float, spacing: float, reach: int) -> None:
    """City blocks of a street grid: perimeter buildings around a courtyard, one large building, a few
    detached buildings with a car park, a small park or a car park, each block chosen at random."""
    rng = b.rng
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    inner = spacing - 2 * (7.5 + 4.0 + 1.0)  # widest road half-width, pavement, setback
    grown = Focus(focus.centre, focus.half * 1.3 + spacing / 2)
    if inner < 12:
        return
    for i in range(-reach, reach):
        for j in range(-reach, reach):
            centre = origin + direction * (i + 0.5) * spacing + normal * (j + 0.5) * spacing
            if not grown.contains(centre) or b.zone_at(centre) != FREE:
                continue
            kind = rng.choice(5, p=[0.55, 0.2, 0.12, 0.05, 0.08])
            if kind == 0:  # perimeter lots facing the four streets
                for side in range(4):
                    along = direction if side % 2 == 0 else normal
                    out = normal if side % 2 == 0 else direction
                    sign = 1 if side < 2 else -1
                    u = -inner / 2 + rng.uniform(0, 3)
                    while u < inner / 2 - 8:
                        frontage = min(rng.uniform(10, 24), inner / 2 - u)
                        depth = rng.uniform(9, min(18, inner / 2 - 3))
                        at = centre + along * (u + frontage / 2) + out * sign * (inner / 2 - depth / 2)
                        roof = "flat" if rng.random() < 0.7 else "gable"
                        colour = np.asarray(ROOFS[rng.integers(len(ROOFS))]) * rng.uniform(0.85, 1.1)
                        heading = math.atan2(along[1], along[0])
                        b.building(at, (frontage - 0.6, depth), heading, rng.uniform(6, 24), roof, colour, margin=0.0)
                        u += frontage + rng.uniform(0, 2.5)
                b.tree_cluster(centre, rng.integers(0, 5), inner * 0.12, (2.0, 4.0), allowed=(FREE, TREE))
            elif kind == 1:  # one large building
                size = (inner * rng.uniform(0.6, 0.92), inner * rng.uniform(0.5, 0.85))
                colour = np.asarray(ROOFS[rng.choice([1, 2, 3, 5])]) * rng.uniform(0.9, 1.1)
                b.building(centre, size, angle, rng.uniform(8, 35), "flat", colour)
            elif kind == 2:  # detached buildings and a car park
                lot = (inner * 0.9, inner * 0.35)
                b.parking(centre - normal * inner * 0.28, lot, angle, rng.uniform(0.3, 0.9))
                for _ in range(rng.integers(1, 4)):
                    at = centre + normal * inner * 0.2 + direction * rng.uniform(-0.3, 0.3) * inner
                    size = (rng.uniform(12, 25), rng.uniform(10, 18))
                    b.building(
                        at,
                        size,
                        angle,
                        rng.uniform(5, 15),
                        "flat" if rng.random() < 0.6 else "hip",
                        np.asarray(ROOFS[rng.integers(len(ROOFS))]),
                    )
            elif kind == 3:  # a small park
                b.path(np.array([centre - direction * inner / 2, centre + direction * inner / 2]), 2.5)
                b.tree_cluster(centre, rng.integers(6, 16), inner * 0.25, (2.0, 5.0), allowed=(FREE, TREE, WALK))
            else:
                b.parking(centre, (inner * 0.95, inner * 0.9), angle, rng.uniform(0.2, 0.9))


def _street_trees(b: _Builder, roads, spacing=(8, 13)) -> None:
    for road in roads:
        if road.sidewalk <= 0:
            continue
        for side in (-1, 1):
            s = b.rng.uniform(0, spacing[1])
            while s < road.path.length:
                point, tangent = road.path.at(s)
                p = point + np.array([-tangent[1], tangent[0]]) * side * (road.width / 2 + road.sidewalk + 1.5)
                if b.zone_at(p) in (FREE, TREE):
                    b.tree(p, b.rng.uniform(2.0, 3.5))
                s += b.rng.uniform(*spacing)


def _fill_trees(b: _Builder, focus: Focus, clusters: int, zones=(FREE,)) -> None:
    grown = Focus(focus.centre, focus.half * 1.4 + 20)
    for _ in range(clusters):
        b.tree_cluster(grown.sample(b.rng), b.rng.integers(2, 12), b.rng.uniform(3, 10), allowed=zones)


def build_scene(rng, scene: str, category: str, size_m, scale: float, focus: Focus, light: Light, elevation: float):
    """(World, actors) for ``scene`` with ``category``'s main targets (see the module docstring)."""
    b = _Builder(rng, size_m, scale)
    people = _Population(b, focus)
    main = category
    b.ground(lush=rng.uniform(0.2, 0.9))
    if scene in ("urban", "landmark"):
        angle = rng.uniform(0, math.pi)
        spacing = rng.uniform(55, 90) if scene == "urban" else rng.uniform(120, 160)
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        origin = focus.centre + rng.uniform(-0.3, 0.3, 2) * spacing
        landmark_at = None
        if scene == "landmark":
            landmark_at = focus.centre + rng.uniform(-0.35, 0.35, 2) * focus.half
            origin = landmark_at + (direction + normal) * spacing / 2
        reach = int(math.hypot(*size_m) / spacing) + 1
        main_road = rng.random() < 0.5
        for k in range(-reach, reach + 1):
            for axis, across in ((angle, normal), (angle + math.pi / 2, direction)):
                wide = main_road and k == 0 and axis == angle
                b.straight_road(
                    origin + across * k * spacing, axis,
                    width=15.0 if wide else rng.uniform(10.0, 11.5), lanes=2 if wide else 1,
                    sidewalk=rng.uniform(2.5, 4.0), parking=0.0 if wide else 2.2,
                )  # fmt: skip
        b.paint_roads()
        if landmark_at is not None:
            style = ("dome", "tower", "stadium", "church")[rng.integers(4)]
            b.plaza(landmark_at, (spacing * 0.7, spacing * 0.7), angle)
            b.landmark_building(landmark_at, style)
        _fill_blocks(b, focus, origin, angle, spacing, reach)
        _scatter_buildings(b, focus, 60, angle=angle)
        _street_trees(b, b.roads)
        _fill_trees(b, focus, 12)
        for road in b.roads:
            if road.parking > 0:
                b.kerb_parking(road, rng.uniform(0.1, 0.5))
        if main == "Human":
            people.pavement_walkers(b.roads, rng.integers(14, 30))
            people.standing_people(rng.integers(3, 10))
            people.traffic(b.roads, gap=(80, 250), speed=(4, 9), limit=int(rng.integers(0, 5)))
        elif main == "Vehicle":
            people.traffic(b.roads, gap=(18, 50))
            people.pavement_walkers(b.roads, rng.integers(2, 8))
            people.standing_people(rng.integers(0, 4))
        else:  # the landmark is the main target: a little life around it
            people.traffic(b.roads, gap=(100, 300), speed=(5, 10), limit=int(rng.integers(0, 4)))
            people.pavement_walkers(b.roads, rng.integers(0, 4))
            people.free_walkers(rng.integers(0, 3))
            people.standing_people(rng.integers(0, 5))
    elif scene == "suburban":
        start = focus.centre + rng.uniform(-0.3, 0.3, 2) * focus.half
        first = b.curvy_road(
            start,
            rng.uniform(-math.pi, math.pi),
            bendiness=0.03,
            width=rng.uniform(6.5, 7.5),
            sidewalk=rng.uniform(0, 2.0),
        )
        if rng.random() < 0.6:
            point, tangent = first.path.at(first.path.length * rng.uniform(0.35, 0.65))
            b.curvy_road(point, math.atan2(tangent[0], -tangent[1]), width=6.5, sidewalk=first.sidewalk)
        b.paint_roads()
        for road in b.roads:
            _houses_along(b, road)
        _fill_trees(b, focus, 20)
        people.traffic(b.roads, gap=(20, 55), kinds=(("car", 0.85), ("van", 0.1), ("truck", 0.05)), speed=(7, 12))
        people.pavement_walkers(b.roads, rng.integers(1, 5))
    elif scene == "rural_road":
        angle = rng.uniform(0, math.pi)
        b.fields(angle, (40, 110))
        highway = rng.random() < 0.4
        through = focus.centre + rng.uniform(-0.4, 0.4, 2) * focus.half
        if highway:
            b.straight_road(through, angle + rng.normal(0, 0.2), width=rng.uniform(14, 16), lanes=2, sidewalk=1.0)
        else:
            b.curvy_road(through, angle, width=rng.uniform(6.5, 8))
        if rng.random() < 0.5:
            b.straight_road(focus.sample(rng), angle + math.pi / 2, width=4.0, surface="dirt")
        b.paint_roads()
        for _ in range(rng.integers(0, 4)):
            centre = focus.sample(rng, 1.3)
            b.building(
                centre,
                (rng.uniform(20, 45), rng.uniform(12, 22)),
                angle + rng.normal(0, 0.05),
                7,
                "gable",
                np.asarray(ROOFS[rng.choice([2, 6, 7, 1])]),
            )
        for _ in range(rng.integers(2, 8)):  # hedgerows along field edges
            a = focus.sample(rng, 1.6)
            for k in range(rng.integers(5, 25)):
                p = a + k * rng.uniform(4, 6) * np.array([math.cos(angle), math.sin(angle)])
                if b.zone_at(p) in (FIELD, FREE, TREE):
                    b.tree(p + rng.normal(0, 0.5, 2), rng.uniform(2.0, 4.5))
        people.traffic(
            b.roads, gap=(30, 90), kinds=(("car", 0.7), ("van", 0.1), ("truck", 0.15), ("bus", 0.05)), speed=(12, 25)
        )
    elif scene == "plaza":
        angle = rng.uniform(0, math.pi)
        centre = focus.centre + rng.uniform(-0.25, 0.25, 2) * focus.half
        size = rng.uniform(40, 90, 2)
        outline = b.plaza(centre, size, angle, round_plaza=rng.random() < 0.3)
        for corner in outline[:: max(1, len(outline) // 4)]:
            away = corner - centre
            heading = math.atan2(away[1], away[0])
            b.add_road(_wander(rng, corner, heading, 60), width=rng.uniform(2.5, 4.0), surface="path")
        edge = centre + np.array([math.cos(angle), math.sin(angle)]) * (size[0] / 2 + rng.uniform(25, 45))
        b.straight_road(edge, angle + math.pi / 2, width=10.5, sidewalk=3.0, parking=2.2)
        b.paint_roads()
        if rng.random() < 0.6:
            r = rng.uniform(3, 7)
            ring = centre + np.stack([np.cos(np.linspace(0, 6.28, 40)), np.sin(np.linspace(0, 6.28, 40))], 1) * r
            b.paint_polygon(ring * 1.0, b.texture((0.75, 0.74, 0.70), 0.02, 0.02, 0.02))
            b.paint_polygon(centre + (ring - centre) * 0.85, b.texture((0.25, 0.45, 0.52), 0.03, 0.05, 0.05))
        for k in range(rng.integers(4, 12)):  # trees in rows around the square
            t = k / 12 * 2 * math.pi
            p = centre + np.array([math.cos(t) * size[0] * 0.62, math.sin(t) * size[1] * 0.62])
            b.tree(p, rng.uniform(2.5, 4.5))
        _fill_trees(b, focus, 18)
        _scatter_buildings(b, Focus(focus.centre, focus.half * 1.3), 120, angle=angle)
        for road in b.roads:
            if road.parking > 0:
                b.kerb_parking(road, rng.uniform(0.3, 0.8))
        people.free_walkers(rng.integers(12, 30), zones=(WALK,))
        people.pavement_walkers(b.roads, rng.integers(3, 10))
        people.standing_people(rng.integers(3, 10))
        people.traffic(b.roads, gap=(80, 250), speed=(4, 9))
    elif scene == "harbour":
        shore = b.water(rng.uniform(0.4, 0.6))
        inland = 1.0 if b.zone_at(shore.offset(15.0)[len(shore.points) // 2]) != WATER else -1.0
        promenade = shore.offset(inland * rng.uniform(7, 10))
        b.add_road(promenade, width=rng.uniform(6, 9), surface="path")
        b.add_road(shore.offset(inland * rng.uniform(22, 30)), width=10.5, sidewalk=2.5, parking=2.2)
        b.paint_roads(markings=True)
        for _ in range(rng.integers(1, 4)):  # piers with moored boats
            s = rng.uniform(0, shore.length)
            point, tangent = shore.at(s)
            if not focus.contains(point, grow=1.2):
                continue
            out = -inland * np.array([-tangent[1], tangent[0]])
            length = rng.uniform(20, 45)
            pier = [
                point - tangent * 1.5,
                point + tangent * 1.5,
                point + tangent * 1.5 + out * length,
                point - tangent * 1.5 + out * length,
            ]
            b.paint_polygon(pier, b.texture((0.48, 0.40, 0.32), 0.03, 0.05, 0.08))
            for k in range(int(length // 9)):
                for side in (-1, 1):
                    if rng.random() < 0.6:
                        look = random_look(rng, "boat")
                        if look.length > 8.5:
                            continue
                        spot = (
                            point + out * (6 + 9 * k) + tangent * side * (1.5 + look.width / 2 + rng.uniform(0.3, 0.8))
                        )
                        b.parked(
                            "boat", spot, math.atan2(out[1], out[0]) + rng.normal(0, 0.05), category="Others", look=look
                        )
        _scatter_buildings(b, focus, 120)
        _fill_trees(b, focus, 10)
        for road in b.roads:
            if road.parking > 0:
                b.kerb_parking(road, rng.uniform(0.3, 0.7))
        water_cells = np.argwhere(b.zone == WATER)
        people.boats(rng.integers(2, 6), water_cells)
        people.pavement_walkers(b.roads, rng.integers(3, 10))
        people.traffic(b.roads, gap=(100, 300), speed=(5, 10))
    elif scene == "pasture":
        angle = rng.uniform(0, math.pi)
        b.fields(angle, (60, 150))
        pasture = _box(
            focus.centre + rng.uniform(-0.2, 0.2, 2) * focus.half, focus.half * rng.uniform(1.6, 2.4, 2), angle
        )
        b.paint_polygon(pasture, b.texture((0.33, 0.43, 0.20), 0.06, 0.08, 0.08))
        b.zone_poly(pasture, FREE)
        b.line(np.concatenate([pasture, pasture[:1]]), 0.15, (0.30, 0.25, 0.20), 0.8)
        b.straight_road(focus.sample(rng, 1.4), angle + rng.normal(0, 0.3), width=3.5, surface="dirt")
        b.paint_roads()
        for _ in range(rng.integers(1, 4)):
            b.building(
                focus.sample(rng, 1.5),
                (rng.uniform(15, 35), rng.uniform(10, 18)),
                angle,
                6,
                "gable",
                np.asarray(ROOFS[rng.choice([2, 6, 7, 0])]),
            )
        _fill_trees(b, focus, 10, zones=(FREE, FIELD))
        for _ in range(rng.integers(3, 15)):  # hay bales
            p = focus.sample(rng, 1.3)
            if b.zone_at(p) in (FREE, FIELD):
                b.statics.append(Thing("bale", "Others", p, 0.0, 1.6, 1.6, semantic="bale", look=None))
        kind = "cow" if rng.random() < 0.6 else "sheep"
        for _ in range(rng.integers(1, 4)):
            people.herd(
                focus.sample(rng, 0.7),
                rng.integers(4, 16) if kind == "cow" else rng.integers(8, 25),
                kind,
                rng.uniform(5, 14),
            )
        for _ in range(rng.integers(0, 6)):  # animals lying or grazing apart (static)
            p = focus.sample(rng)
            if b.zone_at(p) == FREE:
                b.parked(kind, p, rng.uniform(-math.pi, math.pi), category="Others")
    else:
        raise ValueError(
            f"unknown scene {scene!r}; scenes: urban, suburban, rural_road, plaza, landmark, harbour, pasture"
        )
    b.paint_trees()
    b.light_and_shadows(light, elevation)
    _draw_bales(b, light)
    b.draw_statics(light)
    canvas = b.grade()
    world = World(canvas, scale, light, b.zone, scene, b.roads, [t for t in b.statics], b.landmark)
    for actor in people.actors:
        actor.contrast = world.contrast_of(actor.look.colour, actor.position, max(actor.look.length, 1.0))
    for thing in world.statics:
        if thing.look is None and thing.kind == "building":
            thing.contrast = world.contrast_of(
                world.colour_around(thing.centre, 2.0), thing.centre, max(thing.length, thing.width) / 2
            )
    return world, people.actors


def _wander(rng, start, heading: float, length: float) -> np.ndarray:
    points, point = [np.asarray(start, np.float64)], np.asarray(start, np.float64)
    for _ in range(int(length / 3)):
        heading += rng.normal(0, 0.12)
        point = point + 3 * np.array([math.cos(heading), math.sin(heading)])
        points.append(point)
    return np.array(points)


def _draw_bales(b: _Builder, light: Light) -> None:
    for thing in b.statics:
        if thing.kind != "bale":
            continue
        disc = place(ellipse(1.6, 1.6, 16), b.px(thing.centre), 0.0, b.scale)
        draw_layers(
            b.canvas, [Layer(shadow_of(disc, 1.2, light, b.scale), shade=light.tint), Layer(disc, (0.78, 0.68, 0.42))]
        )
        draw_layers(
            b.canvas, [Layer(place(ellipse(0.9, 0.9, 12), b.px(thing.centre), 0.0, b.scale), (0.70, 0.60, 0.36))]
        )

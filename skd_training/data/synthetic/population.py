"""Who moves through a scene, and who stands still: traffic on every lane through the view, people on
pavements and footpaths, people walking freely (alone or in groups, stopping and starting), standing
people, herds and boats - all placed inside the focus, the part of the world the camera will see."""

from __future__ import annotations

import math

import numpy as np

from skd_training.data.synthetic.actors import Actor, Cruiser, Follower, LaneFollower, Still, Walker
from skd_training.data.synthetic.geometry import Focus
from skd_training.data.synthetic.sprites import random_look
from skd_training.data.synthetic.zones import FIELD, FREE, WALK, ZONE_CELL, ZoneMap


class Population:
    """Creates actors and static look-alikes inside the focus."""

    def __init__(self, rng: np.random.Generator, zone_map: ZoneMap, focus: Focus):
        self.rng, self.zone_map, self.focus = rng, zone_map, focus
        self.actors: list[Actor] = []

    def _actor(self, kind: str, category: str, position, heading: float, controller) -> Actor:
        actor = Actor(random_look(self.rng, kind), category, np.asarray(position, np.float64), heading, controller)
        actor.phase = self.rng.uniform(0, 2 * math.pi)
        self.actors.append(actor)
        return actor

    def _lane_positions(self, road, grow: float = 1.15) -> np.ndarray:
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
                candidates = self._lane_positions(road, grow=1.5)
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
            candidates = self._lane_positions(road)
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
            if self.zone_map.at(p) not in zones:
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
            if self.zone_map.at(p) in zones:
                self._actor("person", "Human", p, self.rng.uniform(-math.pi, math.pi), Still())
                count -= 1

    def herd(self, centre, count: int, kind: str, spread: float) -> None:
        """Up to ``count`` animals of ``kind`` around ``centre`` on free ground or fields, some grazing in
        place, the others wandering but kept near the herd's centre."""
        drift = self.rng.uniform(-math.pi, math.pi)
        anchor_state = {"centre": np.asarray(centre, np.float64)}

        def anchor():
            return anchor_state["centre"]

        for _ in range(count):
            p = np.asarray(centre) + self.rng.normal(0, spread, 2)
            if self.zone_map.at(p) not in (FREE, FIELD):
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
        """``count`` boats under way, starting on the ``water_cells`` (zone rows, cols) inside the focus."""
        focus_cells = water_cells[self.focus.contains((water_cells[:, ::-1] + 0.5) * ZONE_CELL, grow=0.9)]
        for _ in range(count):
            if len(focus_cells) == 0:
                return
            cell = focus_cells[self.rng.integers(len(focus_cells))]
            p = (cell[::-1] + 0.5) * ZONE_CELL
            actor = self._actor(
                "boat",
                "Others",
                p,
                self.rng.uniform(-math.pi, math.pi),
                Cruiser(self.rng.uniform(2.0, 7.0), self.rng, water_cells),
            )
            actor.speed = actor.controller.cruise * 0.8

"""Things that move: traffic on lanes (with car following), pedestrians (free walking with stops and
starts, on pavements, in groups), herds, and boats. Every actor is simulated for the whole clip before
anything is drawn, so the camera can follow one and the observers can see what moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from skd_training.data.synthetic.roads import Road
from skd_training.data.synthetic.sprites import Look
from skd_training.data.synthetic.world import World
from skd_training.data.synthetic.zones import WATER, ZONE_CELL


@dataclass
class Actor:
    look: Look
    category: str  # Vehicle, Human, Others
    position: np.ndarray  # metres
    heading: float
    controller: object
    speed: float = 0.0
    contrast: float = 0.5
    phase: float = 0.0  # walking animation
    leader: Actor | None = None
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))  # from the leader, in its frame


class LaneFollower:
    """Drives (or walks) along a road at a sideways ``offset``; vehicles keep their distance."""

    def __init__(self, road: Road, offset: float, direction: int, s: float, cruise: float, follow: bool = True):
        self.road, self.offset, self.direction, self.s, self.cruise, self.follow = (
            road,
            offset,
            direction,
            s,
            cruise,
            follow,
        )

    def place(self, actor: Actor) -> None:
        point, tangent = self.road.path.at(self.s)
        normal = np.array([-tangent[1], tangent[0]])
        actor.position = point + normal * self.offset
        actor.heading = math.atan2(tangent[1] * self.direction, tangent[0] * self.direction)

    def step(self, actor: Actor, dt: float, sim: Simulation) -> None:
        target = self.cruise
        if self.follow:
            gap = sim.gap_ahead(actor)
            if gap is not None:
                target = min(target, max(0.0, (gap - 3.0) / 1.2))
        accel = float(np.clip(target - actor.speed, -6.0 * dt, 2.5 * dt))
        actor.speed = max(0.0, actor.speed + accel)
        length = self.road.path.length
        self.s = (self.s + self.direction * actor.speed * dt) % length  # roads reach past the world's edges
        self.place(actor)


class Walker:
    """Walks where its zones allow, turning gradually, stopping and starting at random; with ``anchor``
    it stays within ``radius`` metres of it (a herd around its centre)."""

    def __init__(
        self, zones, cruise: float, rng, turn=0.6, stop_rate=0.03, go_rate=0.3, moving=True, anchor=None, radius=0.0
    ):
        self.zones, self.cruise, self.rng, self.turn = set(zones), cruise, rng, turn
        self.stop_rate, self.go_rate, self.moving = stop_rate, go_rate, moving
        self.anchor, self.radius = anchor, radius

    def step(self, actor: Actor, dt: float, sim: Simulation) -> None:
        if self.moving and self.rng.random() < self.stop_rate * dt:
            self.moving = False
        elif not self.moving and self.rng.random() < self.go_rate * dt:
            self.moving = True
        actor.speed = self.cruise if self.moving else 0.0
        actor.heading += self.rng.normal(0.0, self.turn * math.sqrt(dt))
        if self.anchor is not None:
            away = self.anchor() - actor.position
            if np.linalg.norm(away) > self.radius:
                wanted = math.atan2(away[1], away[0])
                actor.heading += 0.8 * dt * math.sin(wanted - actor.heading)
        if actor.speed == 0.0:
            return
        step = actor.speed * dt * np.array([math.cos(actor.heading), math.sin(actor.heading)])
        ahead = actor.position + step * max(1.0, 0.6 / max(np.linalg.norm(step), 1e-6))
        if sim.world.zones.at(ahead) in self.zones:
            actor.position = actor.position + step
            actor.phase += np.linalg.norm(step) * 2 * math.pi / 1.3
        else:
            actor.heading += math.pi + self.rng.normal(0, 0.6)


class Cruiser:
    """A boat heading for random waypoints on the water, turning at a limited rate."""

    def __init__(self, cruise: float, rng, water_cells: np.ndarray):
        self.cruise, self.rng, self.cells = cruise, rng, water_cells
        self.waypoint = None

    def _new_waypoint(self, actor: Actor, world: World) -> None:
        for _ in range(20):
            cell = self.cells[self.rng.integers(len(self.cells))]
            point = (cell[::-1] + 0.5) * ZONE_CELL
            if np.linalg.norm(point - actor.position) > 30:
                self.waypoint = point
                return
        self.waypoint = actor.position + 40 * np.array([math.cos(actor.heading), math.sin(actor.heading)])

    def step(self, actor: Actor, dt: float, sim: Simulation) -> None:
        if self.waypoint is None or np.linalg.norm(self.waypoint - actor.position) < 10:
            self._new_waypoint(actor, sim.world)
        away = self.waypoint - actor.position
        wanted = math.atan2(away[1], away[0])
        turn = math.atan2(math.sin(wanted - actor.heading), math.cos(wanted - actor.heading))
        actor.heading += float(np.clip(turn, -0.25 * dt, 0.25 * dt))
        actor.speed += float(np.clip(self.cruise - actor.speed, -1.0 * dt, 0.8 * dt))
        nxt = actor.position + actor.speed * dt * np.array([math.cos(actor.heading), math.sin(actor.heading)])
        bow = nxt + actor.look.length * 0.6 * np.array([math.cos(actor.heading), math.sin(actor.heading)])
        if sim.world.zones.at(bow) == WATER:
            actor.position = nxt
        else:
            actor.speed *= 0.5
            self._new_waypoint(actor, sim.world)


class Follower:
    """Walks beside its leader (groups of people)."""

    def step(self, actor: Actor, dt: float, sim: Simulation) -> None:
        leader = actor.leader
        c, s = math.cos(leader.heading), math.sin(leader.heading)
        actor.position = leader.position + np.array(
            [c * actor.offset[0] - s * actor.offset[1], s * actor.offset[0] + c * actor.offset[1]]
        )
        actor.heading, actor.speed = leader.heading, leader.speed
        actor.phase += leader.speed * dt * 2 * math.pi / 1.3


class Still:
    """Stays put (a stationary actor that is still drawn every frame, e.g. a person waiting)."""

    def step(self, actor: Actor, dt: float, sim: Simulation) -> None:
        actor.speed = 0.0


@dataclass
class Tracks:
    """Per frame and actor: position (m), heading, speed (m/s), animation phase; ``history`` holds the
    positions of the warm-up before the clip too (``history[warmup + t]`` is frame t), for wakes."""

    position: np.ndarray  # frames x actors x 2
    heading: np.ndarray  # frames x actors
    speed: np.ndarray
    phase: np.ndarray
    history: np.ndarray  # (warmup + frames) x actors x 2
    warmup: int


class Simulation:
    def __init__(self, world: World, actors: list[Actor]):
        self.world, self.actors = world, actors

    def gap_ahead(self, actor: Actor) -> float | None:
        """Free distance (m) to the next vehicle in the same lane, if any within 60 m."""
        me = actor.controller
        best = None
        for other in self.actors:
            c = other.controller
            if other is actor or not isinstance(c, LaneFollower) or c.road is not me.road or c.offset != me.offset:
                continue
            ahead = ((c.s - me.s) * me.direction) % me.road.path.length
            gap = ahead - (other.look.length + actor.look.length) / 2
            if ahead < 60 and (best is None or gap < best):
                best = gap
        return best

    def run(self, frames: int, dt: float, warmup: int = 0) -> Tracks:
        """Simulate ``warmup`` frames (so traffic and wakes are under way when the clip starts), then
        record ``frames`` frames."""
        n, total = len(self.actors), warmup + frames
        position, heading, speed, phase = (
            np.zeros((total, n, 2)),
            np.zeros((total, n)),
            np.zeros((total, n)),
            np.zeros((total, n)),
        )
        ordered = sorted(range(n), key=lambda i: self.actors[i].leader is not None)  # leaders before followers
        for t in range(total):
            if t:
                for i in ordered:
                    actor = self.actors[i]
                    actor.controller.step(actor, dt, self)
            for i, actor in enumerate(self.actors):
                position[t, i] = actor.position
                heading[t, i] = actor.heading
                speed[t, i] = actor.speed
                phase[t, i] = actor.phase
        return Tracks(position[warmup:], heading[warmup:], speed[warmup:], phase[warmup:], position, warmup)

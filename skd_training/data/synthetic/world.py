"""The static world under the drone, and how it is put together.

A world is built once per video as an RGB canvas in metres x ``scale`` pixels, large enough for the
whole camera path. ``WorldBuilder`` hands the scene recipes (``scenes``) one painter per part of the
world, all drawing on one ``Canvas`` and recording what is where in one ``ZoneMap``:

* ``terrain`` - grass, fields, water (``terrain.Terrain``);
* ``roads`` - the road network, its markings, crossings and kerb parking (``roads.RoadNetwork``);
* ``paving`` - squares and car parks (``paving.Paving``);
* ``buildings`` - buildings and the landmark, written into the height map (``buildings.Buildings``);
* ``trees`` - trees, painted together at the end (``trees.Trees``);
* ``statics`` - parked vehicles, resting animals, moored boats, hay bales (``statics.StaticObjects``).

``finish`` paints the trees, lights everything with one sun (``lighting``), draws the static sprites
and grades the colours into the ``World`` that actors, the camera and the observers use: the image,
the zone map, the roads and the things observers may look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skd_training.data.synthetic.buildings import Buildings
from skd_training.data.synthetic.canvas import Canvas
from skd_training.data.synthetic.lighting import light_and_shadows
from skd_training.data.synthetic.paving import Paving
from skd_training.data.synthetic.roads import Road, RoadNetwork
from skd_training.data.synthetic.sprites import Light
from skd_training.data.synthetic.statics import StaticObjects, Thing
from skd_training.data.synthetic.terrain import Terrain
from skd_training.data.synthetic.trees import Trees
from skd_training.data.synthetic.zones import ZoneMap


@dataclass
class World:
    """The finished world: the image the camera crops, the zones actors move by, the roads traffic
    follows, and the static things and landmark observers may look at."""

    canvas: np.ndarray  # rows x cols x 3 uint8 RGB
    scale: float  # canvas pixels per metre
    light: Light
    zones: ZoneMap
    scene: str
    roads: list[Road] = field(default_factory=list)
    statics: list[Thing] = field(default_factory=list)
    landmark: Thing | None = None

    def colour_around(self, point, radius_m: float) -> np.ndarray:
        """Mean RGB [0, 1] of the canvas in a square around ``point``."""
        x, y, r = (int(v * self.scale) for v in (point[0], point[1], max(radius_m, 1.0 / self.scale)))
        patch = self.canvas[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
        return patch.reshape(-1, 3).mean(axis=0) / 255.0 if patch.size else np.full(3, 0.5)

    def contrast_of(self, colour, point, size_m: float) -> float:
        """How much a colour stands out from the ground around ``point``, in [0, 1]."""
        ground = self.colour_around(point, 2.0 * size_m + 2.0)
        return float(np.clip(np.linalg.norm(np.asarray(colour) - ground) * 1.6, 0.0, 1.0))


class WorldBuilder:
    """The world of ``size_m`` metres at ``scale`` pixels per metre while a scene recipe lays it out.

    Every part draws from the one ``rng`` in the order the recipe calls them, so a recipe that calls the
    same parts in the same order builds the same world."""

    def __init__(self, rng: np.random.Generator, size_m: tuple[float, float], scale: float):
        self.rng = rng
        self.canvas = Canvas(rng, size_m, scale)
        self.zones = ZoneMap(self.canvas.width_m, self.canvas.height_m)
        self.statics = StaticObjects(rng)
        self.terrain = Terrain(self.canvas, self.zones, rng)
        self.roads = RoadNetwork(self.canvas, self.zones, self.statics, rng)
        self.paving = Paving(self.canvas, self.zones, self.statics, rng)
        self.buildings = Buildings(self.canvas, self.zones, self.statics, rng)
        self.trees = Trees(self.canvas, self.zones, rng)

    def finish(self, scene: str, light: Light, elevation: float) -> World:
        """Trees, sunlight and shadows, static sprites and colour grading; the finished ``World``, whose
        buildings' contrast is measured against the finished image."""
        self.trees.paint()
        light_and_shadows(self.canvas, self.trees, light, elevation)
        self.statics.draw(self.canvas, light)
        image = self.canvas.graded(self.rng)
        roads, statics = list(self.roads), list(self.statics.things)
        world = World(image, self.canvas.scale, light, self.zones, scene, roads, statics, self.buildings.landmark)
        for thing in world.statics:
            if thing.look is None and thing.kind == "building":
                thing.contrast = world.contrast_of(
                    world.colour_around(thing.centre, 2.0), thing.centre, max(thing.length, thing.width) / 2
                )
        return world

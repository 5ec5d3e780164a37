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
A recipe lays out the world with a ``WorldBuilder`` and its moving things with a ``Population``; every
step draws from the clip's one random generator, so the order of the calls in a recipe is part of what
a seed means.
"""

from __future__ import annotations

import math

import numpy as np

from skd_training.data.synthetic.actors import Actor
from skd_training.data.synthetic.buildings import ROOFS
from skd_training.data.synthetic.geometry import Focus, box
from skd_training.data.synthetic.layouts import (
    city_blocks,
    houses_along,
    scatter_buildings,
    street_trees,
    tree_clusters,
)
from skd_training.data.synthetic.population import Population
from skd_training.data.synthetic.sprites import Light, random_look
from skd_training.data.synthetic.statics import Thing
from skd_training.data.synthetic.world import World, WorldBuilder
from skd_training.data.synthetic.zones import FIELD, FREE, TREE, WALK, WATER

CATEGORY_SCENES = {
    "Vehicle": (("urban", 0.4), ("suburban", 0.3), ("rural_road", 0.3)),
    "Human": (("plaza", 0.6), ("urban", 0.4)),
    "Building": (("landmark", 1.0),),
    "Others": (("harbour", 0.5), ("pasture", 0.5)),
}


def choose_scene(rng, category: str) -> str:
    scenes, weights = zip(*CATEGORY_SCENES[category], strict=True)
    return scenes[rng.choice(len(scenes), p=np.array(weights) / sum(weights))]


def build_scene(
    rng, scene: str, category: str, size_m, scale: float, focus: Focus, light: Light, elevation: float
) -> tuple[World, list[Actor]]:
    """(World, actors) for ``scene`` with ``category``'s main targets (see the module docstring)."""
    builder = WorldBuilder(rng, size_m, scale)
    people = Population(rng, builder.zones, focus)
    builder.terrain.ground(lush=rng.uniform(0.2, 0.9))
    if scene in ("urban", "landmark"):
        _street_grid(builder, people, focus, size_m, scene, category)
    elif scene == "suburban":
        _suburban(builder, people, focus)
    elif scene == "rural_road":
        _rural_road(builder, people, focus)
    elif scene == "plaza":
        _plaza(builder, people, focus)
    elif scene == "harbour":
        _harbour(builder, people, focus)
    elif scene == "pasture":
        _pasture(builder, people, focus)
    else:
        raise ValueError(
            f"unknown scene {scene!r}; scenes: urban, suburban, rural_road, plaza, landmark, harbour, pasture"
        )
    world = builder.finish(scene, light, elevation)
    for actor in people.actors:
        actor.contrast = world.contrast_of(actor.look.colour, actor.position, max(actor.look.length, 1.0))
    return world, people.actors


def _street_grid(builder: WorldBuilder, people: Population, focus: Focus, size_m, scene: str, category: str) -> None:
    """``urban``: a street grid with city blocks; ``landmark``: a wider grid with the landmark on a square.
    Who walks and drives depends on the video's main target."""
    rng = builder.rng
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
            builder.roads.straight(
                origin + across * k * spacing, axis,
                width=15.0 if wide else rng.uniform(10.0, 11.5), lanes=2 if wide else 1,
                sidewalk=rng.uniform(2.5, 4.0), parking=0.0 if wide else 2.2,
            )  # fmt: skip
    builder.roads.paint()
    if landmark_at is not None:
        style = ("dome", "tower", "stadium", "church")[rng.integers(4)]
        builder.paving.plaza(landmark_at, (spacing * 0.7, spacing * 0.7), angle)
        builder.buildings.landmark_building(landmark_at, style)
    city_blocks(builder, focus, origin, angle, spacing, reach)
    scatter_buildings(builder, focus, 60, angle=angle)
    street_trees(builder, builder.roads)
    tree_clusters(builder, focus, 12)
    for road in builder.roads:
        if road.parking > 0:
            builder.roads.kerb_parking(road, rng.uniform(0.1, 0.5))
    if category == "Human":
        people.pavement_walkers(builder.roads, rng.integers(14, 30))
        people.standing_people(rng.integers(3, 10))
        people.traffic(builder.roads, gap=(80, 250), speed=(4, 9), limit=int(rng.integers(0, 5)))
    elif category == "Vehicle":
        people.traffic(builder.roads, gap=(18, 50))
        people.pavement_walkers(builder.roads, rng.integers(2, 8))
        people.standing_people(rng.integers(0, 4))
    else:  # the landmark is the main target: a little life around it
        people.traffic(builder.roads, gap=(100, 300), speed=(5, 10), limit=int(rng.integers(0, 4)))
        people.pavement_walkers(builder.roads, rng.integers(0, 4))
        people.free_walkers(rng.integers(0, 3))
        people.standing_people(rng.integers(0, 5))


def _suburban(builder: WorldBuilder, people: Population, focus: Focus) -> None:
    """Winding streets lined with houses and gardens."""
    rng = builder.rng
    start = focus.centre + rng.uniform(-0.3, 0.3, 2) * focus.half
    first = builder.roads.curvy(
        start,
        rng.uniform(-math.pi, math.pi),
        bendiness=0.03,
        width=rng.uniform(6.5, 7.5),
        sidewalk=rng.uniform(0, 2.0),
    )
    if rng.random() < 0.6:
        point, tangent = first.path.at(first.path.length * rng.uniform(0.35, 0.65))
        builder.roads.curvy(point, math.atan2(tangent[0], -tangent[1]), width=6.5, sidewalk=first.sidewalk)
    builder.roads.paint()
    for road in builder.roads:
        houses_along(builder, road)
    tree_clusters(builder, focus, 20)
    people.traffic(builder.roads, gap=(20, 55), kinds=(("car", 0.85), ("van", 0.1), ("truck", 0.05)), speed=(7, 12))
    people.pavement_walkers(builder.roads, rng.integers(1, 5))


def _rural_road(builder: WorldBuilder, people: Population, focus: Focus) -> None:
    """Fields crossed by a road or highway (sometimes a dirt track), farm buildings and hedgerows."""
    rng = builder.rng
    angle = rng.uniform(0, math.pi)
    builder.terrain.fields(angle, (40, 110))
    highway = rng.random() < 0.4
    through = focus.centre + rng.uniform(-0.4, 0.4, 2) * focus.half
    if highway:
        builder.roads.straight(through, angle + rng.normal(0, 0.2), width=rng.uniform(14, 16), lanes=2, sidewalk=1.0)
    else:
        builder.roads.curvy(through, angle, width=rng.uniform(6.5, 8))
    if rng.random() < 0.5:
        builder.roads.straight(focus.sample(rng), angle + math.pi / 2, width=4.0, surface="dirt")
    builder.roads.paint()
    for _ in range(rng.integers(0, 4)):
        centre = focus.sample(rng, 1.3)
        builder.buildings.building(
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
            if builder.zones.at(p) in (FIELD, FREE, TREE):
                builder.trees.plant(p + rng.normal(0, 0.5, 2), rng.uniform(2.0, 4.5))
    people.traffic(
        builder.roads, gap=(30, 90), kinds=(("car", 0.7), ("van", 0.1), ("truck", 0.15), ("bus", 0.05)), speed=(12, 25)
    )


def _plaza(builder: WorldBuilder, people: Population, focus: Focus) -> None:
    """A square (sometimes with a fountain) with footpaths into a park, a street beside it, many walkers."""
    rng = builder.rng
    angle = rng.uniform(0, math.pi)
    centre = focus.centre + rng.uniform(-0.25, 0.25, 2) * focus.half
    size = rng.uniform(40, 90, 2)
    outline = builder.paving.plaza(centre, size, angle, round_plaza=rng.random() < 0.3)
    for corner in outline[:: max(1, len(outline) // 4)]:
        away = corner - centre
        heading = math.atan2(away[1], away[0])
        builder.roads.add(_wander(rng, corner, heading, 60), width=rng.uniform(2.5, 4.0), surface="path")
    edge = centre + np.array([math.cos(angle), math.sin(angle)]) * (size[0] / 2 + rng.uniform(25, 45))
    builder.roads.straight(edge, angle + math.pi / 2, width=10.5, sidewalk=3.0, parking=2.2)
    builder.roads.paint()
    if rng.random() < 0.6:
        r = rng.uniform(3, 7)
        ring = centre + np.stack([np.cos(np.linspace(0, 6.28, 40)), np.sin(np.linspace(0, 6.28, 40))], 1) * r
        builder.canvas.paint_polygon(ring * 1.0, builder.canvas.texture((0.75, 0.74, 0.70), 0.02, 0.02, 0.02))
        builder.canvas.paint_polygon(
            centre + (ring - centre) * 0.85, builder.canvas.texture((0.25, 0.45, 0.52), 0.03, 0.05, 0.05)
        )
    for k in range(rng.integers(4, 12)):  # trees in rows around the square
        t = k / 12 * 2 * math.pi
        p = centre + np.array([math.cos(t) * size[0] * 0.62, math.sin(t) * size[1] * 0.62])
        builder.trees.plant(p, rng.uniform(2.5, 4.5))
    tree_clusters(builder, focus, 18)
    scatter_buildings(builder, Focus(focus.centre, focus.half * 1.3), 120, angle=angle)
    for road in builder.roads:
        if road.parking > 0:
            builder.roads.kerb_parking(road, rng.uniform(0.3, 0.8))
    people.free_walkers(rng.integers(12, 30), zones=(WALK,))
    people.pavement_walkers(builder.roads, rng.integers(3, 10))
    people.standing_people(rng.integers(3, 10))
    people.traffic(builder.roads, gap=(80, 250), speed=(4, 9))


def _harbour(builder: WorldBuilder, people: Population, focus: Focus) -> None:
    """A shoreline with a promenade, a street, piers with moored boats, and boats under way."""
    rng = builder.rng
    shore = builder.terrain.water(rng.uniform(0.4, 0.6))
    inland = 1.0 if builder.zones.at(shore.offset(15.0)[len(shore.points) // 2]) != WATER else -1.0
    promenade = shore.offset(inland * rng.uniform(7, 10))
    builder.roads.add(promenade, width=rng.uniform(6, 9), surface="path")
    builder.roads.add(shore.offset(inland * rng.uniform(22, 30)), width=10.5, sidewalk=2.5, parking=2.2)
    builder.roads.paint(markings=True)
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
        builder.canvas.paint_polygon(pier, builder.canvas.texture((0.48, 0.40, 0.32), 0.03, 0.05, 0.08))
        for k in range(int(length // 9)):
            for side in (-1, 1):
                if rng.random() < 0.6:
                    look = random_look(rng, "boat")
                    if look.length > 8.5:
                        continue
                    spot = point + out * (6 + 9 * k) + tangent * side * (1.5 + look.width / 2 + rng.uniform(0.3, 0.8))
                    builder.statics.park(
                        "boat", spot, math.atan2(out[1], out[0]) + rng.normal(0, 0.05), category="Others", look=look
                    )
    scatter_buildings(builder, focus, 120)
    tree_clusters(builder, focus, 10)
    for road in builder.roads:
        if road.parking > 0:
            builder.roads.kerb_parking(road, rng.uniform(0.3, 0.7))
    water_cells = np.argwhere(builder.zones.codes == WATER)
    people.boats(rng.integers(2, 6), water_cells)
    people.pavement_walkers(builder.roads, rng.integers(3, 10))
    people.traffic(builder.roads, gap=(100, 300), speed=(5, 10))


def _pasture(builder: WorldBuilder, people: Population, focus: Focus) -> None:
    """A fenced pasture among fields with herds, resting animals, hay bales and a farm track."""
    rng = builder.rng
    angle = rng.uniform(0, math.pi)
    builder.terrain.fields(angle, (60, 150))
    pasture = box(focus.centre + rng.uniform(-0.2, 0.2, 2) * focus.half, focus.half * rng.uniform(1.6, 2.4, 2), angle)
    builder.canvas.paint_polygon(pasture, builder.canvas.texture((0.33, 0.43, 0.20), 0.06, 0.08, 0.08))
    builder.zones.fill_polygon(pasture, FREE)
    builder.canvas.line(np.concatenate([pasture, pasture[:1]]), 0.15, (0.30, 0.25, 0.20), 0.8)
    builder.roads.straight(focus.sample(rng, 1.4), angle + rng.normal(0, 0.3), width=3.5, surface="dirt")
    builder.roads.paint()
    for _ in range(rng.integers(1, 4)):
        builder.buildings.building(
            focus.sample(rng, 1.5),
            (rng.uniform(15, 35), rng.uniform(10, 18)),
            angle,
            6,
            "gable",
            np.asarray(ROOFS[rng.choice([2, 6, 7, 0])]),
        )
    tree_clusters(builder, focus, 10, zones=(FREE, FIELD))
    for _ in range(rng.integers(3, 15)):  # hay bales
        p = focus.sample(rng, 1.3)
        if builder.zones.at(p) in (FREE, FIELD):
            builder.statics.add(Thing("bale", "Others", p, 0.0, 1.6, 1.6, semantic="bale", look=None))
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
        if builder.zones.at(p) == FREE:
            builder.statics.park(kind, p, rng.uniform(-math.pi, math.pi), category="Others")


def _wander(rng, start, heading: float, length: float) -> np.ndarray:
    """A meandering footpath: points every 3 m from ``start``, the heading drifting at random."""
    points, point = [np.asarray(start, np.float64)], np.asarray(start, np.float64)
    for _ in range(int(length / 3)):
        heading += rng.normal(0, 0.12)
        point = point + 3 * np.array([math.cos(heading), math.sin(heading)])
        points.append(point)
    return np.array(points)

"""Neighbourhood layouts the scene recipes share: detached houses along a road (driveways, gardens,
pools), scattered buildings, the blocks of a street grid, street trees and clusters of trees."""

from __future__ import annotations

import math

import numpy as np

from skd_training.data.synthetic.buildings import ROOFS
from skd_training.data.synthetic.geometry import Focus, box
from skd_training.data.synthetic.world import WorldBuilder
from skd_training.data.synthetic.zones import FREE, TREE, WALK, WATER


def houses_along(builder: WorldBuilder, road, spacing=(16, 26), setback=(5, 10)) -> None:
    """Detached houses on both sides of a road with driveways, gardens, pools and trees."""
    rng = builder.rng
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
            if builder.buildings.building(centre, (front, depth), angle, rng.uniform(5, 8), roof, colour):
                side_of_house = tangent * (front / 2 + 2.0)
                drive_a = point + normal * (road.width / 2) + side_of_house
                drive_b = point + normal * (gap + depth * 0.6) + side_of_house
                drive = [
                    drive_a - tangent * 1.5,
                    drive_a + tangent * 1.5,
                    drive_b + tangent * 1.5,
                    drive_b - tangent * 1.5,
                ]
                if builder.zones.free(drive[2:] + [drive_b], (FREE, TREE), 0.0):
                    builder.canvas.paint_polygon(drive, builder.canvas.texture((0.60, 0.59, 0.56), 0.02, 0.03, 0.03))
                    builder.zones.fill_polygon(drive, WALK)
                    if rng.random() < 0.5:
                        park_at = point + normal * (gap + rng.uniform(0, depth * 0.3)) + side_of_house
                        builder.statics.park(
                            "car", park_at, math.atan2(normal[1], normal[0]) + (math.pi if rng.random() < 0.5 else 0)
                        )
                garden = centre + normal * (depth / 2 + rng.uniform(4, 7))
                pool = box(garden, (7, 3.5), angle)
                if rng.random() < 0.3 and builder.zones.free(pool, (FREE,), 0.5):
                    builder.canvas.paint_polygon(pool, builder.canvas.texture((0.30, 0.62, 0.70), 0.02, 0.03, 0.03))
                    builder.zones.fill_polygon(pool, WATER)
                builder.trees.cluster(garden + tangent * rng.uniform(-6, 6), rng.integers(1, 4), 3.0, (1.8, 4.0))
            s += rng.uniform(*spacing)


def scatter_buildings(
    builder: WorldBuilder, focus: Focus, attempts: int, size=(10, 35), height=(6, 30), flat=0.7, angle=0.0
) -> None:
    """Up to ``attempts`` buildings at random around the (grown) focus, aligned with ``angle``; those that
    find no free ground are skipped."""
    rng = builder.rng
    grown = Focus(focus.centre, focus.half * 1.5 + 20)
    for _ in range(attempts):
        centre = grown.sample(rng)
        dims = (rng.uniform(*size), rng.uniform(size[0], size[1] * 0.8))
        orientation = angle + (math.pi / 2 if rng.random() < 0.5 else 0) + rng.normal(0, 0.02)
        roof = "flat" if rng.random() < flat else ("gable" if rng.random() < 0.6 else "hip")
        colour = np.asarray(ROOFS[rng.integers(len(ROOFS))]) * rng.uniform(0.85, 1.1)
        builder.buildings.building(centre, dims, orientation, rng.uniform(*height), roof, colour)


def city_blocks(builder: WorldBuilder, focus: Focus, origin, angle: float, spacing: float, reach: int) -> None:
    """City blocks of a street grid: perimeter buildings around a courtyard, one large building, a few
    detached buildings with a car park, a small park or a car park, each block chosen at random."""
    rng = builder.rng
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    inner = spacing - 2 * (7.5 + 4.0 + 1.0)  # widest road half-width, pavement, setback
    grown = Focus(focus.centre, focus.half * 1.3 + spacing / 2)
    if inner < 12:
        return
    for i in range(-reach, reach):
        for j in range(-reach, reach):
            centre = origin + direction * (i + 0.5) * spacing + normal * (j + 0.5) * spacing
            if not grown.contains(centre) or builder.zones.at(centre) != FREE:
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
                        builder.buildings.building(
                            at, (frontage - 0.6, depth), heading, rng.uniform(6, 24), roof, colour, margin=0.0
                        )
                        u += frontage + rng.uniform(0, 2.5)
                builder.trees.cluster(centre, rng.integers(0, 5), inner * 0.12, (2.0, 4.0), allowed=(FREE, TREE))
            elif kind == 1:  # one large building
                size = (inner * rng.uniform(0.6, 0.92), inner * rng.uniform(0.5, 0.85))
                colour = np.asarray(ROOFS[rng.choice([1, 2, 3, 5])]) * rng.uniform(0.9, 1.1)
                builder.buildings.building(centre, size, angle, rng.uniform(8, 35), "flat", colour)
            elif kind == 2:  # detached buildings and a car park
                lot = (inner * 0.9, inner * 0.35)
                builder.paving.car_park(centre - normal * inner * 0.28, lot, angle, rng.uniform(0.3, 0.9))
                for _ in range(rng.integers(1, 4)):
                    at = centre + normal * inner * 0.2 + direction * rng.uniform(-0.3, 0.3) * inner
                    size = (rng.uniform(12, 25), rng.uniform(10, 18))
                    builder.buildings.building(
                        at,
                        size,
                        angle,
                        rng.uniform(5, 15),
                        "flat" if rng.random() < 0.6 else "hip",
                        np.asarray(ROOFS[rng.integers(len(ROOFS))]),
                    )
            elif kind == 3:  # a small park
                builder.roads.footpath(np.array([centre - direction * inner / 2, centre + direction * inner / 2]), 2.5)
                builder.trees.cluster(centre, rng.integers(6, 16), inner * 0.25, (2.0, 5.0), allowed=(FREE, TREE, WALK))
            else:
                builder.paving.car_park(centre, (inner * 0.95, inner * 0.9), angle, rng.uniform(0.2, 0.9))


def street_trees(builder: WorldBuilder, roads, spacing=(8, 13)) -> None:
    """Trees just beyond the pavements of ``roads``, ``spacing`` metres apart, where the ground is free."""
    for road in roads:
        if road.sidewalk <= 0:
            continue
        for side in (-1, 1):
            s = builder.rng.uniform(0, spacing[1])
            while s < road.path.length:
                point, tangent = road.path.at(s)
                p = point + np.array([-tangent[1], tangent[0]]) * side * (road.width / 2 + road.sidewalk + 1.5)
                if builder.zones.at(p) in (FREE, TREE):
                    builder.trees.plant(p, builder.rng.uniform(2.0, 3.5))
                s += builder.rng.uniform(*spacing)


def tree_clusters(builder: WorldBuilder, focus: Focus, clusters: int, zones=(FREE,)) -> None:
    """``clusters`` groups of trees at random around the (grown) focus, only on ``zones``."""
    grown = Focus(focus.centre, focus.half * 1.4 + 20)
    for _ in range(clusters):
        builder.trees.cluster(
            grown.sample(builder.rng), builder.rng.integers(2, 12), builder.rng.uniform(3, 10), allowed=zones
        )

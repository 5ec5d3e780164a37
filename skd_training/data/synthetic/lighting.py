"""One sun on the finished map: sun-facing shading of roofs and tree crowns from the slopes of the height
maps, height-correct cast shadows of buildings, and elliptical crown shadows of trees joined to their
trunks; shadowed ground is tinted by the bluish skylight."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_training.data.synthetic.canvas import Canvas
from skd_training.data.synthetic.noise import smoothstep
from skd_training.data.synthetic.sprites import Light
from skd_training.data.synthetic.trees import Trees


def light_and_shadows(canvas: Canvas, trees: Trees, light: Light, elevation: float) -> None:
    """Sun-facing shading of roofs and crowns from the height maps' slopes, cast shadows of buildings
    (height field: they fall on whatever is lower) and of tree crowns (offset crowns on the ground)."""
    scale, height = canvas.scale, canvas.height_map
    surface = np.maximum(height, trees.crown_height)
    gy, gx = np.gradient(surface)
    gx, gy = gx * scale, gy * scale  # metres per metre
    sun = np.array([-light.shadow[0], -light.shadow[1]], np.float64)
    sun /= np.linalg.norm(sun)
    lx, ly, lz = sun[0] * math.cos(elevation), sun[1] * math.cos(elevation), math.sin(elevation)
    facing = np.clip((-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1) / lz, 0.0, 1.6)
    occluder = height.copy()
    direction = np.array(light.shadow) / np.linalg.norm(light.shadow)
    drop = 1.0 / (np.linalg.norm(light.shadow) * scale)  # metres of height lost per pixel of shadow
    longest = float(height.max()) / drop
    step = 1.0
    while step < longest + 1:
        # max-plus doubling: after this pass ``occluder`` covers shadow lengths up to 2 * step
        shift = np.float32([[1, 0, direction[0] * step], [0, 1, direction[1] * step]])
        moved = cv2.warpAffine(occluder, shift, (canvas.cols, canvas.rows), flags=cv2.INTER_LINEAR, borderValue=0)
        np.maximum(occluder, moved - step * drop, out=occluder)
        step *= 2
    shadow = smoothstep(0.05, 0.35, occluder - surface)
    if trees.planted:
        shadow = np.maximum(shadow, _crown_shadows(canvas, trees, light))
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.6, 0.15 * scale))
    lit = facing * (1.0 - shadow)
    tint = np.asarray(light.tint, np.float32)
    canvas.rgb *= tint + (1 - tint) * lit[..., None]


def _crown_shadows(canvas: Canvas, trees: Trees, light: Light) -> np.ndarray:
    """Shadow cover (0..1) the tree crowns throw on open ground."""
    crowns = canvas.mask()
    angle = math.degrees(math.atan2(light.shadow[1], light.shadow[0]))
    stretch = math.hypot(1.0, np.linalg.norm(light.shadow))  # 1 / sin(elevation)
    for (position, radius), top in zip(trees.planted, trees.tops, strict=True):
        # a crown of radius r centred at height top - r throws an ellipse, joined to the trunk's foot
        centre = canvas.px(position + np.array(light.shadow) * (top - radius))
        axes = (round(radius * stretch * canvas.scale * 16), round(radius * 0.95 * canvas.scale * 16))
        cv2.ellipse(
            crowns, tuple(np.round(centre * 16).astype(int)), axes, angle, 0, 360, 255, -1, cv2.LINE_AA, shift=4
        )
        foot = np.round(canvas.px(position) * 16).astype(int)
        trunk = max(1, round(0.4 * canvas.scale))
        cv2.line(crowns, tuple(foot), tuple(np.round(centre * 16).astype(int)), 255, trunk, cv2.LINE_AA, shift=4)
    on_ground = (1.0 - trees.crown) * (canvas.height_map < 0.5)
    return crowns.astype(np.float32) / 255.0 * on_ground

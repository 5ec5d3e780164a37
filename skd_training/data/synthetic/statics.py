"""Things that are part of the world and observers may look at: buildings, the landmark, and static
sprites - parked vehicles, resting animals, moored boats, hay bales - that look like the moving ones.

Sprites are placed while the world is built and drawn after the sun has lit it, each with its own
shadow, so that a single frame cannot tell a parked car from a moving one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skd_training.data.synthetic.canvas import Canvas
from skd_training.data.synthetic.sprites import (
    Layer,
    Light,
    Look,
    draw_layers,
    ellipse,
    place,
    random_look,
    shadow_of,
    sprite,
)


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


class StaticObjects:
    """The world's static things, in the order they were placed."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.things: list[Thing] = []

    def add(self, thing: Thing) -> None:
        self.things.append(thing)

    def park(self, kind: str, position, heading: float, category: str = "Vehicle", look: Look | None = None) -> None:
        """A static sprite (drawn after lighting by ``draw``, with its own shadow)."""
        look = look or random_look(self.rng, kind)
        self.things.append(
            Thing(kind, category, np.asarray(position, np.float64), heading, look.length, look.width, look=look)
        )

    def draw(self, canvas: Canvas, light: Light) -> None:
        """Hay bales, then the sprites (parked vehicles, standing people and animals, moored boats), on the
        lit canvas; a sprite's contrast is measured against the ground it stands on."""
        for thing in self.things:
            if thing.kind == "bale":
                _draw_bale(canvas, thing.centre, light)
        for thing in self.things:
            look = thing.look
            if look is None:
                continue
            thing.contrast = _contrast(canvas.rgb, look.colour, thing.centre, canvas.scale, look.length)
            layers = sprite(
                look, canvas.px(thing.centre), thing.heading, canvas.scale, light, phase=self.rng.uniform(0, 6.3)
            )
            draw_layers(canvas.rgb, layers)


def _draw_bale(canvas: Canvas, centre, light: Light) -> None:
    """A round hay bale from above: its shadow, the bale, and its lighter, flatter top."""
    disc = place(ellipse(1.6, 1.6, 16), canvas.px(centre), 0.0, canvas.scale)
    draw_layers(
        canvas.rgb,
        [Layer(shadow_of(disc, 1.2, light, canvas.scale), shade=light.tint), Layer(disc, (0.78, 0.68, 0.42))],
    )
    draw_layers(
        canvas.rgb, [Layer(place(ellipse(0.9, 0.9, 12), canvas.px(centre), 0.0, canvas.scale), (0.70, 0.60, 0.36))]
    )


def _contrast(canvas, colour, centre, scale, size_m) -> float:
    r = max(2, int((2 * size_m + 2) * scale))
    x, y = int(centre[0] * scale), int(centre[1] * scale)
    patch = canvas[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
    ground = patch.reshape(-1, 3).mean(axis=0) if patch.size else np.full(3, 0.5)
    return float(np.clip(np.linalg.norm(np.asarray(colour) - ground) * 1.6, 0.0, 1.0))

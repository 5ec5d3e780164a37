"""Top-down drawings of the things that move (or could): cars, vans, trucks, buses, people, cyclists,
boats, cattle and sheep, each with its cast shadow.

A sprite is a list of ``Layer`` polygons in canvas pixels, drawn in order with sub-pixel, anti-aliased
edges: ``fill`` layers paint a colour, ``shade`` layers multiply by a per-channel factor (shadows,
wakes). Shapes are defined in metres in the object's frame (x forward, y to its right) and placed by
``place`` with the object's centre, heading and the canvas scale, so the same code draws a 60-pixel
car at 1280 x 720 and a 6-pixel one at 128 x 72. Colours are RGB in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

SHIFT = 4  # fillPoly fixed-point bits: 1/16-pixel vertex precision


@dataclass(frozen=True)
class Light:
    """Sunlight: ``shadow`` is the ground offset (metres) of the shadow of a point 1 m high; ``tint``
    multiplies shadowed colours (skylight is bluish)."""

    shadow: tuple[float, float]
    tint: tuple[float, float, float]

    @classmethod
    def from_sun(cls, azimuth: float, elevation: float, tint=(0.40, 0.44, 0.52)) -> Light:
        """azimuth: direction towards the sun in image coordinates (radians, 0 = +x, y down)."""
        length = 1.0 / math.tan(elevation)
        return cls((-math.cos(azimuth) * length, -math.sin(azimuth) * length), tint)


@dataclass
class Layer:
    points: np.ndarray  # N x 2 canvas pixels
    colour: tuple | None = None  # fill with this RGB colour ...
    shade: tuple | None = None  # ... or multiply by this per-channel factor
    alpha: float = 1.0
    parts: list | None = None  # (polygon, alpha) pieces painted as one soft mask instead of ``points``


def rounded_rect(length: float, width: float, radius: float, segments: int = 4) -> np.ndarray:
    """Outline of a rectangle centred at 0 with rounded corners, in metres (x along ``length``)."""
    radius = min(radius, length / 2, width / 2)
    hl, hw = length / 2 - radius, width / 2 - radius
    points = []
    for cx, cy, start in ((hl, hw, 0.0), (-hl, hw, 0.5), (-hl, -hw, 1.0), (hl, -hw, 1.5)):
        for k in range(segments + 1):
            angle = math.pi * (start + 0.5 * k / segments)
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return np.array(points, np.float32)


def ellipse(length: float, width: float, segments: int = 14) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    return np.stack([length / 2 * np.cos(angles), width / 2 * np.sin(angles)], axis=1).astype(np.float32)


def rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float32)


def place(local: np.ndarray, centre_px: np.ndarray, heading: float, scale: float) -> np.ndarray:
    """Object-frame metres -> canvas pixels."""
    c, s = math.cos(heading), math.sin(heading)
    rotation = np.array([[c, -s], [s, c]], np.float32)
    return centre_px + (local @ rotation.T) * scale


def shadow_of(outline_px: np.ndarray, height: float, light: Light, scale: float) -> np.ndarray:
    """The ground shadow of a prism with this outline and height: hull of the outline and its offset."""
    offset = np.array(light.shadow, np.float32) * height * scale
    hull = cv2.convexHull(np.concatenate([outline_px, outline_px + offset]).astype(np.float32))
    return hull.reshape(-1, 2)


def draw_layers(canvas: np.ndarray, layers: list[Layer], origin: tuple[float, float] = (0.0, 0.0)) -> None:
    """Draw ``layers`` onto ``canvas`` (H x W x 3, uint8 0..255 or float 0..1) in place; ``origin``
    is the canvas pixel position of the layers' coordinate origin's (0, 0) subtracted first."""
    if not layers:
        return
    offset = np.array(origin, np.float32)
    all_points = np.concatenate([layer.points for layer in layers]) - offset
    x0, y0 = np.floor(all_points.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(all_points.max(axis=0)).astype(int) + 2
    rows, cols = canvas.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cols), min(y1, rows)
    if x0 >= x1 or y0 >= y1:
        return
    unit = 255.0 if canvas.dtype == np.uint8 else 1.0
    roi = canvas[y0:y1, x0:x1].astype(np.float32)
    mask = np.empty(roi.shape[:2], np.uint8)
    corner = offset + np.array([x0, y0], np.float32)
    for layer in layers:
        mask.fill(0)
        if layer.parts is None:
            points = np.round((layer.points - corner) * (1 << SHIFT)).astype(np.int32)
            cv2.fillPoly(mask, [points], 255, cv2.LINE_AA, shift=SHIFT)
            alpha = mask.astype(np.float32)[..., None] * (layer.alpha / 255.0)
        else:  # overlapping pieces replace each other (no seams), softened by a pixel
            for piece, piece_alpha in layer.parts:
                points = np.round((piece - corner) * (1 << SHIFT)).astype(np.int32)
                cv2.fillPoly(mask, [points], round(255 * piece_alpha), cv2.LINE_8, shift=SHIFT)
            alpha = cv2.GaussianBlur(mask, (0, 0), 1.0).astype(np.float32)[..., None] / 255.0
        if layer.colour is not None:
            roi += (np.asarray(layer.colour, np.float32) * unit - roi) * alpha
        else:
            roi *= 1.0 - alpha * (1.0 - np.asarray(layer.shade, np.float32))
    if canvas.dtype == np.uint8:
        canvas[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)
    else:
        canvas[y0:y1, x0:x1] = roi


# --- object kinds ---------------------------------------------------------------------------------------

CAR_COLOURS = (  # roughly the global car-colour mix: white, black, grey/silver, then colours
    ((0.86, 0.86, 0.85), 0.25),
    ((0.08, 0.08, 0.09), 0.18),
    ((0.45, 0.46, 0.48), 0.14),
    ((0.68, 0.69, 0.70), 0.14),
    ((0.55, 0.08, 0.07), 0.08),
    ((0.10, 0.20, 0.45), 0.08),
    ((0.20, 0.30, 0.22), 0.03),
    ((0.60, 0.52, 0.40), 0.04),
    ((0.85, 0.70, 0.10), 0.03),
    ((0.75, 0.30, 0.05), 0.03),
)
CLOTHES = (
    (0.10, 0.10, 0.12),
    (0.85, 0.85, 0.82),
    (0.15, 0.22, 0.42),
    (0.55, 0.12, 0.12),
    (0.30, 0.35, 0.25),
    (0.80, 0.65, 0.20),
    (0.45, 0.45, 0.48),
    (0.20, 0.45, 0.70),
    (0.85, 0.35, 0.45),
    (0.95, 0.55, 0.10),
)
HAIR = ((0.08, 0.06, 0.05), (0.25, 0.17, 0.10), (0.55, 0.45, 0.30), (0.40, 0.38, 0.36))
GLASS = (0.10, 0.12, 0.15)


@dataclass
class Look:
    """What an object looks like: kind, size (metres), height and colours."""

    kind: str  # car, van, truck, bus, person, cyclist, boat, cow, sheep
    length: float
    width: float
    height: float
    colour: tuple
    detail: tuple = (0.5, 0.5, 0.5)  # second colour: cargo box, hair, cabin, patches
    extra: dict = field(default_factory=dict)


def _pick(rng: np.random.Generator, weighted) -> tuple:
    colours, weights = zip(*weighted, strict=True)
    return colours[rng.choice(len(colours), p=np.array(weights) / sum(weights))]


def random_look(rng: np.random.Generator, kind: str) -> Look:
    """A plausible look for an object of ``kind``."""
    jitter = lambda c, a=0.04: tuple(np.clip(np.asarray(c) + rng.normal(0, a, 3), 0, 1))  # noqa: E731
    if kind == "car":
        return Look(kind, rng.uniform(4.0, 4.9), rng.uniform(1.7, 1.95), 1.45, jitter(_pick(rng, CAR_COLOURS), 0.03))
    if kind == "van":
        return Look(kind, rng.uniform(4.9, 5.9), rng.uniform(1.95, 2.1), 2.2, jitter(_pick(rng, CAR_COLOURS[:4]), 0.03))
    if kind == "truck":
        box = jitter((0.82, 0.82, 0.80) if rng.random() < 0.6 else CLOTHES[rng.integers(len(CLOTHES))], 0.05)
        return Look(kind, rng.uniform(8.0, 13.0), 2.5, 3.6, jitter(_pick(rng, CAR_COLOURS), 0.03), box)
    if kind == "bus":
        body = (0.85, 0.85, 0.83) if rng.random() < 0.5 else jitter(CLOTHES[rng.integers(2, len(CLOTHES))], 0.05)
        return Look(kind, rng.uniform(11.0, 13.0), 2.55, 3.2, body, (0.55, 0.56, 0.58))
    if kind in ("person", "cyclist"):
        look = Look(kind, 0.32, 0.5, 1.7, jitter(CLOTHES[rng.integers(len(CLOTHES))]), HAIR[rng.integers(len(HAIR))])
        if kind == "cyclist":
            look.extra["bike"] = jitter(
                (0.12, 0.12, 0.14) if rng.random() < 0.7 else CLOTHES[rng.integers(len(CLOTHES))]
            )
        return look
    if kind == "boat":
        length = rng.uniform(5.0, 14.0)
        hull = (0.92, 0.92, 0.90) if rng.random() < 0.65 else jitter(CLOTHES[rng.integers(len(CLOTHES))], 0.05)
        return Look(kind, length, length * rng.uniform(0.3, 0.38), 1.5, hull, jitter((0.55, 0.42, 0.30), 0.08))
    if kind == "cow":
        coats = ((0.30, 0.18, 0.10), (0.08, 0.07, 0.07), (0.55, 0.38, 0.22), (0.85, 0.82, 0.76))
        coat = jitter(coats[rng.integers(4)])
        return Look(
            kind, rng.uniform(2.0, 2.4), rng.uniform(0.75, 0.9), 1.4, coat, coats[1], {"patches": rng.random() < 0.5}
        )
    if kind == "sheep":
        return Look(kind, rng.uniform(1.1, 1.3), 0.6, 0.8, jitter((0.82, 0.80, 0.72), 0.03), (0.15, 0.13, 0.12))
    raise ValueError(f"unknown object kind {kind!r}")


def sprite(look: Look, centre_px: np.ndarray, heading: float, scale: float, light: Light, phase: float = 0.0):
    """The layers that draw ``look`` at ``centre_px`` facing ``heading`` (radians) on a canvas with
    ``scale`` pixels per metre. ``phase`` animates walking (people)."""
    length, width = look.length, look.width
    shade = light.tint
    put = lambda local: place(local, centre_px, heading, scale)  # noqa: E731
    if look.kind in ("car", "van", "truck", "bus"):
        body = put(rounded_rect(length, width, 0.45 if look.kind != "bus" else 0.25))
        layers = [Layer(shadow_of(body, look.height, light, scale), shade=shade), Layer(body, colour=look.colour)]
        darker = tuple(np.asarray(look.colour) * 0.8)
        brighter = tuple(np.clip(np.asarray(look.colour) * 1.12 + 0.03, 0, 1))
        if look.kind == "car":
            layers += [
                Layer(
                    put(np.array([(0.30, -0.40), (0.09, -0.44), (0.09, 0.44), (0.30, 0.40)]) * [length, width]), GLASS
                ),
                Layer(
                    put(np.array([(-0.30, -0.40), (-0.42, -0.36), (-0.42, 0.36), (-0.30, 0.40)]) * [length, width]),
                    GLASS,
                ),
                Layer(put(rect(-0.30 * length, 0.09 * length, -0.38 * width, 0.38 * width)), brighter),
                Layer(put(rect(0.32 * length, 0.47 * length, -0.35 * width, 0.35 * width)), darker, alpha=0.35),
            ]
        elif look.kind == "van":
            layers += [
                Layer(
                    put(np.array([(0.36, -0.42), (0.26, -0.45), (0.26, 0.45), (0.36, 0.42)]) * [length, width]), GLASS
                ),
                Layer(put(rect(-0.47 * length, 0.25 * length, -0.42 * width, 0.42 * width)), brighter),
            ]
        elif look.kind == "truck":
            cab = 2.2
            layers += [
                Layer(put(rect(length / 2 - cab, length / 2 - 0.1, -0.45 * width, 0.45 * width)), brighter),
                Layer(put(rect(length / 2 - 0.75, length / 2 - 0.35, -0.42 * width, 0.42 * width)), GLASS),
                Layer(put(rect(-length / 2, length / 2 - cab - 0.4, -width / 2, width / 2)), look.detail),
                Layer(put(rect(-length / 2 + 0.3, length / 2 - cab - 0.7, -0.02, 0.02)), darker, alpha=0.5),
            ]
        else:  # bus: roof with air-conditioning units and a hatch
            layers += [
                Layer(put(rect(length / 2 - 0.9, length / 2 - 0.2, -0.45 * width, 0.45 * width)), GLASS),
                Layer(put(rect(-0.1 * length, 0.15 * length, -0.35 * width, 0.35 * width)), look.detail),
                Layer(put(rect(-0.35 * length, -0.25 * length, -0.2 * width, 0.2 * width)), darker),
            ]
        return layers
    if look.kind in ("person", "cyclist"):
        layers = []
        if look.kind == "cyclist":
            bike = put(rect(-0.85, 0.85, -0.05, 0.05))
            layers += [
                Layer(shadow_of(bike, 0.9, light, scale), shade=shade, alpha=0.8),
                Layer(bike, look.extra["bike"]),
            ]
        # a standing/walking figure: long thin shadow from the feet, shoulders, head
        feet = put(np.array([(0.0, -0.15), (0.0, 0.15)], np.float32))
        offset = np.array(light.shadow, np.float32) * look.height * scale
        layers.append(Layer(np.concatenate([feet, feet[::-1] + offset]), shade=shade))
        sway = 0.06 * math.sin(phase)
        layers.append(Layer(put(ellipse(look.length, look.width) + [sway, 0]), look.colour))
        layers.append(Layer(put(ellipse(0.22, 0.19) + [0.03, 0]), look.detail))
        return layers
    if look.kind == "boat":
        hull_local = np.array(
            [(0.5, 0), (0.3, 0.5), (-0.1, 0.5), (-0.5, 0.42), (-0.5, -0.42), (-0.1, -0.5), (0.3, -0.5)], np.float32
        ) * [length, width]
        hull = put(hull_local)
        layers = []
        layers += [
            Layer(shadow_of(hull, 0.6, light, scale), shade=tuple(0.5 + 0.5 * np.asarray(shade))),
            Layer(hull, tuple(np.asarray(look.colour) * 0.72)),
            Layer(put(hull_local * 0.86 + [0.02 * length, 0]), look.colour),
            Layer(put(rect(-0.25 * length, 0.1 * length, -0.3 * width, 0.3 * width)), look.detail),
            Layer(put(rect(0.02 * length, 0.1 * length, -0.28 * width, 0.28 * width)), GLASS),
        ]
        return layers
    if look.kind in ("cow", "sheep"):
        body = put(ellipse(length, width))
        head_len = 0.45 if look.kind == "cow" else 0.28
        head = put(ellipse(head_len, width * 0.5) + [length / 2 + head_len * 0.3, 0])
        layers = [
            Layer(shadow_of(body, look.height, light, scale), shade=shade),
            Layer(body, look.colour),
            Layer(head, look.detail if look.kind == "sheep" else tuple(np.asarray(look.colour) * 0.8)),
        ]
        if look.kind == "cow" and look.extra["patches"]:
            patch = ellipse(length * 0.3, width * 0.5) + [-0.1 * length, 0.1 * width]
            layers.append(Layer(put(patch), look.detail if look.colour[0] > 0.6 else (0.85, 0.82, 0.76), alpha=0.8))
        return layers
    raise ValueError(f"unknown object kind {look.kind!r}")


def wake_layers(history_px: np.ndarray, beam_px: float, speed: float) -> list[Layer]:
    """Foam behind a boat along its recent track (pixels, oldest first, the stern last): a churned
    trail that fades with age inside a fainter band that spreads at the Kelvin angle (19.5 degrees)."""
    if len(history_px) < 2 or speed < 0.3:
        return []
    strength = min(1.0, speed / 5.0)
    steps = np.linalg.norm(np.diff(history_px, axis=0), axis=1)
    behind = np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])  # distance behind the stern
    reach = max(float(behind[0]), 1e-6)
    bands = []
    for spread, base, opacity in ((math.tan(math.radians(19.5)), 0.45, 0.08), (0.08, 0.3, 0.5)):
        parts = []
        for k in range(len(history_px) - 1):
            a, b = history_px[k], history_px[k + 1]
            along = b - a
            norm = float(np.linalg.norm(along))
            if norm < 1e-6:
                continue
            side = np.array([-along[1], along[0]]) / norm
            half_a, half_b = (base * beam_px + spread * behind[k], base * beam_px + spread * behind[k + 1])
            quad = np.array([a - side * half_a, b - side * half_b, b + side * half_b, a + side * half_a], np.float32)
            parts.append((quad, opacity * strength * (1 - behind[k] / reach) ** 1.2))
        if parts:
            bands.append(Layer(np.concatenate([q for q, _ in parts]), colour=(0.86, 0.91, 0.93), parts=parts))
    return bands

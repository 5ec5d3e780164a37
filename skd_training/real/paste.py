"""Targets pasted into other training clips: more scenes for a student that has a dozen of them.

The student trained on all clips finds their targets; on a held-out clip it looks where the training
targets sat and at what their backgrounds looked like (docs/REAL_FOOTAGE.md). Pasting the target of one
training clip into another's frames, at a random place and moving on its own against that background,
shows it the same kind of object on ground it never appeared on, in places it never sat. Only training
sequences give and take targets, so no held-out clip is seen.

A pasted target is the box grown by a margin, blended in through a feathered ellipse (no rectangle edge
to learn), rescaled by a random factor, placed at ``p`` in the current frame and ``p - v`` in the
previous one (``v`` a random motion of up to half the target's size). Its label is a Gaussian on the
pasted box, peak 1, in both the soft and the hard label: what the weak box label already says of a clip's
own target.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MARGIN = 0.3  # of the box's side, each way: some of the target's own surroundings come with it
MAX_SIDE = 0.25  # of the frame's width: larger targets (a building) are scenery, not objects to paste
MIN_SIDE = 4  # pixels at the working width
PER_SEQUENCE = 40  # patches kept per donor sequence, spread over its frames


@dataclass(frozen=True)
class Patch:
    pixels: np.ndarray  # h x w x 3 uint8, the box grown by MARGIN
    box: tuple[float, float, float, float]  # the target inside ``pixels`` (x, y, w, h)


def _feathered_ellipse(height: int, width: int) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (max(width // 2 - 1, 1), max(height // 2 - 1, 1)), 0, 0, 360, 1.0, -1)
    sigma = max(min(height, width) / 8, 0.8)
    return cv2.GaussianBlur(alpha, (0, 0), sigma)[..., None]


def cut_patches(frames: list[np.ndarray], boxes: list[np.ndarray | None], scale: tuple[float, float]) -> list[Patch]:
    """Up to PER_SEQUENCE patches of a sequence's target; ``boxes`` in full-frame pixels, ``frames`` at the
    working size, ``scale`` the working size over the full size (x, y)."""
    usable = [i for i, box in enumerate(boxes) if box is not None]
    height, width = frames[0].shape[:2]
    patches = []
    for index in usable[:: max(len(usable) // PER_SEQUENCE, 1)]:
        x, y = boxes[index][0] * scale[0], boxes[index][1] * scale[1]
        w, h = boxes[index][2] * scale[0], boxes[index][3] * scale[1]
        if max(w, h) > MAX_SIDE * width or min(w, h) < MIN_SIDE:
            continue
        x0, y0 = int(max(x - MARGIN * w, 0)), int(max(y - MARGIN * h, 0))
        x1, y1 = int(min(x + w + MARGIN * w, width)), int(min(y + h + MARGIN * h, height))
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
            continue
        pixels = np.ascontiguousarray(frames[index][y0:y1, x0:x1])
        patches.append(Patch(pixels, (x - x0, y - y0, w, h)))
    return patches


def paste(previous: np.ndarray, current: np.ndarray, patch: Patch, rng: np.random.Generator, moving: bool):
    """``patch`` blended into copies of both frames (module docstring); returns them and the pasted box in
    the frames' pixels (x, y, w, h), or None where the frame is too small for it."""
    factor = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    pixels = cv2.resize(patch.pixels, None, fx=factor, fy=factor, interpolation=interpolation)
    ph, pw = pixels.shape[:2]
    height, width = current.shape[:2]
    if ph + 2 >= height or pw + 2 >= width:
        return previous, current, None
    bx, by, bw, bh = (v * factor for v in patch.box)
    velocity = rng.uniform(-0.5, 0.5, 2) * (bw, bh) if moving else np.zeros(2)
    # both placements inside the frame: 0 <= p <= size - patch and 0 <= p - v <= size - patch
    low = np.ceil(np.maximum(velocity, 0)).astype(int)
    high = np.floor(np.array([width - pw, height - ph]) + np.minimum(velocity, 0)).astype(int)
    if np.any(high < low):
        return previous, current, None
    x, y = (int(rng.integers(lo, hi + 1)) for lo, hi in zip(low, high, strict=True))
    alpha = _feathered_ellipse(ph, pw)
    out = []
    for frame, (fx, fy) in ((previous, (x - velocity[0], y - velocity[1])), (current, (x, y))):
        frame = frame.copy()
        fx, fy = int(round(fx)), int(round(fy))
        region = frame[fy : fy + ph, fx : fx + pw].astype(np.float32)
        frame[fy : fy + ph, fx : fx + pw] = (alpha * pixels + (1 - alpha) * region).round().astype(np.uint8)
        out.append(frame)
    return out[0], out[1], (x + bx, y + by, bw, bh)

"""Saliency map out: the centre prior, resizing, 8-bit conversion, attention ROIs and the peak, in source pixels.

Model-resolution maps are R x R; the source frame is W x H. A model cell (u, v) covers source pixels
[u * W/R, (u+1) * W/R) x [v * H/R, (v+1) * H/R), which is how boxes and the peak are mapped back.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ROIParams:
    """How attention ROIs are extracted from a saliency map.

    max_rois: keep at most this many boxes (highest score first).
    rel_threshold: a cell is attended when its value >= min + rel_threshold * (peak - min).
    min_contrast: maps whose peak - min is below this are "flat" and give no ROI.
    merge_radius: blobs closer than this many model cells are merged into one box (0 = no merging).
    min_score: boxes holding less than this share of the map's saliency mass are dropped.
    """

    max_rois: int = 5
    rel_threshold: float = 0.5
    min_contrast: float = 0.05
    merge_radius: int = 1
    # 1 %: single cells that only just pass the threshold (often at the map's border, where the
    # convolutions see zero padding) hold ~0.1 % of the mass; a planner has no use for them
    min_score: float = 0.01

    def __post_init__(self):
        if self.max_rois < 0:
            raise ValueError(f"max_rois must be >= 0, got {self.max_rois}")
        if not 0.0 < self.rel_threshold <= 1.0:
            raise ValueError(f"rel_threshold must be in (0, 1], got {self.rel_threshold}")
        if self.min_contrast < 0.0:
            raise ValueError(f"min_contrast must be >= 0, got {self.min_contrast}")
        if self.merge_radius < 0:
            raise ValueError(f"merge_radius must be >= 0, got {self.merge_radius}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score}")


@dataclass(frozen=True)
class ROI:
    """An attention box in source-image pixels; ``score`` is its share of the map's saliency mass."""

    x: int
    y: int
    width: int
    height: int
    score: float


@dataclass(frozen=True)
class Peak:
    """The most salient point, in source pixels (centre of the model cell), and its saliency."""

    x: float
    y: float
    value: float


@dataclass(frozen=True)
class CentrePrior:
    """A centred Gaussian that the model's map is multiplied by: where people look in aerial video.

    Human gaze on drone footage sits near the frame's centre (the UAVSal priors, learned from AVS1K and
    EyeTrackUAV2 fixations, are close to a centred Gaussian), and the real-footage students learn from teacher
    maps already weighted by such a prior, yet on clips they never saw they apply it too weakly
    (docs/REAL_FOOTAGE.md). A checkpoint that wants it says so in ``meta["centre_prior"]``
    (``{"sigma": [sx, sy], "power": p}``, written by skd-train-real from the prior of its teacher mix); every
    runtime path (the node, skd-eval-real, skd-eval-bag, skd-demo) applies it the same way, and checkpoints
    without it (the paper's recipe) are left as they are. ``sigma_x``, ``sigma_y``: standard deviations in
    frame widths and heights; ``power``: the Gaussian's exponent (0.5 doubles its variance)."""

    sigma_x: float
    sigma_y: float
    power: float

    META_KEY = "centre_prior"

    def __post_init__(self):
        if not (self.sigma_x > 0 and self.sigma_y > 0 and self.power > 0):
            raise ValueError(f"centre prior needs positive sigmas and power, got {self}")

    @classmethod
    def of(cls, meta: dict) -> CentrePrior | None:
        """The prior a checkpoint's meta asks for, or None."""
        found = meta.get(cls.META_KEY)
        if not found:
            return None
        try:
            (sigma_x, sigma_y), power = found["sigma"], found["power"]
            return cls(float(sigma_x), float(sigma_y), float(power))
        except (KeyError, TypeError, ValueError) as exc:
            expected = "{'sigma': [sx, sy], 'power': p}"
            raise ValueError(f"meta[{cls.META_KEY!r}] must be {expected}, got {found!r}") from exc

    def as_meta(self) -> dict:
        return {"sigma": [self.sigma_x, self.sigma_y], "power": self.power}

    def weights(self, rows: int, cols: int) -> np.ndarray:
        """The rows x cols map of the prior over the whole frame (1 at the centre)."""
        x = (np.arange(cols) + 0.5) / cols - 0.5
        y = (np.arange(rows) + 0.5) / rows - 0.5
        exponent = x[None, :] ** 2 / (2 * self.sigma_x**2) + y[:, None] ** 2 / (2 * self.sigma_y**2)
        return np.exp(-self.power * exponent).astype(np.float32)


def resize_map(saliency: np.ndarray, width: int, height: int) -> np.ndarray:
    """Model-resolution float map -> float32 map of the requested size, clipped to [0, 1]."""
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    resized = cv2.resize(saliency.astype(np.float32, copy=False), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(resized, 0.0, 1.0)


def to_uint8(saliency: np.ndarray) -> np.ndarray:
    """[0, 1] float map -> uint8 map (0..255)."""
    return (np.clip(saliency, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def find_peak(saliency: np.ndarray, source_width: int, source_height: int) -> Peak:
    rows, cols = saliency.shape
    index = int(np.argmax(saliency))
    v, u = divmod(index, cols)
    return Peak(
        x=(u + 0.5) * source_width / cols,
        y=(v + 0.5) * source_height / rows,
        value=float(saliency.flat[index]),
    )


@functools.cache
def _square(size: int) -> np.ndarray:
    """The size x size structuring element of the blob merge, made once."""
    return np.ones((size, size), np.uint8)


def extract_rois(
    saliency: np.ndarray, source_width: int, source_height: int, params: ROIParams = ROIParams()
) -> list[ROI]:
    """Attention boxes from a 2-D saliency map, in source pixels, best first.

    Cells above the relative threshold are grouped into 8-connected blobs (after dilating by
    ``merge_radius`` so that fragments of one target join); each blob's box covers its cells and its
    score is the saliency mass of those cells over the mass of the whole map. Deterministic: ties in
    score are broken by position (top-to-bottom, left-to-right)."""
    if saliency.ndim != 2 or saliency.size == 0:
        raise ValueError(f"saliency map must be a non-empty 2-D array, got shape {saliency.shape}")
    if source_width <= 0 or source_height <= 0:
        raise ValueError(f"source size must be positive, got {source_width}x{source_height}")
    sal = saliency.astype(np.float32, copy=False)
    low, high = float(sal.min()), float(sal.max())
    if params.max_rois == 0 or not math.isfinite(high) or high - low < params.min_contrast:
        return []
    attended = sal >= low + params.rel_threshold * (high - low)
    mask = attended.view(np.uint8)  # 0 / 1, no copy
    grouping = mask
    if params.merge_radius > 0:
        grouping = cv2.dilate(mask, _square(2 * params.merge_radius + 1))
    _, labels = cv2.connectedComponents(grouping, connectivity=8)
    # the dilation only groups: boxes and mass use the attended cells alone, blob by blob (one sort instead of one
    # full-map comparison per blob; stable, so each blob's cells stay in row-major order)
    cells = np.flatnonzero(attended)
    if cells.size == 0:  # rel_threshold 1 can round above the peak itself
        return []
    blob_of_cell = labels.ravel()[cells]
    order = np.argsort(blob_of_cell, kind="stable")
    cells, blob_of_cell = cells[order], blob_of_cell[order]
    starts = np.flatnonzero(np.diff(blob_of_cell, prepend=-1))
    rows, cols = sal.shape
    vs, us = np.divmod(cells, cols)
    total_mass = float(sal.sum())
    masses = np.add.reduceat(sal.ravel()[cells], starts, dtype=np.float64)
    scores = masses / total_mass if total_mass > 0 else np.zeros_like(masses)
    # plain Python numbers for the per-blob loop (numpy scalars make every operation in it slower)
    boxes = zip(
        scores.tolist(),
        np.minimum.reduceat(us, starts).tolist(),
        np.maximum.reduceat(us, starts).tolist(),
        np.minimum.reduceat(vs, starts).tolist(),
        np.maximum.reduceat(vs, starts).tolist(),
        strict=True,
    )
    sx, sy = source_width / cols, source_height / rows
    rois = []
    for score, u0, u1, v0, v1 in boxes:
        if score < params.min_score:
            continue
        x0, x1 = math.floor(u0 * sx), min(source_width, math.ceil((u1 + 1) * sx))
        y0, y1 = math.floor(v0 * sy), min(source_height, math.ceil((v1 + 1) * sy))
        rois.append(ROI(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=score))
    rois.sort(key=lambda r: (-r.score, r.y, r.x))
    return rois[: params.max_rois]

"""Saliency map out: the centre prior, resizing, 8-bit conversion, attention ROIs and the peak, in source pixels.

Model-resolution maps are R x R; the source frame is W x H. A model cell (u, v) covers source pixels
[u * W/R, (u+1) * W/R) x [v * H/R, (v+1) * H/R), which is how boxes and the peak are mapped back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ROIParams:
    """How attention ROIs are extracted from a saliency map: one ROI per salient peak.

    max_rois: keep at most this many boxes (highest peak first).
    peak_floor: a local maximum of the map starts a ROI when its value >= min + peak_floor * (peak - min), where
        peak is the map's maximum: the attention point's blob always, and the other objects that stand out.
    rel_threshold: a ROI covers the cells around its own peak p whose value >= min + rel_threshold * (p - min)
        (0.5: where the blob is above half its height).
    min_contrast: maps whose peak - min is below this are "flat" and give no ROI.
    merge_radius: parts of a blob with up to 2 * merge_radius model cells between them still join it
        (fragments of one target; 0 = 8-connected cells only).
    min_score: boxes holding less than this share of the map's saliency mass are dropped.
    """

    max_rois: int = 5
    # 0.3: a second object is reported when its peak reaches 30 % of the attention point's height above the
    # map's floor. Of the two floors looked at on the real-footage maps (0.2 and 0.3), the one that scores lower
    # there, so that the table is not flattered by a choice made on it (docs/REAL_FOOTAGE.md)
    peak_floor: float = 0.3
    rel_threshold: float = 0.5
    min_contrast: float = 0.05
    merge_radius: int = 1
    # 1 %: single cells that only just pass the threshold (often at the map's border, where the
    # convolutions see zero padding) hold ~0.1 % of the mass; a planner has no use for them
    min_score: float = 0.01

    def __post_init__(self):
        if self.max_rois < 0:
            raise ValueError(f"max_rois must be >= 0, got {self.max_rois}")
        if not 0.0 < self.peak_floor <= 1.0:
            raise ValueError(f"peak_floor must be in (0, 1], got {self.peak_floor}")
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


def _dilate(values: np.ndarray, radius: int, outside) -> np.ndarray:
    """The maximum over each cell's (2 radius + 1)^2 square, ``outside`` beyond the map. Two 1-D passes of
    numpy maxima: on 64 x 64 maps a third of the time of cv2.dilate, whose set-up dominates there."""
    rows, cols = values.shape
    padded = np.full((rows + 2 * radius, cols + 2 * radius), outside, values.dtype)
    padded[radius : radius + rows, radius : radius + cols] = values
    across = padded[:, :cols].copy()
    for shift in range(1, 2 * radius + 1):
        np.maximum(across, padded[:, shift : shift + cols], out=across)
    result = across[:rows].copy()
    for shift in range(1, 2 * radius + 1):
        np.maximum(result, across[shift : shift + rows], out=result)
    return result


def _labels(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels of a 0/1 uint8 mask (16-bit labels where they fit: faster)."""
    label_type = cv2.CV_16U if mask.size < 2**16 else cv2.CV_32S
    return cv2.connectedComponents(mask, connectivity=8, ltype=label_type)[1]


# the cell itself first: of equal neighbours the first in this order is the step, so a local maximum stays put
_NEIGHBOURHOOD = ((0, 0), (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _basin_roots(saliency: np.ndarray, neighbourhood_max: np.ndarray) -> np.ndarray:
    """For every cell (flat index), the local maximum that steepest ascent from it reaches: the map's watershed
    basins. Each step goes to the highest of the cell and its 8 neighbours (``neighbourhood_max``, the map's
    3 x 3 dilation), so every path climbs and ends at a local maximum."""
    rows, cols = saliency.shape
    padded = np.full((rows + 2, cols + 2), -np.inf, np.float32)
    padded[1:-1, 1:-1] = saliency
    step = np.zeros(rows * cols, np.intp)
    for dv, du in reversed(_NEIGHBOURHOOD):  # written last wins: the first of equal neighbours
        step[(padded[1 + dv : 1 + dv + rows, 1 + du : 1 + du + cols] == neighbourhood_max).ravel()] = dv * cols + du
    pointer = np.arange(rows * cols) + step
    while True:  # pointer jumping: the paths halve each round
        jumped = pointer[pointer]
        if np.array_equal(jumped, pointer):
            return pointer
        pointer = jumped


def _blob(cells: np.ndarray, excluded: np.ndarray, v: int, u: int, merge_radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The group of ``cells`` (a fresh mask, changed in place) around (v, u) outside ``excluded``, and the
    component that joined it (with ``merge_radius`` > 0: the group dilated by it)."""
    cells &= ~excluded
    cells[v, u] = True  # rel_threshold 1 can round above the peak itself
    grouping = _dilate(cells, merge_radius, False) if merge_radius > 0 else cells
    labels = _labels(grouping.view(np.uint8))
    group = labels == labels[v, u]
    cells &= group
    return cells, group


def _near(cells: np.ndarray, group: np.ndarray, other: np.ndarray, merge_radius: int) -> bool:
    """Whether ``other`` holds a neighbour of ``cells``, or with ``merge_radius`` > 0 a cell of its merge
    ``group`` (its neighbours and more: a blob that is only near counts too, which costs time, not results)."""
    return bool(((group if merge_radius > 0 else _dilate(cells, 1, False)) & other).any())


def extract_rois(
    saliency: np.ndarray, source_width: int, source_height: int, params: ROIParams = ROIParams()
) -> list[ROI]:
    """Attention boxes from a 2-D saliency map, in source pixels, one per salient peak, highest peak first.

    Every local maximum (a cell no lower than its 8 neighbours; on a plateau, one whose plateau has no higher
    neighbour) at or above ``peak_floor`` of the map's range is a candidate, highest first; the map's maximum
    is always one, so the first ROI holds the attention point. A candidate's blob is the 8-connected group of
    the cells around it at or above ``rel_threshold`` of its own height (parts with up to 2 * ``merge_radius``
    cells between them join), leaving out the cells of higher peaks' blobs and the cells that climb to them
    (the flank of a higher peak is not a lower one's); a candidate inside a higher peak's blob is part of that
    one. Each box covers its blob's cells, and its score is the blob's saliency mass over the whole map's.
    A single threshold on the whole map would give one box for the attention point and drop every other
    object under half its height; a planner watching a group or a herd wants each of them (issue #17).
    Deterministic: equal peaks go top-to-bottom, left-to-right."""
    if saliency.ndim != 2 or saliency.size == 0:
        raise ValueError(f"saliency map must be a non-empty 2-D array, got shape {saliency.shape}")
    if source_width <= 0 or source_height <= 0:
        raise ValueError(f"source size must be positive, got {source_width}x{source_height}")
    sal = saliency.astype(np.float32, copy=False)
    low, high = float(sal.min()), float(sal.max())
    if params.max_rois == 0 or not math.isfinite(high) or high - low < params.min_contrast:
        return []
    flat = sal.ravel()
    neighbourhood_max = _dilate(sal, 1, -np.inf)
    is_local_max = sal >= neighbourhood_max
    candidates = np.flatnonzero(is_local_max & (sal >= low + params.peak_floor * (high - low)))
    candidates = candidates[np.argsort(-flat[candidates], kind="stable")]
    rows, cols = sal.shape
    sx, sy = source_width / cols, source_height / rows
    total_mass = float(sal.sum(dtype=np.float64))
    taken = np.zeros(sal.shape, bool)
    not_peak = np.zeros(sal.shape, bool)  # plateau cells found to climb on
    taken_any, roots, excluded = False, None, None
    rois = []
    for index in candidates.tolist():
        v, u = divmod(index, cols)
        if taken[v, u] or not_peak[v, u]:
            continue
        height = flat[index]
        if np.count_nonzero(sal[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2] == height) > 1:
            # on a plateau (upsampled maps have them): a peak only if no cell of the plateau has a higher
            # neighbour, i.e. the cells at or above its height that it reaches hold nothing higher
            labels = _labels((sal >= height).view(np.uint8))
            reached = labels == labels[v, u]
            if (sal[reached] > height).any():
                not_peak |= reached & (sal == height)
                continue
        level = low + params.rel_threshold * (height - low)
        blob_cells, group = _blob(sal >= level, taken if roots is None else excluded, v, u, params.merge_radius)
        # a cell that climbs to a higher peak's blob climbs through a cell of this blob that touches it: only a
        # blob near one needs the basins (computed once, when first needed; from then on every blob leaves out
        # what climbs to a taken one)
        if roots is None and taken_any and _near(blob_cells, group, taken, params.merge_radius):
            roots = _basin_roots(sal, neighbourhood_max)
            excluded = taken | taken.ravel()[roots].reshape(rows, cols)
            blob_cells, _ = _blob(sal >= level, excluded, v, u, params.merge_radius)
        taken |= blob_cells
        if roots is not None:
            excluded = taken | taken.ravel()[roots].reshape(rows, cols)
        taken_any = True
        score = float(flat[blob_cells.ravel()].sum(dtype=np.float64)) / total_mass if total_mass > 0 else 0.0
        if score < params.min_score:
            continue
        u0, v0, blob_cols, blob_rows = cv2.boundingRect(blob_cells.view(np.uint8))
        x0, x1 = math.floor(u0 * sx), min(source_width, math.ceil((u0 + blob_cols) * sx))
        y0, y1 = math.floor(v0 * sy), min(source_height, math.ceil((v0 + blob_rows) * sy))
        rois.append(ROI(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=score))
        if len(rois) == params.max_rois:
            break
    return rois

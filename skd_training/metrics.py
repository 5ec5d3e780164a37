"""Saliency metrics with the MIT saliency benchmark's definitions (``cvzoya/saliency``, code_forMetrics).

Every function takes the prediction ``sal`` (a 2-D saliency map of any size) and a ground truth: a
binary fixation map ``fix`` (nonzero = fixated) or a density map ``den`` (the blurred fixations). As in
the benchmark, the prediction is first **resized to the ground-truth size** (``resize_to``), so a model
is always scored at the resolution of the annotation, whatever resolution it runs at.

Definitions (higher is better for all but KLD):

* ``auc_judd`` — AUC-Judd. The prediction gets a tiny uniform jitter (``U[0, 1e-7)``) to break ties, is
  min-max normalised to [0, 1], and the saliency values at the fixated pixels, sorted in descending
  order, are the thresholds. At the i-th threshold the true-positive rate is ``i / n_fix`` and the
  false-positive rate is ``(pixels >= threshold - i) / (n_pixels - n_fix)``; (0, 0) and (1, 1) are
  added and the area is the trapezoid rule.
* ``auc_shuffled`` — shuffled AUC (sAUC). Negatives are the prediction's values at fixation locations
  of *other* frames (``other_fix``; the evaluator uses the union of 10 random frames of other videos,
  as the DHF1K evaluation does), which discounts centre bias. The prediction is min-max normalised; for
  each of ``n_splits=100`` random splits, ``min(n_fix, n_other)`` negatives are drawn without
  replacement; thresholds run from the largest multiple of ``step=0.1`` below the split's maximum down
  to 0; TPR/FPR per threshold, (0, 0) and (1, 1) added, trapezoid area; the score is the mean over the
  splits.
* ``nss`` — Normalised Scanpath Saliency: the prediction z-scored (mean 0, *sample* standard deviation
  1, as MATLAB's ``std``) and averaged over the fixated pixels.
* ``cc`` — Pearson's linear correlation coefficient of the prediction and the density map.
* ``sim`` — similarity (histogram intersection): each map min-max normalised to [0, 1], then divided
  by its sum; the score is the sum of the element-wise minima (1 = identical distributions).
* ``kld`` — Kullback-Leibler divergence of the prediction from the density map (lower is better):
  both divided by their sums, ``sum(den * log(eps + den / (sal + eps)))`` with ``eps`` the float64
  machine epsilon (MATLAB's ``eps``, 2.2e-16).

Where the benchmark's arithmetic is undefined we return a documented value instead of NaN, so that a
constant prediction is scored rather than silently dropped from a mean:

* a constant prediction (no information) scores NSS 0, CC 0, AUC-Judd 0.5 without jitter (with the
  default jitter it is a random map and scores about 0.5), sAUC 0.5, and SIM as the uniform
  distribution;
* a ground truth with no fixations (or a constant density map) makes the frame unscorable: NaN, which
  the evaluator counts and leaves out of its means.

Resizing follows MATLAB's ``imresize`` in spirit: bicubic when enlarging, area averaging when
shrinking (``imresize`` antialiases when shrinking), then clipped to the input's value range so that
bicubic overshoot can never create negative saliency.
"""

from __future__ import annotations

import cv2
import numpy as np

MATLAB_EPS = float(np.finfo(np.float64).eps)
JITTER = 1e-7
METRIC_NAMES = ("AUC", "sAUC", "NSS", "SIM", "CC", "KLD")
LOWER_IS_BETTER = frozenset({"KLD"})


def _check_map(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    result = array.astype(np.float64)
    if not np.isfinite(result).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return result


def resize_to(sal: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The prediction as a float64 map of ``shape`` (rows, cols): bicubic up, area down, clipped to
    the input's range."""
    sal = _check_map(sal, "saliency map")
    rows, cols = int(shape[0]), int(shape[1])
    if sal.shape == (rows, cols):
        return sal
    shrinking = rows * cols < sal.size
    resized = cv2.resize(sal, (cols, rows), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.clip(resized, sal.min(), sal.max())


def _minmax(values: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1]; a constant map becomes all zeros (instead of the benchmark's 0/0)."""
    low, high = values.min(), values.max()
    if high == low:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _fixation_mask(fix: np.ndarray, name: str = "fixation map") -> np.ndarray:
    return _check_map(fix, name) != 0


def roc_judd(sal: np.ndarray, fix: np.ndarray, jitter: bool = True, rng: np.random.Generator | None = None):
    """The AUC-Judd ROC curve: (false-positive rates, true-positive rates), both starting at 0 and
    ending at 1, or None when the fixation map has no fixations or every pixel is fixated."""
    mask = _fixation_mask(fix)
    n_fix, n_pixels = int(mask.sum()), mask.size
    if n_fix == 0 or n_fix == n_pixels:
        return None
    sal = resize_to(sal, mask.shape)
    if jitter:
        rng = np.random.default_rng() if rng is None else rng
        sal = sal + rng.random(sal.shape) * JITTER
    if sal.max() == sal.min():  # no ordering at all: the chance diagonal (the benchmark divides 0 by 0)
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    sal = _minmax(sal).ravel()
    ascending = np.sort(sal[mask.ravel()])
    # pixels at or above each threshold, all thresholds at once: a pixel is at or above the j lowest
    # thresholds, with j = searchsorted(..., "right"); counting pixels per j and summing from the top
    # avoids sorting the whole map
    reaches = np.bincount(np.searchsorted(ascending, sal, side="right"), minlength=n_fix + 1)
    above = np.cumsum(reaches[::-1])[:n_fix]  # thresholds in descending order
    ranks = np.arange(1, n_fix + 1)
    tpr = np.concatenate([[0.0], ranks / n_fix, [1.0]])
    fpr = np.concatenate([[0.0], (above - ranks) / (n_pixels - n_fix), [1.0]])
    return fpr, tpr


def auc_judd(sal: np.ndarray, fix: np.ndarray, jitter: bool = True, rng: np.random.Generator | None = None) -> float:
    """AUC-Judd of ``sal`` against the binary fixation map ``fix`` (see the module docstring).

    jitter: add the benchmark's tiny random jitter to break ties (pass a seeded ``rng`` for
    reproducible scores). NaN when ``fix`` has no fixations or fixates every pixel."""
    curve = roc_judd(sal, fix, jitter=jitter, rng=rng)
    if curve is None:
        return float("nan")
    fpr, tpr = curve
    return float(np.trapezoid(tpr, fpr))


def auc_shuffled(
    sal: np.ndarray,
    fix: np.ndarray,
    other_fix: np.ndarray,
    n_splits: int = 100,
    step: float = 0.1,
    rng: np.random.Generator | None = None,
) -> float:
    """Shuffled AUC of ``sal`` against ``fix``, with negatives drawn from the fixations in
    ``other_fix`` (a binary map of the same size: the union of fixations on other frames).

    n_splits random draws of negatives, thresholds every ``step``; pass a seeded ``rng`` for
    reproducible scores. NaN when either map has no fixations."""
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    if not 0.0 < step <= 1.0:
        raise ValueError(f"step must be in (0, 1], got {step}")
    mask = _fixation_mask(fix)
    other = _fixation_mask(other_fix, "other fixation map")
    if other.shape != mask.shape:
        raise ValueError(f"other fixation map has shape {other.shape}, the fixation map {mask.shape}")
    if not mask.any() or not other.any():
        return float("nan")
    sal = _minmax(resize_to(sal, mask.shape)).ravel()
    positives = np.sort(sal[mask.ravel()])
    candidates = sal[other.ravel()]
    n_negatives = min(positives.size, candidates.size)
    rng = np.random.default_rng() if rng is None else rng
    # n_splits independent draws without replacement: the first n_negatives of a random permutation
    negatives = rng.permuted(np.broadcast_to(candidates, (n_splits, candidates.size)), axis=1)[:, :n_negatives]

    # One threshold grid for all splits: thresholds above a split's maximum give the point (0, 0) that
    # the curve starts from anyway, so they add no area and the shared grid equals per-split grids.
    top = max(positives[-1], candidates.max())
    count = int(np.floor(top / step + 1e-9)) + 1
    thresholds = (np.arange(count) * step)[::-1]
    tp = (positives.size - np.searchsorted(positives, thresholds, side="left")) / positives.size
    fp = (negatives[:, :, None] >= thresholds[None, None, :]).sum(axis=1) / n_negatives
    zeros, ones = np.zeros((n_splits, 1)), np.ones((n_splits, 1))
    tpr = np.concatenate([zeros, np.broadcast_to(tp, (n_splits, count)), ones], axis=1)
    fpr = np.concatenate([zeros, fp, ones], axis=1)
    return float(np.trapezoid(tpr, fpr, axis=1).mean())


def nss(sal: np.ndarray, fix: np.ndarray) -> float:
    """Normalised Scanpath Saliency: mean of the z-scored prediction (sample std) at the fixated
    pixels. 0 for a constant prediction; NaN when ``fix`` has no fixations."""
    mask = _fixation_mask(fix)
    if not mask.any():
        return float("nan")
    sal = resize_to(sal, mask.shape)
    std = sal.std(ddof=1) if sal.size > 1 else 0.0
    if std == 0:
        return 0.0
    return float(((sal - sal.mean()) / std)[mask].mean())


def cc(sal: np.ndarray, den: np.ndarray) -> float:
    """Pearson's correlation coefficient of the prediction and the density map ``den``.
    0 for a constant prediction; NaN for a constant density map."""
    den = _check_map(den, "density map")
    sal = resize_to(sal, den.shape)
    a, b = sal - sal.mean(), den - den.mean()
    norm_b = np.sqrt((b * b).sum())
    if norm_b == 0:
        return float("nan")
    norm_a = np.sqrt((a * a).sum())
    if norm_a == 0:
        return 0.0
    return float((a * b).sum() / (norm_a * norm_b))


def _as_distribution(values: np.ndarray) -> np.ndarray:
    """SIM's normalisation: min-max to [0, 1], then sum 1; a constant map becomes uniform."""
    scaled = _minmax(values)
    total = scaled.sum()
    if total == 0:
        return np.full_like(values, 1.0 / values.size)
    return scaled / total


def sim(sal: np.ndarray, den: np.ndarray) -> float:
    """Similarity (histogram intersection) of the prediction and the density map ``den``, in [0, 1].
    NaN for an all-zero density map."""
    den = _check_map(den, "density map")
    if not den.any():
        return float("nan")
    sal = resize_to(sal, den.shape)
    return float(np.minimum(_as_distribution(sal), _as_distribution(den)).sum())


def kld(sal: np.ndarray, den: np.ndarray) -> float:
    """KL divergence of the prediction from the density map ``den`` (lower is better); both must be
    non-negative. NaN for an all-zero density map."""
    den = _check_map(den, "density map")
    sal = resize_to(sal, den.shape)
    if sal.min() < 0 or den.min() < 0:
        raise ValueError("KLD needs non-negative maps (saliency and density are distributions)")
    if not den.any():
        return float("nan")
    q = sal / sal.sum() if sal.any() else sal
    p = den / den.sum()
    return float((p * np.log(MATLAB_EPS + p / (q + MATLAB_EPS))).sum())


def all_metrics(
    sal: np.ndarray,
    fix: np.ndarray,
    den: np.ndarray,
    other_fix: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Every metric of ``METRIC_NAMES`` for one frame (sAUC NaN when ``other_fix`` is None); ``sal``
    must be non-negative (KLD treats it as a distribution).

    The prediction is resized to the ground truth once and reused."""
    fix = _check_map(fix, "fixation map")
    den = _check_map(den, "density map")
    if fix.shape != den.shape:
        raise ValueError(f"fixation map {fix.shape} and density map {den.shape} differ in size")
    rng = np.random.default_rng() if rng is None else rng
    sal = resize_to(sal, fix.shape)
    return {
        "AUC": auc_judd(sal, fix, rng=rng),
        "sAUC": float("nan") if other_fix is None else auc_shuffled(sal, fix, other_fix, rng=rng),
        "NSS": nss(sal, fix),
        "SIM": sim(sal, den),
        "CC": cc(sal, den),
        "KLD": kld(sal, den),
    }

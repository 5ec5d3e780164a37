"""Taking the camera's own motion out of a frame pair before the temporal stream sees it.

A drone's camera moves, so in a raw pair everything moves: the temporal stream of a small model has to
learn to tell the camera's motion from the targets', which twelve training clips do not teach (a frame
difference of raw 64x64 pairs puts its peak on the target in 10 % of the frames of the shared drone
clips; of aligned pairs in 22 %, docs/REAL_FOOTAGE.md). Between two frames 0.03-0.1 s apart the camera's
motion over the ground is close to an affine map (shift, rotation, scale, a little shear), estimated
here on the model-resolution frames themselves: Shi-Tomasi corners of the previous frame tracked into
the current one by pyramidal Lucas-Kanade, a RANSAC similarity as the start (robust to the tracks on
moving targets and to LK's failures, even when they are the majority; OpenCV seeds it, so every caller
gets the same estimate), then an affine refit in which every track counts with a Cauchy weight of its
residual, the weights narrowing over the rounds.

Why the weighted refit and not a RANSAC fit: the map must not change with the few grey levels that JPEG
compression or a reduced-size decode change. A hard inlier threshold lets such noise swap tracks in and
out of the fit, and the warp jumps by pixels (a RANSAC homography gave maps that agree with the
full decode's only to CC 0.77-0.87 on the shared clips); weights that fall smoothly with the residual move
the estimate smoothly (CC >= 0.99 on the same frames), at no more cost.

The previous frame is warped onto the current one; where the warp has no data (the strip the camera
moved into) the current frame's pixels stand in, so nothing there looks like motion.

For pairs more than a frame apart (a checkpoint's ``meta["pair_interval_s"]`` at a faster camera) the runtime
chains the frame-to-frame motions (``chained_motion``, ``skd_ros.runtime.SaliencyEstimator.temporal_input``).

A checkpoint says which pairs it was trained on: ``meta["pairs"]`` = ``"aligned"`` for this, anything
else (the paper's raw pairs) leaves them as they are (``pairs_of``).
"""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.core.preprocess import MEAN_RGB, STD_RGB

ALIGNED = "aligned"
RAW = "raw"
# small windows and few levels: at 64x64 a corner's neighbourhood is a few cells, and a pyramid of 3
# levels (64, 32, 16) follows shifts of up to ~1/4 of the frame, more than a drone moves in 0.1 s
LUCAS_KANADE = dict(winSize=(9, 9), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
MAX_CORNERS = 120
MIN_TRACKS = 8  # fewer tracked corners than this: the frames are left as they are
START_CELLS = 2.0  # the RANSAC start's inlier distance (model cells): the refit tightens it
# the refit's rounds: the residual (model cells) at which a track's weight halves, wide first so that
# where the start lands matters less, then 1 cell: tracks on a moving target lie several cells off the
# ground's motion and end up weighing little
REFIT_SCALES = (4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 1.0)
# luma weights (RGB) folded with the normalisation, so the grey image comes straight from a model input
_GREY_WEIGHTS = (np.array([0.299, 0.587, 0.114], np.float32) * STD_RGB * 255.0).reshape(3, 1, 1)
_GREY_OFFSET = float(np.dot([0.299, 0.587, 0.114], MEAN_RGB) * 255.0)


def pairs_of(meta: dict) -> str:
    """How a checkpoint's temporal stream expects its pairs: ``ALIGNED`` or ``RAW`` (the paper's)."""
    return ALIGNED if meta.get("pairs") == ALIGNED else RAW


def grey(tensor: np.ndarray) -> np.ndarray:
    """A 3 x R x R model input (RGB, ImageNet-normalised) as an R x R uint8 grey image."""
    value = (tensor * _GREY_WEIGHTS).sum(axis=0) + _GREY_OFFSET
    return np.clip(value + 0.5, 0, 255).astype(np.uint8)


def camera_motion(previous_grey: np.ndarray, current_grey: np.ndarray) -> np.ndarray | None:
    """The 2 x 3 affine map taking ``previous_grey`` onto ``current_grey``, or None where too few corners
    track or the estimate is implausible (a flip, or a scale change beyond 2x between two frames)."""
    corners = cv2.goodFeaturesToTrack(previous_grey, MAX_CORNERS, qualityLevel=0.01, minDistance=3, blockSize=3)
    if corners is None or len(corners) < MIN_TRACKS:
        return None
    tracked, found, _ = cv2.calcOpticalFlowPyrLK(previous_grey, current_grey, corners, None, **LUCAS_KANADE)
    good = found[:, 0] == 1
    if good.sum() < MIN_TRACKS:
        return None
    source, target = corners[good], tracked[good]
    start, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=START_CELLS)
    if start is None:
        return None
    affine = refit(source[:, 0].astype(np.float64), target[:, 0].astype(np.float64), start)
    scale = np.linalg.det(affine[:, :2])
    return affine.astype(np.float32) if 0.25 < scale < 4.0 else None


def refit(source: np.ndarray, target: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Iteratively reweighted least squares from ``affine`` (2 x 3): the affine map taking the N x 2 points
    ``source`` onto ``target``, each pair weighted 1 / (1 + (residual / scale)^2), a round per scale of
    ``REFIT_SCALES``."""
    design = np.hstack([source, np.ones((len(source), 1))])  # N x 3: a row [x, y, 1] per point
    for scale in REFIT_SCALES:
        residual = design @ affine.T - target
        weight = 1.0 / (1.0 + (residual**2).sum(axis=1) / scale**2)
        weighted = design * weight[:, None]
        try:
            affine = np.linalg.solve(weighted.T @ design, weighted.T @ target).T
        except np.linalg.LinAlgError:  # the weighted tracks are collinear: keep the last estimate
            break
    return affine


def align_previous(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``previous`` warped onto ``current`` (both 3 x R x R model inputs); the current frame's pixels where
    the warp leaves no data. Unchanged when the camera's motion cannot be estimated."""
    if previous is current:
        return previous
    return warp_onto(previous, current, camera_motion(grey(previous), grey(current)))


def chained_motion(links: list[np.ndarray | None]) -> np.ndarray | None:
    """The 2 x 3 affine map of successive motions (each taking a frame onto the next), or None if one is."""
    total = np.eye(3)
    for link in links:
        if link is None:
            return None
        total = np.vstack([link, (0.0, 0.0, 1.0)]) @ total
    return total[:2].astype(np.float32)


def warp_onto(previous: np.ndarray, current: np.ndarray, affine: np.ndarray | None) -> np.ndarray:
    """``previous`` warped onto ``current`` by ``affine`` (previous -> current); ``previous`` as it is for None."""
    if affine is None:
        return previous
    height, width = current.shape[1:]
    aligned = np.array(current, np.float32, order="C")  # always a copy: the warp writes over it
    for plane, source in zip(aligned, previous, strict=True):  # plane by plane: no H x W x 3 copies to and fro
        cv2.warpAffine(
            source, affine, (width, height), dst=plane, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
        )
    return aligned

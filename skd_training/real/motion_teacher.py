"""A temporal teacher that sees what moves against the camera's own motion.

A drone's camera moves, so everything in a plain frame difference moves. For the scene below a drone the
camera's motion between two frames is close to a homography: Shi-Tomasi corners tracked by pyramidal
Lucas-Kanade (kept where the backward track returns within a pixel), a RANSAC homography, the other frame
warped onto this one. What still differs (the mean absolute colour difference, minus a small noise floor,
blurred) moves on its own: vehicles, people, boats, animals. Pixels the warp leaves empty, and a margin, are
zeroed.

``maps(frames)`` gives one map per frame. A teacher may look ahead, unlike the live node: the map of frame
t is the smaller of its differences to the warped frames t-1 and t+1, which removes the ghost that a
two-frame difference leaves where the object was (the first and last frames use the one pair they have;
a single frame has no motion).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

LUCAS_KANADE = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
MIN_TRACKS = 12  # fewer tracked corners than this: no homography (the frames are treated as aligned)


def camera_motion(source_grey: np.ndarray, target_grey: np.ndarray) -> np.ndarray:
    """The homography taking ``source_grey`` onto ``target_grey`` (identity when too few corners track)."""
    corners = cv2.goodFeaturesToTrack(source_grey, maxCorners=600, qualityLevel=0.005, minDistance=7, blockSize=7)
    if corners is None or len(corners) < MIN_TRACKS:
        return np.eye(3)
    tracked, found, _ = cv2.calcOpticalFlowPyrLK(source_grey, target_grey, corners, None, **LUCAS_KANADE)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(target_grey, source_grey, tracked, None, **LUCAS_KANADE)
    good = (found[:, 0] == 1) & (found_back[:, 0] == 1) & (np.linalg.norm((back - corners)[:, 0], axis=1) < 1.0)
    if good.sum() < MIN_TRACKS:
        return np.eye(3)
    homography, _ = cv2.findHomography(corners[good], tracked[good], cv2.RANSAC, 2.0)
    return homography if homography is not None else np.eye(3)


def compensated_difference(
    source: np.ndarray,
    target: np.ndarray,
    source_grey: np.ndarray,
    target_grey: np.ndarray,
    blur: float = 3.0,
    floor: float = 6.0,
    margin: int = 8,
) -> np.ndarray:
    """|target - source warped onto target| per pixel (BGR mean), minus ``floor`` grey levels, blurred by
    ``blur`` pixels; zero where the warp left no data and within ``margin`` pixels of the border."""
    height, width = target.shape[:2]
    homography = camera_motion(source_grey, target_grey)
    warped = cv2.warpPerspective(source, homography, (width, height), flags=cv2.INTER_LINEAR)
    covered = cv2.warpPerspective(
        np.ones((height, width), np.uint8), homography, (width, height), flags=cv2.INTER_NEAREST
    )
    covered = cv2.erode(covered, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    covered[:margin], covered[-margin:], covered[:, :margin], covered[:, -margin:] = 0, 0, 0, 0
    difference = np.abs(target.astype(np.float32) - warped.astype(np.float32)).mean(axis=2)
    return cv2.GaussianBlur(np.maximum(difference - floor, 0.0) * covered, (0, 0), blur)


def maps(frames: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
    """One motion map per frame (BGR frames of one clip, in order, at the teacher's working size), in order."""
    greys = [cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (3, 3), 0) for frame in frames]
    last = len(frames) - 1
    for t, frame in enumerate(frames):
        differences = [
            compensated_difference(frames[s], frame, greys[s], greys[t]) for s in (t - 1, t + 1) if 0 <= s <= last
        ]
        yield np.minimum.reduce(differences) if differences else np.zeros(frame.shape[:2], np.float32)

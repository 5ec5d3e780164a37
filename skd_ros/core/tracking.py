"""Stable identities for attention ROIs from one frame to the next (one ``RoiTracker`` per camera).

The map is recomputed for every frame, so the same region comes back as a slightly different box each time.
``RoiTracker.update`` gives each ROI of a frame the id of the region it continues, or a new id:

* Association. A ROI continues a track when their boxes overlap by at least ``min_iou`` (intersection over
  union), or when their peaks are closer than half the diagonal of the larger box (a region that moved further
  than its overlap allows, at a model cell a frame, or grew or shrank around the same spot). Pairs are taken
  best first, by overlap, then by the distance between peaks; each track and each ROI is used at most once.
* Hysteresis. A track that finds no ROI is kept for ``max_missed`` frames, so a region that fades below the
  threshold for a frame or two keeps its id when it comes back; after that its id is retired.
* Age. A ROI's age is the number of frames since its id first appeared, this one included (1 for a new region).

Ids start at 1 and are never reused, so a planner can tell a region it saw before from a new one; ``reset``
(pairing restarted: another camera, a time jump) forgets every track. ROS-free (the node keeps one per camera).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from skd_ros.core.postprocess import ROI, Peak


@dataclass(frozen=True)
class TrackParams:
    """min_iou: the overlap (intersection over union) that makes a ROI continue a track, in (0, 1];
    max_missed: frames a track without a ROI survives."""

    min_iou: float = 0.3
    max_missed: int = 5

    def __post_init__(self):
        if not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {self.min_iou}")
        if self.max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {self.max_missed}")


@dataclass
class _Track:
    id: int
    roi: ROI
    peak: Peak
    first_frame: int
    missed: int = 0


def _iou(a: ROI, b: ROI) -> float:
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a.width * a.height + b.width * b.height - inter)


def _half_diagonal(roi: ROI) -> float:
    return math.hypot(roi.width, roi.height) / 2


class RoiTracker:
    """See the module docstring. ``params`` may be replaced between frames (the node's parameters)."""

    def __init__(self, params: TrackParams = TrackParams()):
        self.params = params
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = 0

    def reset(self) -> None:
        """Forget every track: the next frame's ROIs all get new ids."""
        self._tracks = []

    def update(self, rois: Sequence[ROI], peaks: Sequence[Peak]) -> list[tuple[int, int]]:
        """One frame's ROIs and their peaks (one per ROI) -> (id, age) for each ROI, in order."""
        if len(rois) != len(peaks):
            raise ValueError(f"need one peak per ROI, got {len(rois)} ROIs and {len(peaks)} peaks")
        self._frame += 1
        candidates = []
        # every pair of track and ROI is looked at: each box's half diagonal once, not once per pair
        roi_halves = [_half_diagonal(roi) for roi in rois]
        for t, track in enumerate(self._tracks):
            track_half, track_peak = _half_diagonal(track.roi), track.peak
            for r, (roi, peak) in enumerate(zip(rois, peaks, strict=True)):
                overlap = _iou(track.roi, roi)
                distance = math.hypot(track_peak.x - peak.x, track_peak.y - peak.y)
                if overlap >= self.params.min_iou or distance <= max(track_half, roi_halves[r]):
                    candidates.append((-overlap, distance, track.id, r, t))
        candidates.sort()
        track_of_roi: dict[int, _Track] = {}
        taken = set()
        for *_, r, t in candidates:
            if r not in track_of_roi and t not in taken:
                track_of_roi[r] = self._tracks[t]
                taken.add(t)
        survivors = []
        for t, track in enumerate(self._tracks):
            if t not in taken:
                track.missed += 1
                if track.missed <= self.params.max_missed:
                    survivors.append(track)
        identities = []
        for r, (roi, peak) in enumerate(zip(rois, peaks, strict=True)):
            track = track_of_roi.get(r)
            if track is None:
                track = _Track(self._next_id, roi, peak, self._frame)
                self._next_id += 1
            else:
                track.roi, track.peak, track.missed = roi, peak, 0
            survivors.append(track)
            identities.append((track.id, self._frame - track.first_frame + 1))
        self._tracks = survivors
        return identities

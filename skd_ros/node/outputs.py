"""What the node publishes for one frame, ROS-free: ``frame_outputs`` is the one function that turns a core
result into the content of the output topics. The rclpy node (``skd_ros.node.messages``) and the bag
writer (``skd_tools.bags``) only wrap these fields in their message types, so a map, a box or a peak is
formatted in one place."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros.core.bearings import CameraModel, orientation_along
from skd_ros.core.image_codec import DecodedImage
from skd_ros.core.postprocess import ROI, Peak, resize_map, to_uint8
from skd_ros.core.roi_record import box_centres, roi_peaks, rois_to_records
from skd_ros.core.tracking import RoiTracker
from skd_ros.core.visualize import overlay
from skd_ros.node.settings import SALIENCY_ENCODINGS
from skd_ros.runtime import SaliencyResult

# the outputs that show ROIs: while none of them has a reader, a node need not look for ROIs at all
ROI_OUTPUTS = frozenset({"rois", "bearings", "markers", "overlay"})
# marker colours (RGB, 0..1), one per ROI id, so that a region keeps its colour from frame to frame
MARKER_COLOURS = (
    (1.0, 0.6, 0.0),
    (0.0, 0.8, 1.0),
    (0.9, 0.2, 0.9),
    (0.3, 1.0, 0.3),
    (1.0, 1.0, 0.2),
    (1.0, 0.3, 0.3),
)


@dataclass(frozen=True)
class RoiMarker:
    """What ``~/markers`` draws for one ROI, in the camera's optical frame: a ray from the camera's origin to
    ``tip`` (metres), ``width`` thick, and ``label`` (its id and score) at the tip, ``text_height`` tall."""

    tip: tuple[float, float, float]
    label: str
    colour: tuple[float, float, float]
    width: float
    text_height: float


@dataclass(frozen=True)
class FrameOutputs:
    """One frame's outputs: ``saliency`` pixels (uint8 for mono8, float32 for 32FC1) for ``~/saliency``,
    ``rois`` records (``skd_ros.core.roi_record.ROI_DTYPE``, best first) for ``~/rois``, ``peak`` for
    ``~/attention``; with a camera model, ``bearings`` for ``~/bearings`` (one quaternion (x, y, z, w) per ROI
    that turns the x-axis onto the ray of its peak); when asked for, the rgb8 ``overlay`` for ``~/overlay`` and
    the ``markers`` for ``~/markers`` (empty without a camera model: the old ones are still cleared). An output
    nobody reads is None (``frame_outputs``' ``wanted``)."""

    saliency: np.ndarray | None
    saliency_encoding: str
    rois: np.ndarray | None
    peak: Peak | None
    overlay: np.ndarray | None = None
    bearings: list[tuple[float, float, float, float]] | None = None
    markers: list[RoiMarker] | None = None


def fit_within(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so that width x height <= ``max_pixels`` (None: as is)."""
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def frame_outputs(
    result: SaliencyResult,
    saliency_encoding: str,
    full_size: bool,
    overlay_on: DecodedImage | None = None,
    max_pixels: int | None = None,
    tracker: RoiTracker | None = None,
    camera: CameraModel | None = None,
    marker_length: float | None = None,
    wanted: Collection[str] | None = None,
) -> FrameOutputs:
    """The outputs for ``result``: the map at model resolution, or bilinear at the source size with
    ``full_size``; the ROIs with each box's own peak; the overlay only when ``overlay_on`` (the decoded
    input frame) is given, since drawing it costs more than everything else here. The full-size map and
    the overlay are scaled down to at most ``max_pixels`` pixels (None: no bound).

    ``tracker``: the camera's ``RoiTracker``, advanced by this frame (and reset first when the frame starts a new
    pairing: its ROIs continue nothing), for each ROI's id and age (None: 0, not tracked). ``camera``: the
    camera's model, checked against this image's size, for the rays and ``bearings`` (None: NaN rays, no
    bearings). ``marker_length``: build ``markers`` with rays this long (None: none asked for).

    ``wanted``: the names of the outputs someone reads (None: all); ``saliency``, ``rois``, ``attention`` and
    ``bearings`` are built only when wanted (the ROI records also for the markers). While no ROI record is built the
    tracker is reset, so that a reader who comes later gets new ids, not the continuation of regions last seen
    long ago."""
    if saliency_encoding not in SALIENCY_ENCODINGS:
        raise ValueError(f"saliency encoding must be one of {SALIENCY_ENCODINGS}, got {saliency_encoding!r}")

    def wants(name: str) -> bool:
        return wanted is None or name in wanted

    pixels = None
    if wants("saliency"):
        saliency = result.saliency
        if full_size:
            saliency = resize_map(saliency, *fit_within(result.source_width, result.source_height, max_pixels))
        pixels = to_uint8(saliency) if saliency_encoding == "mono8" else saliency.astype(np.float32, copy=False)
    records = bearings = None
    if wants("rois") or wants("bearings") or marker_length is not None:
        peaks = roi_peaks(result.saliency, result.rois, result.source_width, result.source_height)
        identities = None
        if tracker is not None:
            if not result.paired_with_previous:
                tracker.reset()
            identities = tracker.update(result.rois, peaks)
        peak_rays = centre_rays = None
        if camera is not None:
            peak_rays = camera.rays([(peak.x, peak.y) for peak in peaks])
            centre_rays = camera.rays(box_centres(result.rois))
            if wants("bearings"):
                bearings = [orientation_along(ray) for ray in peak_rays]
        records = rois_to_records(result.rois, peaks, identities, peak_rays, centre_rays)
    elif tracker is not None:
        tracker.reset()
    markers = None if marker_length is None else roi_markers(records, marker_length)
    drawn = None if overlay_on is None else overlay_rgb(overlay_on, result, max_pixels)
    peak = result.peak if wants("attention") else None
    rois = records if wants("rois") else None
    return FrameOutputs(pixels, saliency_encoding, rois, peak, drawn, bearings, markers)


def roi_markers(records: np.ndarray, length: float) -> list[RoiMarker]:
    """A ray ``length`` metres long along each ROI's peak ray, labelled with its id and score; none for ROIs
    without a ray (no camera model)."""
    markers = []
    for record in records:
        ray = np.array([record["ray_x"], record["ray_y"], record["ray_z"]], dtype=np.float64)
        if not np.all(np.isfinite(ray)):
            continue
        markers.append(
            RoiMarker(
                tip=tuple(float(v) for v in ray * length),
                label=f"#{record['id']} {record['score']:.2f}",
                colour=MARKER_COLOURS[int(record["id"]) % len(MARKER_COLOURS)],
                width=0.01 * length,
                text_height=0.05 * length,
            )
        )
    return markers


def overlay_rgb(frame: DecodedImage, result: SaliencyResult, max_pixels: int | None = None) -> np.ndarray:
    """Heat map, ROI boxes and peak drawn over the frame as decoded (which may be smaller than the source,
    e.g. a JPEG decoded at reduced size), scaled down to at most ``max_pixels``; RGB."""
    width, height = fit_within(frame.width, frame.height, max_pixels)
    canvas = frame.as_bgr()
    if (width, height) != (frame.width, frame.height):
        canvas = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    sx, sy = width / result.source_width, height / result.source_height
    rois = [
        ROI(round(r.x * sx), round(r.y * sy), max(1, round(r.width * sx)), max(1, round(r.height * sy)), r.score)
        for r in result.rois
    ]
    peak = Peak(result.peak.x * sx, result.peak.y * sy, result.peak.value)
    return cv2.cvtColor(overlay(canvas, result.saliency, rois, peak), cv2.COLOR_BGR2RGB)

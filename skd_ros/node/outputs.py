"""What the node publishes for one frame, ROS-free: ``frame_outputs`` is the one function that turns a core
result into the content of the output topics. The rclpy node (``skd_ros.node.messages``) and the bag
writer (``skd_tools.bags``) only wrap these fields in their message types, so a map, a box or a peak is
formatted in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros.core.image_codec import DecodedImage
from skd_ros.core.postprocess import ROI, Peak, resize_map, to_uint8
from skd_ros.core.roi_record import roi_peaks, rois_to_records
from skd_ros.core.visualize import overlay
from skd_ros.node.settings import SALIENCY_ENCODINGS
from skd_ros.runtime import SaliencyResult


@dataclass(frozen=True)
class FrameOutputs:
    """One frame's outputs: ``saliency`` pixels (uint8 for mono8, float32 for 32FC1) for ``~/saliency``,
    ``rois`` records (``skd_ros.core.roi_record.ROI_DTYPE``, best first) for ``~/rois``, ``peak`` for
    ``~/attention`` and, when asked for, the rgb8 ``overlay`` for ``~/overlay``."""

    saliency: np.ndarray
    saliency_encoding: str
    rois: np.ndarray
    peak: Peak
    overlay: np.ndarray | None = None


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
) -> FrameOutputs:
    """The outputs for ``result``: the map at model resolution, or bilinear at the source size with
    ``full_size``; the ROIs with each box's own peak; the overlay only when ``overlay_on`` (the decoded
    input frame) is given, since drawing it costs more than everything else here. The full-size map and
    the overlay are scaled down to at most ``max_pixels`` pixels (None: no bound)."""
    if saliency_encoding not in SALIENCY_ENCODINGS:
        raise ValueError(f"saliency encoding must be one of {SALIENCY_ENCODINGS}, got {saliency_encoding!r}")
    saliency = result.saliency
    if full_size:
        saliency = resize_map(saliency, *fit_within(result.source_width, result.source_height, max_pixels))
    pixels = to_uint8(saliency) if saliency_encoding == "mono8" else saliency.astype(np.float32, copy=False)
    peaks = roi_peaks(result.saliency, result.rois, result.source_width, result.source_height)
    drawn = None if overlay_on is None else overlay_rgb(overlay_on, result, max_pixels)
    return FrameOutputs(pixels, saliency_encoding, rois_to_records(result.rois, peaks), result.peak, drawn)


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

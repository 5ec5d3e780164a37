"""Drawing saliency for people: heat-map overlays with ROI boxes and the peak, and contact sheets of them."""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.core.postprocess import ROI, Peak, ROIParams, resize_map, to_uint8


def stretch_for_display(saliency: np.ndarray, min_span: float = ROIParams.min_contrast) -> np.ndarray:
    """The map rescaled so that its minimum is 0 and its peak 1, for people to see where it looks:
    a model's absolute level varies from scene to scene (a peak of 0.1 would show as all blue). Maps
    flatter than ``min_span`` (the ROI extractor's default min_contrast) are scaled by ``min_span``
    instead, so noise on a flat map is not blown up into hot spots."""
    low = float(saliency.min())
    return (saliency - low) / max(float(saliency.max()) - low, min_span)


def overlay(frame_bgr: np.ndarray, saliency: np.ndarray, rois: list[ROI], peak: Peak | None, alpha: float = 0.45):
    """The frame blended with a JET heat map of ``saliency`` (any resolution, stretched to its own range
    by ``stretch_for_display``), ROI boxes in green with their score, and the peak as a white cross.
    Returns a new BGR uint8 image."""
    height, width = frame_bgr.shape[:2]
    heat = cv2.applyColorMap(to_uint8(resize_map(stretch_for_display(saliency), width, height)), cv2.COLORMAP_JET)
    image = cv2.addWeighted(frame_bgr, 1.0 - alpha, heat, alpha, 0.0)
    thickness = max(1, round(min(width, height) / 240))
    for roi in rois:
        cv2.rectangle(image, (roi.x, roi.y), (roi.x + roi.width - 1, roi.y + roi.height - 1), (0, 255, 0), thickness)
        cv2.putText(
            image,
            f"{roi.score:.2f}",
            (roi.x, max(12, roi.y - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (0, 255, 0),
            thickness,
            cv2.LINE_AA,
        )
    if peak is not None:
        cv2.drawMarker(image, (int(peak.x), int(peak.y)), (255, 255, 255), cv2.MARKER_CROSS, 8 * thickness, thickness)
    return image


def contact_sheet(tiles: list[np.ndarray], columns: int = 4, tile_width: int = 320) -> np.ndarray:
    """Tiles (BGR) scaled to ``tile_width`` and laid out in a grid."""
    scaled = [
        cv2.resize(t, (tile_width, round(t.shape[0] * tile_width / t.shape[1])), interpolation=cv2.INTER_AREA)
        for t in tiles
    ]
    height = max(t.shape[0] for t in scaled)
    rows = -(-len(scaled) // columns)
    sheet = np.full((rows * height, columns * tile_width, 3), 255, np.uint8)
    for i, tile in enumerate(scaled):
        r, c = divmod(i, columns)
        sheet[r * height : r * height + tile.shape[0], c * tile_width : (c + 1) * tile_width] = tile
    return sheet

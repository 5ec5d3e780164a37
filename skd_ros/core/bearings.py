"""Bearings: the direction in which the camera sees a point of its image, from sensor_msgs/CameraInfo.

``camera_model_from_info`` reads a CameraInfo's fields by attribute (rclpy and rosbags messages alike, as
``image_codec`` reads images) into a ``CameraModel``, whose ``rays`` turns points of the published image into
unit rays in the camera's optical frame (REP 103: x right, y down, z forward), undistorted with the model
CameraInfo names: ``plumb_bob``, ``rational_polynomial`` (``cv2.undistortPoints``) or ``equidistant``
(``cv2.fisheye.undistortPoints``). A calibration that cannot give rays raises ``CameraInfoError`` saying why.

Coordinates. ROIs and peaks are in pixel-edge coordinates (pixel i covers [i, i + 1)); CameraInfo's K is in
pixel-centre coordinates (pixel i sits at i) of the full-resolution sensor, before binning and the region of
interest. A point x of the published image is therefore at x * binning_x + roi.x_offset - 0.5 in K's
coordinates, and the same for y.

Monocular rays: R (the stereo rectification rotation) and P are not applied, so a ray is in the frame of the
image's own frame_id, not in a rectified stereo frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PLUMB_BOB = "plumb_bob"
RATIONAL_POLYNOMIAL = "rational_polynomial"
EQUIDISTANT = "equidistant"
# the coefficients each model reads, in sensor_msgs' order: (k1, k2, t1, t2, k3), (k1, k2, t1, t2, k3, k4, k5, k6),
# (k1, k2, k3, k4); drivers may send fewer, the missing ones are zero
MODEL_COEFFICIENTS = {PLUMB_BOB: 5, RATIONAL_POLYNOMIAL: 8, EQUIDISTANT: 4}
# plumb_bob's iterative inverse stops after this many steps or below this change (OpenCV's default of 5 steps
# leaves errors of a few tenths of a pixel at the edge of a wide-angle lens)
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


class CameraInfoError(ValueError):
    """A CameraInfo that cannot give bearings; the message says why."""


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated camera: ``camera_matrix`` (K, 3 x 3) and ``coefficients`` of ``distortion_model`` for the
    full-resolution sensor; ``binning`` (x, y) and ``offset`` (the region of interest's x, y) map the published
    image onto it; ``image_size`` (width, height) is the size of the published image the calibration describes
    (None when CameraInfo does not say)."""

    camera_matrix: np.ndarray
    distortion_model: str
    coefficients: np.ndarray
    binning: tuple[int, int] = (1, 1)
    offset: tuple[int, int] = (0, 0)
    image_size: tuple[int, int] | None = None

    def check_image_size(self, width: int, height: int) -> None:
        """Raise CameraInfoError when the image is not the size this calibration describes (the CameraInfo of
        another camera, or of another resolution mode of this one)."""
        if self.image_size is not None and self.image_size != (width, height):
            expected = "x".join(map(str, self.image_size))
            raise CameraInfoError(
                f"CameraInfo describes {expected} images (after binning and its roi), but the image is {width}x{height}"
            )

    def rays(self, points) -> np.ndarray:
        """N x 2 points (x, y) of the published image, pixel-edge coordinates -> N x 3 unit rays (float64)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not len(points):
            return np.zeros((0, 3))
        sensor = (points * self.binning + self.offset - 0.5).reshape(-1, 1, 2)
        if self.distortion_model == EQUIDISTANT:
            normalised = cv2.fisheye.undistortPoints(sensor, self.camera_matrix, self.coefficients)
        else:
            identity = np.eye(3)
            normalised = cv2.undistortPointsIter(
                sensor, self.camera_matrix, self.coefficients, identity, identity, UNDISTORT_CRITERIA
            )
        rays = np.concatenate([normalised.reshape(-1, 2), np.ones((len(points), 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def camera_model_from_info(info) -> CameraModel:
    """A sensor_msgs/CameraInfo (anything with its fields) -> CameraModel; CameraInfoError when it has no
    calibration (K all zeros), a distortion model this module does not know, or coefficients that do not fit."""
    camera_matrix = np.asarray(info.k, dtype=np.float64).reshape(-1)
    if camera_matrix.size != 9 or not np.all(np.isfinite(camera_matrix)):
        raise CameraInfoError(f"K must be 9 finite numbers, got {camera_matrix.tolist()}")
    if not camera_matrix.any():
        raise CameraInfoError("K is all zeros: the camera is not calibrated")
    camera_matrix = camera_matrix.reshape(3, 3)
    if camera_matrix[0, 0] <= 0 or camera_matrix[1, 1] <= 0:
        fx, fy = camera_matrix[0, 0], camera_matrix[1, 1]
        raise CameraInfoError(f"K has focal lengths fx={fx}, fy={fy}; both must be > 0")
    coefficients = np.asarray(info.d, dtype=np.float64).reshape(-1)
    model = str(info.distortion_model)
    if model == "" and not coefficients.any():  # no model and nothing to undo: an ideal pinhole
        model = PLUMB_BOB
    if model not in MODEL_COEFFICIENTS:
        raise CameraInfoError(
            f"distortion model {model!r} is not one of {', '.join(MODEL_COEFFICIENTS)} (sensor_msgs/distortion_models)"
        )
    count = MODEL_COEFFICIENTS[model]
    if coefficients.size > count or not np.all(np.isfinite(coefficients)):
        raise CameraInfoError(f"{model} takes up to {count} finite coefficients in D, got {coefficients.tolist()}")
    coefficients = np.pad(coefficients, (0, count - coefficients.size))
    binning = (max(1, int(info.binning_x)), max(1, int(info.binning_y)))  # 0 means no binning, as 1
    roi = info.roi
    cropped = roi.width > 0 and roi.height > 0  # a zero-size roi means the full image
    offset = (int(roi.x_offset), int(roi.y_offset)) if cropped else (0, 0)
    full = (int(roi.width), int(roi.height)) if cropped else (int(info.width), int(info.height))
    image_size = (full[0] // binning[0], full[1] // binning[1]) if all(full) else None
    return CameraModel(camera_matrix, model, coefficients, binning, offset, image_size)


def orientation_along(ray) -> tuple[float, float, float, float]:
    """The quaternion (x, y, z, w) of the shortest rotation that turns the x-axis onto the unit vector ``ray``:
    a pose with this orientation points its x-axis along the ray (the convention of RViz's arrows)."""
    rx, ry, rz = (float(value) for value in ray)
    w = 1.0 + rx
    if w < 1e-9:  # the ray points along -x: any half turn about an axis normal to x does it
        return 0.0, 0.0, 1.0, 0.0
    norm = math.sqrt(w * w + ry * ry + rz * rz)
    return 0.0, -rz / norm, ry / norm, w / norm

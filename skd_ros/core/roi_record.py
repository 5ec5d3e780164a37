"""The one definition of the ``~/rois`` record layout, shared by the node and the bag tools.

``~/rois`` is a sensor_msgs/PointCloud2 with one point per attention ROI (highest peak first), height 1,
width = number of ROIs, little-endian, dense. Each point is a packed 60-byte record:

    ============ ======= ======== ===========================================================================
    field        type    offset   meaning
    ============ ======= ======== ===========================================================================
    x_offset     uint32  0        box left edge, source pixels (as sensor_msgs/RegionOfInterest)
    y_offset     uint32  4        box top edge, source pixels
    width        uint32  8        box width, source pixels
    height       uint32  12       box height, source pixels
    score        float32 16       the box's share of the map's saliency mass, in [0, 1]
    peak_x       float32 20       most salient point inside the box, source pixels (cell centre)
    peak_y       float32 24       ditto, y
    id           uint32  28       the region's identity, kept while it stays salient (``core.tracking``);
                                  0: not tracked (bags written offline)
    age          uint32  32       frames since the id first appeared, this one included; 0: not tracked
    ray_x        float32 36       unit ray towards the peak in the camera's optical frame (x right, y down,
    ray_y        float32 40       z forward; ``core.bearings``), NaN without the camera's CameraInfo
    ray_z        float32 44
    centre_ray_x float32 48       ditto, towards the centre of the box
    centre_ray_y float32 52
    centre_ray_z float32 56
    ============ ======= ======== ===========================================================================

Fields are only ever added at the end, so that readers that pick fields by name keep working.

Everything here is ROS-free (numpy only): ``ROI_POINT_FIELDS`` gives (name, offset, datatype, count)
with sensor_msgs/PointField datatype codes, so a PointCloud2 is built with ``records.tobytes()`` and
``PointField(name=..., offset=..., datatype=..., count=...)`` for each entry, from rclpy or rosbags alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from skd_ros.core.postprocess import ROI, Peak, find_peak

# sensor_msgs/PointField datatype constants (the message defines them; repeated here to stay ROS-free).
POINTFIELD_UINT32 = 6
POINTFIELD_FLOAT32 = 7

ROI_DTYPE = np.dtype(
    [
        ("x_offset", "<u4"),
        ("y_offset", "<u4"),
        ("width", "<u4"),
        ("height", "<u4"),
        ("score", "<f4"),
        ("peak_x", "<f4"),
        ("peak_y", "<f4"),
        ("id", "<u4"),
        ("age", "<u4"),
        ("ray_x", "<f4"),
        ("ray_y", "<f4"),
        ("ray_z", "<f4"),
        ("centre_ray_x", "<f4"),
        ("centre_ray_y", "<f4"),
        ("centre_ray_z", "<f4"),
    ]
)
# the fields the saliency map alone decides (the same offline and live); id and age also depend on the frames a
# node processed before, the rays on its CameraInfo
MAP_FIELDS = ("x_offset", "y_offset", "width", "height", "score", "peak_x", "peak_y")
PEAK_RAY_FIELDS = ("ray_x", "ray_y", "ray_z")
CENTRE_RAY_FIELDS = ("centre_ray_x", "centre_ray_y", "centre_ray_z")
ROI_POINT_STEP = ROI_DTYPE.itemsize
ROI_POINT_FIELDS: tuple[tuple[str, int, int, int], ...] = tuple(
    (name, ROI_DTYPE.fields[name][1], POINTFIELD_UINT32 if ROI_DTYPE[name].kind == "u" else POINTFIELD_FLOAT32, 1)
    for name in ROI_DTYPE.names
)


def roi_peaks(saliency: np.ndarray, rois: Sequence[ROI], source_width: int, source_height: int) -> list[Peak]:
    """The most salient point inside each ROI, from the model-resolution map, in source pixels.

    A box holds the model cells whose centres it contains (at least the one nearest its corner); the peak is
    the centre of the best of them (the same convention as ``postprocess.find_peak``). Only whole cells: a box
    edge cuts into the next cell when the frame is not a multiple of the map's size, and that cell may be a
    higher peak's, whose point lies outside the box."""
    rows, cols = saliency.shape
    sx, sy = cols / source_width, rows / source_height
    peaks = []
    for roi in rois:
        u0 = min(cols - 1, max(0, math.ceil(roi.x * sx - 0.5)))
        v0 = min(rows - 1, max(0, math.ceil(roi.y * sy - 0.5)))
        u1 = max(u0 + 1, min(cols, math.ceil((roi.x + roi.width) * sx - 0.5)))
        v1 = max(v0 + 1, min(rows, math.ceil((roi.y + roi.height) * sy - 0.5)))
        local = find_peak(saliency[v0:v1, u0:u1], u1 - u0, v1 - v0)  # in cells of the window
        peaks.append(Peak(x=(u0 + local.x) / sx, y=(v0 + local.y) / sy, value=local.value))
    return peaks


def box_centres(rois: Sequence[ROI]) -> np.ndarray:
    """N x 2 centres (x, y) of the boxes, source pixels."""
    return np.array([(roi.x + roi.width / 2, roi.y + roi.height / 2) for roi in rois], dtype=np.float64).reshape(-1, 2)


def rois_to_records(
    rois: Sequence[ROI],
    peaks: Sequence[Peak],
    identities: Sequence[tuple[int, int]] | None = None,
    peak_rays: np.ndarray | None = None,
    centre_rays: np.ndarray | None = None,
) -> np.ndarray:
    """ROIs and their peaks (one per ROI, e.g. from ``roi_peaks``) -> a structured array of ``ROI_DTYPE``.

    ``identities``: (id, age) per ROI (``core.tracking``; None: 0, not tracked); ``peak_rays``, ``centre_rays``:
    N x 3 unit rays (``core.bearings``; None: NaN, no camera model)."""
    count = len(rois)
    given = {"peaks": peaks, "identities": identities, "peak_rays": peak_rays, "centre_rays": centre_rays}
    wrong = {name: len(values) for name, values in given.items() if values is not None and len(values) != count}
    if wrong:
        counts = ", ".join(f"{n} {kind}" for kind, n in wrong.items())
        raise ValueError(f"need one entry per ROI ({count} ROIs), got {counts}")
    # one structured array from tuples in a single call (per-record field assignment costs a call per field); id and
    # age 0, rays NaN until given
    untracked = (0, 0) + (math.nan,) * (len(PEAK_RAY_FIELDS) + len(CENTRE_RAY_FIELDS))
    records = np.array(
        [(r.x, r.y, r.width, r.height, r.score, p.x, p.y, *untracked) for r, p in zip(rois, peaks, strict=True)],
        dtype=ROI_DTYPE,
    )
    if identities is not None and count:
        records["id"], records["age"] = np.array(identities, dtype=np.uint32).T
    for fields, rays in ((PEAK_RAY_FIELDS, peak_rays), (CENTRE_RAY_FIELDS, centre_rays)):
        if rays is not None:
            for axis, name in enumerate(fields):
                records[name] = np.asarray(rays).reshape(-1, 3)[:, axis]
    return records


def records_from_bytes(data, point_step: int = ROI_POINT_STEP) -> np.ndarray:
    """A PointCloud2's ``data`` -> a structured array of ``ROI_DTYPE`` (checks the size first)."""
    raw = np.frombuffer(data, dtype=np.uint8)  # bytes, array.array (rclpy) and uint8 arrays (rosbags) alike
    if point_step != ROI_POINT_STEP:
        raise ValueError(f"ROI cloud has point_step {point_step}, expected {ROI_POINT_STEP} (the ROI_DTYPE layout)")
    if raw.size % ROI_POINT_STEP:
        raise ValueError(f"ROI cloud data is {raw.size} bytes, not a multiple of the {ROI_POINT_STEP}-byte record")
    return raw.view(ROI_DTYPE)


def records_to_rois(records: np.ndarray) -> tuple[list[ROI], list[Peak]]:
    """A structured array of ``ROI_DTYPE`` -> (ROIs, their peaks); the peak value is not stored, so it is NaN."""
    rois = [
        ROI(
            x=int(r["x_offset"]),
            y=int(r["y_offset"]),
            width=int(r["width"]),
            height=int(r["height"]),
            score=float(r["score"]),
        )
        for r in records
    ]
    peaks = [Peak(x=float(r["peak_x"]), y=float(r["peak_y"]), value=math.nan) for r in records]
    return rois, peaks

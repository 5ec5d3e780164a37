"""The node's parameters: each one's default, description and limits (``PARAMETERS``, the one list the
node declares and ``config/saliency.yaml`` documents), and their validation into ``NodeSettings``.
ROS-free, so that it is tested without DDS."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from skd_ros.core.postprocess import ROIParams
from skd_ros.core.tracking import TrackParams
from skd_ros.engines.backends import AUTO, BACKEND_CHOICES

SALIENCY_ENCODINGS = ("mono8", "32FC1")
QOS_RELIABILITIES = ("best_effort", "reliable")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
CAMERA_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its default (which fixes its type), what it does, and its limits.

    ``read_only``: fixed for the node's lifetime (set it in the params file or on the command line);
    ``value_range``: (low, high, step) for integers, (low, high) for floats, inclusive;
    ``choices``: the allowed strings."""

    name: str
    default: bool | int | float | str
    description: str
    read_only: bool = False
    value_range: tuple | None = None
    choices: tuple[str, ...] | None = None


# in (0, 1]: their descriptors' range [0, 1] lets 0 through, so NodeSettings.from_values refuses it
ZERO_EXCLUDED = ("roi_peak_floor", "roi_threshold", "roi_track_iou")

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "weights",
        "",
        "Fused-model checkpoint (.pt), or the name of a shipped one (skd_fused_64.pt: the 64x64 model, about a "
        "quarter of the default's multiply-adds). Empty: the default weights shipped with the package, trained at "
        "96x96 and run at 128x128 (untrained, with a warning, if this build ships none).",
        read_only=True,
    ),
    ParamSpec(
        "device",
        "auto",
        "Where the model runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N.",
        read_only=True,
    ),
    ParamSpec(
        "resolution",
        0,
        "Model input resolution (square, multiple of 4); 0 takes the checkpoint's own input side "
        "(meta['input_resolution'], 128 for the default weights; else the side it was trained at).",
        read_only=True,
        value_range=(0, 1024, 4),
    ),
    ParamSpec(
        "backend",
        AUTO,
        "Inference engine (skd_ros.engines.backends): auto races the available full-precision ones at configure and "
        "keeps the fastest; auto-reduced also races int8/bf16; any other name forces that engine.",
        read_only=True,
        choices=BACKEND_CHOICES,
    ),
    ParamSpec(
        "cpu_threads",
        2,
        "CPU threads for inference (0: the engine's default, one per core). Two lowered the node's latency against "
        "one on a 2-core machine (docs/BENCHMARKS.md); one per core spins PyTorch's threads against the executor's "
        "and DDS's. Never more than the cores the node may run on. With backend auto, ncnn and the PyTorch engines "
        "run on one (their threads stall beside a busy process; docs/NODE.md).",
        read_only=True,
        value_range=(0, 256, 1),
    ),
    ParamSpec(
        "cameras",
        "",
        "Serve several cameras from this node, batched into one forward pass per frame: comma-separated names "
        "(front,down). Camera <name> is read from <name>/image and published under ~/<name>/. Empty: one camera "
        "on image, outputs directly under ~/.",
        read_only=True,
    ),
    ParamSpec(
        "camera_threads",
        1,
        "With several cameras: threads that share the cameras' decoding, preprocessing and alignment and, on ncnn or "
        "onnxruntime on a CPU, their forward passes. 1: one camera after the other; 0: one per CPU core, at most one "
        "per camera (fewer frames dropped when the cameras overload the node, more latency when they do not).",
        read_only=True,
        value_range=(0, 64, 1),
    ),
    ParamSpec(
        "input_compressed",
        False,
        "Subscribe to sensor_msgs/CompressedImage on <image>/compressed instead of sensor_msgs/Image on image.",
        read_only=True,
    ),
    ParamSpec(
        "qos_reliability",
        "best_effort",
        "Input reliability. best_effort (sensor-data QoS) accepts reliable and best-effort publishers; "
        "reliable accepts reliable publishers only.",
        read_only=True,
        choices=QOS_RELIABILITIES,
    ),
    ParamSpec(
        "camera_info_topic",
        "",
        "sensor_msgs/CameraInfo for bearings (~/bearings, the rays in ~/rois, ~/markers). Empty: camera_info beside "
        "the image topic, image_transport's convention (image remapped to /cam/image_raw: /cam/camera_info). With "
        "cameras, a relative name inside each camera's namespace. Without CameraInfo the node runs, with no bearings.",
        read_only=True,
    ),
    ParamSpec(
        "camera_frame_rate",
        0.0,
        "The camera's frame rate in Hz, for counting frames lost before the node from gaps in the header stamps. "
        "0: learn the frame period from the stamps (frames that arrive one period apart).",
        read_only=True,
        value_range=(0.0, 1000.0),
    ),
    ParamSpec(
        "qos_depth",
        5,
        "History depth (keep last) of the input subscription and of the outputs.",
        read_only=True,
        value_range=(1, 100, 1),
    ),
    ParamSpec(
        "saliency_encoding",
        "mono8",
        "~/saliency encoding: mono8 (0..255) or 32FC1 (0..1).",
        choices=SALIENCY_ENCODINGS,
    ),
    ParamSpec(
        "saliency_full_size",
        False,
        "Publish ~/saliency at the input image's size (bilinear) instead of the model resolution.",
    ),
    ParamSpec(
        "max_input_pixels",
        7680 * 4320,
        "Refuse input frames that declare more pixels than this (8K by default), from the message fields or the "
        "JPEG/PNG header, before decoding them; counted and logged.",
        value_range=(1, 2**31 - 1, 1),
    ),
    ParamSpec(
        "max_output_pixels",
        3840 * 2160,
        "Full-size ~/saliency and ~/overlay larger than this many pixels are scaled down to fit (aspect kept).",
        value_range=(4096, 2**31 - 1, 1),
    ),
    ParamSpec("max_rois", 5, "Publish at most this many attention ROIs (highest peak first).", value_range=(0, 64, 1)),
    ParamSpec(
        "roi_peak_floor",
        ROIParams.peak_floor,
        "A local maximum of the map starts a ROI when saliency >= min + roi_peak_floor * (peak - min); in (0, 1].",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_threshold",
        ROIParams.rel_threshold,
        "A ROI covers the cells around its own peak p with saliency >= min + roi_threshold * (p - min); in (0, 1].",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_min_contrast",
        0.05,
        "Maps whose peak - min is below this are flat and give no ROI.",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_merge_radius",
        1,
        "Parts of a blob with up to 2 * roi_merge_radius model cells between them join one ROI (0: 8-connected).",
        value_range=(0, 16, 1),
    ),
    ParamSpec(
        "roi_min_score",
        ROIParams.min_score,
        "Drop ROIs holding less than this share of the map's saliency mass.",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_track_iou",
        TrackParams.min_iou,
        "A ROI keeps the id of a ROI of the frame before when their boxes overlap by at least this much (intersection "
        "over union), or when their peaks are closer than half the larger box's diagonal; in (0, 1].",
        value_range=(0.0, 1.0),
    ),
    ParamSpec(
        "roi_track_max_missed",
        TrackParams.max_missed,
        "A ROI's id survives this many frames without the region; a region back within them keeps its id.",
        value_range=(0, 1000, 1),
    ),
    ParamSpec(
        "marker_length",
        1.0,
        "Length in metres of the ray drawn for each ROI on ~/markers (the markers only show directions).",
        value_range=(0.01, 1000.0),
    ),
    ParamSpec(
        "auto_start",
        True,
        "Configure and activate on start-up. false: wait for a lifecycle manager (ros2 lifecycle set ...).",
        read_only=True,
    ),
    ParamSpec(
        "diagnostics_period",
        1.0,
        "Seconds between diagnostic_msgs/DiagnosticArray messages on /diagnostics.",
        read_only=True,
        value_range=(0.1, 60.0),
    ),
    ParamSpec(
        "strict_parameters",
        False,
        "true: a parameter given to the node that it does not declare (a misspelled name) fails configure; false: "
        "it is reported with the closest declared names and ignored.",
        read_only=True,
    ),
)
PARAMETER_SPECS = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeSettings:
    """Validated parameter values (see ``PARAMETERS`` for what each one does)."""

    weights: str
    device: str
    resolution: int
    backend: str
    cpu_threads: int
    cameras: str
    camera_threads: int
    input_compressed: bool
    qos_reliability: str
    camera_info_topic: str
    camera_frame_rate: float
    qos_depth: int
    saliency_encoding: str
    saliency_full_size: bool
    max_input_pixels: int
    max_output_pixels: int
    max_rois: int
    roi_peak_floor: float
    roi_threshold: float
    roi_min_contrast: float
    roi_merge_radius: int
    roi_min_score: float
    roi_track_iou: float
    roi_track_max_missed: int
    marker_length: float
    auto_start: bool
    diagnostics_period: float
    strict_parameters: bool

    @classmethod
    def from_values(cls, values: dict) -> NodeSettings:
        """Check every value; raise ValueError naming each bad parameter, its value and what is allowed."""
        problems = [problem for spec in PARAMETERS if (problem := _check(spec, values.get(spec.name)))]
        if not problems:
            if not DEVICE_PATTERN.fullmatch(values["device"]):
                problems.append(f"device must be auto, cpu, cuda or cuda:N, got {values['device']!r}")
            if values["resolution"] % 4:
                problems.append(f"resolution must be a multiple of 4 (or 0), got {values['resolution']}")
            for name in ZERO_EXCLUDED:
                if values[name] <= 0.0:
                    problems.append(f"{name} must be in (0, 1], got {values[name]}")
            try:
                cameras = camera_names(values["cameras"])
            except ValueError as exc:
                problems.append(str(exc))
            else:
                if cameras and values["camera_info_topic"].startswith("/"):
                    problems.append(
                        "with cameras, camera_info_topic must be relative (camera <name> reads "
                        f"<name>/<camera_info_topic>), got {values['camera_info_topic']!r}"
                    )
        if problems:
            raise ValueError("invalid parameters: " + "; ".join(problems))
        return cls(**{f.name: type(PARAMETER_SPECS[f.name].default)(values[f.name]) for f in fields(cls)})

    def values(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def roi_params(self) -> ROIParams:
        return ROIParams(
            max_rois=self.max_rois,
            peak_floor=self.roi_peak_floor,
            rel_threshold=self.roi_threshold,
            min_contrast=self.roi_min_contrast,
            merge_radius=self.roi_merge_radius,
            min_score=self.roi_min_score,
        )

    @property
    def track_params(self) -> TrackParams:
        return TrackParams(min_iou=self.roi_track_iou, max_missed=self.roi_track_max_missed)


def camera_names(cameras: str) -> list[str]:
    """The ``cameras`` parameter ("front, down") -> ["front", "down"]; "" -> [] (one unnamed camera).
    Each name becomes a topic namespace, so it must be a ROS name token, and names must differ."""
    names = [name.strip() for name in cameras.split(",")] if cameras.strip() else []
    bad = [name for name in names if not CAMERA_NAME_PATTERN.fullmatch(name)]
    if bad:
        raise ValueError(
            f"cameras must be comma-separated names of letters, digits and underscores, each starting with a "
            f"letter, got {cameras!r} (bad: {', '.join(map(repr, bad))})"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"cameras must not name a camera twice, got {cameras!r}")
    return names


def _check(spec: ParamSpec, value) -> str | None:
    expected = type(spec.default)
    if value is None:
        return f"{spec.name} is missing"
    if type(value) is not expected and not (expected is float and type(value) is int):
        return f"{spec.name} must be a {expected.__name__}, got {value!r}"
    if spec.choices is not None and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if spec.value_range is not None:
        low, high = spec.value_range[:2]
        if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
            return f"{spec.name} must be in [{low}, {high}], got {value!r}"
    return None

"""Writing rosbag2 bags: the node's output topics for a stream of frames, and a small synthetic test bag.

``SaliencyBagWriter`` writes the node's output topics with the node's message types, built from the
node's own outputs (``skd_ros.node.outputs.frame_outputs``) and stamped like the input (header stamp and
frame_id of the input image, recorded at the input's record time):

* ``<prefix>/saliency``  sensor_msgs/Image, ``mono8`` or ``32FC1``, at model resolution (or the
  input's size, as the node's ``saliency_full_size``);
* ``<prefix>/rois``      sensor_msgs/PointCloud2, one point per ROI (layout: ``skd_ros.core.roi_record``);
* ``<prefix>/attention`` geometry_msgs/PointStamped, the peak in source pixels, its saliency in z.

``write_test_bag`` writes a small synthetic bag (a bright target moving over a textured background,
with optional ground-truth density and fixation maps) for tests and demos; ``skd-bag`` lists a bag's
topics or writes such a test bag. Reading bags: ``skd_training.data.rosbag``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from skd_ros.core.postprocess import to_uint8
from skd_ros.core.roi_record import ROI_POINT_FIELDS, ROI_POINT_STEP, records_from_bytes
from skd_ros.node.outputs import FrameOutputs, frame_outputs
from skd_ros.node.settings import SALIENCY_ENCODINGS
from skd_training.data.rosbag import (
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    TYPESTORE,
    BagError,
    BagReader,
    as_raw_image,
    format_topics,
    header_msg,
)

POINTCLOUD2_TYPE = "sensor_msgs/msg/PointCloud2"
POINTSTAMPED_TYPE = "geometry_msgs/msg/PointStamped"
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}


@dataclass(frozen=True)
class OutputTopics:
    """The node's output topics; ``for_node`` expands ``~/x`` the way ROS 2 does for a node name."""

    saliency: str
    rois: str
    attention: str

    @classmethod
    def for_node(cls, node_name: str, namespace: str = "/") -> OutputTopics:
        prefix = f"{namespace.rstrip('/')}/{node_name}"
        return cls(saliency=f"{prefix}/saliency", rois=f"{prefix}/rois", attention=f"{prefix}/attention")


def saliency_image(pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
    """Saliency pixels (``FrameOutputs.saliency``: uint8 for mono8, float32 for 32FC1) as a
    sensor_msgs/Image (rosbags type)."""
    if encoding not in SALIENCY_ENCODINGS:
        raise ValueError(f"saliency encoding must be one of {SALIENCY_ENCODINGS}, got {encoding!r}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8 if encoding == "mono8" else "<f4")
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header_msg(stamp_ns, frame_id),
        height=pixels.shape[0],
        width=pixels.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=pixels.strides[0],
        data=pixels.view(np.uint8).ravel(),
    )


def rois_cloud(records: np.ndarray, stamp_ns: int, frame_id: str):
    """ROI records (``roi_record.ROI_DTYPE``) as a sensor_msgs/PointCloud2 (rosbags type)."""
    types = TYPESTORE.types
    fields = [
        types["sensor_msgs/msg/PointField"](name=name, offset=offset, datatype=datatype, count=count)
        for name, offset, datatype, count in ROI_POINT_FIELDS
    ]
    return types["sensor_msgs/msg/PointCloud2"](
        header=header_msg(stamp_ns, frame_id),
        height=1,
        width=len(records),
        fields=fields,
        is_bigendian=False,
        point_step=ROI_POINT_STEP,
        row_step=ROI_POINT_STEP * len(records),
        data=np.frombuffer(records.tobytes(), dtype=np.uint8),
        is_dense=True,
    )


def attention_point(peak, stamp_ns: int, frame_id: str):
    """The peak as a geometry_msgs/PointStamped (rosbags type): x, y in source pixels, z its saliency."""
    types = TYPESTORE.types
    point = types["geometry_msgs/msg/Point"](x=float(peak.x), y=float(peak.y), z=float(peak.value))
    return types["geometry_msgs/msg/PointStamped"](header=header_msg(stamp_ns, frame_id), point=point)


def bag_messages(outputs: FrameOutputs, stamp_ns: int, frame_id: str) -> tuple:
    """(saliency, rois, attention) rosbags messages of one frame's outputs (no overlay: bags keep the maps)."""
    return (
        saliency_image(outputs.saliency, outputs.saliency_encoding, stamp_ns, frame_id),
        rois_cloud(outputs.rois, stamp_ns, frame_id),
        attention_point(outputs.peak, stamp_ns, frame_id),
    )


def saliency_from_msg(msg) -> np.ndarray:
    """A saliency sensor_msgs/Image (rosbags or rclpy) -> float32 map in [0, 1]."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if msg.encoding == "mono8":
        rows = data.reshape(msg.height, msg.step)[:, : msg.width]
        return rows.astype(np.float32) / 255.0
    if msg.encoding == "32FC1":
        rows = data.reshape(msg.height, msg.step)[:, : msg.width * 4]
        return np.ascontiguousarray(rows).view(">f4" if msg.is_bigendian else "<f4").astype(np.float32)
    raise ValueError(f"saliency image has encoding {msg.encoding!r}, expected one of {SALIENCY_ENCODINGS}")


def records_from_cloud(msg) -> np.ndarray:
    """A ``~/rois`` sensor_msgs/PointCloud2 (rosbags or rclpy) -> structured array of ``ROI_DTYPE``;
    checks that its fields are the ``roi_record`` layout."""
    fields = tuple((f.name, f.offset, f.datatype, f.count) for f in msg.fields)
    if fields != ROI_POINT_FIELDS:
        raise ValueError(f"ROI cloud fields {fields} are not the skd_ros ROI layout {ROI_POINT_FIELDS}")
    return records_from_bytes(msg.data, msg.point_step)


class SaliencyBagWriter:
    """Writes the node's outputs for a stream of frames into a new bag; use as a context manager
    (closing writes metadata.yaml, so a bag closed after an error is still complete and readable).

    The messages are built from a ``SaliencyResult`` exactly as the node builds them (the same
    ``skd_ros.node.outputs.frame_outputs``): ``saliency_encoding`` and ``saliency_full_size`` are the node's
    parameters of the same names. custom_data: provenance strings stored in the bag's metadata."""

    def __init__(
        self,
        path: str | Path,
        topics: OutputTopics,
        storage: str = "sqlite3",
        saliency_encoding: str = "mono8",
        saliency_full_size: bool = False,
        custom_data: dict[str, str] | None = None,
    ):
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
        if saliency_encoding not in SALIENCY_ENCODINGS:
            raise ValueError(f"saliency encoding must be one of {SALIENCY_ENCODINGS}, got {saliency_encoding!r}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"output bag {self.path} exists already; choose another path or remove it")
        self.topics = topics
        self.saliency_encoding = saliency_encoding
        self.saliency_full_size = saliency_full_size
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(key, str(value))
        self._writer.open()
        add = self._writer.add_connection
        self._saliency = add(topics.saliency, IMAGE_TYPE, typestore=TYPESTORE)
        self._rois = add(topics.rois, POINTCLOUD2_TYPE, typestore=TYPESTORE)
        self._attention = add(topics.attention, POINTSTAMPED_TYPE, typestore=TYPESTORE)
        self.frames_written = 0

    def __enter__(self) -> SaliencyBagWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._writer.storage is not None:
            self._writer.close()

    def write(self, result, stamp_ns: int, frame_id: str, log_time_ns: int) -> None:
        """One ``SaliencyResult`` for the input stamped ``stamp_ns``/``frame_id``, recorded at
        ``log_time_ns`` (the input's record time, so the output lines up with the input bag)."""
        outputs = frame_outputs(result, self.saliency_encoding, self.saliency_full_size)
        messages = zip(
            (self._saliency, self._rois, self._attention), bag_messages(outputs, stamp_ns, frame_id), strict=True
        )
        self.write_serialized(
            (connection.topic, log_time_ns, TYPESTORE.serialize_cdr(msg, connection.msgtype))
            for connection, msg in messages
        )
        self.frames_written += 1

    def write_serialized(self, messages: Iterable[tuple[str, int, bytes]]) -> None:
        """Already-serialised CDR messages (e.g. from the node via rclpy): (topic, record time ns, bytes)."""
        by_topic = {c.topic: c for c in (self._saliency, self._rois, self._attention)}
        for topic, log_time_ns, data in messages:
            self._writer.write(by_topic[topic], int(log_time_ns), data)


# --- a synthetic test bag -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticBag:
    """What ``write_test_bag`` wrote: topics, one header stamp per frame, and the target's centre per frame."""

    path: Path
    image_topic: str
    density_topic: str | None
    fixation_topic: str | None
    stamps_ns: list[int]
    centres: list[tuple[float, float]]


def render_test_frames(count: int, width: int, height: int, seed: int = 0):
    """(frames, centres): BGR frames of a bright disc moving along a gentle curve over a drifting,
    textured background, and the disc's centre (x, y) in each frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 140, size=(height // 6 + 2, width // 6 + 2, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (width + count, height), interpolation=cv2.INTER_CUBIC)
    radius = max(3, min(width, height) // 14)
    frames, centres = [], []
    for i in range(count):
        phase = i / max(1, count - 1)
        cx = width * (0.15 + 0.7 * phase)
        cy = height * (0.5 + 0.25 * math.sin(2 * math.pi * phase))
        background = texture[:, i : i + width] + rng.normal(0.0, 4.0, size=(height, width, 3))
        frame = np.clip(background, 0, 255).astype(np.uint8)
        cv2.circle(frame, (round(cx), round(cy)), radius, (235, 245, 255), -1, cv2.LINE_AA)
        frames.append(frame)
        centres.append((cx, cy))
    return frames, centres


def density_map(width: int, height: int, centre: tuple[float, float], sigma: float) -> np.ndarray:
    """A Gaussian fixation density around ``centre``, mono8 with its peak at 255."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    gauss = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2.0 * sigma * sigma))
    return to_uint8(gauss / gauss.max())


def fixation_map(width: int, height: int, centre: tuple[float, float], spread: float, rng, count: int = 6):
    """``count`` fixations scattered around ``centre`` (normal, ``spread`` px), mono8 255 where fixated."""
    fixations = np.zeros((height, width), np.uint8)
    points = rng.normal(centre, spread, size=(count, 2))
    xs = np.clip(np.round(points[:, 0]), 0, width - 1).astype(int)
    ys = np.clip(np.round(points[:, 1]), 0, height - 1).astype(int)
    fixations[ys, xs] = 255
    return fixations


def write_test_bag(
    path: str | Path,
    frames: int = 12,
    width: int = 160,
    height: int = 120,
    fps: float = 10.0,
    storage: str = "sqlite3",
    image_topic: str = "/camera/image_raw",
    density_topic: str | None = "/camera/saliency_density",
    fixation_topic: str | None = "/camera/saliency_fixations",
    compressed: bool = False,
    frame_id: str = "camera",
    loop_at: int | None = None,
    seed: int = 0,
    start_ns: int = 1_700_000_000_000_000_000,
) -> SyntheticBag:
    """A small synthetic bag: ``frames`` images on ``image_topic`` (bgr8 Image, or PNG
    CompressedImage with ``compressed``) and, unless None, ground-truth density and fixation maps
    (mono8 Images with the same header stamps).

    Header stamps advance at ``fps``; each message is recorded 3 ms after its stamp, so record
    time and header stamp differ as in a real recording. ``loop_at``: from that frame on the header
    stamps restart at ``start_ns`` (a camera restart), which makes time go backwards there."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
    if frames < 1 or width < 1 or height < 1 or fps <= 0:
        raise ValueError(f"need frames, width, height >= 1 and fps > 0, got {frames}, {width}x{height}, {fps}")
    path = Path(path)
    images, centres = render_test_frames(frames, width, height, seed)
    rng = np.random.default_rng(seed + 1)
    period_ns = round(1e9 / fps)
    record_delay_ns = 3_000_000
    stamps = [start_ns + period_ns * (i if loop_at is None or i < loop_at else i - loop_at) for i in range(frames)]
    image_type = COMPRESSED_IMAGE_TYPE if compressed else IMAGE_TYPE
    serialize = TYPESTORE.serialize_cdr
    with Writer(path, version=9, storage_plugin=STORAGES[storage]) as writer:
        writer.set_custom_data("skd_ros.test_bag", f"seed={seed} frames={frames} size={width}x{height} fps={fps}")
        image_conn = writer.add_connection(image_topic, image_type, typestore=TYPESTORE)
        gt_conns = {
            topic: writer.add_connection(topic, IMAGE_TYPE, typestore=TYPESTORE)
            for topic in (density_topic, fixation_topic)
            if topic
        }
        for i, (image, centre, stamp) in enumerate(zip(images, centres, stamps, strict=True)):
            log_time = start_ns + period_ns * i + record_delay_ns
            if compressed:
                ok, png = cv2.imencode(".png", image)
                assert ok, "OpenCV could not encode a PNG"
                msg = TYPESTORE.types[COMPRESSED_IMAGE_TYPE](
                    header=header_msg(stamp, frame_id), format="bgr8; png compressed bgr8", data=png.ravel()
                )
            else:
                msg = as_raw_image(image, "bgr8", stamp, frame_id)
            writer.write(image_conn, log_time, serialize(msg, image_type))
            sigma = max(2.0, min(width, height) / 12)
            maps = {density_topic: density_map(width, height, centre, sigma)}
            maps[fixation_topic] = fixation_map(width, height, centre, sigma / 2, rng)
            for topic, connection in gt_conns.items():
                gt = as_raw_image(maps[topic], "mono8", stamp, frame_id)
                writer.write(connection, log_time, serialize(gt, IMAGE_TYPE))
    return SyntheticBag(path, image_topic, density_topic, fixation_topic, stamps, centres)


# --- command line -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skd-bag", description="List a bag's topics, or write a small synthetic test bag."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="list a bag's topics")
    info.add_argument("bag")
    make = commands.add_parser("make-test-bag", help="write a synthetic bag (moving target, ground-truth maps)")
    make.add_argument("out", help="output bag directory (must not exist)")
    make.add_argument("--frames", type=int, default=12)
    make.add_argument("--width", type=int, default=160)
    make.add_argument("--height", type=int, default=120)
    make.add_argument("--fps", type=float, default=10.0)
    make.add_argument("--storage", choices=sorted(STORAGES), default="sqlite3")
    make.add_argument("--compressed", action="store_true", help="PNG CompressedImage instead of raw bgr8 Image")
    make.add_argument("--no-ground-truth", action="store_true", help="images only")
    make.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            with BagReader(args.bag) as bag:
                print(f"{bag.path}:\n{format_topics(bag.topics)}")
                if bag.recovered:
                    print(f"warning: {bag.recovered}")
            return 0
        gt = not args.no_ground_truth
        made = write_test_bag(
            args.out, frames=args.frames, width=args.width, height=args.height, fps=args.fps, storage=args.storage,
            compressed=args.compressed, seed=args.seed,
            density_topic="/camera/saliency_density" if gt else None,
            fixation_topic="/camera/saliency_fixations" if gt else None,
        )  # fmt: skip
        topics = [t for t in (made.image_topic, made.density_topic, made.fixation_topic) if t]
        print(f"wrote {made.path}: {args.frames} frames on {', '.join(topics)}")
        return 0
    except (BagError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

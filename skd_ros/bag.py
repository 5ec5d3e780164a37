"""Rosbag2 in and out for skd_ros: image topics in, the node's output topics out, and a test bag.

Reading (``BagReader``, ``read_frames``): rosbag2 directories (sqlite3 or mcap storage, optionally
zstd-compressed), a bare ``.db3``/``.mcap`` file, or a ROS 1 ``.bag``, through ``rosbags``'
``AnyReader``. Image topics may be sensor_msgs/Image (any encoding ``rosbags-image`` knows: mono8/16,
bgr8, rgb8, bgra8, bayer, yuv422, 16-bit colour, 32FC1, ...) or sensor_msgs/CompressedImage (JPEG,
PNG, ...). Each message becomes a ``BagFrame``: the header stamp, the time it was recorded, the
frame_id and the image as a numpy array (H x W x 3 BGR uint8 by default, the form
``skd_ros.runtime.SaliencyPipeline`` takes). Problems raise ``BagError``, whose message names the bag
and lists its topics whenever they can be read (from ``metadata.yaml`` if the storage itself is
damaged)::

    from skd_ros.bag import BagReader
    with BagReader("flight.bag") as bag:
        for frame in bag.frames("/camera/image_raw"):
            frame.stamp_ns, frame.frame_id, frame.image   # BGR uint8

``decode_image`` converts with ``rosbags-image`` (every encoding it knows). The bag evaluator does not
use it for the images it runs the model on: it hands the messages to the node's own decoding
(``skd_ros.live.LiveSaliency``), so that offline and live see identical pixels.

Writing (``SaliencyBagWriter``): the node's output topics with the node's message types, built by the
node's own conversions (``skd_ros.live``) and stamped like the input (header stamp and frame_id of
the input image, recorded at the input's record time):

* ``<prefix>/saliency``  sensor_msgs/Image, ``mono8`` or ``32FC1``, at model resolution (or the
  input's size, as the node's ``saliency_full_size``);
* ``<prefix>/rois``      sensor_msgs/PointCloud2, one point per ROI (layout: ``skd_ros.roi_record``);
* ``<prefix>/attention`` geometry_msgs/PointStamped, the peak in source pixels, its saliency in z.

``write_test_bag`` writes a small synthetic bag (a bright target moving over a textured background,
with optional ground-truth density and fixation maps) for tests and demos; ``python -m skd_ros.bag``
lists a bag's topics or writes such a test bag.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from rosbags.highlevel import AnyReader
from rosbags.image import ImageError, message_to_cvimage
from rosbags.image.image import to_cvtype
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from skd_ros.live import SALIENCY_ENCODINGS, roi_records, saliency_pixels
from skd_ros.postprocess import to_uint8
from skd_ros.roi_record import ROI_POINT_FIELDS, ROI_POINT_STEP, records_from_bytes

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
POINTCLOUD2_TYPE = "sensor_msgs/msg/PointCloud2"
POINTSTAMPED_TYPE = "geometry_msgs/msg/PointStamped"
# Message definitions for bags without embedded ones (older rosbag2 recordings) and for writing; the
# standard messages used here are identical across ROS 2 distributions since Humble.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}
COLORS = ("bgr8", "mono8", None)


class BagError(ValueError):
    """A bag is missing, damaged or truncated, or lacks the requested topic.

    ``topics`` holds the bag's topics ({name: (type, message count)}) when they could be read;
    ``frames_read`` how many messages were delivered before a failure part-way through."""

    def __init__(self, message: str, topics: dict[str, tuple[str, int]] | None = None, frames_read: int | None = None):
        if topics is not None:
            message = f"{message}\n{format_topics(topics)}"
        super().__init__(message)
        self.topics = topics
        self.frames_read = frames_read


def format_topics(topics: dict[str, tuple[str, int]]) -> str:
    if not topics:
        return "The bag has no topics."
    width = max(len(name) for name in topics)
    lines = [f"  {name:<{width}}  {msgtype}  ({count} messages)" for name, (msgtype, count) in sorted(topics.items())]
    return "The bag's topics:\n" + "\n".join(lines)


def topics_from_metadata(path: Path) -> dict[str, tuple[str, int]] | None:
    """A rosbag2 directory's topics from its metadata.yaml alone, or None when that is unreadable."""
    try:
        info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        return {
            entry["topic_metadata"]["name"]: (entry["topic_metadata"]["type"], int(entry["message_count"]))
            for entry in info["topics_with_message_count"]
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BagFrame:
    """One image message. ``stamp_ns``: header stamp; ``log_time_ns``: when the bag recorded it;
    ``index``: position among the topic's messages (0-based); ``image``: see ``BagReader.frames``."""

    index: int
    stamp_ns: int
    log_time_ns: int
    frame_id: str
    image: np.ndarray


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int, typestore=TYPESTORE):
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return typestore.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def _unpadded(msg):
    """A raw Image checked for complete data, with any row padding (step > width x pixel size)
    removed, since ``rosbags-image`` reads rows back to back."""
    _, _, typestr, channels = to_cvtype(msg.encoding)
    row_bytes = msg.width * channels * np.dtype(typestr).itemsize
    data = np.asarray(msg.data, dtype=np.uint8)
    if msg.step < row_bytes or data.size < msg.height * msg.step:
        raise ValueError(
            f"{msg.width}x{msg.height} {msg.encoding} image has step {msg.step} and {data.size} bytes of data, "
            f"need step >= {row_bytes} and {msg.height * msg.step} bytes"
        )
    if msg.step == row_bytes:
        return msg
    rows = data[: msg.height * msg.step].reshape(msg.height, msg.step)[:, :row_bytes]
    return dataclasses.replace(msg, data=np.ascontiguousarray(rows).ravel(), step=row_bytes)


def decode_image(msg, color: str | None = "bgr8") -> np.ndarray:
    """A deserialised Image/CompressedImage -> numpy array.

    color "bgr8": H x W x 3 uint8 BGR (16-bit scaled down, grey expanded); "mono8": H x W uint8;
    None: as stored (any dtype/channels; compressed images as decoded by OpenCV). Raises
    ValueError naming the problem for an unsupported encoding or inconsistent/undecodable data."""
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    compressed = hasattr(msg, "format")
    try:
        if compressed:
            image = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise ImageError(f"cannot decode {msg.format!r} compressed data ({len(msg.data)} bytes)")
            source = {1: "mono", 3: "bgr", 4: "bgra"}[1 if image.ndim == 2 else image.shape[2]]
            source += "16" if image.dtype == np.uint16 else "8"
            return image if color is None else message_to_cvimage(_as_raw(image, source), color)
        msg = _unpadded(msg)
        return message_to_cvimage(msg, color)
    except (ImageError, KeyError, ValueError) as exc:
        encoding = msg.format if compressed else msg.encoding
        raise ValueError(f"cannot convert a {encoding!r} image to {color}: {exc}") from exc


def _as_raw(image: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = ""):
    """An array as a raw sensor_msgs/Image (rosbags type) with the given encoding."""
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns, frame_id),
        height=image.shape[0],
        width=image.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=image.strides[0],
        data=np.ascontiguousarray(image).view(np.uint8).ravel(),
    )


class BagReader:
    """An open bag (directory, .db3, .mcap or ROS 1 .bag); use as a context manager.

    Raises BagError when the bag cannot be opened, naming the problem and listing the topics from
    metadata.yaml when those are readable."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        try:
            self._reader = AnyReader([self.path], default_typestore=TYPESTORE)
            self._reader.open()
        except Exception as exc:  # rosbags, apsw and the mcap parser raise many kinds for a damaged bag
            known = topics_from_metadata(self.path) if self.path.is_dir() else None
            problem = f"cannot read bag {self.path} (truncated or damaged?): {type(exc).__name__}: {exc}"
            raise BagError(problem, known) from exc
        self.topics: dict[str, tuple[str, int]] = {
            name: (info.msgtype or "(mixed types)", info.msgcount) for name, info in self._reader.topics.items()
        }
        self.ros1 = not self._reader.is2

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.stack is not None:
            self._reader.close()

    def check_topic(self, topic: str, types: Sequence[str] = IMAGE_TYPES) -> None:
        """Raise BagError (listing the bag's topics) unless ``topic`` exists with one of ``types``."""
        if topic not in self.topics:
            raise BagError(f"bag {self.path} has no topic {topic!r}", self.topics)
        if self.topics[topic][0] not in types:
            raise BagError(
                f"topic {topic!r} in bag {self.path} is {self.topics[topic][0]}, expected {' or '.join(types)}",
                self.topics,
            )

    def count(self, topic: str) -> int:
        """Messages on ``topic`` according to the bag's index (0 for an unknown topic)."""
        return self.topics.get(topic, ("", 0))[1]

    def frames(self, topic: str, color: str | None = "bgr8") -> Iterator[BagFrame]:
        """The image messages of ``topic`` in record order, decoded (see ``decode_image`` for ``color``)."""
        for _, frame in self.image_messages({topic: color}):
            yield frame

    def image_messages(self, colors: dict[str, str | None]) -> Iterator[tuple[str, BagFrame]]:
        """(topic, frame) for several image topics at once, interleaved in record order;
        ``colors`` maps each topic to its ``decode_image`` colour.

        A failure part-way (a damaged block, an undecodable image) raises BagError with
        ``frames_read`` set to the number of (topic, frame) pairs already delivered."""
        for topic in colors:
            self.check_topic(topic)
        indices = dict.fromkeys(colors, 0)
        for delivered, (topic, log_time, msg) in enumerate(self.messages(colors)):
            index = indices[topic]
            try:
                image = decode_image(msg, colors[topic])
            except ValueError as exc:
                raise BagError(
                    f"bag {self.path}: cannot decode message {index} of {topic!r}: {exc}", frames_read=delivered
                ) from exc
            indices[topic] += 1
            yield topic, BagFrame(index, stamp_to_ns(msg.header.stamp), log_time, msg.header.frame_id, image)

    def messages(self, topics: Iterable[str]) -> Iterator[tuple[str, int, object]]:
        """(topic, record time ns, deserialised rosbags message) for any topics, in record order.

        A failure part-way raises BagError with ``frames_read`` = messages delivered before it."""
        return self._stream(topics, deserialize=True)

    def serialized_messages(self, topics: Iterable[str]) -> Iterator[tuple[str, str, int, bytes]]:
        """(topic, message type, record time ns, bytes) for any topics, in record order -- the bytes
        as recorded (CDR in a rosbag2, ROS 1 serialisation in a ROS 1 bag; see ``image_cdr``)."""
        return self._stream(topics, deserialize=False)

    def image_cdr(self, topic: str) -> Iterator[tuple[int, bytes]]:
        """(record time ns, ROS 2 CDR bytes) of an image topic, ready to publish with rclpy: the
        recorded bytes of a rosbag2, converted messages of a ROS 1 bag."""
        self.check_topic(topic)
        if not self.ros1:
            for _, _, log_time, raw in self.serialized_messages([topic]):
                yield log_time, raw
            return
        msgtype = self.topics[topic][0]
        for _, log_time, msg in self.messages([topic]):
            header = _header(stamp_to_ns(msg.header.stamp), msg.header.frame_id)
            if msgtype == COMPRESSED_IMAGE_TYPE:
                ros2 = TYPESTORE.types[msgtype](header=header, format=msg.format, data=msg.data)
            else:
                fields = {name: getattr(msg, name) for name in ("height", "width", "encoding", "is_bigendian", "step")}
                ros2 = TYPESTORE.types[msgtype](header=header, data=msg.data, **fields)
            yield log_time, TYPESTORE.serialize_cdr(ros2, msgtype)

    def _stream(self, topics: Iterable[str], deserialize: bool):
        wanted = set(topics)
        missing = wanted - set(self.topics)
        if missing:
            raise BagError(f"bag {self.path} has no topic {', '.join(sorted(missing))}", self.topics)
        connections = [c for c in self._reader.connections if c.topic in wanted]
        stream = self._reader.messages(connections=connections)
        delivered = 0
        while True:
            try:
                connection, log_time, raw = next(stream)
                item = (
                    (connection.topic, log_time, self._reader.deserialize(raw, connection.msgtype))
                    if deserialize
                    else (connection.topic, connection.msgtype, log_time, bytes(raw))
                )
            except StopIteration:
                return
            except Exception as exc:  # whatever the storage or deserialiser raise for damaged data
                raise BagError(
                    f"bag {self.path} is damaged after {delivered} messages of {', '.join(sorted(wanted))}: "
                    f"{type(exc).__name__}: {exc}",
                    frames_read=delivered,
                ) from exc
            delivered += 1
            yield item


def read_frames(path: str | Path, topic: str, color: str | None = "bgr8") -> Iterator[BagFrame]:
    """Every image of ``topic`` in the bag at ``path``, in record order (opens and closes the bag)."""
    with BagReader(path) as bag:
        yield from bag.frames(topic, color)


def as_map(image: np.ndarray) -> np.ndarray:
    """A stored ground-truth image (mono/colour, 8/16-bit or float) -> H x W float32 map; integer
    images are scaled to [0, 1]."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    return image.astype(np.float32)


# --- writing --------------------------------------------------------------------------------------


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


def _header(stamp_ns: int, frame_id: str):
    return TYPESTORE.types["std_msgs/msg/Header"](stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


def saliency_image(pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
    """Saliency pixels (``skd_ros.live.saliency_pixels``: uint8 for mono8, float32 for 32FC1) as a
    sensor_msgs/Image (rosbags type)."""
    if encoding not in SALIENCY_ENCODINGS:
        raise ValueError(f"saliency encoding must be one of {SALIENCY_ENCODINGS}, got {encoding!r}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8 if encoding == "mono8" else "<f4")
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns, frame_id),
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
        header=_header(stamp_ns, frame_id),
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
    return types["geometry_msgs/msg/PointStamped"](header=_header(stamp_ns, frame_id), point=point)


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
    ``skd_ros.live`` conversions): ``saliency_encoding`` and ``saliency_full_size`` are the node's
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
        pixels = saliency_pixels(result, self.saliency_encoding, self.saliency_full_size)
        messages = (
            (self._saliency, saliency_image(pixels, self.saliency_encoding, stamp_ns, frame_id)),
            (self._rois, rois_cloud(roi_records(result), stamp_ns, frame_id)),
            (self._attention, attention_point(result.peak, stamp_ns, frame_id)),
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
                    header=_header(stamp, frame_id), format="bgr8; png compressed bgr8", data=png.ravel()
                )
            else:
                msg = _as_raw(image, "bgr8", stamp, frame_id)
            writer.write(image_conn, log_time, serialize(msg, image_type))
            sigma = max(2.0, min(width, height) / 12)
            maps = {density_topic: density_map(width, height, centre, sigma)}
            maps[fixation_topic] = fixation_map(width, height, centre, sigma / 2, rng)
            for topic, connection in gt_conns.items():
                gt = _as_raw(maps[topic], "mono8", stamp, frame_id)
                writer.write(connection, log_time, serialize(gt, IMAGE_TYPE))
    return SyntheticBag(path, image_topic, density_topic, fixation_topic, stamps, centres)


# --- command line -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m skd_ros.bag", description="List a bag's topics, or write a small synthetic test bag."
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

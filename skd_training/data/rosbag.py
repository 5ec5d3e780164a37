"""Reading rosbag2 (and ROS 1) bags: image topics in, as numpy frames, for datasets and the desk tools.

``BagReader``, ``read_frames``: rosbag2 directories (sqlite3 or mcap storage, optionally
zstd-compressed), a bare ``.db3``/``.mcap`` file, or a ROS 1 ``.bag``, through ``rosbags``'
``AnyReader``. Image topics may be sensor_msgs/Image (any encoding ``rosbags-image`` knows: mono8/16,
bgr8, rgb8, bgra8, bayer, yuv422, 16-bit colour, 32FC1, ...) or sensor_msgs/CompressedImage (JPEG,
PNG, ...). Each message becomes a ``BagFrame``: the header stamp, the time it was recorded, the
frame_id and the image as a numpy array (H x W x 3 BGR uint8 by default, the form
``skd_ros.runtime.SaliencyPipeline`` takes). Problems raise ``BagError``, whose message names the bag
and lists its topics whenever they can be read (from ``metadata.yaml`` if the storage itself is
damaged). An mcap bag that ends early (the recorder killed, the disk full, a copy cut short: no summary at the
end, which ``rosbags`` needs) is read record by record up to the cut with the ``mcap`` library
(``TruncatedMcap``), so that nothing recorded is lost; the stream then ends with a BagError that says where::

    from skd_training.data.rosbag import BagReader
    with BagReader("flight.bag") as bag:
        for frame in bag.frames("/camera/image_raw"):
            frame.stamp_ns, frame.frame_id, frame.image   # BGR uint8

``decode_image`` converts with ``rosbags-image`` (every encoding it knows). The bag evaluator
(``skd_tools.eval_bag``) does not use it for the images it runs the model on: it hands the messages to
the node's own decoding, so that offline and live see identical pixels. Writing bags (the node's
outputs, a synthetic test bag) is a desk tool: ``skd_tools.bags``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader
from rosbags.image import ImageError, message_to_cvimage
from rosbags.image.image import to_cvtype
from rosbags.typesys import Stores, get_typestore
from tqdm import tqdm

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
# Message definitions for bags without embedded ones (older rosbag2 recordings) and for writing; the
# standard messages used here are identical across ROS 2 distributions since Humble.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
COLORS = ("bgr8", "mono8", None)
SCAN_PROGRESS_BYTES = 64 << 20  # a bag read record by record shows a progress bar from this size on


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


def header_msg(stamp_ns: int, frame_id: str):
    return TYPESTORE.types["std_msgs/msg/Header"](stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


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
            return image if color is None else message_to_cvimage(as_raw_image(image, source), color)
        msg = _unpadded(msg)
        return message_to_cvimage(msg, color)
    except (ImageError, KeyError, ValueError) as exc:
        encoding = msg.format if compressed else msg.encoding
        raise ValueError(f"cannot convert a {encoding!r} image to {color}: {exc}") from exc


def as_raw_image(image: np.ndarray, encoding: str, stamp_ns: int = 0, frame_id: str = ""):
    """An array as a raw sensor_msgs/Image (rosbags type) with the given encoding."""
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header_msg(stamp_ns, frame_id),
        height=image.shape[0],
        width=image.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=image.strides[0],
        data=np.ascontiguousarray(image).view(np.uint8).ravel(),
    )


def mcap_files(path: Path) -> list[Path]:
    """The uncompressed mcap files of a bag: the file itself, or a directory's, in recording order (rosbag2
    numbers a split bag's files ``<name>_0.mcap``, ``<name>_1.mcap``, ...)."""
    if path.is_file():
        return [path] if path.suffix == ".mcap" else []

    def recording_order(file: Path) -> tuple[int, str]:
        number = file.stem.rpartition("_")[2]
        return (int(number) if number.isdigit() else -1), file.name

    return sorted(path.glob("*.mcap"), key=recording_order)


class TruncatedMcap:
    """The messages of mcap files read record by record, as far as they go: for a bag that ``rosbags`` cannot
    open because it ends early (no summary or footer: the recorder was killed, the disk filled, a copy was cut
    short). A message whose record, or whose chunk, is cut short is lost; every one before it is read.

    ``topics``: {name: (type, messages before the cut)}; ``cut``: where the records stop and why (None: the
    files end properly). Raises BagError when not even the start of the first file is a readable mcap."""

    def __init__(self, files: list[Path]):
        self.files = files
        self.cut: str | None = None
        self._types: dict[str, str] = {}  # topic -> message type, as the channels are met
        size = sum(file.stat().st_size for file in files)
        # a flight's bag can be gigabytes, all decompressed to count its messages: show how far it is
        with tqdm(total=size, unit="B", unit_scale=True, desc="reading the bag record by record", leave=False,
                  disable=size < SCAN_PROGRESS_BYTES) as bar:  # fmt: skip
            counts = Counter(topic for topic, _, _, _ in self.messages(bar.update))
        self.topics = {topic: (msgtype, counts[topic]) for topic, msgtype in self._types.items()}
        if not self.topics:
            raise BagError(f"no readable mcap records in {', '.join(map(str, files))}: {self.cut}")

    def messages(self, advanced: Callable[[int], object] | None = None) -> Iterator[tuple[str, str, int, bytes]]:
        """(topic, message type, record time ns, CDR bytes) in file order; stops at the cut (``cut`` says where).
        ``advanced(bytes)``: told how far each record took the reading."""
        for file in self.files:
            schemas: dict[int, str] = {}
            channels: dict[int, tuple[str, str]] = {}
            size = file.stat().st_size
            with file.open("rb") as stream:
                # a damaged length field cannot ask for more than the file holds; a chunk whose bytes changed
                # fails its CRC, as in rosbags, rather than giving damaged messages
                records = StreamReader(stream, validate_crcs=True, record_size_limit=size).records
                whole_up_to = stream.tell()
                try:
                    for record in records:
                        if advanced is not None:
                            advanced(stream.tell() - whole_up_to)
                        whole_up_to = stream.tell()
                        if isinstance(record, Schema):
                            schemas[record.id] = record.name
                        elif isinstance(record, Channel):
                            channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                            self._types.setdefault(*channels[record.id])
                        elif isinstance(record, Message) and record.channel_id in channels:
                            topic, msgtype = channels[record.channel_id]
                            yield topic, msgtype, record.log_time, record.data
                except Exception as exc:  # the mcap library raises many kinds for bytes that stop or go wrong
                    why = f"{type(exc).__name__}: {exc}" if str(exc) else "the file ends before its footer"
                    self.cut = f"{file.name}'s records end at byte {whole_up_to} of {size}: {why}"
                    return
        self.cut = None


class BagReader:
    """An open bag (directory, .db3, .mcap or ROS 1 .bag); use as a context manager.

    Raises BagError when the bag cannot be opened, naming the problem and listing the topics from
    metadata.yaml when those are readable. An mcap bag that ``rosbags`` cannot open but whose records read
    from the start is read as far as they go (``TruncatedMcap``); ``recovered`` then says why and how much
    (None for a bag that opened normally)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        self._reader, self._truncated, self.recovered = None, None, None
        try:
            self._reader = AnyReader([self.path], default_typestore=TYPESTORE)
            self._reader.open()
        except Exception as exc:  # rosbags, apsw and the mcap parser raise many kinds for a damaged bag
            known = topics_from_metadata(self.path) if self.path.is_dir() else None
            problem = f"cannot read bag {self.path} (truncated or damaged?): {type(exc).__name__}: {exc}"
            files = mcap_files(self.path)
            if not files:
                raise BagError(problem, known) from exc
            try:
                self._truncated = TruncatedMcap(files)
            except BagError as salvage:
                raise BagError(f"{problem}; {salvage}", known) from exc
            self.recovered = (
                f"{problem}; read record by record instead: {sum(n for _, n in self._truncated.topics.values())} "
                f"messages ({self._truncated.cut or 'every file ends properly'})"
            )
            self.topics = dict(self._truncated.topics)
            self.ros1 = False
            return
        self.topics: dict[str, tuple[str, int]] = {
            name: (info.msgtype or "(mixed types)", info.msgcount) for name, info in self._reader.topics.items()
        }
        self.ros1 = not self._reader.is2

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._reader is not None and self._reader.stack is not None:
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
            header = header_msg(stamp_to_ns(msg.header.stamp), msg.header.frame_id)
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
        stream = self._recorded(wanted)
        delivered = 0
        while True:
            try:
                topic, msgtype, log_time, raw = next(stream)
                item = (
                    (topic, log_time, self._deserialize(raw, msgtype))
                    if deserialize
                    else (topic, msgtype, log_time, bytes(raw))
                )
            except StopIteration:
                if self._truncated is not None and self._truncated.cut:
                    raise BagError(
                        f"bag {self.path} is cut short: {self._truncated.cut}; the {delivered} messages of "
                        f"{', '.join(sorted(wanted))} before it were read",
                        frames_read=delivered,
                    ) from None
                return
            except Exception as exc:  # whatever the storage or deserialiser raise for damaged data
                raise BagError(
                    f"bag {self.path} is damaged after {delivered} messages of {', '.join(sorted(wanted))}: "
                    f"{type(exc).__name__}: {exc}",
                    frames_read=delivered,
                ) from exc
            delivered += 1
            yield item

    def _recorded(self, topics: set[str]) -> Iterator[tuple[str, str, int, bytes]]:
        """(topic, message type, record time ns, serialised bytes) of ``topics``, from whichever reader opened."""
        if self._truncated is not None:
            return ((t, m, time, raw) for t, m, time, raw in self._truncated.messages() if t in topics)
        connections = [c for c in self._reader.connections if c.topic in topics]
        return ((c.topic, c.msgtype, time, raw) for c, time, raw in self._reader.messages(connections=connections))

    def _deserialize(self, raw: bytes, msgtype: str):
        if self._truncated is not None:
            return TYPESTORE.deserialize_cdr(raw, msgtype)
        return self._reader.deserialize(raw, msgtype)


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

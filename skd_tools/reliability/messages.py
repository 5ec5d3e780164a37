"""Generated image messages, good and bad, for the fuzz runs: each ``FuzzCase`` is one sensor_msgs/Image or
CompressedImage (as plain dataclasses with the message's fields, so that the decoder takes them as they
are and ``live`` copies them into rclpy messages) and the outcomes that are right for it.

Every family of damage has a name (``FuzzCase.family``) and fixed expectations: a field mistake in a raw
image has exactly one right ``ImageDecodeError`` kind; damaged compressed data must be refused (a cut
JPEG or PNG, a bit flip in a PNG, whose chunks carry CRCs) or may still decode (a bit flip in JPEG entropy
data, which has no checksum); valid frames, 16-bit and one-channel ones included, must be accepted and, where
the format is lossless, decode to exactly the pixels that were sent (``FuzzCase.reference``).

Cases are generated lazily from a seed (``iter_cases``), so 10,000 of them never sit in memory at once and
a run is repeatable.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from skd_ros.core import image_codec
from skd_ros.core.image_codec import JPEG_SOF, RAW_ENCODINGS

ACCEPTED = "accepted"  # an outcome: the decoder returned a frame
REFUSED = frozenset({image_codec.EMPTY, image_codec.UNDECODABLE, image_codec.TOO_LARGE})
SECOND = 1_000_000_000
MAX_SIDE = 160  # generated frames stay small: thousands of them cross DDS in a fuzz run
DECLARED_HUGE = ((16000, 16000), (20000, 20000))  # the sizes issue #20 names; refused from the header alone
DEFAULT_LIMIT = (7680, 4320)  # the node's default max_input_pixels, as a size


@dataclass
class Stamp:
    sec: int = 0
    nanosec: int = 0


@dataclass
class Header:
    stamp: Stamp = field(default_factory=Stamp)
    frame_id: str = "camera"


@dataclass
class RawImage:
    """The fields of a sensor_msgs/Image."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


@dataclass
class CompressedImage:
    """The fields of a sensor_msgs/CompressedImage."""

    header: Header
    format: str
    data: bytes


@dataclass(frozen=True)
class FuzzCase:
    """One generated message. ``allowed``: the outcomes that are right for it (``ACCEPTED`` and/or
    ``ImageDecodeError`` kinds); ``reference``: for a valid frame in a lossless format, the BGR pixels the
    decoder must return."""

    family: str
    message: RawImage | CompressedImage
    allowed: frozenset[str]
    reference: np.ndarray | None = None

    @property
    def must_refuse(self) -> bool:
        return ACCEPTED not in self.allowed


def stamped(stamp_ns: int, frame_id: str = "camera") -> Header:
    sec, nanosec = divmod(stamp_ns, SECOND)
    return Header(Stamp(sec, nanosec), frame_id)


def random_pixels(rng: np.random.Generator, height: int, width: int, channels: int, dtype=np.uint8) -> np.ndarray:
    high = np.iinfo(dtype).max + 1
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, high, shape, dtype=np.int64).astype(dtype)


def random_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height); now and then an extreme aspect ratio, a thin line of pixels."""
    if rng.random() < 0.1:
        long_side = int(rng.integers(MAX_SIDE, 4000))
        return (long_side, 1) if rng.random() < 0.5 else (1, long_side)
    return int(rng.integers(1, MAX_SIDE + 1)), int(rng.integers(1, MAX_SIDE * 3 // 4 + 1))


# --- raw sensor_msgs/Image ------------------------------------------------------------------------------


def raw_message(pixels: np.ndarray, encoding: str, padding: int = 0, big_endian: bool = False) -> RawImage:
    """``pixels`` (H x W x C or H x W, uint8 or uint16) as an Image, each row padded by ``padding`` bytes."""
    height, width = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2" if big_endian else "<u2")
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    padded = np.zeros((height, rows.shape[1] + padding), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return RawImage(stamped(0), height, width, encoding, int(big_endian), padded.shape[1], padded.tobytes())


def as_bgr(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """What the decoder must make of ``pixels`` sent as ``encoding``: BGR, 8 bits (mono16 / 256)."""
    if encoding == "mono16":
        pixels = (pixels >> 8).astype(np.uint8)
    conversions = {
        "rgb8": cv2.COLOR_RGB2BGR,
        "rgba8": cv2.COLOR_RGBA2BGR,
        "bgra8": cv2.COLOR_BGRA2BGR,
        "mono8": cv2.COLOR_GRAY2BGR,
        "mono16": cv2.COLOR_GRAY2BGR,
    }
    return pixels if encoding == "bgr8" else cv2.cvtColor(pixels, conversions[encoding])


def valid_raw(rng: np.random.Generator, encoding: str | None = None) -> FuzzCase:
    """Any supported encoding (16-bit and one-channel included), padded rows, either byte order."""
    encoding = encoding or str(rng.choice(list(RAW_ENCODINGS)))
    channels, depth = RAW_ENCODINGS[encoding]
    width, height = random_size(rng)
    pixels = random_pixels(rng, height, width, channels, np.uint16 if depth == 2 else np.uint8)
    big_endian = bool(rng.random() < 0.5)  # honoured for mono16, meaningless (and ignored) for 8-bit data
    message = raw_message(pixels, encoding, int(rng.integers(0, 8)), big_endian)
    return FuzzCase(f"raw valid {encoding}", message, frozenset({ACCEPTED}), as_bgr(pixels, encoding))


def _broken_raw(rng: np.random.Generator) -> tuple[RawImage, int]:
    """A valid bgr8 image to break, and its row length in bytes."""
    case = valid_raw(rng, "bgr8")
    return case.message, case.message.width * 3


def step_too_short(rng: np.random.Generator) -> FuzzCase:
    message, row_bytes = _broken_raw(rng)
    message.step = int(rng.integers(0, row_bytes))
    message.data = bytes(message.step * message.height)  # consistent with the wrong step: only the step is wrong
    return FuzzCase("raw step shorter than a row", message, frozenset({image_codec.BAD_STEP}))


def data_truncated(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    message.data = message.data[: int(rng.integers(0, len(message.data)))]
    return FuzzCase("raw data truncated", message, frozenset({image_codec.SIZE_MISMATCH}))


def data_too_long(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    message.data += bytes(int(rng.integers(1, 4096)))
    return FuzzCase("raw data too long", message, frozenset({image_codec.SIZE_MISMATCH}))


def step_huge(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    message.step = int(rng.choice([2**31 - 1, 2**32 - 1, message.step * 1000]))
    return FuzzCase("raw step huge, data small", message, frozenset({image_codec.SIZE_MISMATCH}))


def zero_size(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    zero = str(rng.choice(["width", "height", "both"]))
    if zero in ("width", "both"):
        message.width = 0
    if zero in ("height", "both"):
        message.height = 0
    return FuzzCase("raw zero width or height", message, frozenset({image_codec.EMPTY}))


def declared_huge_raw(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    sizes = [*DECLARED_HUGE, (2**32 - 1, 2**32 - 1), (2**32 - 1, 1), (1, 2**32 - 1), (7681, 4321)]
    message.width, message.height = sizes[int(rng.integers(len(sizes)))]
    message.step = message.width * 3 if message.width * 3 < 2**32 else 2**32 - 1
    return FuzzCase("raw declared huge, data small", message, frozenset({image_codec.TOO_LARGE}))


UNSUPPORTED = (
    "yuv422", "yuv422_yuy2", "nv21", "bayer_rggb8", "bayer_bggr16", "rgb16", "bgra16", "16UC1", "32FC1", "8UC3",
    "BGR8", "Mono8", " bgr8", "bgr8 ", "jpeg", "", "бгр8", "x" * 1000,
)  # fmt: skip


def unsupported_encoding(rng: np.random.Generator) -> FuzzCase:
    message, _ = _broken_raw(rng)
    if rng.random() < 0.3:  # printable noise; no NUL: a ROS string ends at the first one
        message.encoding = "".join(chr(c) for c in rng.integers(33, 127, int(rng.integers(1, 24))))
    else:
        message.encoding = str(rng.choice(UNSUPPORTED))
    allowed = {image_codec.UNSUPPORTED_ENCODING} if message.encoding not in RAW_ENCODINGS else {ACCEPTED}
    return FuzzCase("raw unsupported encoding", message, frozenset(allowed))


RAW_FAMILIES: tuple[Callable[[np.random.Generator], FuzzCase], ...] = (
    valid_raw,
    step_too_short,
    data_truncated,
    data_too_long,
    step_huge,
    zero_size,
    declared_huge_raw,
    unsupported_encoding,
)


# --- sensor_msgs/CompressedImage ------------------------------------------------------------------------


def encoded(pixels: np.ndarray, extension: str, *params: int) -> bytes:
    ok, data = cv2.imencode(extension, pixels, list(params))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {pixels.shape} {pixels.dtype} image as {extension}")
    return data.tobytes()


def compressed(data: bytes, fmt: str) -> CompressedImage:
    return CompressedImage(stamped(0), fmt, data)


def valid_jpeg(rng: np.random.Generator) -> FuzzCase:
    width, height = random_size(rng)
    channels = 1 if rng.random() < 0.3 else 3
    quality = int(rng.integers(5, 101))
    data = encoded(random_pixels(rng, height, width, channels), ".jpg", cv2.IMWRITE_JPEG_QUALITY, quality)
    return FuzzCase(f"jpeg valid {channels}-channel", compressed(data, "jpeg"), frozenset({ACCEPTED}))


def valid_png(rng: np.random.Generator) -> FuzzCase:
    """8- or 16-bit, one, three or four channels; the decoder gives 8-bit BGR (16-bit: value / 256)."""
    width, height = random_size(rng)
    channels = int(rng.choice([1, 3, 4]))
    deep = rng.random() < 0.3
    pixels = random_pixels(rng, height, width, channels, np.uint16 if deep else np.uint8)
    data = encoded(pixels, ".png", cv2.IMWRITE_PNG_COMPRESSION, int(rng.integers(0, 10)))
    layout = {1: "mono", 3: "bgr", 4: "bgra"}[channels]
    reference = as_bgr((pixels >> 8).astype(np.uint8) if deep else pixels, f"{layout}8")
    name = f"{layout}{16 if deep else 8}"
    return FuzzCase(f"png valid {name}", compressed(data, "png"), frozenset({ACCEPTED}), reference)


def _valid_compressed(rng: np.random.Generator) -> tuple[FuzzCase, str]:
    case = valid_jpeg(rng) if rng.random() < 0.5 else valid_png(rng)
    return case, "jpeg" if case.family.startswith("jpeg") else "png"


def cut_short(rng: np.random.Generator) -> FuzzCase:
    """Cut anywhere before the end: the end-of-image marker (JPEG) or the IEND chunk (PNG) is missing."""
    case, kind = _valid_compressed(rng)
    message = case.message
    message.data = message.data[: int(rng.integers(1, len(message.data)))]
    return FuzzCase(f"{kind} truncated", message, frozenset({image_codec.UNDECODABLE}))


def bit_flips(rng: np.random.Generator) -> FuzzCase:
    """1 to 8 flipped bits anywhere. A PNG must be refused or decode to exactly the pixels sent: its image data
    is covered by chunk CRCs and zlib's checksum, so a flip that passes (in the IEND chunk's CRC, say) changed
    no pixel. A JPEG has no checksum: a flip in its entropy-coded data decodes to wrong pixels unnoticed."""
    case, kind = _valid_compressed(rng)
    data = bytearray(case.message.data)
    for _ in range(int(rng.integers(1, 9))):
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    case.message.data = bytes(data)
    return FuzzCase(f"{kind} bit flips", case.message, REFUSED | {ACCEPTED}, case.reference)


def small_jpeg(rng: np.random.Generator) -> bytes:
    return encoded(random_pixels(rng, 48, 64, 3), ".jpg")


def small_png(rng: np.random.Generator) -> bytes:
    return encoded(random_pixels(rng, 48, 64, 3), ".png")


def jpeg_sof_offset(data: bytes) -> int:
    """Where the first start-of-frame segment of a JPEG written by OpenCV begins (its 0xFF byte)."""
    return next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in JPEG_SOF)


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header declares ``width`` x ``height``; the image data stays as it was."""
    at = jpeg_sof_offset(data)
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def with_png_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR chunk declares ``width`` x ``height``, with a correct CRC: only the size lies."""
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def declared_huge_compressed(rng: np.random.Generator) -> FuzzCase:
    """A small JPEG or PNG whose header declares 16000 x 16000, 20000 x 20000 or the format's largest."""
    if rng.random() < 0.5:
        width, height = [*DECLARED_HUGE, (65535, 65535)][int(rng.integers(3))]
        data, kind = with_jpeg_size(small_jpeg(rng), width, height), "jpeg"
    else:
        width, height = [*DECLARED_HUGE, (2**31 - 1, 2**31 - 1)][int(rng.integers(3))]
        data, kind = with_png_size(small_png(rng), width, height), "png"
    return FuzzCase(f"{kind} declared huge", compressed(data, kind), frozenset({image_codec.TOO_LARGE}))


def declared_at_limit(rng: np.random.Generator) -> FuzzCase:
    """A small JPEG or PNG whose header declares exactly the node's default max_input_pixels (7680 x 4320): the
    size check lets it through, so it costs what the decoder makes of it (libjpeg fills the missing image data
    in grey and takes it; a PNG's missing rows are an error)."""
    width, height = DEFAULT_LIMIT
    if rng.random() < 0.5:
        data, kind = with_jpeg_size(small_jpeg(rng), width, height), "jpeg"
    else:
        data, kind = with_png_size(small_png(rng), width, height), "png"
    return FuzzCase(f"{kind} declared at the limit", compressed(data, kind), REFUSED | {ACCEPTED})


def declared_empty(rng: np.random.Generator) -> FuzzCase:
    width, height = (0, 48) if rng.random() < 0.5 else (64, 0)
    if rng.random() < 0.5:
        data, kind = with_jpeg_size(small_jpeg(rng), width, height), "jpeg"
    else:
        data, kind = with_png_size(small_png(rng), width, height), "png"
    return FuzzCase(f"{kind} declared 0 pixels", compressed(data, kind), frozenset({image_codec.EMPTY}))


def other_format(rng: np.random.Generator) -> FuzzCase:
    """Not JPEG or PNG: another image format, or noise."""
    pixels = random_pixels(rng, 24, 32, 3)
    choice = int(rng.integers(4))
    if choice == 3:
        data = rng.integers(0, 256, int(rng.integers(1, 2048)), dtype=np.uint8).tobytes()
    else:
        data = encoded(pixels, (".bmp", ".tiff", ".ppm")[choice])
    return FuzzCase("other format or noise", compressed(data, "jpeg"), frozenset({image_codec.UNDECODABLE}))


def jpeg_without_frame_header(rng: np.random.Generator) -> FuzzCase:
    """The start-of-frame segment removed: the size is unknown, so the frame is refused before decoding."""
    data = small_jpeg(rng)
    at = jpeg_sof_offset(data)
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    message = compressed(data[:at] + data[at + 2 + length :], "jpeg")
    return FuzzCase("jpeg without frame header", message, frozenset({image_codec.UNDECODABLE}))


def jpeg_header_maze(rng: np.random.Generator) -> FuzzCase:
    """Thousands of fill bytes or empty segments before the frame header: the header walk must stay linear
    (and libjpeg may or may not take the result)."""
    data = small_jpeg(rng)
    count = int(rng.integers(1000, 50000))
    filler = b"\xff" * count if rng.random() < 0.5 else b"\xff\xe5\x00\x02" * (count // 4)
    message = compressed(data[:2] + filler + data[2:], "jpeg")
    return FuzzCase("jpeg header maze", message, frozenset({ACCEPTED, image_codec.UNDECODABLE}))


def empty_data(rng: np.random.Generator) -> FuzzCase:
    message = compressed(b"", str(rng.choice(["jpeg", "png"])))
    return FuzzCase("compressed empty", message, frozenset({image_codec.EMPTY}))


def depth_format(rng: np.random.Generator) -> FuzzCase:
    message = compressed(small_png(rng), "16UC1; compressedDepth png")
    return FuzzCase("compressedDepth", message, frozenset({image_codec.UNSUPPORTED_ENCODING}))


def format_lies(rng: np.random.Generator) -> FuzzCase:
    """The format field says one thing, the data is another: the data decides, as OpenCV does."""
    case, kind = _valid_compressed(rng)
    case.message.format = str(rng.choice(["png", "jpeg", "bgr8; jpeg compressed bgr8", "", "tiff", "rgb8"]))
    return FuzzCase(f"{kind} under another format name", case.message, case.allowed, case.reference)


def trailing_garbage(rng: np.random.Generator) -> FuzzCase:
    case, kind = _valid_compressed(rng)
    case.message.data += rng.integers(0, 256, int(rng.integers(1, 512)), dtype=np.uint8).tobytes()
    return FuzzCase(f"{kind} with bytes after its end", case.message, frozenset({ACCEPTED, image_codec.UNDECODABLE}))


COMPRESSED_FAMILIES: tuple[Callable[[np.random.Generator], FuzzCase], ...] = (
    valid_jpeg,
    valid_png,
    cut_short,
    bit_flips,
    declared_huge_compressed,
    declared_at_limit,
    declared_empty,
    other_format,
    jpeg_without_frame_header,
    jpeg_header_maze,
    empty_data,
    depth_format,
    format_lies,
    trailing_garbage,
)


def iter_cases(count: int, seed: int = 0, compressed_input: bool = False) -> Iterator[FuzzCase]:
    """``count`` cases, the families taken in turn (so that every family gets its share at any count),
    each stamped with its position (stamp ``index`` seconds, frame_id ``fuzz``)."""
    rng = np.random.default_rng(seed)
    families = itertools.cycle(COMPRESSED_FAMILIES if compressed_input else RAW_FAMILIES)
    for index, family in zip(range(count), families, strict=False):  # families cycle forever
        case = family(rng)
        case.message.header = stamped((index + 1) * SECOND, "fuzz")
        yield case


def sentinel_frame(index: int, compressed_input: bool = False) -> RawImage | CompressedImage:
    """The good frame that follows each fuzz message: its answer proves the node looked at the message
    before it. Stamped after every fuzz message, on its own frame_id, a little different each time."""
    pixels = np.full((48, 64, 3), 40 + index % 150, np.uint8)
    pixels[8:24, 16 + index % 32 : 32 + index % 32] = 250
    header = stamped(10**6 * SECOND + index * SECOND // 100, "sentinel")
    if compressed_input:
        return CompressedImage(header, "jpeg", encoded(pixels, ".jpg"))
    message = raw_message(pixels, "bgr8")
    message.header = header
    return message

"""sensor_msgs/Image and CompressedImage <-> numpy, with every check a live camera stream needs.

ROS-free: messages are read by attribute (``height``, ``width``, ``encoding``, ``is_bigendian``,
``step``, ``data``; ``format`` and ``data`` for compressed images), so rclpy messages, rosbags messages
and plain test objects all work. No cv_bridge: it is not installable from PyPI.

Decoding gives an H x W x 3 uint8 frame plus its channel order (``"bgr8"`` or ``"rgb8"``), which is
what ``skd_ros.core.preprocess`` takes; 8-bit colour images come back as views of the message buffer
(no copy), so the hot path only copies once, when the frame is shrunk to the model resolution.

Cost is bounded before it is spent: a frame whose declared size exceeds ``max_pixels`` is refused from
its header alone (the message fields of a raw image, the JPEG or PNG header of a compressed one), and a
JPEG that only needs to feed a small model is decoded at 1/2, 1/4 or 1/8 of its size by the decoder
itself (``min_side``); the frame then remembers the size it was sent at (``source_width``,
``source_height``), in which ROIs and peaks are reported.

Anything wrong with a message raises ``ImageDecodeError``, whose ``kind`` names the problem class
(for counting and throttled warnings) and whose text names the problem and the numbers involved.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (channels, bytes per channel)
RAW_ENCODINGS = {
    "bgr8": (3, 1),
    "rgb8": (3, 1),
    "bgra8": (4, 1),
    "rgba8": (4, 1),
    "mono8": (1, 1),
    "mono16": (1, 2),
}
OUTPUT_ENCODINGS = {"mono8": np.dtype(np.uint8), "32FC1": np.dtype(np.float32), "rgb8": np.dtype(np.uint8)}
HOST_IS_BIGENDIAN = sys.byteorder == "big"

# Problem kinds (ImageDecodeError.kind)
EMPTY = "empty image"
UNSUPPORTED_ENCODING = "unsupported encoding"
BAD_STEP = "step mismatch"
SIZE_MISMATCH = "data size mismatch"
UNDECODABLE = "undecodable compressed data"
TOO_LARGE = "image too large"
KINDS = (EMPTY, UNSUPPORTED_ENCODING, BAD_STEP, SIZE_MISMATCH, UNDECODABLE, TOO_LARGE)
COMPRESSED_FORMATS = ("jpeg", "png")
# IMREAD_REDUCED_COLOR_n: the JPEG decoder's own 1/n scaling (it skips most of the inverse DCT)
REDUCED_READS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


class ImageDecodeError(ValueError):
    """An image message that cannot be turned into a frame; ``kind`` is one of ``KINDS``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class DecodedImage:
    """``pixels``: H x W x 3 uint8 (possibly a view with padded rows); ``order``: "bgr8" or "rgb8";
    ``source_width`` x ``source_height``: the size the image was sent at (larger than ``pixels`` when a
    JPEG was decoded at reduced size; 0: the pixels' own size); ``source_encoding``: what it was sent as
    (the Image's encoding, or "jpeg" / "png")."""

    pixels: np.ndarray
    order: str
    source_width: int = 0
    source_height: int = 0
    source_encoding: str = ""

    def __post_init__(self):
        if not self.source_width:
            object.__setattr__(self, "source_width", self.pixels.shape[1])
            object.__setattr__(self, "source_height", self.pixels.shape[0])
        if not self.source_encoding:
            object.__setattr__(self, "source_encoding", self.order)

    @property
    def source(self) -> tuple[int, int, str]:
        """(width, height, encoding) as sent: frames that differ in it are never paired."""
        return self.source_width, self.source_height, self.source_encoding

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def reduced(self) -> bool:
        return self.width != self.source_width or self.height != self.source_height

    def as_bgr(self) -> np.ndarray:
        """The frame in BGR order (a copy only when it is RGB), for OpenCV drawing."""
        return self.pixels if self.order == "bgr8" else cv2.cvtColor(self.pixels, cv2.COLOR_RGB2BGR)


def check_size(width: int, height: int, max_pixels: int | None, what: str) -> None:
    """Refuse an image whose declared size is empty or above ``max_pixels`` (None: no limit)."""
    if height <= 0 or width <= 0:
        raise ImageDecodeError(EMPTY, f"{what} is empty ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(
            TOO_LARGE,
            f"{what} declares {width}x{height} = {width * height:,} pixels, more than max_input_pixels "
            f"({max_pixels:,}); refused before decoding",
        )


def decode_raw(msg, max_pixels: int | None = None) -> DecodedImage:
    """A sensor_msgs/Image -> DecodedImage. Supported encodings: ``RAW_ENCODINGS``.

    mono8 is expanded to three equal channels; mono16 is scaled to 8 bits (value / 256, as
    cv_bridge's mono16 -> mono8 does); the alpha channel of rgba8/bgra8 is dropped."""
    height, width, step, encoding = int(msg.height), int(msg.width), int(msg.step), str(msg.encoding)
    check_size(width, height, max_pixels, f"{encoding} image")
    if encoding not in RAW_ENCODINGS:
        raise ImageDecodeError(
            UNSUPPORTED_ENCODING,
            f"unsupported encoding {encoding!r} (supported: {', '.join(RAW_ENCODINGS)}; "
            "CompressedImage input: set input_compressed)",
        )
    channels, depth = RAW_ENCODINGS[encoding]
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise ImageDecodeError(
            BAD_STEP,
            f"step {step} is shorter than one row of a {width}x{height} {encoding} image "
            f"({width} x {channels * depth} = {row_bytes} bytes)",
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)  # bytes, array.array (rclpy), numpy (rosbags): no copy
    if data.size != step * height:
        what = "truncated" if data.size < step * height else "too long"
        raise ImageDecodeError(
            SIZE_MISMATCH,
            f"data is {what}: {data.size} bytes for a {width}x{height} {encoding} image, "
            f"expected step x height = {step} x {height} = {step * height}",
        )
    rows = data.reshape(height, step)[:, :row_bytes]
    if depth == 2:
        byte_order = ">" if msg.is_bigendian else "<"
        mono16 = np.ascontiguousarray(rows).view(f"{byte_order}u2")
        gray = (mono16 >> 8).astype(np.uint8)
        return DecodedImage(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), "bgr8", source_encoding=encoding)
    pixels = rows.reshape(height, width, channels)
    if encoding == "mono8":
        return DecodedImage(cv2.cvtColor(pixels[:, :, 0], cv2.COLOR_GRAY2BGR), "bgr8", source_encoding=encoding)
    if encoding == "rgba8":
        return DecodedImage(cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB), "rgb8", source_encoding=encoding)
    if encoding == "bgra8":
        return DecodedImage(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR), "bgr8", source_encoding=encoding)
    return DecodedImage(pixels, encoding)


def compressed_size(data: np.ndarray) -> tuple[str, int, int]:
    """(format, width, height) declared by a JPEG's frame header or a PNG's IHDR chunk, read without
    decoding anything. Raises ValueError, saying why, for other formats and for headers that end too soon."""
    raw = data.data  # a memoryview: the header is read in place
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        if len(raw) < 24 or raw[12:16] != b"IHDR":
            raise ValueError("its PNG header is incomplete")
        return "png", int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    if raw[:2] == b"\xff\xd8":
        size = jpeg_frame_size(raw)
        if size is None:
            raise ValueError(
                "its JPEG data has no frame header (the image size) before the image data or within its first "
                f"{JPEG_HEADER_STEPS} markers and fill bytes"
            )
        return ("jpeg", *size)
    raise ValueError(
        f"it is neither JPEG nor PNG (starts with {raw[:4].hex()}); the size of a frame is read from its header "
        "before decoding, for these two formats (image_transport's)"
    )


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they hold the image size
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers and fill bytes walked looking for the frame header: encoders write a few dozen segments before it; the
# bound keeps the walk (Python, a step per fill byte) to about a millisecond whatever the data holds
JPEG_HEADER_STEPS = 4096


def jpeg_frame_size(raw: memoryview) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment of a JPEG, walking the segments from the
    start-of-image marker; None when there is none in ``raw`` or within ``JPEG_HEADER_STEPS`` steps."""
    position = 2
    for _ in range(JPEG_HEADER_STEPS):
        if position + 4 > len(raw):
            return None
        if raw[position] != 0xFF:
            return None
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(raw[position + 2 : position + 4], "big")
        if marker in JPEG_SOF:
            if position + 9 > len(raw):
                return None
            height = int.from_bytes(raw[position + 5 : position + 7], "big")
            width = int.from_bytes(raw[position + 7 : position + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # start of scan (image data) or a broken length: no frame header
            return None
        position += 2 + length
    return None


def png_chunk_overrun(raw: memoryview) -> str | None:
    """Why a PNG's chunks do not fit in its data (a chunk declaring more bytes than are left), or None.

    OpenCV allocates and zero-fills the length a chunk declares before reading it: one flipped bit in the
    length of an IDAT chunk made a 1 KB message cost 1 GiB and 3 s. Walking the chunk lengths costs a step
    per chunk (encoders write chunks of 8 KB or more)."""
    position = 8
    while position + 8 <= len(raw):
        length = int.from_bytes(raw[position : position + 4], "big")
        chunk = bytes(raw[position + 4 : position + 8])
        left = len(raw) - position - 12
        if length > left:
            return f"its PNG chunk {chunk!r} at byte {position} declares {length:,} bytes, {max(left, 0):,} are left"
        if chunk == b"IEND":
            return None
        position += 12 + length
    return None


def decode_compressed(msg, max_pixels: int | None = None, min_side: int | None = None) -> DecodedImage:
    """A sensor_msgs/CompressedImage (JPEG or PNG) -> DecodedImage (BGR).

    The declared size is checked against ``max_pixels`` before decoding. ``min_side``: the smallest
    width and height the caller needs; a JPEG that is at least twice that large is decoded at the
    largest reduction (1/2, 1/4, 1/8) that keeps both sides >= ``min_side`` (None: full size)."""
    fmt = str(msg.format)
    if "compressedDepth" in fmt:
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"compressed format {fmt!r} is a depth image, not a camera image")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageDecodeError(EMPTY, f"compressed image ({fmt!r}) has no data")
    undecodable = f"cannot decode compressed image (format {fmt!r}, {data.size} bytes)"
    try:
        kind, width, height = compressed_size(data)
    except ValueError as exc:
        raise ImageDecodeError(UNDECODABLE, f"{undecodable}: {exc}") from None
    check_size(width, height, max_pixels, f"{kind.upper()} image")
    overrun = png_chunk_overrun(data.data) if kind == "png" else None
    if overrun:
        raise ImageDecodeError(UNDECODABLE, f"{undecodable}: {overrun}")
    flag = cv2.IMREAD_COLOR
    if kind == "jpeg" and min_side:
        flag = next((f for n, f in REDUCED_READS if min(width, height) >= n * min_side), cv2.IMREAD_COLOR)
    try:
        pixels = cv2.imdecode(data, flag)
    except cv2.error as exc:
        pixels, reason = None, f": {exc}"
    else:
        reason = ""
    if pixels is None or pixels.size == 0:
        raise ImageDecodeError(UNDECODABLE, undecodable + reason)
    return DecodedImage(pixels, "bgr8", width, height, kind)


@dataclass(frozen=True)
class ImageFields:
    """The fields of a sensor_msgs/Image holding ``pixels``; ``data`` is a contiguous uint8 view."""

    height: int
    width: int
    encoding: str
    is_bigendian: bool
    step: int
    data: memoryview


def encode(pixels: np.ndarray, encoding: str) -> ImageFields:
    """An H x W (mono8, 32FC1) or H x W x 3 (rgb8) array -> Image fields, rows packed (no padding)."""
    if encoding not in OUTPUT_ENCODINGS:
        raise ValueError(f"output encoding must be one of {tuple(OUTPUT_ENCODINGS)}, got {encoding!r}")
    expected_ndim = 3 if encoding == "rgb8" else 2
    if pixels.ndim != expected_ndim or pixels.size == 0:
        raise ValueError(f"a {encoding} image needs a non-empty {expected_ndim}-D array, got shape {pixels.shape}")
    pixels = np.ascontiguousarray(pixels, dtype=OUTPUT_ENCODINGS[encoding])
    height, width = pixels.shape[:2]
    return ImageFields(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=HOST_IS_BIGENDIAN,
        step=pixels.strides[0],
        data=memoryview(pixels).cast("B"),
    )


def decode_output(msg) -> np.ndarray:
    """A saliency (mono8 / 32FC1) or overlay (rgb8) Image as published by the node -> numpy array
    (H x W, or H x W x 3), for consumers and tests."""
    encoding = str(msg.encoding)
    if encoding not in OUTPUT_ENCODINGS:
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"encoding {encoding!r} is not one of {tuple(OUTPUT_ENCODINGS)}")
    dtype = OUTPUT_ENCODINGS[encoding].newbyteorder(">" if msg.is_bigendian else "<")
    channels = 3 if encoding == "rgb8" else 1
    row_bytes = int(msg.width) * channels * dtype.itemsize
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if int(msg.step) < row_bytes or data.size != int(msg.step) * int(msg.height):
        raise ImageDecodeError(
            SIZE_MISMATCH, f"{msg.width}x{msg.height} {encoding} image has step {msg.step} and {data.size} bytes"
        )
    rows = np.ascontiguousarray(data.reshape(int(msg.height), int(msg.step))[:, :row_bytes])
    pixels = rows.view(dtype).astype(dtype.newbyteorder("="))
    return pixels.reshape(int(msg.height), int(msg.width), 3) if channels == 3 else pixels

"""sensor_msgs/Image and CompressedImage <-> numpy, with every check a live camera stream needs.

ROS-free: messages are read by attribute (``height``, ``width``, ``encoding``, ``is_bigendian``,
``step``, ``data``; ``format`` and ``data`` for compressed images), so rclpy messages, rosbags messages
and plain test objects all work. No cv_bridge: it is not installable from PyPI.

Decoding gives an H x W x 3 uint8 frame plus its channel order (``"bgr8"`` or ``"rgb8"``), which is
what ``skd_ros.core.preprocess`` takes; 8-bit colour images come back as views of the message buffer
(no copy), so the hot path only copies once, when the frame is shrunk to the model resolution.

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
KINDS = (EMPTY, UNSUPPORTED_ENCODING, BAD_STEP, SIZE_MISMATCH, UNDECODABLE)


class ImageDecodeError(ValueError):
    """An image message that cannot be turned into a frame; ``kind`` is one of ``KINDS``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class DecodedImage:
    """``pixels``: H x W x 3 uint8 (possibly a view with padded rows); ``order``: "bgr8" or "rgb8"."""

    pixels: np.ndarray
    order: str

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def as_bgr(self) -> np.ndarray:
        """The frame in BGR order (a copy only when it is RGB), for OpenCV drawing."""
        return self.pixels if self.order == "bgr8" else cv2.cvtColor(self.pixels, cv2.COLOR_RGB2BGR)


def decode_raw(msg) -> DecodedImage:
    """A sensor_msgs/Image -> DecodedImage. Supported encodings: ``RAW_ENCODINGS``.

    mono8 is expanded to three equal channels; mono16 is scaled to 8 bits (value / 256, as
    cv_bridge's mono16 -> mono8 does); the alpha channel of rgba8/bgra8 is dropped."""
    height, width, step, encoding = int(msg.height), int(msg.width), int(msg.step), str(msg.encoding)
    if height <= 0 or width <= 0:
        raise ImageDecodeError(EMPTY, f"image is empty ({width}x{height} {encoding})")
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
        return DecodedImage(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), "bgr8")
    pixels = rows.reshape(height, width, channels)
    if encoding == "mono8":
        return DecodedImage(cv2.cvtColor(pixels[:, :, 0], cv2.COLOR_GRAY2BGR), "bgr8")
    if encoding == "rgba8":
        return DecodedImage(cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB), "rgb8")
    if encoding == "bgra8":
        return DecodedImage(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR), "bgr8")
    return DecodedImage(pixels, encoding)


def decode_compressed(msg) -> DecodedImage:
    """A sensor_msgs/CompressedImage (JPEG, PNG, anything OpenCV reads) -> DecodedImage (BGR)."""
    fmt = str(msg.format)
    if "compressedDepth" in fmt:
        raise ImageDecodeError(UNSUPPORTED_ENCODING, f"compressed format {fmt!r} is a depth image, not a camera image")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageDecodeError(EMPTY, f"compressed image ({fmt!r}) has no data")
    try:
        pixels = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        pixels, reason = None, f": {exc}"
    else:
        reason = ""
    if pixels is None or pixels.size == 0:
        raise ImageDecodeError(
            UNDECODABLE, f"cannot decode compressed image (format {fmt!r}, {data.size} bytes){reason}"
        )
    return DecodedImage(pixels, "bgr8")


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

"""sensor_msgs/Image and CompressedImage <-> numpy (skd_ros.core.image_codec), with plain stand-in messages."""

import tracemalloc
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from skd_ros.core import image_codec
from skd_ros.core.image_codec import ImageDecodeError, decode_compressed, decode_output, decode_raw, encode

RNG = np.random.default_rng(7)
BGR = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)


def raw(pixels: np.ndarray, encoding: str, step_padding: int = 0, is_bigendian: int = 0, data=None):
    """A stand-in sensor_msgs/Image with rows padded by ``step_padding`` bytes."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).view(np.uint8)
    padded = np.zeros((height, rows.shape[1] + step_padding), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return SimpleNamespace(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=is_bigendian,
        step=padded.shape[1],
        data=bytearray(padded.tobytes()) if data is None else data,
    )


@pytest.mark.parametrize("padding", [0, 7])
@pytest.mark.parametrize(
    "encoding,pixels,expected_order,expected",
    [
        ("bgr8", BGR, "bgr8", BGR),
        ("rgb8", BGR[:, :, ::-1], "rgb8", BGR[:, :, ::-1]),
        ("bgra8", np.dstack([BGR, np.full(BGR.shape[:2], 9, np.uint8)]), "bgr8", BGR),
        ("rgba8", np.dstack([BGR[:, :, ::-1], np.full(BGR.shape[:2], 9, np.uint8)]), "rgb8", BGR[:, :, ::-1]),
        ("mono8", BGR[:, :, 0], "bgr8", np.repeat(BGR[:, :, :1], 3, axis=2)),
    ],
)
def test_raw_encodings_decode_to_three_channels(encoding, pixels, expected_order, expected, padding):
    decoded = decode_raw(raw(pixels, encoding, step_padding=padding))
    assert decoded.order == expected_order
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (6, 5, 3)
    np.testing.assert_array_equal(decoded.pixels, expected)
    np.testing.assert_array_equal(decoded.as_bgr(), BGR if encoding != "mono8" else expected)


def test_eight_bit_colour_is_a_view_of_the_message_buffer():
    msg = raw(BGR, "bgr8", step_padding=3)
    decoded = decode_raw(msg)
    assert np.shares_memory(decoded.pixels, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("is_bigendian", [0, 1])
def test_mono16_is_scaled_to_eight_bits_in_either_byte_order(is_bigendian):
    values = RNG.integers(0, 65536, size=(4, 3)).astype(">u2" if is_bigendian else "<u2")
    decoded = decode_raw(raw(values, "mono16", is_bigendian=is_bigendian))
    expected = (values.astype(np.uint32) >> 8).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(decoded.pixels[:, :, channel], expected)


@pytest.mark.parametrize(
    "change,kind,words",
    [
        (dict(encoding="yuv422"), image_codec.UNSUPPORTED_ENCODING, ["'yuv422'", "bgr8"]),
        (dict(encoding="BGR8"), image_codec.UNSUPPORTED_ENCODING, ["'BGR8'"]),
        (dict(width=0), image_codec.EMPTY, ["empty", "0x6"]),
        (dict(height=0), image_codec.EMPTY, ["empty", "5x0"]),
        (dict(step=14), image_codec.BAD_STEP, ["step 14", "15 bytes"]),
        (dict(data=bytearray(89)), image_codec.SIZE_MISMATCH, ["truncated", "89 bytes", "90"]),
        (dict(data=bytearray(91)), image_codec.SIZE_MISMATCH, ["too long", "91 bytes", "90"]),
        (dict(data=bytearray()), image_codec.SIZE_MISMATCH, ["truncated", "0 bytes"]),
    ],
)
def test_bad_raw_images_name_the_problem(change, kind, words):
    msg = raw(BGR, "bgr8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageDecodeError) as caught:
        decode_raw(msg)
    assert caught.value.kind == kind
    for word in words:
        assert word in str(caught.value)


def compressed(data: bytes, fmt: str = "jpeg"):
    return SimpleNamespace(format=fmt, data=data)


def test_png_decodes_exactly_and_jpeg_closely():
    smooth = cv2.GaussianBlur(RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8), (9, 9), 3)
    png = decode_compressed(compressed(cv2.imencode(".png", smooth)[1].tobytes(), "png"))
    assert png.order == "bgr8"
    np.testing.assert_array_equal(png.pixels, smooth)
    jpeg = decode_compressed(compressed(cv2.imencode(".jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()))
    assert jpeg.pixels.shape == smooth.shape
    assert np.abs(jpeg.pixels.astype(int) - smooth).mean() < 4


def test_grey_png_is_expanded_to_three_channels():
    grey = RNG.integers(0, 256, (10, 12), dtype=np.uint8)
    decoded = decode_compressed(compressed(cv2.imencode(".png", grey)[1].tobytes(), "png"))
    assert decoded.pixels.shape == (10, 12, 3)
    np.testing.assert_array_equal(decoded.pixels[:, :, 1], grey)


@pytest.mark.parametrize(
    "msg,kind,words",
    [
        (compressed(b"not an image at all"), image_codec.UNDECODABLE, ["cannot decode", "'jpeg'", "19 bytes"]),
        (compressed(cv2.imencode(".jpg", BGR)[1].tobytes()[:40]), image_codec.UNDECODABLE, ["cannot decode"]),
        (compressed(b""), image_codec.EMPTY, ["no data"]),
        (compressed(b"\x00" * 16, "16UC1; compressedDepth"), image_codec.UNSUPPORTED_ENCODING, ["depth"]),
    ],
)
def test_bad_compressed_images_name_the_problem(msg, kind, words):
    with pytest.raises(ImageDecodeError) as caught:
        decode_compressed(msg)
    assert caught.value.kind == kind
    for word in words:
        assert word in str(caught.value)


def test_a_png_chunk_that_declares_more_than_the_data_holds_is_refused_before_decoding():
    """Regression: OpenCV allocates and zero-fills what a chunk declares before reading it; one flipped bit in
    an IDAT length made a 1 KB message cost 1 GiB and 3 s."""
    data = bytearray(cv2.imencode(".png", BGR)[1].tobytes())
    idat = data.index(b"IDAT") - 4
    data[idat : idat + 4] = (2**30).to_bytes(4, "big")
    tracemalloc.start()
    with pytest.raises(ImageDecodeError) as caught:
        decode_compressed(compressed(bytes(data), "png"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert caught.value.kind == image_codec.UNDECODABLE
    assert "b'IDAT'" in str(caught.value) and "1,073,741,824 bytes" in str(caught.value)
    assert peak < 1 << 20
    whole = cv2.imencode(".png", BGR)[1].tobytes()
    assert image_codec.png_chunk_overrun(memoryview(whole)) is None  # a sound PNG walks to its IEND


@pytest.mark.parametrize("filler", [b"\xff", b"\xff\xe5\x00\x02"], ids=["fill bytes", "empty segments"])
def test_the_jpeg_header_walk_is_bounded(filler):
    """Regression: the walk to the frame header took a Python step per fill byte or empty segment (4 MB of them:
    0.6 s a message); beyond JPEG_HEADER_STEPS it now refuses."""
    jpeg = cv2.imencode(".jpg", BGR)[1].tobytes()
    few = jpeg[:2] + filler * 10 + jpeg[2:]
    assert decode_compressed(compressed(few)).pixels.shape == BGR.shape  # what encoders write still decodes
    maze = jpeg[:2] + filler * image_codec.JPEG_HEADER_STEPS + jpeg[2:]
    with pytest.raises(ImageDecodeError, match="within its first 4096 markers") as caught:
        decode_compressed(compressed(maze))
    assert caught.value.kind == image_codec.UNDECODABLE


@pytest.mark.parametrize(
    "encoding,pixels",
    [
        ("mono8", RNG.integers(0, 256, (7, 9), dtype=np.uint8)),
        ("32FC1", RNG.random((7, 9), dtype=np.float32)),
        ("rgb8", RNG.integers(0, 256, (7, 9, 3), dtype=np.uint8)),
    ],
)
def test_outputs_round_trip_through_image_fields(encoding, pixels):
    fields = encode(pixels[:, ::-1], encoding)  # a non-contiguous view is packed first
    assert (fields.height, fields.width, fields.encoding) == (7, 9, encoding)
    assert fields.step == 9 * pixels.itemsize * (3 if encoding == "rgb8" else 1)
    assert len(fields.data) == fields.step * fields.height
    msg = SimpleNamespace(**{k: getattr(fields, k) for k in ("height", "width", "encoding", "is_bigendian", "step")})
    msg.data = bytes(fields.data)
    np.testing.assert_array_equal(decode_output(msg), pixels[:, ::-1])


def test_big_endian_float_output_is_read_in_its_byte_order():
    values = RNG.random((3, 4), dtype=np.float32)
    msg = SimpleNamespace(
        height=3, width=4, encoding="32FC1", is_bigendian=1, step=16, data=values.astype(">f4").tobytes()
    )
    np.testing.assert_array_equal(decode_output(msg), values)


def test_encode_rejects_what_it_cannot_publish():
    with pytest.raises(ValueError, match="one of"):
        encode(np.zeros((2, 2), np.uint8), "bgr8")
    with pytest.raises(ValueError, match="2-D"):
        encode(np.zeros((2, 2, 3), np.uint8), "mono8")

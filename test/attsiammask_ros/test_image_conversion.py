"""Image conversion on hand-made arrays: every contract encoding, padded rows, 16-bit, Bayer, YUV, errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason="sensor_msgs not installed: run `make setup`")
from compressed_samples import png_declaring  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from attsiammask_ros.image_conversion import (  # noqa: E402
    MAX_COMPRESSED_PIXELS,
    SUPPORTED_ENCODINGS,
    bgr_to_image,
    compressed_size,
    compressed_to_bgr,
    image_to_bgr,
    mask_to_image,
)

RNG = np.random.default_rng(0)
BGR = RNG.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> object:
    """An Image message from an H x W (x C) array, each row followed by `pad` bytes of 0xAB padding."""
    height, width = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2" if bigendian else "<u2")
    row = pixels.reshape(height, -1).view(np.uint8).reshape(height, -1)
    padded = np.concatenate([row, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    msg = sensor_msgs.Image(height=height, width=width, encoding=encoding, is_bigendian=int(bigendian),
                            step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("encoding, pixels", [
    ("bgr8", BGR),
    ("rgb8", BGR[..., ::-1]),
    ("bgra8", np.dstack([BGR, np.full(BGR.shape[:2], 7, np.uint8)])),
    ("rgba8", np.dstack([BGR[..., ::-1], np.full(BGR.shape[:2], 7, np.uint8)])),
    ("8UC3", BGR),
])
def test_colour_encodings_give_the_same_bgr(encoding, pixels, pad):
    out = image_to_bgr(make_image(np.ascontiguousarray(pixels), encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (5, 6, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, BGR)


@pytest.mark.parametrize("pad", [0, 5])
def test_mono8_is_replicated_to_three_channels(pad):
    grey = RNG.integers(0, 256, size=(4, 7), dtype=np.uint8)
    out = image_to_bgr(make_image(grey, "mono8", pad))
    assert out.shape == (4, 7, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 2])
def test_mono16_is_scaled_to_8_bit_in_either_byte_order(bigendian, pad):
    values = np.array([[0, 255, 256, 1000], [32768, 65280, 65535, 12345]], dtype=np.uint16)
    out = image_to_bgr(make_image(values, "mono16", pad, bigendian))
    expected = np.array([[0, 0, 1, 3], [128, 255, 255, 48]], dtype=np.uint8)  # value >> 8
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 2], expected)


def test_bgr16_scaled_like_mono16():
    values = (BGR.astype(np.uint16) << 8) | 0x7F
    np.testing.assert_array_equal(image_to_bgr(make_image(values, "bgr16", 4, bigendian=True)), BGR)


def _mosaic(colour_bgr: tuple[int, int, int], pattern: str, size: int = 8) -> np.ndarray:
    """A Bayer mosaic of a uniform colour: `pattern` names the 2x2 cell's colours row by row."""
    value = {"b": colour_bgr[0], "g": colour_bgr[1], "r": colour_bgr[2]}
    mosaic = np.zeros((size, size), np.uint8)
    for i, letter in enumerate(pattern):
        mosaic[i // 2::2, i % 2::2] = value[letter]
    return mosaic


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("colour", [(0, 0, 200), (200, 0, 0), (0, 200, 0), (30, 90, 160)])
def test_bayer_patterns_demosaic_a_uniform_colour(pattern, colour):
    out = image_to_bgr(make_image(_mosaic(colour, pattern), f"bayer_{pattern}8", pad=2))
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(axis=0), colour, atol=2)


def test_bayer16_uses_the_top_byte():
    mosaic = _mosaic((10, 100, 200), "rggb").astype(np.uint16) << 8
    out = image_to_bgr(make_image(mosaic, "bayer_rggb16"))
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(axis=0), (10, 100, 200), atol=2)


def _yuv422(bgr: np.ndarray, order: str) -> np.ndarray:
    """Pack a BGR image as 4:2:2 in `order` ("uyvy" or "yuyv"), BT.601 video range (what cameras send)."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    y = np.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255)
    u = np.round(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255)
    v = np.round(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255)
    u, v = (u[:, 0::2] + u[:, 1::2]) / 2, (v[:, 0::2] + v[:, 1::2]) / 2
    packed = np.zeros((bgr.shape[0], bgr.shape[1] * 2), np.uint8)
    if order == "uyvy":
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = u, y[:, 0::2], v, y[:, 1::2]
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = y[:, 0::2], u, y[:, 1::2], v
    return packed.reshape(bgr.shape[0], bgr.shape[1], 2)


@pytest.mark.parametrize("encoding, order", [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuyv", "yuyv"),
                                             ("yuv422_yuy2", "yuyv")])
def test_yuv422_variants(encoding, order):
    flat = np.zeros((4, 8, 3), np.uint8)
    flat[:] = (40, 120, 200)
    out = image_to_bgr(make_image(_yuv422(flat, order), encoding, pad=4))
    np.testing.assert_allclose(out.astype(int), flat.astype(int), atol=6)


def test_every_supported_encoding_converts():
    for encoding in SUPPORTED_ENCODINGS:
        channels = {"yuv": 2}.get(encoding[:3], None)
        if encoding in ("uyvy", "yuyv"):
            channels = 2
        if channels is None:
            channels = 4 if encoding in ("bgra8", "rgba8", "8UC4", "bgra16", "rgba16") else (
                3 if encoding in ("bgr8", "rgb8", "8UC3", "bgr16", "rgb16") else 1)
        dtype = np.uint16 if encoding.endswith("16") or encoding == "16UC1" else np.uint8
        pixels = np.zeros((4, 6, channels), dtype)
        assert image_to_bgr(make_image(pixels, encoding, pad=1)).shape == (4, 6, 3), encoding


def test_result_does_not_share_memory_with_the_message():
    msg = make_image(BGR, "bgr8")
    out = image_to_bgr(msg)
    out[:] = 0
    np.testing.assert_array_equal(image_to_bgr(msg), BGR)


@pytest.mark.parametrize("mutate, words", [
    (lambda m: setattr(m, "encoding", "32FC1"), "unsupported image encoding '32FC1'"),
    (lambda m: setattr(m, "encoding", ""), "unsupported image encoding ''"),
    (lambda m: setattr(m, "step", 17), "step 17 is smaller than"),
    (lambda m: setattr(m, "data", bytes(20)), "truncated: 20 bytes, expected"),
    (lambda m: setattr(m, "width", 0), "zero size"),
    (lambda m: setattr(m, "height", 0), "zero size"),
])
def test_bad_images_raise_clear_errors(mutate, words):
    msg = make_image(BGR, "bgr8")
    mutate(msg)
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        image_to_bgr(msg)


def test_odd_width_yuv_is_rejected():
    msg = sensor_msgs.Image(height=2, width=3, encoding="yuyv", step=6)
    msg.data = bytes(12)
    with pytest.raises(ValueError, match="even width"):
        image_to_bgr(msg)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_compressed_png_and_jpeg(ext):
    frame = np.zeros((16, 24, 3), np.uint8)
    frame[:, :12] = (10, 200, 30)
    ok, buf = cv2.imencode(ext, frame)
    assert ok
    msg = sensor_msgs.CompressedImage(format=ext[1:])
    msg.data = buf.tobytes()
    out = compressed_to_bgr(msg)
    assert out.shape == (16, 24, 3) and out.dtype == np.uint8
    # away from the colour edge (JPEG rings there)
    np.testing.assert_allclose(out[:, :8].reshape(-1, 3).mean(axis=0), (10, 200, 30), atol=4)
    np.testing.assert_allclose(out[:, 16:].reshape(-1, 3).mean(axis=0), (0, 0, 0), atol=4)


def test_compressed_grey_png_becomes_bgr():
    ok, buf = cv2.imencode(".png", np.full((5, 5), 77, np.uint8))
    msg = sensor_msgs.CompressedImage(format="png")
    msg.data = buf.tobytes()
    np.testing.assert_array_equal(compressed_to_bgr(msg), np.full((5, 5, 3), 77, np.uint8))


@pytest.mark.parametrize("data, words", [(b"", "empty"), (b"\xff\xd8\xff\xe0garbage" * 10, "cannot decode")])
def test_corrupt_compressed_raises(data, words):
    msg = sensor_msgs.CompressedImage(format="jpeg")
    msg.data = data
    with pytest.raises(ValueError, match=words):
        compressed_to_bgr(msg)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_compressed_size_reads_the_header(ext):
    ok, buf = cv2.imencode(ext, np.zeros((21, 34, 3), np.uint8))
    assert compressed_size(buf) == (34, 21)
    assert compressed_size(png_declaring(70000, 3)) == (70000, 3)
    assert compressed_size(b"hello") is None                      # not a format Pillow knows: OpenCV decides


@pytest.mark.parametrize("width, height, words", [
    (9000, 8000, r"declares 9000x8000 pixels \(format 'png', \d+ bytes\), more than the 67108864"),   # above our limit
    (60000, 60000, "declares too many pixels"),                          # above Pillow's own bomb limit too
])
def test_compressed_bomb_is_refused_before_decoding(width, height, words):
    assert width * height > MAX_COMPRESSED_PIXELS
    msg = sensor_msgs.CompressedImage(format="png")
    msg.data = png_declaring(width, height)
    with pytest.raises(ValueError, match=words):
        compressed_to_bgr(msg)


def test_bgr_and_mask_messages_copy_the_header():
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 34
    img = bgr_to_image(BGR, header)
    assert (img.encoding, img.height, img.width, img.step, img.is_bigendian) == ("bgr8", 5, 6, 18, 0)
    assert img.header == header
    np.testing.assert_array_equal(image_to_bgr(img), BGR)
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    out = mask_to_image(mask, header)
    assert (out.encoding, out.height, out.width, out.step) == ("mono8", 5, 6, 6)
    assert out.header == header
    data = np.frombuffer(out.data, np.uint8).reshape(5, 6)
    np.testing.assert_array_equal(data, np.where(mask, 255, 0))
    with pytest.raises(ValueError):
        bgr_to_image(BGR[..., 0], header)
    with pytest.raises(ValueError):
        mask_to_image(BGR, header)

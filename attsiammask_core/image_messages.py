"""sensor_msgs/Image and CompressedImage contents -> numpy BGR arrays with numpy and OpenCV (cv_bridge is not on
PyPI). Works on any object with the message's fields (rclpy messages, rosbags' deserialised messages), so it needs
no ROS. Pure functions: they never modify their inputs, and arrays they return never share memory with a message.
"""
from __future__ import annotations

import io
import warnings
from typing import Any

import cv2
import numpy as np
from PIL import Image as PilImage
from PIL import UnidentifiedImageError

from attsiammask_core.compressed_headers import ContainerError, check_container

__all__ = ["SUPPORTED_ENCODINGS", "MAX_COMPRESSED_PIXELS", "image_to_bgr", "compressed_to_bgr", "compressed_size"]

# A compressed image declaring more pixels is refused before decoding: a few KB of PNG can declare gigapixels
# (a "decompression bomb"). 2^26 = 67 Mpx, e.g. 8192 x 8192; a 4K frame has 8.3 Mpx.
MAX_COMPRESSED_PIXELS = 1 << 26


def _cv(name: str, legacy: str) -> int:
    """OpenCV colour code by its standard name, falling back to the pre-5.0 (offset) Bayer name."""
    return int(getattr(cv2, name, getattr(cv2, legacy)))


# encoding -> (channels, bytes per channel, conversion of the HxWxC (or HxW) array to BGR uint8)
_BAYER = {
    "rggb": _cv("COLOR_BayerRGGB2BGR", "COLOR_BayerBG2BGR"),
    "bggr": _cv("COLOR_BayerBGGR2BGR", "COLOR_BayerRG2BGR"),
    "gbrg": _cv("COLOR_BayerGBRG2BGR", "COLOR_BayerGR2BGR"),
    "grbg": _cv("COLOR_BayerGRBG2BGR", "COLOR_BayerGB2BGR"),
}
_LAYOUT: dict[str, tuple[int, int]] = {
    "bgr8": (3, 1), "rgb8": (3, 1), "8UC3": (3, 1), "bgra8": (4, 1), "rgba8": (4, 1), "8UC4": (4, 1),
    "mono8": (1, 1), "8UC1": (1, 1), "mono16": (1, 2), "16UC1": (1, 2),
    "bgr16": (3, 2), "rgb16": (3, 2), "bgra16": (4, 2), "rgba16": (4, 2),
    # YUV 4:2:2, 2 bytes per pixel. ROS's "yuv422" is UYVY; "yuv422_yuy2"/"yuyv" are YUYV.
    "yuv422": (2, 1), "uyvy": (2, 1), "yuv422_yuy2": (2, 1), "yuyv": (2, 1),
    **{f"bayer_{p}8": (1, 1) for p in _BAYER}, **{f"bayer_{p}16": (1, 2) for p in _BAYER},
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUT)


def _to_bgr(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """HxWxC array in the message's channel order (already 8 bit) -> HxWx3 BGR uint8."""
    if encoding in ("bgr8", "8UC3", "bgr16"):
        return pixels.copy()
    if encoding in ("rgb8", "rgb16"):
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if encoding in ("bgra8", "8UC4", "bgra16"):
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    if encoding in ("rgba8", "rgba16"):
        return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGR)
    if encoding in ("mono8", "8UC1", "mono16", "16UC1"):
        return cv2.cvtColor(pixels[..., 0], cv2.COLOR_GRAY2BGR)
    if encoding in ("yuv422", "uyvy"):
        return cv2.cvtColor(pixels, cv2.COLOR_YUV2BGR_UYVY)
    if encoding in ("yuv422_yuy2", "yuyv"):
        return cv2.cvtColor(pixels, cv2.COLOR_YUV2BGR_YUY2)
    pattern = encoding[len("bayer_"):len("bayer_") + 4]
    return cv2.cvtColor(np.ascontiguousarray(pixels[..., 0]), _BAYER[pattern])


def pixel_rows(msg: Any, bytes_per_pixel: int) -> np.ndarray:
    """The (height, width x bytes_per_pixel) uint8 pixel bytes of a sensor_msgs/Image, row padding removed.

    ValueError naming the problem: zero size, step smaller than a row, data shorter than step x height.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ValueError(f"image has zero size ({width}x{height})")
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise ValueError(f"step {step} is smaller than width x bytes per pixel = {width} x {bytes_per_pixel} "
                         f"= {row_bytes} for {msg.encoding}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise ValueError(f"image data truncated: {data.size} bytes, expected step x height = {step} x {height} "
                         f"= {step * height}")
    return data[:step * height].reshape(height, step)[:, :row_bytes]


def image_to_bgr(msg: Any) -> np.ndarray:
    """sensor_msgs/Image -> H x W x 3 BGR uint8 (a new array).

    Handles every encoding in SUPPORTED_ENCODINGS, row padding (step > width * bytes per pixel) and
    big-endian 16-bit data; 16-bit values are scaled to 8 bit by 255/65535 (the top byte, as cv_bridge).
    Raises ValueError naming the problem: unknown encoding, zero size, step too small, truncated data.
    """
    encoding = msg.encoding
    layout = _LAYOUT.get(encoding)
    if layout is None:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    channels, depth = layout
    height, width = int(msg.height), int(msg.width)
    if channels == 2 and width % 2 and height > 0:
        raise ValueError(f"{encoding} (YUV 4:2:2) needs an even width, got {width}")
    if encoding.startswith("bayer_") and height > 0 and width > 0 and (width < 2 or height < 2):
        raise ValueError(f"{encoding} needs at least 2x2 pixels, got {width}x{height}")
    rows = pixel_rows(msg, channels * depth)
    if depth == 2:
        dtype = np.dtype(">u2" if msg.is_bigendian else "<u2")
        values = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
        pixels = (values >> 8).astype(np.uint8)
    else:
        pixels = rows.reshape(height, width, channels)
    return np.ascontiguousarray(_to_bgr(np.ascontiguousarray(pixels), encoding))


def compressed_to_bgr(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg, png, ...) -> H x W x 3 BGR uint8; ValueError when it cannot decode.

    Before decoding: the container (PNG, JPEG, WebP, TIFF, BMP or PNM/PAM, by its first bytes; anything else is
    refused) must hold every size it declares (compressed_headers.check_container), and the image must have at
    most MAX_COMPRESSED_PIXELS pixels. A refusal costs a pass over the message's bytes at most."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"compressed image is empty (format {msg.format!r})")
    try:  # every size the container declares must fit the message before a decoder allocates for it
        declared = check_container(data)
    except ContainerError as exc:
        raise ValueError(f"cannot decode compressed image (format {msg.format!r}, {data.size} bytes): {exc}") from None
    size = compressed_size(data) or declared
    if size[0] * size[1] > MAX_COMPRESSED_PIXELS:
        raise ValueError(f"compressed image declares {size[0]}x{size[1]} pixels (format {msg.format!r}, {data.size} "
                         f"bytes), more than the {MAX_COMPRESSED_PIXELS} this node decodes")
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None or frame.size == 0:
        raise ValueError(f"cannot decode compressed image (format {msg.format!r}, {data.size} bytes): corrupt or "
                         "not an image format OpenCV reads")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(frame)


def compressed_size(data: np.ndarray | bytes) -> tuple[int, int] | None:
    """(width, height) from a compressed image's header without decoding it (Pillow reads headers lazily;
    OpenCV has no header-only read); None when Pillow cannot read the header (OpenCV then decides).
    ValueError when the header declares more pixels than Pillow's own bomb limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PilImage.DecompressionBombWarning)
            with PilImage.open(io.BytesIO(bytes(data))) as image:
                return int(image.size[0]), int(image.size[1])
    except PilImage.DecompressionBombError as exc:
        raise ValueError(f"compressed image declares too many pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # unknown format or a corrupt header
        return None

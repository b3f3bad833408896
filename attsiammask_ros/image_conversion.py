"""sensor_msgs images <-> numpy arrays: decoding lives in attsiammask_core.image_messages (no ROS needed, the
offline bag reader uses it too); building Image messages from arrays is here."""
from __future__ import annotations

from typing import Any

import numpy as np

from attsiammask_core.image_messages import (
    MAX_COMPRESSED_PIXELS,
    SUPPORTED_ENCODINGS,
    compressed_size,
    compressed_to_bgr,
    image_to_bgr,
)

__all__ = ["SUPPORTED_ENCODINGS", "MAX_COMPRESSED_PIXELS", "image_to_bgr", "compressed_to_bgr", "bgr_to_image",
           "mask_to_image", "compressed_size"]


def _image(array: np.ndarray, encoding: str, header: Any) -> Any:
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.shape[1] * (array.shape[2] if array.ndim == 3 else 1))
    msg.data = np.ascontiguousarray(array).tobytes()
    return msg


def bgr_to_image(frame: np.ndarray, header: Any) -> Any:
    """H x W x 3 BGR uint8 -> sensor_msgs/Image bgr8 with ``header``."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 BGR array, got {frame.dtype} {frame.shape}")
    return _image(frame, "bgr8", header)


def mask_to_image(mask: np.ndarray, header: Any) -> Any:
    """H x W mask (bool, or uint8 where non-zero = target) -> sensor_msgs/Image mono8, 255 = target."""
    if mask.ndim != 2:
        raise ValueError(f"expected an H x W mask, got shape {mask.shape}")
    return _image(np.where(mask.astype(bool), np.uint8(255), np.uint8(0)), "mono8", header)

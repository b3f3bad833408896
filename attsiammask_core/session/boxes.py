"""Target boxes (x, y, w, h; top-left corner and size in pixels) checked against an image, and rescaled to a new
image size: pure functions."""
from __future__ import annotations

import math

__all__ = ["MIN_TARGET_SIZE", "MAX_TARGET_SCALE", "clip_target_xywh", "scale_xywh"]

# Smallest target side (pixels) a target request may have, before and after clipping to the image.
MIN_TARGET_SIZE = 4.0
# Largest target side accepted, in image sides: a box partly outside is clipped, but one many times the image is
# not in its pixel coordinates (normalised coordinates, another camera, a unit mistake).
MAX_TARGET_SCALE = 2.0


def clip_target_xywh(box: tuple[float, float, float, float], image_hw: tuple[int, int],
                     min_size: float = MIN_TARGET_SIZE,
                     max_scale: float = MAX_TARGET_SCALE) -> tuple[float, float, float, float]:
    """A target box (x, y, w, h) checked against an image of ``image_hw`` (height, width) and clipped to it.

    Raises ValueError saying what to fix: a value is not finite, a side is below ``min_size`` pixels or above
    ``max_scale`` times the image's side, the box does not overlap the image, or its visible part is below
    ``min_size``.
    """
    x, y, w, h = (float(v) for v in box)
    height, width = image_hw
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError(f"box (x={x:g}, y={y:g}, w={w:g}, h={h:g}) is not finite: send finite pixel coordinates")
    if w < min_size or h < min_size:
        raise ValueError(f"box size {w:g} x {h:g} px is below the minimum of {min_size:g} px per side: "
                         "draw a larger box")
    if w > max_scale * width or h > max_scale * height:
        raise ValueError(f"box size {w:g} x {h:g} px is more than {max_scale:g} times the {width}x{height} image: "
                         "send pixel coordinates of the image stream")
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box (x={x:g}, y={y:g}, w={w:g}, h={h:g}) does not overlap the {width}x{height} image: "
                         "use pixel coordinates of the image stream")
    if x1 - x0 < min_size or y1 - y0 < min_size:
        raise ValueError(f"only {x1 - x0:g} x {y1 - y0:g} px of the box lie inside the {width}x{height} image, "
                         f"below the minimum of {min_size:g} px per side: move the box into the image")
    return (x0, y0, x1 - x0, y1 - y0)


def scale_xywh(box: tuple[float, float, float, float], old_hw: tuple[int, int],
               new_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """A box on an image of ``old_hw`` scaled to the same place on an image of ``new_hw``."""
    sy, sx = new_hw[0] / old_hw[0], new_hw[1] / old_hw[1]
    x, y, w, h = box
    return (x * sx, y * sy, w * sx, h * sy)

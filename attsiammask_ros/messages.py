"""Tracker results <-> ROS messages: small pure functions, tested without spinning a node.

Boxes: ``xywh`` = (x, y, w, h), top-left corner and size in pixels; vision_msgs boxes are centre and size.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from attsiammask_core.stamps import format_stamp, stamp_to_ns  # noqa: F401 (part of this module's API)
from attsiammask_ros.parameters import MAX_TARGET_SCALE, MIN_TARGET_SIZE

__all__ = ["stamp_to_ns", "format_stamp", "xywh_from_bbox", "target_xywh_from_bbox", "clip_target_xywh",
           "scale_xywh", "detection_from_result", "confidence_message", "diagnostics_message", "debug_overlay"]


def xywh_from_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """vision_msgs/BoundingBox2D (centre, size; theta ignored) -> (x, y, w, h)."""
    w, h = float(bbox.size_x), float(bbox.size_y)
    return (float(bbox.center.position.x) - w / 2.0, float(bbox.center.position.y) - h / 2.0, w, h)


def target_xywh_from_bbox(bbox: Any, image_hw: tuple[int, int], min_size: float = MIN_TARGET_SIZE,
                          max_scale: float = MAX_TARGET_SCALE) -> tuple[float, float, float, float]:
    """A set_target box checked against an image of ``image_hw`` (height, width) and clipped to it.

    Raises ValueError saying what to fix: a value is not finite, or :func:`clip_target_xywh` refuses the box.
    """
    w, h = float(bbox.size_x), float(bbox.size_y)
    if not all(math.isfinite(v) for v in (bbox.center.position.x, bbox.center.position.y, w, h)):
        raise ValueError(f"box is not finite (center {bbox.center.position.x}, {bbox.center.position.y}, size "
                         f"{w} x {h}): send finite pixel coordinates")
    return clip_target_xywh(xywh_from_bbox(bbox), image_hw, min_size, max_scale)


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


def detection_from_result(result: Any, header: Any, track_id: str, class_id: str) -> Any:
    """TrackResult -> vision_msgs/Detection2D: axis-aligned bbox in pixels, one hypothesis (class_id, score)."""
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    x, y, w, h = (float(v) for v in result.box)
    detection = Detection2D()
    detection.header = header
    detection.id = track_id
    detection.bbox.center.position.x = x + w / 2.0
    detection.bbox.center.position.y = y + h / 2.0
    detection.bbox.center.theta = 0.0
    detection.bbox.size_x = w
    detection.bbox.size_y = h
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = class_id
    hypothesis.hypothesis.score = float(result.score)
    hypothesis.pose.pose.position.x = x + w / 2.0
    hypothesis.pose.pose.position.y = y + h / 2.0
    detection.results.append(hypothesis)
    return detection


def confidence_message(score: float | None) -> Any:
    """std_msgs/Float32 with the score (0 when idle: ``score`` None or not finite)."""
    from std_msgs.msg import Float32

    value = 0.0 if score is None or not math.isfinite(score) else float(score)
    return Float32(data=value)


def diagnostics_message(stamp: Any, name: str, state: str, values: Mapping[str, Any]) -> Any:
    """diagnostic_msgs/DiagnosticArray with one status: OK when idle or tracking, WARN when lost."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus()
    status.name = name
    status.level = DiagnosticStatus.WARN if state == "lost" else DiagnosticStatus.OK
    status.message = {"idle": "idle: no target set", "tracking": "tracking",
                      "lost": "target lost: searching"}.get(state, state)
    status.hardware_id = str(values.get("device", ""))
    status.values = [KeyValue(key="state", value=state)]
    status.values += [KeyValue(key=str(k), value=_text(v)) for k, v in values.items()]
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.2f}"
    return str(value)


def debug_overlay(frame: np.ndarray, result: Any | None, state: str, track_id: str = "") -> np.ndarray:
    """A copy of ``frame`` (BGR) with the mask tinted, the polygon and box drawn, and a state/score line."""
    out = frame.copy()
    colour = (0, 200, 0) if state == "tracking" else (0, 0, 255)
    if result is not None:
        mask = np.asarray(result.mask, dtype=bool)
        if mask.shape == out.shape[:2] and mask.any():
            tint = np.zeros_like(out)
            tint[mask] = colour
            out = cv2.addWeighted(out, 1.0, tint, 0.4, 0.0)
        x, y, w, h = (int(round(v)) for v in result.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 1)
        polygon = np.asarray(result.polygon, dtype=np.float64).reshape(-1, 2)
        if polygon.size and np.all(np.isfinite(polygon)):
            cv2.polylines(out, [np.round(polygon).astype(np.int32)], True, (255, 200, 0), 2)
        text = f"{state} {result.score:.2f} {track_id}"
    else:
        text = state
    cv2.putText(out, text, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out

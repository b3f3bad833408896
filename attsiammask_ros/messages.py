"""Tracker results <-> ROS messages: small pure functions, tested without spinning a node.

Boxes: ``xywh`` = (x, y, w, h), top-left corner and size in pixels; vision_msgs boxes are centre and size.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from attsiammask_core.session.boxes import MAX_TARGET_SCALE, MIN_TARGET_SIZE, clip_target_xywh, scale_xywh
from attsiammask_core.session.publication import DetectionFields, detection_fields
from attsiammask_core.session.results import TargetResult
from attsiammask_core.stamps import format_stamp, stamp_to_ns  # noqa: F401 (part of this module's API)
from attsiammask_core.track_state import TrackState

__all__ = ["stamp_to_ns", "format_stamp", "xywh_from_bbox", "target_xywh_from_bbox", "clip_target_xywh",
           "scale_xywh", "detection_message", "detection_from_result", "detections_message", "confidence_message",
           "diagnostics_message", "debug_overlay"]


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


def detection_message(fields: DetectionFields, header: Any) -> Any:
    """vision_msgs/Detection2D from the shared mapping (attsiammask_core.session.publication.DetectionFields)."""
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    detection = Detection2D()
    detection.header = header
    detection.id = fields.track_id
    detection.bbox.center.position.x = fields.center_x
    detection.bbox.center.position.y = fields.center_y
    detection.bbox.center.theta = 0.0
    detection.bbox.size_x = fields.size_x
    detection.bbox.size_y = fields.size_y
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = fields.class_id
    hypothesis.hypothesis.score = fields.score
    hypothesis.pose.pose.position.x = fields.center_x
    hypothesis.pose.pose.position.y = fields.center_y
    detection.results.append(hypothesis)
    return detection


def detection_from_result(result: Any, header: Any, track_id: str, class_id: str) -> Any:
    """TrackResult -> vision_msgs/Detection2D: axis-aligned bbox in pixels, one hypothesis (class_id, score)."""
    return detection_message(detection_fields(TargetResult(track_id, result), class_id), header)


def detections_message(detections: list[DetectionFields], header: Any) -> Any:
    """vision_msgs/Detection2DArray with one Detection2D per entry (empty when nothing is tracked)."""
    from vision_msgs.msg import Detection2DArray

    return Detection2DArray(header=header, detections=[detection_message(d, header) for d in detections])


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
    status.level = DiagnosticStatus.WARN if state == TrackState.LOST else DiagnosticStatus.OK
    status.message = {TrackState.IDLE: "idle: no target set", TrackState.TRACKING: "tracking",
                      TrackState.LOST: "target lost: searching"}.get(state, str(state))
    status.hardware_id = str(values.get("device", ""))
    status.values = [KeyValue(key="state", value=str(state))]
    status.values += [KeyValue(key=str(k), value=_text(v)) for k, v in values.items()]
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.2f}"
    return str(value)


def debug_overlay(frame: np.ndarray, result: Any | None, state: str, track_id: str = "", line: int = 0) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the mask tinted, the polygon and box drawn, and a state/score text line (the
    ``line``-th, for several targets)."""
    out = frame.copy()
    colour = (0, 200, 0) if state == TrackState.TRACKING else (0, 0, 255)
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
        text = f"{state} {getattr(result, 'presence', result.score):.2f} {track_id}"
    else:
        text = state
    cv2.putText(out, text, (5, 18 + 18 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out

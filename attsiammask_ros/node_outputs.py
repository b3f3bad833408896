"""The tracker node's outputs: its publishers, and the messages a processed frame's FramePublication becomes
(detection, detections, mask, masks, confidence, the debug image, and the 3D outputs per target)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from geometry_msgs.msg import PointStamped, Vector3Stamped
from sensor_msgs.msg import Image
from std_msgs.msg import Float32
from vision_msgs.msg import Detection2D, Detection2DArray, Detection3D, Detection3DArray

from attsiammask_core.session import FramePublication, FrameResult, frame_publication
from attsiammask_core.stamps import stamp_to_ns
from attsiammask_ros import messages
from attsiammask_ros import spatial as spatial_messages
from attsiammask_ros.image_conversion import bgr_to_image, mask_to_image
from attsiammask_ros.parameters import TrackerNodeParameters
from attsiammask_ros.spatial import SpatialOutputs

__all__ = ["NodeOutputs"]

Publisher = Callable[[type, str], Any]


class NodeOutputs:
    """Publishers made with ``make(kind, topic)``; the 3D ones only with ``spatial`` (and depth)."""

    def __init__(self, make: Publisher, spatial: SpatialOutputs | None, warn: Callable[[str], None]) -> None:
        self.spatial, self._warn = spatial, warn
        self.detection = make(Detection2D, "detection")
        self.detections = make(Detection2DArray, "detections")
        self.mask = make(Image, "mask")
        self.masks = make(Image, "masks")
        self.confidence = make(Float32, "confidence")
        self.debug = make(Image, "debug_image")
        if spatial is not None:
            self.ray = make(Vector3Stamped, "target/ray")
            if spatial.use_depth:
                self.point = make(PointStamped, "target/point")
                self.detection3d = make(Detection3D, "target/detection3d")
                self.detections3d = make(Detection3DArray, "target/detections3d")

    def publish(self, frame: np.ndarray, header: Any, result: FrameResult, settings: TrackerNodeParameters) -> None:
        """Everything one processed frame publishes (the rule: attsiammask_core.session.frame_publication)."""
        out = frame_publication(result, settings.target_class_id, settings.output_publish_mask)
        self.confidence.publish(messages.confidence_message(out.confidence))
        if out.detection is not None:
            self.detection.publish(messages.detection_message(out.detection, header))
        self.detections.publish(messages.detections_message(out.detections, header))
        if out.mask is not None:
            self.mask.publish(mask_to_image(out.mask, header))
        if out.labels is not None:
            self.masks.publish(mono8(out.labels, header))
        if self.spatial is not None and out.located:
            self._publish_spatial(frame, header, result, out, settings)
        if settings.output_publish_debug_image and self.debug.get_subscription_count() > 0:
            self.debug.publish(bgr_to_image(debug_image(frame, result), header))

    def _publish_spatial(self, frame: np.ndarray, header: Any, result: FrameResult, out: FramePublication,
                         settings: TrackerNodeParameters) -> None:
        """target/ray, target/point and target/detection3d for the first target while tracked, and
        target/detections3d for every tracked target; a missing input is counted, not fatal."""
        tolerance_ns = int(settings.input_sync_tolerance_ms * 1e6)
        boxes3d = []
        for target in out.located:
            where = self.spatial.compute(target.result, stamp_to_ns(header.stamp), frame.shape[:2], tolerance_ns)
            if where.problem:
                self._warn(f"no 3D output for this frame: {where.problem}")
            first = target is result.first
            if first and where.ray is not None:
                self.ray.publish(spatial_messages.ray_message(where.ray, header))
            if where.point is None:
                continue
            box3d = spatial_messages.detection3d_message(where.point, where.size, header, target.track_id,
                                                         settings.target_class_id, target.result.presence)
            boxes3d.append(box3d)
            if first:
                self.point.publish(spatial_messages.point_message(where.point, header))
                self.detection3d.publish(box3d)
        if self.spatial.use_depth:
            self.detections3d.publish(Detection3DArray(header=header, detections=boxes3d))


def mono8(labels: np.ndarray, header: Any) -> Image:
    """sensor_msgs/Image (mono8) of a uint8 label image."""
    return Image(header=header, height=labels.shape[0], width=labels.shape[1], encoding="mono8", is_bigendian=0,
                 step=labels.shape[1], data=np.ascontiguousarray(labels, dtype=np.uint8).tobytes())


def debug_image(frame: np.ndarray, result: FrameResult) -> np.ndarray:
    """The frame with every target's mask, polygon, box and a state/score line drawn."""
    if not result.targets:
        return messages.debug_overlay(frame, None, result.state)
    out = frame
    for line, target in enumerate(result.targets):
        out = messages.debug_overlay(out, target.result, target.result.state, target.track_id, line)
    return out

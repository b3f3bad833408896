"""What a processed frame publishes (the node's topics and the topics `track --bag` writes), and what a result
becomes in a vision_msgs/Detection2D: one rule for both, so they cannot disagree."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from attsiammask_core.session.results import FrameResult, TargetResult
from attsiammask_core.track_state import TrackState

__all__ = ["DetectionFields", "FramePublication", "detection_fields", "label_image", "frame_publication"]


@dataclass(frozen=True)
class DetectionFields:
    """The values of one vision_msgs/Detection2D: box centre and size (pixels, theta 0), id, one hypothesis
    (class_id, score = the target's presence confidence) whose pose position is the box centre."""

    track_id: str
    center_x: float
    center_y: float
    size_x: float
    size_y: float
    class_id: str
    score: float


def detection_fields(target: TargetResult, class_id: str) -> DetectionFields:
    """A target's result as Detection2D values: the axis-aligned box (x, y, w, h) -> centre and size."""
    x, y, w, h = (float(v) for v in target.result.box)
    return DetectionFields(target.track_id, x + w / 2.0, y + h / 2.0, w, h, class_id,
                           float(target.result.presence))


def label_image(targets: list[TargetResult], image_hw: tuple[int, int]) -> np.ndarray:
    """uint8 labels: 0 = background, k = the k-th of ``targets`` (1-based); where masks overlap the earlier wins."""
    labels = np.zeros(image_hw, dtype=np.uint8)
    for k, target in reversed(list(enumerate(targets, start=1))):
        mask = np.asarray(target.result.mask, dtype=bool)
        if mask.shape == labels.shape:
            labels[mask] = k
    return labels


@dataclass(frozen=True)
class FramePublication:
    """Everything one processed frame publishes.

    confidence: the first target's presence confidence (TrackResult.presence: the verifier's probability that the
    box holds the target, or the box head's score without a verifier; 0 without a target, or not finite);
    detection: the first target's
    Detection2D while it is tracked; mask: the first target's mask (when masks are published); detections: every
    tracked target, in target order (empty when none); labels: their label image when more than one target is set
    (and masks are published); located: the tracked targets, for the 3D outputs.
    """

    confidence: float
    detection: DetectionFields | None = None
    mask: np.ndarray | None = None
    detections: list[DetectionFields] = field(default_factory=list)
    labels: np.ndarray | None = None
    located: list[TargetResult] = field(default_factory=list)


def frame_publication(frame: FrameResult, class_id: str, publish_mask: bool = True) -> FramePublication:
    """The one rule for what a processed frame publishes (see FramePublication)."""
    first = frame.first
    score = float(first.result.presence) if first is not None else 0.0
    confidence = score if math.isfinite(score) else 0.0
    located = [t for t in frame.targets if t.result.state == TrackState.TRACKING]
    detections = [detection_fields(t, class_id) for t in located]
    detection = detections[0] if located and located[0] is first else None
    mask = np.asarray(first.result.mask, dtype=bool) if first is not None and publish_mask else None
    labels = label_image(located, frame.image_hw) if publish_mask and len(frame.targets) > 1 else None
    return FramePublication(confidence, detection, mask, detections, labels, located)

"""A ROS-free tracking session: several targets stepped together on each frame, stamp-matched initialisation on
buffered frames, the frame hand-off to one inference thread, per-frame results, statistics, and the rule for what
a frame publishes. Shared by the ROS node, the managed node, `attsiammask track --bag` and the target picker."""
from __future__ import annotations

from attsiammask_core.session.frames import FrameBuffer, FrameMatchError, match_frame
from attsiammask_core.session.handoff import FrameHandoff
from attsiammask_core.session.publication import DetectionFields, FramePublication, detection_fields, frame_publication
from attsiammask_core.session.results import FrameResult, TargetResult
from attsiammask_core.session.session import SessionError, TrackingSession
from attsiammask_core.session.statistics import LossStats, SessionStats
from attsiammask_core.session.targets import SessionTarget, check_target_id

__all__ = ["FrameBuffer", "FrameMatchError", "match_frame", "FrameHandoff", "DetectionFields", "FramePublication",
           "detection_fields", "frame_publication", "FrameResult", "TargetResult", "SessionError", "TrackingSession",
           "LossStats", "SessionStats", "SessionTarget", "check_target_id"]

"""Att-SiamMask single-object tracking: model, tracker, weights, evaluation and training (no ROS)."""

__version__ = "0.1.0"

from attsiammask_core.tracker import Tracker, TrackResult  # noqa: E402

__all__ = ["Tracker", "TrackResult", "__version__"]

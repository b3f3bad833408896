"""Att-SiamMask single-object tracking: model, tracker, weights, evaluation and training (no ROS)."""

__version__ = "0.1.0"

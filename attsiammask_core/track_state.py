"""The tracking state of a target, shared by the tracker, the tracking session, evaluation and the node."""
from __future__ import annotations

from enum import Enum

__all__ = ["TrackState"]


class TrackState(str, Enum):
    """A str enum: equal to its value ("idle", "tracking", "lost"), so logs, JSON records and messages keep the text."""

    IDLE = "idle"
    TRACKING = "tracking"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value

"""What one frame gave: each target's TrackResult under its id, in the session's target order."""
from __future__ import annotations

from dataclasses import dataclass, field

from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import TrackResult

__all__ = ["TargetResult", "FrameResult"]


@dataclass(frozen=True)
class TargetResult:
    """One target's result on one frame."""

    track_id: str
    result: TrackResult


@dataclass(frozen=True)
class FrameResult:
    """A processed frame: its stamp, size, and the results of every target (empty when none is set)."""

    stamp_ns: int
    image_hw: tuple[int, int]
    targets: list[TargetResult] = field(default_factory=list)
    track_ms: float = 0.0
    notes: list[str] = field(default_factory=list)  # what happened to targets on this frame (size changes)

    @property
    def first(self) -> TargetResult | None:
        """The first target's result (the single-target outputs follow it), or None."""
        return self.targets[0] if self.targets else None

    @property
    def state(self) -> TrackState:
        """The first target's state; IDLE without targets."""
        return self.targets[0].result.state if self.targets else TrackState.IDLE

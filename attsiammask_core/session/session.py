"""TrackingSession: the targets of one image stream, stepped together on each frame (no ROS).

Used by the tracker node and the managed node (from their callbacks and their inference thread), by `track --bag`,
and through its target ids by the target picker. Thread safety: a short lock guards the targets and the generation,
never a model call. set_target initialises a fresh copy of the tracker (same model) outside the lock, then swaps it
in and bumps the generation; clear only removes and bumps it. ``step`` tracks every target it took when the frame
started (one ``track_targets`` call) and hands the result on only if the generation is still the same, so after
set_target or clear returns no result of the targets before it is delivered (that frame is discarded and counted).
"""
from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np

from attsiammask_core.session.boxes import clip_target_xywh, scale_xywh
from attsiammask_core.session.frames import FrameBuffer, match_frame
from attsiammask_core.session.results import FrameResult, TargetResult
from attsiammask_core.session.statistics import SessionStats
from attsiammask_core.session.targets import SessionTarget, check_target_id, new_track_id
from attsiammask_core.stamps import format_stamp
from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import track_targets

__all__ = ["SessionError", "TrackingSession"]

T = TypeVar("T")
Box = tuple[float, float, float, float]


class SessionError(ValueError):
    """A target request the session refuses; the message says what to fix."""


class TrackingSession(Generic[T]):
    """Targets (each a copy of ``tracker`` with its id, in the order they were first set), a buffer of recent
    frames (items of type T, decoded on demand) for stamp-matched initialisation, and the session's statistics."""

    def __init__(self, tracker: Any, config: Any = None, *, max_targets: int = 4, frame_buffer: int = 30) -> None:
        self._prototype = tracker
        self._config = tracker.config if config is None else config
        tracker.config = self._config
        self.max_targets = int(max_targets)
        self.frames: FrameBuffer[T] = FrameBuffer(frame_buffer)
        self.stats = SessionStats()
        self._lock = threading.Lock()
        self._targets: dict[str, SessionTarget] = {}
        self._generation = 0

    # ---- what is tracked -------------------------------------------------------------------------------------
    @property
    def tracker(self) -> Any:
        """The tracker every target is copied from (its model and current config)."""
        return self._prototype

    @property
    def targets(self) -> list[SessionTarget]:
        """The targets in order (the first one drives the single-target outputs)."""
        with self._lock:
            return list(self._targets.values())

    @property
    def first(self) -> SessionTarget | None:
        with self._lock:
            return next(iter(self._targets.values()), None)

    @property
    def state(self) -> TrackState:
        """The first target's state; IDLE without targets."""
        first = self.first
        return first.state if first is not None else TrackState.IDLE

    def configure(self, config: Any, max_targets: int | None = None) -> None:
        """New tracking settings for every target (fields no cached state depends on) and the target limit."""
        with self._lock:
            self._config = config
            self._prototype.config = config
            for target in self._targets.values():
                target.tracker.config = config
            if max_targets is not None:
                self.max_targets = int(max_targets)

    # ---- targets ---------------------------------------------------------------------------------------------
    def set_target(self, frame: np.ndarray, box: Box, stamp_ns: int, target_id: str = "") -> SessionTarget:
        """Initialise a target on ``frame``: an empty id replaces every target with a new one, a new id adds one
        (up to max_targets), an existing id re-initialises it. SessionError says why it is refused."""
        target_id = self._admit(target_id)
        tracker = copy.copy(self._prototype)  # shares the model and settings; init gives it its own state
        try:
            tracker.init(frame, box)
        except ValueError as exc:  # the current targets stay as they were
            raise SessionError(f"the tracker rejected the target: {exc}") from None
        target = SessionTarget(target_id or new_track_id(), tracker, int(stamp_ns), tuple(frame.shape[:2]),
                               tuple(float(v) for v in box))
        with self._lock:
            if target_id and target_id not in self._targets and len(self._targets) >= self.max_targets:
                raise SessionError(self._full_message())  # another request took the last place meanwhile
            replaced = list(self._targets) if not target_id else [target_id] if target_id in self._targets else []
            for track_id in replaced:
                self.stats.remove(track_id)
            if not target_id:
                self._targets.clear()
            tracker.config = self._config  # parameters changed meanwhile
            self._targets[target.track_id] = target
            self._generation += 1
        return target

    def set_target_at(self, stamp_ns: int, tolerance_ns: int, decode: Callable[[T], np.ndarray],
                      box_for: Callable[[np.ndarray], Box], target_id: str = "",
                      source: str = "the image topic") -> tuple[SessionTarget, np.ndarray]:
        """set_target on the buffered frame stamped ``stamp_ns`` (0: the latest) within ``tolerance_ns``;
        ``decode`` turns a buffered item into a BGR frame, ``box_for`` checks the request's box against it
        (ValueError). Returns the target and the frame; SessionError says why it is refused."""
        target_id = self._admit(target_id)
        image_stamp, item = match_frame(self.frames, stamp_ns, tolerance_ns, source)
        try:
            frame = decode(item)
        except ValueError as exc:
            raise SessionError(f"the image stamped {format_stamp(image_stamp)} cannot be decoded: {exc}") from None
        try:
            box = box_for(frame)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        return self.set_target(frame, box, image_stamp, target_id), frame

    def clear(self, target_id: str = "") -> list[str]:
        """Remove one target (its id) or every target (empty id); the ids removed (none: no such target)."""
        with self._lock:
            if not target_id:
                removed = list(self._targets)
                self._targets.clear()
            else:
                removed = [target_id] if self._targets.pop(target_id, None) is not None else []
            for track_id in removed:
                self.stats.remove(track_id)
            self._generation += 1
        return removed

    def _admit(self, target_id: str) -> str:
        try:
            target_id = check_target_id(target_id)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        with self._lock:
            if target_id and target_id not in self._targets and len(self._targets) >= self.max_targets:
                raise SessionError(self._full_message())
        return target_id

    def _full_message(self) -> str:
        return (f"already tracking {len(self._targets)} target(s) ({', '.join(self._targets)}), the most "
                f"tracking.max_targets allows ({self.max_targets}): clear one, reuse an id, or raise the limit")

    # ---- frames ----------------------------------------------------------------------------------------------
    def step(self, frame: np.ndarray, stamp_ns: int,
             deliver: Callable[[FrameResult], None] | None = None) -> FrameResult | None:
        """Track every target on ``frame`` (one track_targets call); ``deliver`` gets the result while no target
        can change. None (and counted discarded) when set_target or clear changed the targets meanwhile."""
        with self._lock:
            generation, targets = self._generation, list(self._targets.values())
        notes: list[str] = []
        live = [t for t in targets if t.image_hw == frame.shape[:2] or self._reinitialise(t, frame, notes)]
        start = time.perf_counter()
        results = track_targets([t.tracker for t in live], frame) if live else []
        track_ms = (time.perf_counter() - start) * 1000.0
        with self._lock:
            if generation != self._generation:
                self.stats.discarded += 1
                return None
            for gone in (t for t in targets if t not in live):
                self._targets.pop(gone.track_id, None)
                self.stats.remove(gone.track_id)
                self._generation += 1
            for target, result in zip(live, results, strict=True):
                target.box, target.state = result.box, result.state
                self.stats.target(target.track_id).update(result.state, stamp_ns)
            if live:
                self.stats.track_ms.append(track_ms)
            frame_result = FrameResult(int(stamp_ns), tuple(frame.shape[:2]),
                                       [TargetResult(t.track_id, r) for t, r in zip(live, results, strict=True)],
                                       track_ms, notes)
            if deliver is not None:
                deliver(frame_result)
        return frame_result

    def _reinitialise(self, target: SessionTarget, frame: np.ndarray, notes: list[str]) -> bool:
        """The image size changed mid-track: start again on this frame with the last box scaled to it; False (and
        a note asking for a new target) when the tracker refuses the scaled box."""
        old_hw, new_hw = target.image_hw, tuple(frame.shape[:2])
        change = (f"image size changed from {old_hw[1]}x{old_hw[0]} to {new_hw[1]}x{new_hw[0]}: "
                  f"track {target.track_id}")
        try:
            box = clip_target_xywh(scale_xywh(target.box, old_hw, new_hw), new_hw)
            target.tracker.init(frame, box)
        except ValueError as exc:
            notes.append(f"{change} cannot go on, its box scaled to the new size is refused ({exc}): call "
                         "set_target again")
            return False
        notes.append(f"{change} re-initialised on the box scaled to ({', '.join(f'{v:.1f}' for v in box)})")
        target.image_hw, target.box = new_hw, box
        self.stats.reinitialised += 1
        return True

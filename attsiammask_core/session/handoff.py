"""The hand-off of frames from a receiving thread to the one inference thread: only the newest frame waits."""
from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["FrameHandoff"]

T = TypeVar("T")


class FrameHandoff(Generic[T]):
    """One slot for the newest frame: ``put`` replaces a frame not yet taken (and says so, to count it dropped);
    ``take`` waits for a frame, or returns None once ``stop`` was called."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: tuple[T, float] | None = None
        self._stopping = False

    def put(self, item: T) -> bool:
        """Offer the newest frame (with its arrival time); True when it replaced one that was never taken."""
        with self._cond:
            replaced = self._pending is not None
            self._pending = (item, time.monotonic())
            self._cond.notify()
            return replaced

    def take(self) -> tuple[T, float] | None:
        """The newest frame and its arrival time (time.monotonic), waiting for one; None after stop()."""
        with self._cond:
            while self._pending is None and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            item, self._pending = self._pending, None
            return item

    def discard(self) -> None:
        """Forget a frame not yet taken (the managed node's deactivation)."""
        with self._cond:
            self._pending = None

    def stop(self) -> None:
        """Wake the waiting thread for good: every later take() returns None."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

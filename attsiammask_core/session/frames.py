"""Recent frames keyed by stamp (nanoseconds) for stamp-matched target initialisation: a thread-safe ring buffer
and the rule that picks the frame a request means."""
from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from attsiammask_core.stamps import format_stamp

__all__ = ["FrameBuffer", "FrameMatchError", "match_frame"]

T = TypeVar("T")


class FrameBuffer(Generic[T]):
    """The ``capacity`` most recent (stamp_ns, item) pairs in arrival order; the oldest is dropped first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._items: deque[tuple[int, T]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._items.maxlen or 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def push(self, stamp_ns: int, item: T) -> None:
        """Add an item (the oldest goes when full)."""
        with self._lock:
            self._items.append((int(stamp_ns), item))

    def latest(self) -> tuple[int, T] | None:
        """The most recently pushed (stamp_ns, item), or None when empty."""
        with self._lock:
            return self._items[-1] if self._items else None

    def find(self, stamp_ns: int, tolerance_ns: int = 0) -> tuple[int, T] | None:
        """The item whose stamp is nearest ``stamp_ns`` within ``tolerance_ns`` (ties: the newer), or None."""
        best: tuple[int, T] | None = None
        best_diff = None
        with self._lock:
            for entry in reversed(self._items):
                diff = abs(entry[0] - int(stamp_ns))
                if diff <= tolerance_ns and (best_diff is None or diff < best_diff):
                    best, best_diff = entry, diff
        return best

    def stamps(self) -> list[int]:
        """Stamps in arrival order (oldest first)."""
        with self._lock:
            return [stamp for stamp, _ in self._items]

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest items."""
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        with self._lock:
            self._items = deque(self._items, maxlen=capacity)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class FrameMatchError(ValueError):
    """No buffered frame fits a stamp: the message says why and what to send instead."""


def match_frame(frames: FrameBuffer[T], stamp_ns: int, tolerance_ns: int, source: str = "the image topic"
                ) -> tuple[int, T]:
    """The buffered (stamp_ns, item) a target request means: the latest for stamp 0, else the one whose stamp is
    within ``tolerance_ns``; FrameMatchError saying why there is none (nothing received, newer, evicted, between)."""
    latest = frames.latest()
    if latest is None:
        raise FrameMatchError(f"no image received yet on {source}: publish images (check the topic name and "
                              "input.reliability) before setting a target")
    if stamp_ns == 0:
        return latest
    entry = frames.find(stamp_ns, tolerance_ns)
    if entry is not None:
        return entry
    stamps = frames.stamps()
    if stamp_ns > max(stamps) + tolerance_ns:
        where = "it is newer than every buffered image (from the future, or another clock?)"
    elif stamp_ns < min(stamps) - tolerance_ns:
        where = (f"it is older than every buffered image (evicted from the buffer of {frames.capacity} images, "
                 "target.frame_buffer, or never received)")
    else:
        where = "it lies between buffered images"
    raise FrameMatchError(
        f"no buffered image has stamp {format_stamp(stamp_ns)} (tolerance {tolerance_ns / 1e6:g} ms): {where}; "
        f"the buffer holds {len(stamps)} image(s) stamped {format_stamp(min(stamps))} to "
        f"{format_stamp(max(stamps))}: use the stamp of a recent image, or 0 for the latest")

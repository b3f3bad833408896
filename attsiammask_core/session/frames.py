"""A thread-safe ring buffer of recent images keyed by stamp (nanoseconds), for stamp-matched set_target."""
from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["FrameBuffer"]

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

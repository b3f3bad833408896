"""Log throttling for the node's warnings: a broken stream repeats its problem every frame."""
from __future__ import annotations

import re
import threading
import time

__all__ = ["WarningThrottle"]

_THROTTLE_S = 5.0


class WarningThrottle:
    """Which warnings to log: each kind of text (its numbers ignored) at most once per ``period`` s, and at most
    ``burst`` lines per period in all. A broken stream repeats its problem every frame, with sizes or stamps
    that vary; a different problem still shows at once."""

    def __init__(self, period: float = _THROTTLE_S, burst: int = 10) -> None:
        self.period, self.burst = period, burst
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, text: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = re.sub(r"\d+", "#", text)
        with self._lock:
            self._last = {k: t for k, t in self._last.items() if now - t < self.period}
            if key in self._last or len(self._last) >= self.burst:
                return False
            self._last[key] = now
            return True


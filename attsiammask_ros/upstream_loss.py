"""The node's report of frames lost before it (attsiammask_core.stream_loss): /diagnostics values and the
warning that names the fix (the Fast DDS profile for large images on both sides)."""
from __future__ import annotations

import time
from collections.abc import Callable

from attsiammask_core.stream_loss import StreamLoss, StreamLossMonitor

__all__ = ["UpstreamLoss", "WARN_PCT", "WARN_MIN_FRAMES", "WARN_EVERY_S", "loss_warning"]

WARN_PCT = 10.0          # warn when more than this share of the recent frames was lost upstream
WARN_MIN_FRAMES = 30     # ... out of at least this many sent
WARN_EVERY_S = 30.0
FIX = ("for large raw images set FASTDDS_DEFAULT_PROFILES_FILE=<share>/attsiammask_ros/config/"
       "fastdds_large_images.xml in the camera driver's process as well as this node's (tracker.launch.py "
       "dds_profile:=true does it for the node); see docs/troubleshooting.md")


def loss_warning(recent: StreamLoss, topic: str) -> str | None:
    """The warning for the recent loss, or None when it is low or too few frames were sent."""
    if recent.received + recent.lost < WARN_MIN_FRAMES or recent.loss_pct <= WARN_PCT:
        return None
    return (f"{recent.loss_pct:.0f}% of the frames on {topic} were lost before this node over the last "
            f"{recent.received + recent.lost} (gaps in the stamps against the stream's period of "
            f"{recent.period_ms:.1f} ms): {FIX}")


class UpstreamLoss:
    """A StreamLossMonitor fed by the image callback, read once a second by the diagnostics timer."""

    def __init__(self) -> None:
        self.monitor = StreamLossMonitor()
        self._warned_at = -float("inf")

    def add(self, stamp_ns: int) -> None:
        self.monitor.add(stamp_ns)

    def values(self, topic: str, warn: Callable[[str], None]) -> dict[str, float | int]:
        """Update, call ``warn(text)`` at most every WARN_EVERY_S while the loss is high; the diagnostics values."""
        try:
            self.monitor.update()
        except (ValueError, ArithmeticError) as exc:  # never let the estimate stop the diagnostics timer
            warn(f"upstream loss estimate failed: {exc}")
        total, recent = self.monitor.loss(), self.monitor.loss(recent=True)
        text = loss_warning(recent, topic)
        now = time.monotonic()
        if text is not None and now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            warn(text)
        return {"frames lost upstream": total.lost, "upstream loss %": recent.loss_pct,
                "upstream loss % since start": total.loss_pct, "upstream period ms": total.period_ms,
                "upstream stamp jumps back": total.jumps_back}

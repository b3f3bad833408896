"""Frames lost before a subscriber, estimated from the gaps between the stamps it received: a gap of about k times
the stream's own period means k - 1 frames never arrived.

The period is the median of the gaps within half a period of it (iterated from the 5th percentile of the recent
gaps, the shortest common gap), so it holds with most frames lost, with jitter (a gap is rounded to whole
periods) and after a rate change (only recent gaps count). A stamp that goes back (a bag played with --loop, a
restarted camera) starts over without counting a loss, and so does a pause longer than PAUSE_S and PAUSE_PERIODS
periods (a stopped publisher is not a lossy one). Limits: a stream that keeps exactly every k-th frame looks like
a k times slower stream (no loss), and with more than about 95% lost the shortest common gap is several periods.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GapCount", "StreamLoss", "StreamLossMonitor", "stream_period_ns", "count_gaps", "estimate_loss",
           "PAUSE_S", "PAUSE_PERIODS", "PERIOD_WINDOW"]

PAUSE_S = 5.0            # a gap longer than this (and than PAUSE_PERIODS periods) is a pause, not lost frames
PAUSE_PERIODS = 10
PERIOD_WINDOW = 300      # recent gaps the period is taken from (10 s at 30 Hz)
_NS = 1_000_000_000


def stream_period_ns(gaps_ns: Sequence[int] | np.ndarray) -> float | None:
    """The stream's period from the gaps between received stamps (ns); None with fewer than 3 positive ones.

    Gaps under a quarter of the 25th percentile are left out (frames stamped on arrival that came in a bunch)."""
    gaps = np.asarray(gaps_ns, dtype=np.float64)
    gaps = gaps[gaps > 0]
    if gaps.size < 3:
        return None
    gaps = gaps[gaps >= 0.25 * np.percentile(gaps, 25)]
    period = float(np.percentile(gaps, 5, method="lower"))  # a gap itself: its window is never empty
    for _ in range(20):  # the median of the gaps within half a period of it, to its fixed point
        near = gaps[(gaps >= 0.5 * period) & (gaps <= 1.5 * period)]
        updated = float(np.percentile(near, 50, method="lower"))
        if abs(updated - period) <= 1e-3 * period:
            return updated
        period = updated
    return period


@dataclass(frozen=True)
class GapCount:
    """What a run of gaps says: frames received after a gap, frames estimated lost, stamps going back, pauses."""

    received: int = 0
    lost: int = 0
    jumps_back: int = 0
    pauses: int = 0

    def plus(self, other: GapCount) -> GapCount:
        return GapCount(self.received + other.received, self.lost + other.lost, self.jumps_back + other.jumps_back,
                        self.pauses + other.pauses)


def count_gaps(gaps_ns: Iterable[int], period_ns: float) -> GapCount:
    """Frames lost in a run of gaps: per stretch between jumps back (gap <= 0) and pauses, round(its length /
    period) minus the frames received in it (so a late frame followed by an early one loses nothing)."""
    if not period_ns > 0:
        raise ValueError(f"period must be positive, got {period_ns}")
    pause_ns = max(PAUSE_S * _NS, PAUSE_PERIODS * period_ns)
    received = lost = back = pauses = 0
    span, frames = 0, 0

    def close() -> int:
        return max(int(round(span / period_ns)) - frames, 0)

    for gap in gaps_ns:
        received += 1
        if gap <= 0 or gap > pause_ns:
            back, pauses = back + (gap <= 0), pauses + (gap > pause_ns)
            lost += close()
            span, frames = 0, 0
        else:
            span, frames = span + gap, frames + 1
    lost += close()
    return GapCount(received, lost, back, pauses)


@dataclass(frozen=True)
class StreamLoss:
    """Frames received and estimated lost, the period they were measured against (NaN: not known yet)."""

    received: int
    lost: int
    period_ms: float
    jumps_back: int = 0
    pauses: int = 0

    @property
    def loss_pct(self) -> float:
        """Lost as a share of the frames sent (received + lost), in %; 0 with nothing."""
        sent = self.received + self.lost
        return 100.0 * self.lost / sent if sent else 0.0


def estimate_loss(stamps_ns: Sequence[int]) -> StreamLoss:
    """The loss in a run of received stamps (in arrival order), against the run's own median period."""
    gaps = np.diff(np.asarray(stamps_ns, dtype=np.int64))
    period = stream_period_ns(gaps)
    if period is None:
        return StreamLoss(len(stamps_ns), 0, float("nan"))
    count = count_gaps(gaps.tolist(), period)
    return StreamLoss(count.received + 1, count.lost, period / 1e6, count.jumps_back, count.pauses)


class StreamLossMonitor:
    """The node's running estimate: ``add`` each received stamp, ``update`` (about once a second) counts the gaps
    since the last update against the period of the recent gaps; totals since start and over the last updates."""

    def __init__(self, recent_updates: int = 10) -> None:
        self._lock = threading.Lock()
        self._last_stamp: int | None = None
        self._pending: list[int] = []       # gaps added since the last update
        self._uncounted: list[int] = []     # gaps not counted yet (no period known)
        self._window: deque[int] = deque(maxlen=PERIOD_WINDOW)
        self._recent: deque[GapCount] = deque(maxlen=recent_updates)
        self.total = GapCount()
        self.period_ns: float | None = None

    def add(self, stamp_ns: int) -> None:
        with self._lock:
            if self._last_stamp is not None:
                self._pending.append(int(stamp_ns) - self._last_stamp)
            self._last_stamp = int(stamp_ns)

    def update(self) -> GapCount:
        """Count the gaps received since the last call; the counts of these gaps."""
        with self._lock:
            fresh, self._pending = self._pending, []
        self._window.extend(fresh)
        self._uncounted.extend(fresh)
        period = stream_period_ns(self._window)
        if period is None:  # too few gaps yet: count them at a later update
            return GapCount()
        pending, self._uncounted = self._uncounted, []
        self.period_ns = period
        count = count_gaps(pending, period)
        self.total = self.total.plus(count)
        self._recent.append(count)
        return count

    def recent(self) -> GapCount:
        """The counts over the last ``recent_updates`` updates."""
        out = GapCount()
        for count in self._recent:
            out = out.plus(count)
        return out

    def loss(self, recent: bool = False) -> StreamLoss:
        count = self.recent() if recent else self.total
        period_ms = self.period_ns / 1e6 if self.period_ns else float("nan")
        return StreamLoss(count.received, count.lost, period_ms, count.jumps_back, count.pauses)

"""Counts and timings of a tracking session: frames in and out, and per target how often and how fast a lost
target was found again (re-acquisition: a lost -> tracking transition; its time runs from the first lost frame)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from attsiammask_core.stats import median, percentile
from attsiammask_core.track_state import TrackState

__all__ = ["LATENCY_WINDOW", "LossStats", "SessionStats"]

LATENCY_WINDOW = 200
_NS_PER_S = 1e9


@dataclass
class LossStats:
    """Losses of one target (or of every target together): frames lost, re-acquisitions and their delays."""

    frames: int = 0
    frames_lost: int = 0
    reacquisitions: int = 0
    reacquire_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    reacquire_frames: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    _lost_since: tuple[int, int] | None = None  # (stamp_ns, frame count) of the first frame of the current loss

    def update(self, state: TrackState, stamp_ns: int) -> None:
        """Count one frame of this target in ``state``."""
        self.frames += 1
        if state == TrackState.LOST:
            self.frames_lost += 1
            if self._lost_since is None:
                self._lost_since = (int(stamp_ns), self.frames)
        elif state == TrackState.TRACKING and self._lost_since is not None:
            since_ns, since_frame = self._lost_since
            self.reacquisitions += 1
            self.reacquire_s.append(max(int(stamp_ns) - since_ns, 0) / _NS_PER_S)
            self.reacquire_frames.append(self.frames - since_frame)
            self._lost_since = None

    def merge(self, other: LossStats) -> None:
        """Add ``other``'s counts and delays (a removed target's, into the session's total)."""
        self.frames += other.frames
        self.frames_lost += other.frames_lost
        self.reacquisitions += other.reacquisitions
        self.reacquire_s.extend(other.reacquire_s)
        self.reacquire_frames.extend(other.reacquire_frames)

    def values(self, prefix: str = "") -> dict[str, float | int]:
        """Named values for diagnostics: frames lost, re-acquisitions, last and median time to re-acquire."""
        last_s = self.reacquire_s[-1] if self.reacquire_s else float("nan")
        last_frames = self.reacquire_frames[-1] if self.reacquire_frames else float("nan")
        return {f"{prefix}frames lost": self.frames_lost, f"{prefix}re-acquisitions": self.reacquisitions,
                f"{prefix}re-acquire last s": last_s, f"{prefix}re-acquire median s": median(self.reacquire_s),
                f"{prefix}re-acquire last frames": last_frames,
                f"{prefix}re-acquire median frames": median(self.reacquire_frames)}


@dataclass
class SessionStats:
    """Frame counts (received, processed, dropped, ...), recent latencies, and loss statistics per target."""

    received: int = 0
    last_stamp_ns: int = 0       # the header stamp of the last image received (0: none yet)
    processed: int = 0
    dropped: int = 0
    bad_images: int = 0
    errors: int = 0
    reinitialised: int = 0
    qos_incompatible: int = 0
    discarded: int = 0           # frames tracked for targets that set/clear_target changed meanwhile
    last_bad_image: str = ""     # why the last dropped image could not be decoded
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    track_ms: deque = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    targets: dict[str, LossStats] = field(default_factory=dict)
    removed: LossStats = field(default_factory=LossStats)  # targets cleared or replaced

    def target(self, track_id: str) -> LossStats:
        """The loss statistics of one target (made on first use)."""
        return self.targets.setdefault(track_id, LossStats())

    def remove(self, track_id: str) -> None:
        """A target went away: its counts stay in the total."""
        gone = self.targets.pop(track_id, None)
        if gone is not None:
            self.removed.merge(gone)

    def total(self) -> LossStats:
        """Every target's losses together, removed targets included."""
        total = LossStats()
        total.merge(self.removed)
        for stats in list(self.targets.values()):
            total.merge(stats)
        return total

    def values(self) -> dict[str, float | int | str]:
        """Named values for diagnostics: counts, latency percentiles, losses in total and per target."""
        values: dict[str, float | int | str] = {
            "latency p50 ms": percentile(self.latencies_ms, 50), "latency p95 ms": percentile(self.latencies_ms, 95),
            "track p50 ms": percentile(self.track_ms, 50), "received frames": self.received,
            "last image stamp ns": self.last_stamp_ns, "processed frames": self.processed,
            "dropped frames": self.dropped, "bad images": self.bad_images,
            "last bad image": self.last_bad_image, "errors": self.errors, "discarded frames": self.discarded}
        values.update(self.total().values())
        for track_id, stats in list(self.targets.items()):
            values.update(stats.values(f"target {track_id} "))
        return values

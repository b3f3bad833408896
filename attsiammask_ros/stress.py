"""`attsiammask stress`: load and soak test of the installed ``tracker_node`` with a camera-like image stream.

The node runs as a child process (the embedded lite model, localhost DDS, Fast DDS shared memory with segments
sized for the images), and this process publishes ``sensor_msgs/Image`` bgr8 messages, best effort like a camera
driver, at ``--rate`` Hz (60) and ``--width`` x ``--height`` (1920x1080) for ``--minutes`` (5) or ``--seconds``,
after a ``set_target`` on the first frame. The pictures are the embedded demo clip (a moving, scaling, partly
occluded target) resized to the stream's size and played forwards and backwards; every message is built once
before the stream starts, so a publication costs only its stamp and the DDS copy.

A warm-up (``--warmup`` s) comes first, then one table row per ``--interval`` s: frames published and the rate
the publisher achieved, frames processed (a detection or mask came back) and processed fps, dropped frames
(published - processed; the node keeps only the newest image), the node's own counters (received; lost =
published but never received; dropped; errors + bad images), taken from the /diagnostics messages (one a second)
received nearest the interval's ends, latency publish -> first result (detection or mask) p50/p95/max, and the
node's resident memory (VmRSS from /proc, sampled every second, median over the interval). A frame counts for the
interval it was published in.

The verdict (see :func:`judge`): latency bounded (the last interval's p95 at most 1.5 x the first's + 50 ms: a
backlog that builds up adds seconds, other processes' load tens of milliseconds), memory flat (the last interval's
RSS within 5% of the first interval after warm-up), drops counted (reported: the node drops by design), errors 0
(node errors and bad images from /diagnostics, and a clean node exit). Exit code 1 when the node dies, reports
errors, exits uncleanly or processes nothing; with ``--strict`` also when latency or memory fail.
"""
from __future__ import annotations

import argparse
import bisect
import math
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attsiammask_core.eval.metrics import percentile

__all__ = ["run", "Period", "Publication", "NodeCounters", "NodeSnapshot", "NodeWindow", "IntervalStats", "Verdict",
           "ping_pong", "plan_periods", "parse_vmrss_kb", "read_rss_kb", "nearest_snapshot", "node_window",
           "summarize", "latency_bounded", "memory_flat", "judge", "format_row", "verdict_line", "TABLE_HEADER",
           "LATENCY_GROWTH", "LATENCY_SLACK_MS", "MEMORY_TOLERANCE"]

# The last interval's p95 may be up to 1.5 x the first's plus 50 ms (about one lite step at 1080p here): with a
# latest-image-only node a growing backlog shows as seconds, while another process's load on a shared machine
# moves a short interval's p95 by tens of milliseconds (measured: 77 -> 145 ms in 5-s intervals).
LATENCY_GROWTH = 1.5
LATENCY_SLACK_MS = 50.0
MEMORY_TOLERANCE = 0.05   # RSS of the last interval within 5% of the first interval after warm-up
GRACE_S = 2.0             # an interval's row is printed this long after its end (its last results come in)
RSS_SAMPLE_S = 1.0
MIN_SEGMENT_BYTES = 16 * 1024 * 1024
SEGMENT_FRAMES = 8        # shared-memory segments hold this many images


# ---- pure helpers ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A part of the stream in seconds from its start; ``label`` "warm-up" or the interval's number."""

    label: str
    start_s: float
    end_s: float

    @property
    def measured(self) -> bool:
        return self.label != "warm-up"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Publication:
    """One published image: its stamp (wall clock ns), when (s since the stream started), the publish call's ms."""

    stamp_ns: int
    t_s: float
    call_ms: float


@dataclass(frozen=True)
class NodeCounters:
    """The node's cumulative counters from one /diagnostics message."""

    received: int
    processed: int
    dropped: int
    errors: int
    bad_images: int

    @classmethod
    def from_diagnostics(cls, values: Mapping[str, str]) -> NodeCounters | None:
        """Parse the node's key/values; None when a counter is missing or not a number."""
        keys = ("received frames", "processed frames", "dropped frames", "errors", "bad images")
        try:
            return cls(*(int(float(values[k])) for k in keys))
        except (KeyError, ValueError):
            return None

    def minus(self, other: NodeCounters) -> NodeCounters:
        return NodeCounters(self.received - other.received, self.processed - other.processed,
                            self.dropped - other.dropped, self.errors - other.errors,
                            self.bad_images - other.bad_images)


@dataclass(frozen=True)
class NodeSnapshot:
    """The node's counters from the /diagnostics message received at ``ns`` (wall clock, like the stamps)."""

    ns: int
    counters: NodeCounters


@dataclass(frozen=True)
class NodeWindow:
    """The node's counters between two snapshots, and how many images were published between them."""

    counters: NodeCounters
    sent: int

    @property
    def not_delivered(self) -> int:
        """Published but never seen by the node's image callback (lost in transport or in its reader queue)."""
        return self.sent - self.counters.received


@dataclass(frozen=True)
class IntervalStats:
    """One table row."""

    period: Period
    published: int
    publish_hz: float
    processed: int
    fps: float
    dropped: int
    node: NodeWindow | None            # the node's counters over the interval (None: no diagnostics)
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    rss_mb: float                      # median of the samples (NaN: none)


@dataclass
class Verdict:
    """The end of the run: each criterion with the numbers it was decided on."""

    latency_ok: bool
    latency_first_p95_ms: float
    latency_last_p95_ms: float
    memory_ok: bool
    memory_first_mb: float
    memory_last_mb: float
    published: int
    processed: int
    dropped: int
    node_dropped: int | None
    not_delivered: int | None          # sum of the rows' "lost" (published - received by the node)
    node_errors: int | None
    bad_images: int | None
    node_exit_code: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Node errors + bad images, + 1 for an unclean exit, + 1 when the counters are unknown."""
        unknown = self.node_errors is None or self.bad_images is None
        return ((self.node_errors or 0) + (self.bad_images or 0) + int(self.node_exit_code != 0) + int(unknown))

    @property
    def failed(self) -> bool:
        """The run failed whatever --strict says: errors, or nothing processed."""
        return self.errors > 0 or self.processed == 0

    @property
    def ok(self) -> bool:
        return not self.failed and self.latency_ok and self.memory_ok

    @property
    def memory_change(self) -> float:
        return self.memory_last_mb / self.memory_first_mb - 1.0 if self.memory_first_mb > 0 else math.nan


def ping_pong(count: int) -> list[int]:
    """Frame order after frame 0 (which set_target uses): 1 .. count-1, then back down to 0; one cycle."""
    if count < 2:
        raise ValueError(f"need at least 2 frames, got {count}")
    return list(range(1, count)) + list(range(count - 2, -1, -1))


def plan_periods(duration_s: float, interval_s: float, warmup_s: float) -> list[Period]:
    """A warm-up (when ``warmup_s`` > 0), then intervals of ``interval_s`` covering ``duration_s`` (the last one
    shorter when the duration is not a multiple; a remainder under a tenth of an interval joins the one before)."""
    if duration_s <= 0 or interval_s <= 0 or warmup_s < 0:
        raise ValueError(f"duration and interval must be positive, warm-up not negative: {duration_s}, "
                         f"{interval_s}, {warmup_s}")
    periods = [Period("warm-up", 0.0, warmup_s)] if warmup_s > 0 else []
    count = max(1, math.ceil(duration_s / interval_s - 0.1))
    for i in range(count):
        start = warmup_s + i * interval_s
        end = warmup_s + (duration_s if i == count - 1 else (i + 1) * interval_s)
        periods.append(Period(str(i + 1), start, end))
    return periods


def parse_vmrss_kb(status_text: str) -> int | None:
    """VmRSS in kB from the text of /proc/<pid>/status; None when absent (e.g. a zombie)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def read_rss_kb(pid: int) -> int | None:
    """Resident memory of process ``pid`` in kB; None when it cannot be read."""
    try:
        return parse_vmrss_kb(Path(f"/proc/{pid}/status").read_text())
    except (OSError, ValueError, IndexError):
        return None


def nearest_snapshot(history: Sequence[NodeSnapshot], ns: int) -> NodeSnapshot | None:
    """The snapshot received closest to ``ns`` (None when there is none)."""
    return min(history, key=lambda snap: abs(snap.ns - ns), default=None)


def node_window(start: NodeSnapshot | None, end: NodeSnapshot | None, stamps: Sequence[int]) -> NodeWindow | None:
    """The node's counters from ``start`` to ``end`` and the number of ``stamps`` (sorted) published in between."""
    if start is None or end is None:
        return None
    sent = bisect.bisect_left(stamps, end.ns) - bisect.bisect_left(stamps, start.ns)
    return NodeWindow(end.counters.minus(start.counters), sent)


def summarize(period: Period, publications: Sequence[Publication], receipts: Mapping[int, int],
              rss_samples: Sequence[tuple[float, int]], node: NodeWindow | None) -> IntervalStats:
    """One row: the publications made during ``period``, their results (``receipts``: stamp -> first receipt ns),
    the RSS samples (s, kB) taken during it and the node's counters over it."""
    mine = [p for p in publications if period.start_s <= p.t_s < period.end_s]
    latencies = [(receipts[p.stamp_ns] - p.stamp_ns) / 1e6 for p in mine if p.stamp_ns in receipts]
    rss = [kb for t, kb in rss_samples if period.start_s <= t < period.end_s]
    seconds = period.duration_s
    return IntervalStats(
        period=period, published=len(mine), publish_hz=len(mine) / seconds, processed=len(latencies),
        fps=len(latencies) / seconds, dropped=len(mine) - len(latencies), node=node,
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        latency_max_ms=max(latencies) if latencies else math.nan,
        rss_mb=statistics.median(rss) / 1024.0 if rss else math.nan)


def latency_bounded(first_p95_ms: float, last_p95_ms: float) -> bool:
    """The last interval's p95 is at most LATENCY_GROWTH x the first's + LATENCY_SLACK_MS (False on NaN)."""
    return last_p95_ms <= LATENCY_GROWTH * first_p95_ms + LATENCY_SLACK_MS


def memory_flat(first_mb: float, last_mb: float) -> bool:
    """The last interval's RSS is within MEMORY_TOLERANCE of the first's, either way (False on NaN)."""
    return abs(last_mb - first_mb) <= MEMORY_TOLERANCE * first_mb


def judge(rows: Sequence[IntervalStats], node_total: NodeWindow | None, node_exit_code: int | None) -> Verdict:
    """The verdict over the measured rows (warm-up excluded; if there is only a warm-up, over it).

    ``node_total``: the node's counters over the whole stream (warm-up included, like the totals here).
    """
    measured = [r for r in rows if r.period.measured] or list(rows)
    first, last = measured[0], measured[-1]
    notes = ["one interval only: first and last are the same"] if len(measured) == 1 else []
    published = sum(r.published for r in rows)
    processed = sum(r.processed for r in rows)
    return Verdict(
        latency_ok=latency_bounded(first.latency_p95_ms, last.latency_p95_ms),
        latency_first_p95_ms=first.latency_p95_ms, latency_last_p95_ms=last.latency_p95_ms,
        memory_ok=memory_flat(first.rss_mb, last.rss_mb), memory_first_mb=first.rss_mb, memory_last_mb=last.rss_mb,
        published=published, processed=processed, dropped=published - processed,
        node_dropped=None if node_total is None else node_total.counters.dropped,
        not_delivered=(sum(r.node.not_delivered for r in rows) if rows and all(r.node for r in rows)
                       else None),   # per interval: each row's window pairs stamps and counters alike
        node_errors=None if node_total is None else node_total.counters.errors,
        bad_images=None if node_total is None else node_total.counters.bad_images,
        node_exit_code=node_exit_code, notes=notes)


# ---- output ------------------------------------------------------------------------------------------------------
_COLUMNS = (("interval", 9), ("from-to s", 10), ("published", 10), ("pub Hz", 7), ("processed", 10), ("fps", 6),
            ("dropped", 8), ("node rx", 8), ("lost", 5), ("node drop", 10), ("errors", 7), ("p50 ms", 7),
            ("p95 ms", 7), ("max ms", 7), ("RSS MB", 8))
TABLE_HEADER = "".join(f"{name:<{width}}" if i == 0 else f"{name:>{width}}"
                       for i, (name, width) in enumerate(_COLUMNS))


def _opt(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def format_row(row: IntervalStats) -> str:
    """One table line, aligned with TABLE_HEADER (latencies over the frames that came back; "lost": published
    but not received by the node)."""
    node, counters = row.node, row.node and row.node.counters
    cells = (row.period.label, f"{row.period.start_s:.0f}-{row.period.end_s:.0f}", row.published,
             f"{row.publish_hz:.1f}", row.processed, f"{row.fps:.2f}", row.dropped,
             _opt(counters and counters.received), _opt(node and node.not_delivered),
             _opt(counters and counters.dropped),
             _opt(counters and counters.errors + counters.bad_images),
             f"{row.latency_p50_ms:.0f}", f"{row.latency_p95_ms:.0f}", f"{row.latency_max_ms:.0f}",
             f"{row.rss_mb:.1f}")
    return "".join(f"{cell!s:<{w}}" if i == 0 else f"{cell!s:>{w}}" for i, (cell, (_, w)) in
                   enumerate(zip(cells, _COLUMNS, strict=True)))


def _pass(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def verdict_line(verdict: Verdict) -> str:
    """``verdict: PASS|FAIL`` followed by each criterion, its numbers and its rule, on one line."""
    v = verdict
    share = 100.0 * v.dropped / v.published if v.published else math.nan
    parts = [
        f"latency bounded {_pass(v.latency_ok)} (p95 first {v.latency_first_p95_ms:.0f} ms, last "
        f"{v.latency_last_p95_ms:.0f} ms; rule: last <= {LATENCY_GROWTH:g} x first + {LATENCY_SLACK_MS:g} ms)",
        f"memory flat {_pass(v.memory_ok)} (RSS first interval after warm-up {v.memory_first_mb:.1f} MB, last "
        f"{v.memory_last_mb:.1f} MB, {100.0 * v.memory_change:+.1f}%; rule: within {100 * MEMORY_TOLERANCE:g}%)",
        f"drops counted (published {v.published}, processed {v.processed}, dropped {v.dropped} = {share:.1f}%; "
        f"node's dropped counter {_opt(v.node_dropped)}, not delivered to the node {_opt(v.not_delivered)})",
        f"errors {v.errors} {_pass(v.errors == 0)} (node errors {_opt(v.node_errors)}, bad images "
        f"{_opt(v.bad_images)}, node exit code {_opt(v.node_exit_code)})",
    ]
    if v.processed == 0:
        parts.append("nothing processed FAIL")
    parts += v.notes
    return f"verdict: {_pass(v.ok)}: " + "; ".join(parts)


# ---- the run -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The command's options, resolved."""

    rate: float
    size: tuple[int, int]
    duration_s: float
    interval_s: float
    warmup_s: float
    clip_frames: int
    segment_bytes: int
    device: str
    domain_id: int | None
    startup_timeout: float
    strict: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        size = (int(args.width), int(args.height))
        duration = float(args.seconds) if args.seconds is not None else 60.0 * float(args.minutes)
        segment = int(args.segment_mb * 1024 * 1024) if args.segment_mb else auto_segment_bytes(size)
        if args.rate <= 0 or min(size) < 16 or args.clip_frames < 2:
            raise ValueError("--rate must be positive, --width/--height at least 16, --clip-frames at least 2")
        return cls(float(args.rate), size, duration, float(args.interval), float(args.warmup), int(args.clip_frames),
                   segment, args.device, args.domain_id, float(args.startup_timeout), bool(args.strict))


def auto_segment_bytes(size_wh: tuple[int, int]) -> int:
    """Shared-memory segment for SEGMENT_FRAMES bgr8 images of this size (at least the demo's 16 MB), whole MB."""
    wanted = SEGMENT_FRAMES * size_wh[0] * size_wh[1] * 3
    return max(MIN_SEGMENT_BYTES, math.ceil(wanted / 2**20) * 2**20)


@dataclass
class StreamData:
    """The precomputed stream: frame 0 (for set_target) as an array, every frame as a ready Image message."""

    first_frame: np.ndarray
    box: tuple[float, float, float, float]
    messages: list[Any]
    order: list[int]


def build_stream(clip_frames: int, size_wh: tuple[int, int]) -> StreamData:
    """The demo clip resized to ``size_wh`` (box scaled alike), each frame converted to a bgr8 Image once."""
    import cv2
    from std_msgs.msg import Header

    from attsiammask_ros.demo.clip import FRAME_SIZE, make_clip
    from attsiammask_ros.demo.player import FRAME_ID
    from attsiammask_ros.image_conversion import bgr_to_image

    clip = make_clip(frames=clip_frames)
    sx, sy = size_wh[0] / FRAME_SIZE[0], size_wh[1] / FRAME_SIZE[1]
    x, y, w, h = (float(v) for v in clip.boxes[0])
    interpolation = cv2.INTER_LINEAR if sx >= 1.0 else cv2.INTER_AREA
    first, messages = None, []
    for frame in clip.frames:
        resized = cv2.resize(frame, size_wh, interpolation=interpolation)
        first = resized if first is None else first
        messages.append(bgr_to_image(resized, Header(frame_id=FRAME_ID)))
    return StreamData(first, (x * sx, y * sy, w * sx, h * sy), messages, ping_pong(len(messages)))


class Soak:
    """Publishes the stream on a fixed schedule and prints a row as each period's results are in."""

    def __init__(self, session, stream: StreamData, settings: Settings) -> None:
        self.session = session
        self.stream = stream
        self.settings = settings
        self.periods = plan_periods(settings.duration_s, settings.interval_s, settings.warmup_s)
        self.publications: list[Publication] = []
        self.stamps: list[int] = []                         # the publications' stamps, increasing
        self.rss_samples: list[tuple[float, int]] = []
        self.diagnostics: list[NodeSnapshot] = []           # every /diagnostics message seen while streaming
        self.before: NodeSnapshot | None = None
        self.final: NodeSnapshot | None = None
        self.rows: list[IntervalStats] = []
        self.late_slots = 0
        self._t0_ns = 0

    def snapshot(self) -> NodeSnapshot | None:
        """The client's latest diagnostics, read twice-consistently (a message may arrive in between)."""
        client = self.session.client
        ns = client.diagnostics_ns
        values = dict(client.diagnostics)
        counters = NodeCounters.from_diagnostics(values)
        if client.diagnostics_ns != ns or counters is None:
            return None
        return NodeSnapshot(ns, counters)

    def _poll_diagnostics(self) -> None:
        if self.session.client.diagnostics_ns != (self.diagnostics[-1].ns if self.diagnostics else 0):
            snap = self.snapshot()
            if snap is not None:
                self.diagnostics.append(snap)

    def _publish(self, index: int, t_s: float) -> None:
        player = self.session.player
        msg = self.stream.messages[index]
        stamp = player.next_stamp_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        t0 = time.perf_counter()
        player.publisher.publish(msg)
        self.publications.append(Publication(stamp, t_s, (time.perf_counter() - t0) * 1000.0))
        self.stamps.append(stamp)

    def _boundary(self, i: int, end: bool) -> NodeSnapshot | None:
        """The node's counters at the start (or end) of period ``i``: before/after the stream at the ends of the
        run, else the /diagnostics message received closest to the boundary."""
        if not end and i == 0:
            return self.before
        if end and i == len(self.periods) - 1:
            return self.final
        t_s = self.periods[i].end_s if end else self.periods[i].start_s
        return nearest_snapshot(self.diagnostics, self._t0_ns + int(t_s * 1e9))

    def _emit(self, i: int) -> None:
        period = self.periods[i]
        lo = bisect.bisect_left(self.publications, period.start_s, key=lambda p: p.t_s)
        hi = bisect.bisect_left(self.publications, period.end_s, key=lambda p: p.t_s)
        mine = self.publications[lo:hi]
        receipts = {}
        for p in mine:
            result = self.session.client.result(p.stamp_ns)
            if result is not None and result.receipt_ns is not None:
                receipts[p.stamp_ns] = result.receipt_ns
        node = node_window(self._boundary(i, end=False), self._boundary(i, end=True), self.stamps)
        row = summarize(period, mine, receipts, self.rss_samples, node)
        self.rows.append(row)
        print(format_row(row), flush=True)

    def run(self, before: NodeSnapshot | None) -> NodeWindow | None:
        """Stream, printing rows; the node's counters over the whole stream (after its last results)."""
        session, s = self.session, self.settings
        period_s, total_s = 1.0 / s.rate, self.periods[-1].end_s
        order = self.stream.order
        self.before = before
        printed, next_rss = 0, 0.0
        t0, self._t0_ns = time.monotonic(), time.time_ns()
        k = 0
        while True:
            delay = t0 + k * period_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic() - t0
            if now >= total_s:
                break
            behind = int((now - k * period_s) / period_s)
            if behind >= 1:                  # more than a whole slot late: skip the missed slots, keep the pace
                self.late_slots += behind
                k += behind
            session.check_node()
            self._publish(order[k % len(order)], now)
            k += 1
            self._poll_diagnostics()
            if now >= next_rss:
                self._sample_rss(now)
                next_rss += RSS_SAMPLE_S
            if printed < len(self.periods) - 1 and now >= self.periods[printed].end_s + GRACE_S:
                self._emit(printed)
                printed += 1
        return self._finish(printed)

    def _sample_rss(self, now: float) -> None:
        kb = read_rss_kb(self.session.node.pid)
        if kb is not None:
            self.rss_samples.append((now, kb))

    def _finish(self, printed: int) -> NodeWindow | None:
        """Wait for the last results and a fresh diagnostics message; print the remaining rows."""
        session = self.session
        session.wait_results(self.stamps, quiet_s=1.0, timeout=10.0)
        session.check_node()
        session.wait_diagnostics(time.time_ns(), timeout=3.0)
        self.final = self.snapshot()
        for i in range(printed, len(self.periods)):
            self._emit(i)
        return node_window(self.before, self.final, self.stamps)

    def publisher_line(self) -> str:
        """Achieved publish rate over the whole stream, publish call times, skipped slots."""
        calls = [p.call_ms for p in self.publications]
        span = self.periods[-1].end_s
        return (f"publisher: {len(self.publications)} images in {span:.0f} s = {len(self.publications) / span:.1f} Hz "
                f"(target {self.settings.rate:g}); publish() p50 {percentile(calls, 50):.2f} ms, "
                f"p95 {percentile(calls, 95):.2f} ms, max {max(calls, default=math.nan):.1f} ms; "
                f"{self.late_slots} slots skipped (publisher late)")


def _intro(settings: Settings, stream: StreamData, build_s: float, env: Mapping[str, str], profile: Path | None
           ) -> str:
    w, h = settings.size
    cycle = len(stream.order)
    transport = (f"Fast DDS shared memory ({settings.segment_bytes / 2**20:.0f} MB segments)" if profile is not None
                 else f"the DDS set-up of the environment ({env.get('RMW_IMPLEMENTATION', 'default RMW')}, profile "
                      f"{env.get('FASTDDS_DEFAULT_PROFILES_FILE') or env.get('FASTRTPS_DEFAULT_PROFILES_FILE')})")
    return (f"attsiammask stress: {w}x{h} bgr8 ({w * h * 3 / 1e6:.1f} MB) at {settings.rate:g} Hz, best effort, "
            f"{settings.duration_s:g} s in rows of {settings.interval_s:g} s after a {settings.warmup_s:g} s warm-up; "
            f"the demo clip resized, {len(stream.messages)} frames forwards and back ({cycle / settings.rate:.1f} s "
            f"a cycle; messages built in {build_s:.1f} s); tracker_node: lite, embedded weights, device "
            f"{settings.device}; ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, localhost, {transport}")


def _tracking_line(session, publications: Sequence[Publication]) -> str:
    """How many processed frames carried a detection (the target was being tracked, not lost)."""
    results = [session.client.result(p.stamp_ns) for p in publications]
    results = [r for r in results if r is not None and r.receipt_ns is not None]
    tracked = sum(1 for r in results if r.box is not None)
    share = 100.0 * tracked / len(results) if results else math.nan
    return f"tracking: {tracked} of {len(results)} processed frames had a detection ({share:.0f}%)"


def run(args: argparse.Namespace) -> int:
    """Run the stress test with the `stress` command's arguments; 0 when it passed (see the module docstring).
    ``--scenario churn`` runs attsiammask_ros.stress_churn instead."""
    if getattr(args, "scenario", "load") == "churn":
        from attsiammask_ros.stress_churn import run_churn

        return run_churn(args)
    from attsiammask_ros.demo.client import SetTargetFailed
    from attsiammask_ros.demo.clip import Clip
    from attsiammask_ros.demo.node_process import (
        localhost_environment,
        tracker_node_command,
        use_shared_memory_profile,
    )
    from attsiammask_ros.demo.session import Session, SessionError

    try:
        settings = Settings.from_args(args)
        plan_periods(settings.duration_s, settings.interval_s, settings.warmup_s)
    except ValueError as exc:
        print(f"stress: {exc}")
        return 2
    with tempfile.TemporaryDirectory(prefix="attsiammask_stress_") as tmp:
        folder = Path(tmp)
        profile = use_shared_memory_profile(folder, settings.segment_bytes)
        env = localhost_environment(settings.domain_id)
        start = time.monotonic()
        stream = build_stream(settings.clip_frames, settings.size)
        print(_intro(settings, stream, time.monotonic() - start, env, profile), flush=True)
        clip = Clip("stress", [stream.first_frame], np.array([stream.box]), fps=settings.rate)
        parameters = {"model.variant": "lite", "model.device": settings.device}
        session = Session(clip, tracker_node_command(parameters), folder / "tracker_node.log", env, keep_masks=False)
        soak = Soak(session, stream, settings)
        try:
            with session:
                ready_s = session.wait_ready(settings.startup_timeout)
                session.init_target(0, stream.box)
                session.wait_diagnostics(time.time_ns(), timeout=3.0)
                before = soak.snapshot()
                print(f"node ready in {ready_s:.1f} s (pid {session.node.pid}); target set on frame 0", flush=True)
                print(TABLE_HEADER, flush=True)
                node_total = soak.run(before)
                tracking = _tracking_line(session, soak.publications)
        except (SessionError, SetTargetFailed) as exc:
            print(f"stress: FAILED: {exc}")
            print(f"verdict: FAIL: the run did not complete ({type(exc).__name__}; node exit code "
                  f"{_opt(session.node_exit_code)})", flush=True)
            return 1
    print(soak.publisher_line())
    print(tracking)
    verdict = judge(soak.rows, node_total, session.node_exit_code)
    print(verdict_line(verdict), flush=True)
    if verdict.failed or (settings.strict and not verdict.ok):
        return 1
    return 0

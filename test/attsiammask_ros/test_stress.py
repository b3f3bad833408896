"""`attsiammask stress`: the pure helpers with hand-made numbers, the lazy dispatch, and a short real run."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from attsiammask_ros.stress import (
    TABLE_HEADER,
    IntervalStats,
    NodeCounters,
    NodeSnapshot,
    NodeWindow,
    Period,
    Publication,
    format_row,
    judge,
    latency_bounded,
    memory_flat,
    nearest_snapshot,
    node_window,
    parse_vmrss_kb,
    ping_pong,
    plan_periods,
    read_rss_kb,
    summarize,
    verdict_line,
)

REPO = Path(__file__).resolve().parents[2]
MS = 1_000_000


# ---- pure helpers --------------------------------------------------------------------------------------------------
def test_ping_pong_plays_forwards_then_back_without_repeating_the_ends():
    assert ping_pong(4) == [1, 2, 3, 2, 1, 0]
    assert ping_pong(2) == [1, 0]
    with pytest.raises(ValueError):
        ping_pong(1)


def test_plan_periods_warmup_then_intervals():
    periods = plan_periods(duration_s=20, interval_s=5, warmup_s=3)
    assert [(p.label, p.start_s, p.end_s) for p in periods] == [
        ("warm-up", 0, 3), ("1", 3, 8), ("2", 8, 13), ("3", 13, 18), ("4", 18, 23)]
    assert not periods[0].measured and all(p.measured for p in periods[1:])


def test_plan_periods_remainders_and_no_warmup():
    assert [(p.start_s, p.end_s) for p in plan_periods(12, 5, 0)] == [(0, 5), (5, 10), (10, 12)]
    assert [(p.start_s, p.end_s) for p in plan_periods(10.2, 5, 0)] == [(0, 5), (5, 10.2)]  # a sliver joins
    assert [(p.start_s, p.end_s) for p in plan_periods(3, 60, 0)] == [(0, 3)]
    with pytest.raises(ValueError):
        plan_periods(0, 5, 0)


def test_parse_vmrss_and_read_own_rss():
    text = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n"
    assert parse_vmrss_kb(text) == 123456
    assert parse_vmrss_kb("Name:\tzombie\nState:\tZ\n") is None
    assert read_rss_kb(os.getpid()) > 1000
    assert read_rss_kb(2**22 + 12345) is None   # above the kernel's pid limit: no such process


def test_node_counters_from_diagnostics():
    values = {"received frames": "100", "processed frames": "30", "dropped frames": "70", "errors": "0",
              "bad images": "1", "processed fps": "19.5"}
    assert NodeCounters.from_diagnostics(values) == NodeCounters(100, 30, 70, 0, 1)
    assert NodeCounters.from_diagnostics({"received frames": "1"}) is None
    assert NodeCounters.from_diagnostics({**values, "errors": "many"}) is None


def test_nearest_snapshot_and_node_window():
    snaps = [NodeSnapshot(1000 * MS, NodeCounters(10, 4, 6, 0, 0)),
             NodeSnapshot(2000 * MS, NodeCounters(70, 20, 50, 0, 0)),
             NodeSnapshot(3000 * MS, NodeCounters(125, 36, 89, 1, 0))]
    assert nearest_snapshot(snaps, 2400 * MS) is snaps[1]
    assert nearest_snapshot(snaps, 2600 * MS) is snaps[2]
    assert nearest_snapshot([], 5) is None
    stamps = [1000 * MS + k * 16 * MS for k in range(125)]   # 60 Hz-ish from t = 1 s
    window = node_window(snaps[1], snaps[2], stamps)
    # stamps in [2.0 s, 3.0 s): k = 63 .. 124 -> 62 sent; the node saw 55 of them
    assert window.counters == NodeCounters(55, 16, 39, 1, 0)
    assert window.sent == 62 and window.not_delivered == 7
    assert node_window(None, snaps[2], stamps) is None


def _pubs(start_s: float, count: int, rate: float, first_stamp_ms: int) -> list[Publication]:
    return [Publication((first_stamp_ms + round(1000 * k / rate)) * MS, start_s + k / rate, 1.0) for k in range(count)]


def test_summarize_counts_latencies_and_memory():
    period = Period("1", 10.0, 12.0)
    pubs = _pubs(9.5, 200, 60.0, 50_000)          # 9.5 s .. 12.8 s; 120 fall in [10, 12)
    inside = [p for p in pubs if 10.0 <= p.t_s < 12.0]
    assert len(inside) == 120
    latencies_ms = [40, 50, 60, 70, 80, 90, 100, 110, 120, 300]
    receipts = {p.stamp_ns: p.stamp_ns + ms * MS for p, ms in zip(inside[::12], latencies_ms, strict=True)}
    receipts[pubs[0].stamp_ns] = pubs[0].stamp_ns + 5 * MS           # before the period: not counted
    rss = [(9.0, 999_999), (10.0, 500 * 1024), (11.0, 502 * 1024), (11.5, 530 * 1024), (12.0, 1)]
    window = NodeWindow(NodeCounters(119, 10, 109, 0, 0), sent=121)
    row = summarize(period, pubs, receipts, rss, window)
    assert (row.published, row.processed, row.dropped) == (120, 10, 110)
    assert row.publish_hz == pytest.approx(60.0) and row.fps == pytest.approx(5.0)
    assert row.latency_p50_ms == pytest.approx(85.0)
    assert row.latency_p95_ms == pytest.approx(120 + 0.55 * 180)   # numpy's linear interpolation
    assert row.latency_max_ms == pytest.approx(300.0)
    assert row.rss_mb == pytest.approx(502.0)                       # median of the three samples inside
    assert row.node.not_delivered == 2


def test_summarize_without_results_gives_nan_not_an_error():
    row = summarize(Period("warm-up", 0, 1), _pubs(0, 60, 60, 0), {}, [], None)
    assert (row.published, row.processed, row.dropped) == (60, 0, 60)
    assert math.isnan(row.latency_p95_ms) and math.isnan(row.rss_mb) and row.node is None


def test_latency_rule():
    assert latency_bounded(100.0, 200.0)           # 1.5 x 100 + 50 = 200
    assert not latency_bounded(100.0, 200.5)
    assert latency_bounded(10.0, 60.0) and not latency_bounded(10.0, 70.0)
    assert not latency_bounded(100.0, math.nan)


def test_memory_rule():
    assert memory_flat(600.0, 630.0) and memory_flat(600.0, 570.0)
    assert not memory_flat(600.0, 630.5) and not memory_flat(600.0, 569.0)
    assert not memory_flat(math.nan, 600.0)


def _row(label: str, start: float, p95: float, rss: float, published: int = 300, processed: int = 90,
         node: NodeWindow | None = None) -> IntervalStats:
    return IntervalStats(Period(label, start, start + 5), published, published / 5, processed, processed / 5,
                         published - processed, node, p95 / 2, p95, p95 * 1.2, rss)


def test_judge_compares_first_and_last_measured_intervals():
    def window(received: int) -> NodeWindow:
        return NodeWindow(NodeCounters(received, 90, received - 90, 0, 0), sent=300)

    # "lost" (not delivered) is summed over the rows: 5 in the warm-up, none later
    rows = [_row("warm-up", 0, 900.0, 300.0, node=window(295)), _row("1", 5, 80.0, 600.0, node=window(300)),
            _row("2", 10, 85.0, 610.0, node=window(300)), _row("3", 15, 160.0, 625.0, node=window(300))]
    total = NodeWindow(NodeCounters(1200, 360, 835, 0, 0), sent=1200)   # a final snapshot that saw them all
    verdict = judge(rows, total, node_exit_code=0)
    assert verdict.latency_ok and verdict.memory_ok and verdict.ok and not verdict.failed
    assert (verdict.latency_first_p95_ms, verdict.latency_last_p95_ms) == (80.0, 160.0)   # warm-up left out
    assert verdict.memory_change == pytest.approx(625 / 600 - 1)
    assert (verdict.published, verdict.processed, verdict.dropped) == (1200, 360, 840)
    assert (verdict.node_dropped, verdict.not_delivered, verdict.errors) == (835, 5, 0)
    line = verdict_line(verdict)
    assert line.startswith("verdict: PASS: ") and "+4.2%" in line and "not delivered to the node 5" in line


def test_judge_failures():
    rows = [_row("1", 0, 80.0, 600.0), _row("2", 5, 300.0, 700.0)]
    clean = NodeWindow(NodeCounters(600, 180, 420, 0, 0), sent=600)
    slow = judge(rows, clean, node_exit_code=0)
    assert not slow.latency_ok and not slow.memory_ok and not slow.ok and not slow.failed  # --strict decides
    assert verdict_line(slow).startswith("verdict: FAIL: ")
    errors = judge(rows[:1], NodeWindow(NodeCounters(300, 90, 210, 2, 1), sent=300), node_exit_code=0)
    assert errors.errors == 3 and errors.failed and "one interval only" in verdict_line(errors)
    assert judge(rows, clean, node_exit_code=-9).failed
    assert judge(rows, None, node_exit_code=0).failed                    # no diagnostics: errors unknown
    idle = [_row("1", 0, math.nan, 600.0, processed=0)]
    assert judge(idle, NodeWindow(NodeCounters(300, 0, 300, 0, 0), sent=300), 0).failed


def test_format_row_lines_up_with_the_header():
    window = NodeWindow(NodeCounters(301, 95, 206, 0, 0), sent=300)
    line = format_row(_row("12", 600, 123.4, 812.25, node=window))
    assert len(line) == len(TABLE_HEADER)
    cells = line.split()
    assert cells[:3] == ["12", "600-605", "300"] and cells[7:11] == ["301", "-1", "206", "0"]
    assert cells[-1] == "812.2" and len(cells) == 15
    assert format_row(_row("1", 0, 80.0, 600.0)).split()[7:11] == ["n/a"] * 4


# ---- the command ---------------------------------------------------------------------------------------------------
def test_stress_parses_without_rclpy():
    """`attsiammask stress` comes from the ROS package's entry point; parsing it imports no rclpy."""
    code = ("import sys, attsiammask_core.cli as cli; "
            "args = cli.build_parser().parse_args(['stress', '--seconds', '20', '--interval', '5']); "
            "assert args.seconds == 20 and args.interval == 5 and args.rate == 60 and args.width == 1920; "
            "assert not [m for m in sys.modules if m.startswith('rclpy')]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


ROW = re.compile(r"^(\d+)\s+(\d+)-(\d+)\s+(.*)$")


def test_stress_short_run():
    pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    done = subprocess.run([sys.executable, "-m", "attsiammask_core.cli", "stress", "--seconds", "20", "--interval",
                           "5", "--warmup", "2", "--clip-frames", "30"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "1920x1080 bgr8" in out and "60 Hz" in out and TABLE_HEADER in out
    rows = [m for m in map(ROW.match, out.splitlines()) if m]
    assert [int(m.group(1)) for m in rows] == [1, 2, 3, 4], out
    processed = 0
    for m in rows:
        cells = m.group(4).split()
        assert len(cells) == 13, m.group(0)
        published, pub_hz, done_frames, fps, dropped, node_rx = (float(c) for c in cells[:6])
        rss_mb = float(cells[-1])
        assert published > 0 and pub_hz > 0 and dropped == published - done_frames and node_rx > 0, m.group(0)
        assert rss_mb > 50, m.group(0)                                   # the node's RSS (torch alone is more)
        assert done_frames == 0 or all(math.isfinite(float(c)) for c in cells[-4:-1]), m.group(0)
        processed += done_frames
    assert processed > 0, out
    assert re.search(r"^publisher: \d+ images in \d+ s = [\d.]+ Hz", out, re.M), out
    verdict = [line for line in out.splitlines() if line.startswith("verdict: ")]
    assert len(verdict) == 1 and "errors 0 PASS" in verdict[0] and "node exit code 0" in verdict[0], out

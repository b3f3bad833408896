"""`attsiammask stress --scenario churn`: the verdict with hand-made rows, and the short CI variant for real."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from attsiammask_ros.stress_churn import (
    LATENCY_P99_LIMIT_MS,
    ChurnRow,
    camera_arguments,
    churn_verdict_line,
    format_churn_row,
    judge_churn,
)

REPO = Path(__file__).resolve().parents[2]


def row(label: str, rss_mb: float, p99_ms: float = 100.0, unanswered: int = 0, calls: int = 10,
        processed: int = 250) -> ChurnRow:
    return ChurnRow(label, 0.0, 10.0, 300, processed, 0, 30.0, p99_ms, processed, calls, unanswered, 20.0, 1, 0, 0,
                    rss_mb)


def test_verdict_passes_flat_memory_bounded_latency_no_error_all_answered():
    rows = [row("warm-up", 300.0, p99_ms=5000.0), row("1", 500.0), row("2", 510.0), row("3", 520.0)]
    verdict = judge_churn(rows, node_errors=0, node_exit_code=0)
    assert verdict.ok and verdict.memory_first_mb == 500.0 and verdict.memory_last_mb == 520.0  # warm-up left out
    assert verdict.latency_worst_p99_ms == 100.0 and verdict.calls == 40
    line = churn_verdict_line(verdict)
    assert line.startswith("verdict: PASS") and "+4.0%" in line


@pytest.mark.parametrize("change, fails", [
    ({"rows": [row("1", 500.0), row("2", 530.0)]}, "memory flat FAIL"),
    ({"rows": [row("1", 500.0), row("2", 500.0, p99_ms=LATENCY_P99_LIMIT_MS + 1)]}, "latency bounded FAIL"),
    ({"node_errors": 2}, "errors 2 FAIL"),
    ({"node_errors": None}, "errors 1 FAIL"),       # counters never seen: not a pass
    ({"node_exit_code": -9}, "FAIL (node errors"),
    ({"rows": [row("1", 500.0), row("2", 500.0, unanswered=1)]}, "answering FAIL"),
    ({"rows": [row("1", 500.0, calls=0), row("2", 500.0, calls=0)]}, "answering FAIL"),
])
def test_verdict_fails_on_each_criterion(change, fails):
    args = {"rows": [row("1", 500.0), row("2", 500.0)], "node_errors": 0, "node_exit_code": 0} | change
    verdict = judge_churn(args["rows"], args["node_errors"], args["node_exit_code"])
    line = churn_verdict_line(verdict)
    assert not verdict.ok and line.startswith("verdict: FAIL") and fails in line, line


def test_row_format_and_camera_churn_fits_the_camera_s_life():
    assert "500.0" in format_churn_row(row("1", 500.0))
    assert math.isnan(judge_churn([row("1", math.nan)], 0, 0).memory_first_mb)
    short = camera_arguments(20.0)
    assert short[short.index("--loop-seconds") + 1] == "10" and float(short[short.index("--size-every") + 1]) < 10
    long = camera_arguments(60.0)
    assert long[long.index("--loop-seconds") + 1] == "25" and long[long.index("--size-every") + 1] == "20"


def test_short_churn_run_passes():
    """The CI variant: 30 s after a 10 s warm-up, camera restarted every 20 s; every churn event happens."""
    pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    command = [sys.executable, "-m", "attsiammask_core.cli", "stress", "--scenario", "churn", "--seconds", "30",
               "--interval", "10", "--warmup", "10",
               "--namespace", "churn_ci", "--threads", "1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "verdict: PASS" in out, out
    rows = [line for line in out.splitlines() if re.match(r"^[123] ", line)]
    assert len(rows) == 3, out
    cells = [line.split() for line in rows]
    assert sum(int(c[-4]) for c in cells) >= 1 and sum(int(c[-3]) for c in cells) >= 1, out  # set and cleared
    assert sum(int(c[-2]) for c in cells) >= 1, out                                          # a camera restart
    end = re.search(r"stamp jumps back (\d+)", out)
    assert end and int(end.group(1)) >= 1, out
    assert "Traceback" not in out, out

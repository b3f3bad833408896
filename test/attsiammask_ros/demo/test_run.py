"""The demo orchestrator end to end (tracker_node child process, player, client) on a short clip, and its reports.

Random lite weights: plumbing and timing only, accuracy is not asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from attsiammask_ros.demo.clip import Clip

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def random_lite(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from attsiammask_core.models import build_model
    from attsiammask_core.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "lite_random.pt"
    save_weights(build_model("lite"), path, {"variant": "lite"})
    return path


def _run(args: list[str], domain: int, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(domain), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_demo_end_to_end_on_a_short_clip(tmp_path, random_lite):
    pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    out = tmp_path / "demo"
    done = _run(["attsiammask_ros.demo.run", "--weights", str(random_lite), "--max-frames", "20", "--out", str(out),
                 "--node-param", "tracking.lost_threshold:=0.0"], domain=77)
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(20))
    assert records[0]["state"] == "init"
    assert {r["state"] for r in records[1:]} <= {"tracking", "lost", "dropped"}
    tracked = [r for r in records if r["state"] == "tracking"]
    assert tracked and all(r["latency_ms"] > 0 and r["pred"] and r["gt"] and r["iou"] is not None for r in tracked)
    stamps = [r["stamp_ns"] for r in records]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published"] == 20 and summary["processed"] + summary["dropped"] == 19
    assert summary["latency_ms"]["p50"] > 0 and summary["mean_iou"] is not None
    assert (out / "demo.mp4").stat().st_size > 0 and (out / "tracker_node.log").is_file()
    for text in ("frames: published 20", "IoU vs ground truth", "processed fps", "latency publish -> detection"):
        assert text in done.stdout, done.stdout


def test_demo_fails_cleanly_when_the_node_cannot_start(tmp_path):
    pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not weights")
    done = _run(["attsiammask_ros.demo.run", "--weights", str(bad), "--max-frames", "5", "--out", str(tmp_path / "o"),
                 "--no-video"], domain=78, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stderr and "cannot build the tracker" in done.stderr


def test_bad_arguments_exit_2(tmp_path):
    from attsiammask_ros.demo.run import main

    assert main(["--video", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "o")]) == 2   # no --box
    assert main(["--weights", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "o")]) == 2


class _FakeClient:
    def __init__(self, results):
        self._results = results

    def result(self, stamp):
        return self._results.get(stamp)

    def confidence_near(self, receipt_ns):
        return 0.25


def test_records_and_summary_without_ros():
    from attsiammask_ros.demo.run import format_summary, frame_records, summarise

    boxes = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [14, 10, 20, 20], [16, 10, 20, 20]], dtype=float)
    clip = Clip("fake", [np.zeros((60, 80, 3), np.uint8)] * 4, boxes, fps=10.0)
    s0 = 1_000_000_000
    published = [(i, s0 + i * 100_000_000) for i in range(4)]
    results = {
        published[1][1]: SimpleNamespace(box=(12.0, 10.0, 20.0, 20.0), score=0.9,
                                         receipt_ns=published[1][1] + 40_000_000, mask_ns=None),
        published[3][1]: SimpleNamespace(box=None, score=None, receipt_ns=published[3][1] + 50_000_000,
                                         mask_ns=published[3][1] + 50_000_000),
    }
    records = frame_records(clip, published, _FakeClient(results), published[0][1])
    assert [r["state"] for r in records] == ["init", "tracking", "dropped", "lost"]
    assert records[1]["iou"] == 1.0 and records[1]["latency_ms"] == 40.0 and records[1]["confidence"] == 0.9
    assert records[3]["iou"] == 0.0 and records[3]["confidence"] == 0.25
    summary = summarise(records, clip, _FakeClient(results), {}, 0.3)
    assert (summary["processed"], summary["tracking"], summary["lost"], summary["dropped"]) == (2, 1, 1, 1)
    assert summary["mean_iou"] == 0.5 and summary["latency_ms"]["p50"] == 45.0
    assert "mean 0.500" in format_summary(summary, "model lite")

"""`attsiammask bench --node` runs a tiny count and prints its table; the core never imports ROS for it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_core_bench_does_not_import_ros():
    code = ("import sys, attsiammask_core.cli, attsiammask_core.commands.bench; "
            "assert not [m for m in sys.modules if m.startswith(('rclpy', 'attsiammask_ros'))]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_bench_node_tiny(tmp_path):
    pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    torch = pytest.importorskip("torch")
    from attsiammask_core.models import build_model
    from attsiammask_core.weights import save_weights

    torch.manual_seed(0)
    weights = tmp_path / "lite_random.pt"
    save_weights(build_model("lite"), weights, {"variant": "lite"})
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID="79")
    done = subprocess.run([sys.executable, "-m", "attsiammask_core.cli", "bench", "--node", "--frames", "6",
                           "--seconds", "1", "--threads", "1", "--weights", str(weights)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("track() in this process", "one at a time", "60 Hz stream", "stream: published",
                 "node overhead", "goal 10% + 3 ms"):
        assert text in done.stdout, done.stdout

"""Shared test setup: DDS stays on this host, and helpers to run rclpy nodes in-process."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Must be set before any rclpy context starts: discovery never leaves loopback.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", "73")

# Like the node (all cores but one for inference): on a 2-core machine torch's 2-thread pool stalls for
# whole time slices whenever rclpy's executor threads in this process hold a core.
try:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
except ImportError:  # the core is not installed: its tests skip
    pass

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh rclpy context for one test, shut down afterwards."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    context = rclpy.context.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)

"""Fixtures of the node tests: one rclpy context per test module (tests tell their nodes apart by namespace)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def context() -> Iterator[object]:
    """An rclpy context for the whole module, shut down after its last test."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)

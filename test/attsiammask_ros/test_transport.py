"""Delivery of camera-sized images from another process to tracker_node through real rclpy and Fast DDS.

A camera process (python -m attsiammask_ros.stress_camera: 640x480 bgr8 + registered 32FC1 depth + camera_info at
30 Hz, best effort) and a tracker_node process (test/transport_node.py: the real node with the planted fast model,
input.camera_info and input.depth on) run with the same Fast DDS set-up; this process sets the target and reads
the node's /diagnostics. With config/fastdds_large_images.xml on both sides at least 98% of the frames published
after the target was set reach the node, each produces outputs (processed, a 3D point published) unless a newer
frame replaced it before inference (counted; how many depends on the CPU's other load), and the node estimates
no upstream loss; with Fast DDS's defaults (most frames lost on this host) the node's upstream loss estimate is
within 10 points of the true loss.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
SetTarget = pytest.importorskip("attsiammask_interfaces.srv",
                                reason="interfaces not built: run `make setup` and source env.sh").SetTarget
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "config" / "fastdds_large_images.xml"
SECONDS = 12.0
SEC = 1_000_000_000
_DDS_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")


def _environment(profile: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DDS_VARIABLES}
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if profile is not None:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    return env


class Run:
    """The node and camera processes of one Fast DDS set-up, the diagnostics of the node, set_target."""

    def __init__(self, context, tmp_path: Path, namespace: str, profile: Path | None) -> None:
        self.namespace = namespace
        self.report = tmp_path / f"{namespace.strip('/')}_camera.json"
        env = _environment(profile)
        self.node = subprocess.Popen(
            [sys.executable, str(REPO / "test" / "transport_node.py"), "--ros-args", "-r", f"__ns:={namespace}",
             "-p", "input.camera_info:=true", "-p", "input.depth:=true"], env=env,
            stdout=open(tmp_path / f"{namespace.strip('/')}_node.log", "wb"), stderr=subprocess.STDOUT)
        self.camera: subprocess.Popen | None = None
        self.env = env
        self.client = rclpy.create_node("transport_test", namespace=namespace, context=context)
        self.diagnostics: list[tuple[int, dict[str, str]]] = []  # (receipt ns, values) of this node's statuses
        self.client.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics, 50)
        self.set_target = self.client.create_client(SetTarget, "set_target")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.client)

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if values.get("node") == f"{self.namespace}/attsiammask_tracker":
                self.diagnostics.append((time.time_ns(), values))

    def spin_until(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            assert self.node.poll() is None, "tracker_node exited"
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def start_camera(self, seconds: float) -> None:
        self.camera = subprocess.Popen(
            [sys.executable, "-m", "attsiammask_ros.stress_camera", "--namespace", self.namespace, "--seconds",
             str(seconds), "--report", str(self.report), "--wait-subscribers", "30"], env=self.env)

    def init_target(self, timeout: float = 20.0) -> None:
        """set_target on the latest image (the square's box at cycle position 0 is near enough for the planted
        model), called again until it succeeds (the first images may not have arrived)."""
        from attsiammask_ros.stress_camera import target_box

        x, y, w, h = target_box(0, (640, 480))
        request = SetTarget.Request()
        request.bbox.center.position.x, request.bbox.center.position.y = x + w / 2, y + h / 2
        request.bbox.size_x, request.bbox.size_y = w, h
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.spin_until(self.set_target.service_is_ready, deadline - time.monotonic())
            future = self.set_target.call_async(request)
            assert self.spin_until(future.done, 10.0)
            if future.result().success:
                return
            self.spin_until(lambda: False, 0.2)
        raise AssertionError(f"set_target never succeeded: {future.result().message}")

    def latest(self, after_ns: int, timeout: float = 5.0) -> tuple[int, dict[str, str]]:
        """The first diagnostics status received after ``after_ns``."""
        assert self.spin_until(lambda: self.diagnostics and self.diagnostics[-1][0] > after_ns, timeout), \
            "no diagnostics from the node"
        return next(d for d in self.diagnostics if d[0] > after_ns)

    def published(self) -> list[int]:
        assert self.camera is not None and self.camera.wait(SECONDS + 60) == 0
        return json.loads(self.report.read_text())["stamps"]

    def close(self) -> None:
        for process in (self.camera, self.node):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.executor.shutdown()
        self.client.destroy_node()


def _count(values: dict[str, str], key: str) -> float:
    return float(values[key])


def test_shipped_profile_on_both_sides_delivers_at_least_98_percent(context, tmp_path):
    run = Run(context, tmp_path, "/transport_profile", PROFILE)
    try:
        run.start_camera(SECONDS)
        run.init_target()
        _, start = run.latest(time.time_ns())  # counters from here on: the target is set
        stamps = run.published()
        run.spin_until(lambda: False, 1.5)  # the last frames are processed
        _, end = run.latest(time.time_ns())
    finally:
        run.close()
    # sent after the start: the frames stamped after the last one the node had received when it read its counters
    # (not after the moment the test read them: under load that message arrives frames later)
    sent = sum(1 for s in stamps if s > int(start["last image stamp ns"]))
    got = {key: _count(end, key) - _count(start, key) for key in ("received frames", "processed frames",
                                                                    "points published", "dropped frames")}
    summary = (f"published after the target was set {sent}, at the node {got} (processed "
               f"{100 * got['processed frames'] / max(sent, 1):.1f}%), end diagnostics {end}")
    print(summary)
    assert sent > 0.6 * SECONDS * 30, summary
    # transport: at least 98% reach the node (a frame or two may arrive out of order around the start)
    assert 0.98 * sent <= got["received frames"] <= sent + 2, summary
    # every frame that reached the node produced outputs (a 3D point each), or was replaced by a newer one before
    # inference took it (counted: the node keeps only the newest); with the fast model that is a few percent
    # (measured: 98.2% processed on a loaded 2-core host, 86-94% beside a second tracker process)
    assert got["points published"] == got["processed frames"], summary
    assert abs(got["processed frames"] + got["dropped frames"] - got["received frames"]) <= 2, summary
    # processing keeps the newest frame and replaces older ones: its share is the CPU's, not the transport's (75 %
    # in a fresh-clone make test beside two busy processes and a second test suite); half is a liveness floor
    assert got["processed frames"] >= 0.5 * sent, summary
    assert _count(end, "errors") == 0 and _count(end, "bad images") == 0, summary
    assert _count(end, "frames lost upstream") - _count(start, "frames lost upstream") <= 0.02 * sent + 1, summary


def test_defaults_lose_frames_and_the_node_estimates_the_loss_within_10_points(context, tmp_path):
    run = Run(context, tmp_path, "/transport_defaults", None)
    try:
        run.start_camera(SECONDS)
        stamps = run.published()
        run.spin_until(lambda: False, 1.5)
        _, end = run.latest(time.time_ns())
    finally:
        run.close()
    received = int(_count(end, "received frames"))
    # the true loss between the node's first and last received frame (the estimator cannot see the ends)
    true_pct = 100.0 * (1.0 - received / len(stamps))
    estimated = _count(end, "upstream loss % since start")
    summary = (f"published {len(stamps)}, received {received} (true loss {true_pct:.1f}%), estimated "
               f"{estimated:.1f}% ({end['frames lost upstream']} frames, period {end['upstream period ms']} ms)")
    print(summary)
    assert received > 10, summary
    assert abs(estimated - true_pct) <= 10.0, summary
    log = (tmp_path / "transport_defaults_node.log").read_text(errors="replace")
    assert "were lost before this node" in log and "FASTDDS_DEFAULT_PROFILES_FILE" in log, log[-2000:]

"""The installed `set_target` executable calls a real set_target service and reports its answer."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
ament_index = pytest.importorskip("ament_index_python.packages", reason="run `make setup`")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from attsiammask_ros.set_target_client import parse_stamp, request_from_xywh  # noqa: E402


def test_request_from_xywh_converts_top_left_to_centre():
    request = request_from_xywh(10, 20, 30, 40)
    assert (request.bbox.center.position.x, request.bbox.center.position.y) == (25.0, 40.0)
    assert (request.bbox.size_x, request.bbox.size_y) == (30.0, 40.0)
    assert (request.stamp.sec, request.stamp.nanosec) == (0, 0)


def test_parse_stamp():
    assert (parse_stamp("12").sec, parse_stamp("12").nanosec) == (12, 0)
    stamp = parse_stamp("1700000000.25")
    assert (stamp.sec, stamp.nanosec) == (1_700_000_000, 250_000_000)


def _installed_executable(name: str) -> Path:
    prefix = Path(ament_index.get_package_prefix("attsiammask_ros"))
    return prefix / "lib" / "attsiammask_ros" / name


def test_set_target_executable_against_a_live_service(ros_context):
    from attsiammask_interfaces.srv import SetTarget

    received = []

    def handle(request, response):
        received.append(request)
        response.success, response.message, response.track_id = True, "ok", "t1"
        return response

    node = rclpy.create_node("fake_tracker", context=ros_context)
    node.create_service(SetTarget, "set_target", handle)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        exe = _installed_executable("set_target")
        assert exe.is_file(), f"{exe} missing: make setup installs executables where ros2 run looks"
        done = subprocess.run([sys.executable, str(exe), "10,20,30,40", "--stamp", "5.5", "--timeout", "20"],
                              capture_output=True, text=True, timeout=60, env=os.environ.copy())
    finally:
        executor.shutdown()
        node.destroy_node()
        spinner.join(timeout=5)
    assert done.returncode == 0, done.stderr
    assert "success=True track_id='t1'" in done.stdout
    assert len(received) == 1
    assert (received[0].bbox.center.position.x, received[0].bbox.size_y) == (25.0, 40.0)
    assert (received[0].stamp.sec, received[0].stamp.nanosec) == (5, 500_000_000)


def test_set_target_rejects_a_malformed_box():
    exe = _installed_executable("set_target")
    done = subprocess.run([sys.executable, str(exe), "10,20,30"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "x,y,w,h" in done.stderr

"""The target leaves the view and comes back, through real rclpy with the real embedded lite model and the node's
default parameters (the lite presence calibration): the simulated robot (test/sim_scene.py) turns away from the
target until it is out of the image, waits, and turns part of the way back, so the target re-enters off where it
was first seen. While it is out of view the node publishes no `detection` (and an empty `detections`) and
/diagnostics says lost; after it is back, tracking resumes on it and /diagnostics counts the re-acquisition.

Frames go one at a time, each re-sent until its `detections` (one per processed frame) arrives: no fixed sleeps."""
from __future__ import annotations

import math

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup`")
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from node_harness import SEC, Harness, keep_publishing, request, wait_for  # noqa: E402
from sim_scene import HEIGHT, WIDTH, Robot, Scene  # noqa: E402
from vision_msgs.msg import Detection2D, Detection2DArray  # noqa: E402

from attsiammask_core.eval.metrics import iou_xywh  # noqa: E402
from attsiammask_ros import tracker_node  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def pan_yaws(peak: float = 70.0, back: float = 20.0, step: float = 4.0, hold: int = 8) -> list[float]:
    """The robot's yaw per frame (degrees): still, turning left until the target has left the image on the right,
    holding, then turning back to ``back`` (the target re-enters and stays 20 degrees right of where it was)."""
    yaws, yaw = [0.0, 0.0, 0.0], 0.0
    while yaw < peak:
        yaw = min(peak, yaw + step)
        yaws.append(yaw)
    yaws += [peak] * hold
    while yaw > back:
        yaw = max(back, yaw - step)
        yaws.append(yaw)
    return yaws + [back] * 8


def visible_fraction(box: tuple[float, float, float, float]) -> float:
    """The share of the target's box inside the image (0: out of view)."""
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return 0.0
    inside = max(0.0, min(x + w, WIDTH) - max(x, 0.0)) * max(0.0, min(y + h, HEIGHT) - max(y, 0.0))
    return inside / (w * h)


def _iou(a, b) -> float:
    return float(iou_xywh(np.array([a], float), np.array([b], float))[0])


def _box(detection: Detection2D) -> tuple[float, float, float, float]:
    w, h = detection.bbox.size_x, detection.bbox.size_y
    return (detection.bbox.center.position.x - w / 2, detection.bbox.center.position.y - h / 2, w, h)


def _diagnostic(status: DiagnosticStatus, key: str) -> str | None:
    return next((kv.value for kv in status.values if kv.key == key), None)


def test_target_leaves_the_view_and_comes_back(context):
    h = Harness(context, "/leaves_returns", build=tracker_node.build_tracker)  # default parameters
    arrays: dict[int, Detection2DArray] = {}
    detections: dict[int, Detection2D] = {}
    h.client.create_subscription(Detection2DArray, "detections", lambda m: arrays.__setitem__(
        m.header.stamp.sec * SEC + m.header.stamp.nanosec, m), 100)
    h.client.create_subscription(Detection2D, "detection", lambda m: detections.__setitem__(
        m.header.stamp.sec * SEC + m.header.stamp.nanosec, m), 100)
    scene, robot = Scene(), Robot()
    try:
        config = h.node.tracker.config
        assert config.presence == "verifier" and config.redetect_tiles > 0, "the lite calibration is in use"
        first = 300 * SEC
        image, _, box = scene.render(robot)
        assert keep_publishing(lambda: h.publish_array(image, first), lambda: first in h.node._frames.stamps(), 30.0)
        x, y, w, hh = box
        answer = h.call(h.set_target, request(x + w / 2, y + hh / 2, w, hh, first), 60.0)
        assert answer.success, answer.message

        truth: dict[int, tuple[float, float, float, float]] = {}
        seen_lost_in_diagnostics = False
        for k, yaw in enumerate(pan_yaws()[1:], start=1):
            robot.yaw = math.radians(yaw)
            image, _, box = scene.render(robot)
            stamp = first + k * SEC // 30
            truth[stamp] = box
            assert keep_publishing(lambda: h.publish_array(image, stamp),  # noqa: B023
                                   lambda: stamp in arrays, 30.0), f"no detections for frame {k}"  # noqa: B023
            if visible_fraction(box) == 0.0 and not seen_lost_in_diagnostics:
                # the node holds still between frames: /diagnostics (1 Hz) must report this frame's state, lost
                seen_lost_in_diagnostics = wait_for(lambda: any(
                    _diagnostic(s, "state") == "lost" and s.level == DiagnosticStatus.WARN for s in h.statuses()),
                    5.0)
                assert seen_lost_in_diagnostics, "out of view, but /diagnostics does not say lost"

        out_of_view = [s for s, b in truth.items() if visible_fraction(b) == 0.0]
        assert len(out_of_view) >= 10, "the scene keeps the target out of view for a while"
        for stamp in out_of_view:
            assert stamp not in detections, "a detection while the target is out of view"
            assert not arrays[stamp].detections, "a detections entry while the target is out of view"

        returned = min(s for s in truth if s > max(out_of_view) and visible_fraction(truth[s]) == 1.0)
        back = sorted(s for s in truth if s >= returned)
        found = [s for s in back if s in detections and _iou(_box(detections[s]), truth[s]) > 0.5]
        assert found and found[0] <= back[min(5, len(back) - 1)], "not found again within 5 frames of its return"
        assert all(s in detections and _iou(_box(detections[s]), truth[s]) > 0.5 for s in back[-5:]), \
            "tracking did not resume on the target"
        print(f"\nout of view {len(out_of_view)} frames; found again {back.index(found[0])} frames after it was "
              f"fully back; last IoU {_iou(_box(detections[back[-1]]), truth[back[-1]]):.2f}")

        assert wait_for(lambda: any(int(_diagnostic(s, "re-acquisitions") or 0) >= 1 and _diagnostic(s, "state")
                                    == "tracking" for s in h.statuses()), 5.0), \
            "/diagnostics does not count the re-acquisition"
    finally:
        h.close()

"""Results to messages and set_target boxes: pure functions, no node spinning."""
from __future__ import annotations

import math

import numpy as np
import pytest

vision_msgs = pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: run `make setup`")
from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from attsiammask_core import TrackResult  # noqa: E402
from attsiammask_ros import messages  # noqa: E402


def bbox(cx: float, cy: float, w: float, h: float, theta: float = 0.0) -> object:
    box = vision_msgs.BoundingBox2D()
    box.center.position.x, box.center.position.y, box.center.theta = cx, cy, theta
    box.size_x, box.size_y = w, h
    return box


def result(box=(10.0, 20.0, 30.0, 40.0), score=0.8, state="tracking", hw=(120, 160)) -> TrackResult:
    mask = np.zeros(hw, bool)
    mask[25:55, 12:38] = True
    x, y, w, h = box
    polygon = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    return TrackResult(box=box, polygon=polygon, mask=mask, score=score, state=state)


def test_stamps():
    assert messages.stamp_to_ns(Time(sec=3, nanosec=5)) == 3_000_000_005
    assert messages.stamp_to_ns(Time()) == 0
    assert messages.format_stamp(3_000_000_005) == "3.000000005"


def test_bbox_centre_size_to_xywh_ignores_theta():
    assert messages.xywh_from_bbox(bbox(50, 40, 20, 10, theta=0.7)) == (40.0, 35.0, 20.0, 10.0)


def test_target_box_inside_is_unchanged_and_partly_outside_is_clipped():
    assert messages.target_xywh_from_bbox(bbox(50, 40, 20, 10), (120, 160)) == (40.0, 35.0, 20.0, 10.0)
    # left/top outside: x from -10 to 20, y from -5 to 15
    assert messages.target_xywh_from_bbox(bbox(5, 5, 30, 20), (120, 160)) == (0.0, 0.0, 20.0, 15.0)
    # right/bottom outside
    assert messages.target_xywh_from_bbox(bbox(155, 115, 20, 20), (120, 160)) == (145.0, 105.0, 15.0, 15.0)
    # up to twice the image per side is clipped to the whole image
    assert messages.target_xywh_from_bbox(bbox(80, 60, 320, 240), (120, 160)) == (0.0, 0.0, 160.0, 120.0)


@pytest.mark.parametrize("box, words", [
    (bbox(math.nan, 40, 20, 10), "not finite"),
    (bbox(50, 40, math.inf, 10), "not finite"),
    (bbox(50, 40, 3, 10), "below the minimum of 4 px"),
    (bbox(50, 40, 20, 0), "below the minimum"),
    (bbox(50, 40, -20, 10), "below the minimum"),
    (bbox(300, 40, 20, 10), "does not overlap the 160x120 image"),
    (bbox(-20, -20, 20, 20), "does not overlap"),
    (bbox(161, 60, 6, 20), "only 2 x 20 px of the box lie inside"),
    (bbox(80, 60, 1e9, 30), "more than 2 times the 160x120 image"),
    (bbox(80, 60, 40, 241), "more than 2 times"),
])
def test_target_box_failures_say_what_to_fix(box, words):
    with pytest.raises(ValueError, match=words):
        messages.target_xywh_from_bbox(box, (120, 160))


@pytest.mark.parametrize(("box", "words"), [
    ((0.8, 0.7, 0.5, 0.5), "below the minimum"),           # a 40x30 box scaled onto a 2x2 image
    ((-800.0, -600.0, 1600.0, 1200.0), "more than 2 times"),
    ((math.nan, 0.0, 10.0, 10.0), "not finite"),
    ((200.0, 10.0, 10.0, 10.0), "does not overlap"),
])
def test_clip_target_box_failures(box, words):
    with pytest.raises(ValueError, match=words):
        messages.clip_target_xywh(box, (120, 160))
    assert messages.clip_target_xywh((-5.0, 100.0, 20.0, 30.0), (120, 160)) == (0.0, 100.0, 15.0, 20.0)


def test_scale_box_to_a_new_image_size():
    assert messages.scale_xywh((10, 20, 30, 40), (100, 200), (200, 100)) == (5.0, 40.0, 15.0, 80.0)


def test_detection_from_result():
    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = 7, 9
    detection = messages.detection_from_result(result(), header, "abc123", "person")
    assert detection.header == header and detection.id == "abc123"
    assert (detection.bbox.center.position.x, detection.bbox.center.position.y) == (25.0, 40.0)
    assert (detection.bbox.size_x, detection.bbox.size_y, detection.bbox.center.theta) == (30.0, 40.0, 0.0)
    assert len(detection.results) == 1
    assert detection.results[0].hypothesis.class_id == "person"
    assert detection.results[0].hypothesis.score == pytest.approx(0.8)


def test_confidence_message():
    assert messages.confidence_message(0.25).data == pytest.approx(0.25)
    assert messages.confidence_message(None).data == 0.0
    assert messages.confidence_message(math.nan).data == 0.0


@pytest.mark.parametrize("state, level", [("idle", DiagnosticStatus.OK), ("tracking", DiagnosticStatus.OK),
                                          ("lost", DiagnosticStatus.WARN)])
def test_diagnostics_message(state, level):
    array = messages.diagnostics_message(Time(sec=1), "attsiammask_tracker: tracking", state,
                                         {"processed fps": 12.345, "latency p50 ms": math.nan,
                                          "dropped frames": 3, "model variant": "lite", "device": "cpu"})
    assert array.header.stamp.sec == 1 and len(array.status) == 1
    status = array.status[0]
    assert status.name == "attsiammask_tracker: tracking" and status.level == level
    assert status.hardware_id == "cpu"
    values = {kv.key: kv.value for kv in status.values}
    assert values == {"state": state, "processed fps": "12.35", "latency p50 ms": "nan", "dropped frames": "3",
                      "model variant": "lite", "device": "cpu"}


def test_debug_overlay_draws_on_a_copy():
    frame = np.full((120, 160, 3), 50, np.uint8)
    out = messages.debug_overlay(frame, result(), "tracking", "abc")
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.all(frame == 50)
    assert not np.array_equal(out, frame)
    assert messages.debug_overlay(frame, None, "idle").shape == frame.shape
    lost = result(state="lost", score=0.1)
    assert messages.debug_overlay(frame, lost, "lost").shape == frame.shape

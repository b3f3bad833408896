"""Several targets in one node through real rclpy and the real lite model: two look-alike targets cross in a
rendered scene (test/crossing_scene.py); their ids never switch, `detections` carries both under their ids, `masks`
labels them, one is lost (it vanishes) while the other is kept, clear_target_id removes one, max_targets holds."""
from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup`")
from attsiammask_interfaces.srv import ClearTarget  # noqa: E402
from crossing_scene import Crossing  # noqa: E402
from node_harness import SEC, Harness, keep_publishing, request, wait_for  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

from attsiammask_core.eval.metrics import iou_xywh  # noqa: E402
from attsiammask_ros import tracker_node  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _iou(a, b) -> float:
    return float(iou_xywh(np.array([a], float), np.array([b], float))[0])


def _box(detection) -> tuple[float, float, float, float]:
    w, h = detection.bbox.size_x, detection.bbox.size_y
    return (detection.bbox.center.position.x - w / 2, detection.bbox.center.position.y - h / 2, w, h)


def _target(box, stamp_ns: int, target_id: str):
    x, y, w, h = (float(v) for v in box)
    req = request(x + w / 2, y + h / 2, w, h, stamp_ns)
    req.target_id = target_id
    return req


def _run_crossing(h: Harness, scene: Crossing, arrays: dict[int, Detection2DArray]) -> dict[int, int]:
    """Set A and B on frame 0, then play every frame, each re-sent until its detections arrive; stamp -> frame."""
    first = 200 * SEC
    assert keep_publishing(lambda: h.publish_array(scene.render(0), first),
                           lambda: first in h.node._frames.stamps(), 30.0)
    for target_id, box in zip(("A", "B"), scene.boxes(0), strict=True):
        answer = h.call(h.set_target, _target(box, first, target_id), 60.0)
        assert answer.success and answer.track_id == target_id, answer.message
    stamps = {}
    for k in range(1, scene.frames + 10):
        frame_k = min(k, scene.frames - 1)
        stamp = first + k * SEC // 30
        stamps[stamp] = frame_k
        assert keep_publishing(lambda: h.publish_array(scene.render(frame_k), stamp),  # noqa: B023
                               lambda: stamp in arrays, 30.0), f"no detections for frame {k}"  # noqa: B023
    return stamps


def test_a_lost_target_is_not_reacquired_on_another_target(context):
    # track_targets passes the boxes the other targets hold to a lost tracker: its re-detection skips them
    scene = Crossing(frames=60, hide_b_from=45)
    h = Harness(context, "/multi_reacquire", overrides={"tracking.max_targets": 2}, build=tracker_node.build_tracker)
    arrays: dict[int, Detection2DArray] = {}
    h.client.create_subscription(Detection2DArray, "detections",
                                 lambda m: arrays.__setitem__(m.header.stamp.sec * SEC + m.header.stamp.nanosec, m),
                                 100)
    try:
        stamps = _run_crossing(h, scene, arrays)
        assert [d.id for d in arrays[max(stamps)].detections] == ["A"], "B re-acquired on A: two ids, one object"
    finally:
        h.close()


def test_two_look_alikes_cross_keep_their_ids_and_one_is_lost(context):
    scene = Crossing(frames=60, hide_b_from=45)
    # The default loss threshold (0.5) reads the presence probability: about 0 on the empty wall where B was, 0.94
    # to 1.0 on both visible targets here (the box head's raw score gives the wall 0.8, which is why this test used
    # 0.9 before the verifier). The tile search is on (default): it finds A, a look-alike of B, but A's box is
    # held by A, so B is not re-acquired on it (test_a_lost_target_is_not_reacquired_on_another_target).
    h = Harness(context, "/multi", overrides={"tracking.max_targets": 2},
                build=tracker_node.build_tracker)
    arrays: dict[int, Detection2DArray] = {}
    labels: list[Image] = []
    h.client.create_subscription(Detection2DArray, "detections",
                                 lambda m: arrays.__setitem__(m.header.stamp.sec * SEC + m.header.stamp.nanosec, m),
                                 100)
    h.client.create_subscription(Image, "masks", labels.append, 100)
    clear_id = h.client.create_client(ClearTarget, "clear_target_id")
    try:
        first = 200 * SEC
        assert keep_publishing(lambda: h.publish_array(scene.render(0), first),
                               lambda: first in h.node._frames.stamps(), 30.0)
        for target_id, box in zip(("A", "B"), scene.boxes(0), strict=True):
            answer = h.call(h.set_target, _target(box, first, target_id), 60.0)
            assert answer.success and answer.track_id == target_id, answer.message
        full = h.call(h.set_target, _target(scene.boxes(0)[0], first, "C"), 30.0)
        assert not full.success and "tracking.max_targets" in full.message
        assert [t.track_id for t in h.node.session.targets] == ["A", "B"]

        stamps = {}
        for k in range(1, scene.frames + 10):
            frame_k = min(k, scene.frames - 1)
            stamp = first + k * SEC // 30
            stamps[stamp] = frame_k
            assert keep_publishing(lambda: h.publish_array(scene.render(frame_k), stamp),  # noqa: B023
                                   lambda: stamp in arrays, 30.0), f"no detections for frame {k}"  # noqa: B023

        kept_apart = 0
        for stamp, frame_k in stamps.items():
            truth = dict(zip(("A", "B"), scene.boxes(frame_k), strict=True))
            found = {d.id: _box(d) for d in arrays[stamp].detections}
            assert set(found) <= {"A", "B"}
            if _iou(truth["A"], truth["B"]) == 0.0 and frame_k < scene.hide_b_from and frame_k > 40:
                # after the crossing, apart again: each id is on its own target, not on the other one
                assert _iou(found["A"], truth["A"]) > 0.5 and _iou(found["A"], truth["B"]) < 0.1, frame_k
                assert _iou(found["B"], truth["B"]) > 0.5 and _iou(found["B"], truth["A"]) < 0.1, frame_k
                kept_apart += 1
        assert kept_apart >= 3, "too few frames checked after the crossing"
        last = arrays[max(stamps)]
        assert [d.id for d in last.detections] == ["A"], "B vanished: lost, A kept"
        states = {t.track_id: t.state for t in h.node.session.targets}
        assert states == {"A": "tracking", "B": "lost"}
        assert h.node.stats.targets["B"].frames_lost >= 1 and h.node.stats.targets["A"].frames_lost == 0
        assert labels and labels[-1].encoding == "mono8" and set(np.unique(np.frombuffer(
            bytes(labels[-1].data), np.uint8))) <= {0, 1}  # only A tracked at the end: label 1
        assert wait_for(lambda: any(kv.key == "target B frames lost" and kv.value not in ("0", "")
                                    for s in h.statuses() for kv in s.values), 5.0), "no per-target diagnostics"

        assert wait_for(clear_id.service_is_ready, 10.0)
        unknown = h.call(clear_id, ClearTarget.Request(target_id="nope"))
        assert not unknown.success and "no target has id" in unknown.message
        cleared = h.call(clear_id, ClearTarget.Request(target_id="B"))
        assert cleared.success and [t.track_id for t in h.node.session.targets] == ["A"]
        assert h.node.target.track_id == "A"
        bad = h.call(h.set_target, _target(scene.boxes(0)[0], 0, "no/path"))
        assert not bad.success and "not an id" in bad.message
    finally:
        h.close()

"""Faults of tracker_node through real rclpy (issue 7 part 2): none crashes the node, the final state is the
one the last call asked for.

- The target leaves the frame and comes back: tracking -> lost (no detection while lost, confidence low,
  /diagnostics lost) -> tracking again by itself, same track, no new set_target.
- clear_target / set_target while a frame is in inference (the model's forward blocked on an Event): each is
  answered while the frame is still in inference, nothing of the old target is published afterwards, and the
  final state is the last call's.
- A burst of 100 set_target calls per second for 10 s while images stream: every call answered, frames
  processed in every second, the final track id the last successful response's.
- The image publisher pauses or goes away and comes back (with an earlier clock): the node stays alive and
  answers meanwhile, and tracks the same target after the resume.

The only sleep is the burst's pacing (one call per 10 ms); everything else waits on a condition, bounded.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from fake_siammask import PlantedModel  # noqa: E402
from node_harness import (  # noqa: E402
    HW,
    SEC,
    TARGET,
    Harness,
    RecordingModel,
    keep_publishing,
    request,
    stamp_ns_of,
    wait_for,
)
from sensor_msgs.msg import Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402


def start_tracking(h: Harness, box: tuple[float, float, float, float] = TARGET) -> str:
    """Stream, set a target, wait for its first detection; returns its track id (the camera keeps streaming)."""
    h.streaming = True
    assert wait_for(lambda: len(h.node._frames) > 0), "no image arrived"
    response = h.call(h.set_target, request(*box))
    assert response.success, response.message
    assert wait_for(lambda: any(d.id == response.track_id for d in h.detections)), "no detection"
    return response.track_id


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


# ---- the target leaves the frame and comes back ----------------------------------------------------------------
class ContentModel(PlantedModel):
    """Sees the target when the search crop holds bright pixels (p = 0.9 at the centre cell), else p = 0.05 at
    best; mask: all target. Counts template computations (one per init)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask.fill_(10.0)
        self.templates = 0

    def template_features(self, z):
        self.templates += 1
        return super().template_features(z)

    def search_features(self, x):
        self.clear()
        self.set_score(2, 12, 12, 0.9 if float(x.max()) > 128 else 0.05)
        return super().search_features(x)


def scene(target_visible: bool) -> np.ndarray:
    """Black, with a white 40x30 target at TARGET while it is in view."""
    frame = np.zeros((*HW, 3), np.uint8)
    if target_visible:
        cx, cy, w, h = (int(v) for v in TARGET)
        frame[cy - h // 2:cy + h // 2, cx - w // 2:cx + w // 2] = 255
    return frame


def test_target_leaves_the_frame_and_comes_back(context):
    model = ContentModel()
    h = Harness(context, "/flt_leave", model=model)
    visible = threading.Event()
    visible.set()
    h.scene = lambda: scene(visible.is_set())
    try:
        track_id = start_tracking(h)
        node = h.node
        assert node.state == "tracking" and model.templates == 1

        visible.clear()  # the target leaves
        assert wait_for(lambda: node.state == "lost", 10.0)
        assert wait_for(lambda: any(status_values(s).get("state") == "lost" and s.level == DiagnosticStatus.WARN
                                    and status_values(s)["track id"] == track_id for s in h.statuses()), 5.0)
        assert h.confidences[-1] == pytest.approx(0.05, abs=1e-6), "confidence goes on while lost"
        lost_seen = len(h.statuses())

        visible.set()  # it comes back
        assert wait_for(lambda: node.state == "tracking", 10.0)
        seen = len(h.detections)
        assert wait_for(lambda: len(h.detections) >= seen + 3)
        assert wait_for(lambda: any(status_values(s)["state"] == "tracking" and s.level == DiagnosticStatus.OK
                                    for s in h.statuses()[lost_seen:]), 5.0)
        h.streaming = False

        assert model.templates == 1 and node.target.track_id == track_id, "recovered without a new set_target"
        assert {d.id for d in h.detections} == {track_id}
        assert h.detections[-1].results[0].hypothesis.score == pytest.approx(0.9, abs=1e-6)
        lost_stamps = {stamp_ns_of(m) for m in h.masks if not np.frombuffer(m.data, np.uint8).any()}
        detected_stamps = {stamp_ns_of(d) for d in h.detections}
        assert lost_stamps, "empty masks were published while lost"
        assert not lost_stamps & detected_stamps, "a detection was published for a frame where the target was lost"
        assert max(detected_stamps) > max(lost_stamps), "detections resumed after the loss"
    finally:
        h.close()


# ---- calls while a frame is in inference -----------------------------------------------------------------------
class GatedModel(RecordingModel):
    """RecordingModel whose search (track()'s forward) waits for ``gate`` on a dark frame while ``hold`` is set
    (the camera's frames are bright, so only the test's dark frame blocks)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = self.inside = False
        self.entered, self.gate = threading.Event(), threading.Event()

    def search_features(self, x):
        if self.hold and float(x.min()) < 50:
            self.inside = True
            self.entered.set()
            self.gate.wait(30.0)
            self.inside = False
        return super().search_features(x)


@pytest.fixture(scope="module")
def gated(context):
    h = Harness(context, "/flt_gate", model=GatedModel())
    yield h
    h.model.gate.set()
    h.close()


BOX_B, BOX_C = (70.0, 50.0, 30.0, 30.0), (90.0, 70.0, 36.0, 24.0)
SEQUENCES = {
    "clear": ["clear"],
    "set": [BOX_B],
    "set-then-clear": [BOX_B, "clear"],
    "clear-then-set": ["clear", BOX_B],
    "set-then-set": [BOX_B, BOX_C],
    "bad-set-then-clear-then-bad-set": [(math.nan, 60.0, 40.0, 30.0), "clear", (80.0, 60.0, 2.0, 2.0)],
}


@pytest.mark.parametrize("calls", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_calls_while_a_frame_is_in_inference(gated, calls):
    h, model = gated, gated.model
    old_id = start_tracking(h)
    h.streaming = False
    discarded = h.node.stats.discarded
    model.entered.clear()
    model.gate.clear()
    model.hold = True
    try:
        stamp = h.next_stamp()
        assert keep_publishing(lambda: h.publish(20, stamp_ns=stamp), model.entered.is_set), "no frame in inference"
        answers = []
        for call in calls:
            if call == "clear":
                answers.append(h.call(h.clear_target, Trigger.Request(), timeout=5.0))
            else:
                answers.append(h.call(h.set_target, request(*call), timeout=5.0))
            assert model.inside, "answered only after the frame in inference"
        answered_at = len(h.detections)
    finally:
        model.hold = False
        model.gate.set()
    assert wait_for(lambda: h.node.stats.discarded == discarded + 1), "the frame in flight is discarded"

    final, new_ids = old_id, set()
    for call, answer in zip(calls, answers, strict=True):
        assert answer.success == (call == "clear" or valid(call)), answer.message
        if call == "clear":
            final = None
        elif answer.success:
            final = answer.track_id
            new_ids.add(final)
    assert_final_state(h, final)
    late = h.detections[answered_at:]
    in_flight = [d for d in h.detections if stamp_ns_of(d) == stamp and d.id == old_id]
    assert not in_flight, "the old target's result for the frame in flight was published"
    if final != old_id:
        assert not any(d.id == old_id for d in late), "a detection of the replaced target after the answer"
        assert {d.id for d in late} <= new_ids


def valid(box: tuple[float, float, float, float]) -> bool:
    return all(math.isfinite(v) for v in box) and min(box[2:]) >= 4


def assert_final_state(h: Harness, track_id: str | None) -> None:
    """After a few more frames: tracking ``track_id`` (detections of it), or idle (confidence 0, no detection)."""
    h.streaming = True
    try:
        assert h.processed_after(3, 10.0)
        seen = len(h.detections)
        assert h.processed_after(3, 10.0)
    finally:
        h.streaming = False
    if track_id is None:
        assert h.node.target is None and h.node.state == "idle"
        assert wait_for(lambda: h.confidences and h.confidences[-1] == 0.0)
        assert len(h.detections) == seen
    else:
        assert h.node.target.track_id == track_id and h.node.state == "tracking"
        assert wait_for(lambda: any(d.id == track_id for d in h.detections[seen:]))


# ---- a burst of set_target calls while images stream -----------------------------------------------------------
RATE, SECONDS, MAX_OUTSTANDING = 100, 10, 100


def burst_box(k: int) -> tuple[float, float, float, float]:
    """Call k's box: every 10th one invalid (not finite), the others valid and all different."""
    if k % 10 == 9:
        return (math.nan, 60.0, 40.0, 30.0)
    return (60.0 + k % 40, 40.0 + k % 30, 20.0 + k % 20, 20.0 + k % 10)


def test_burst_of_100_set_target_per_second_for_10_s_while_images_stream(context):
    h = Harness(context, "/flt_burst")
    try:
        first_id = start_tracking(h)
        futures, processed = [], [h.node.stats.processed]
        start = time.monotonic()
        for k in range(RATE * SECONDS):
            pause = start + k / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing: one call per 10 ms
            assert wait_for(lambda: sum(not f.done() for f in futures[-MAX_OUTSTANDING:]) < MAX_OUTSTANDING, 10.0)
            futures.append(h.set_target.call_async(request(*burst_box(k))))
            if k % RATE == RATE - 1:
                processed.append(h.node.stats.processed)
        sending = time.monotonic() - start
        assert wait_for(lambda: all(f.done() for f in futures), 30.0), \
            f"calls never answered: {[k for k, f in enumerate(futures) if not f.done()][:20]}"
        responses = [f.result() for f in futures]
        assert sending < SECONDS + 2.0, f"the calls took {sending:.1f} s to send"
        assert all(r.success == (k % 10 != 9) for k, r in enumerate(responses))
        ids = [r.track_id for r in responses if r.success]
        assert len(set(ids)) == len(ids) == RATE * SECONDS * 9 // 10, "every successful call gets a new track id"
        per_second = np.diff(processed)
        assert (per_second > 0).all(), f"frames processed per second of the burst: {per_second.tolist()}"
        assert h.node.target.track_id == ids[-1] and h.node.state == "tracking"
        assert wait_for(lambda: h.detections[-1].id == ids[-1]), "tracking goes on with the last target"
        assert {d.id for d in h.detections} <= set(ids) | {first_id}, "only ids that calls returned"
    finally:
        h.close()


# ---- the image publisher stops and resumes ---------------------------------------------------------------------
@pytest.mark.parametrize("how", ["pause", "destroy"])
def test_image_publisher_stops_and_resumes(context, how):
    h = Harness(context, f"/flt_publisher_{how}")
    try:
        track_id = start_tracking(h)
        node = h.node
        h.streaming = False
        if how == "destroy":
            h.client.destroy_publisher(h.image_pub)
            assert wait_for(lambda: node._image_sub.get_publisher_count() == 0, 10.0)
        # stopped: the node answers, publishes diagnostics that show no frames, and keeps its target
        stopped_at = len(h.statuses())
        assert wait_for(lambda: any(status_values(s)["processed fps"] == "0.00" for s in h.statuses()[stopped_at:]),
                        5.0), "diagnostics go on while no image arrives"
        status = status_values(h.statuses()[-1])
        assert (status["state"], status["track id"]) == ("tracking", track_id)
        response = h.call(h.set_target, request(math.nan, 60.0, 40.0, 30.0))
        assert not response.success and "not finite" in response.message
        assert node.target.track_id == track_id and node.state == "tracking" and node._thread.is_alive()

        if how == "destroy":
            h.image_pub = h.client.create_publisher(Image, "image", h.image_qos)
            assert wait_for(lambda: node._image_sub.get_publisher_count() == 1, 10.0)
        h.stamp_ns = 50 * SEC  # a restarted camera: its clock starts earlier than the buffered frames
        seen = len(h.detections)
        h.streaming = True
        assert wait_for(lambda: any(d.id == track_id and stamp_ns_of(d) < 60 * SEC for d in h.detections[seen:]),
                        10.0), "tracking resumes with the same target"
        stamp = h.stamp_ns
        assert wait_for(lambda: stamp in node._frames.stamps())
        response = h.call(h.set_target, request(*TARGET, stamp_ns=stamp))
        assert response.success, response.message
    finally:
        h.close()

"""TrackingSession without ROS: targets (replace, add, re-initialise, limit, clear), the generation that discards a
frame in flight, image size changes, loss statistics, the publication rule, stamp matching and the hand-off."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from attsiammask_core.session import (
    FrameHandoff,
    FrameResult,
    SessionError,
    TargetResult,
    TrackingSession,
    frame_publication,
)
from attsiammask_core.session.frames import FrameBuffer, match_frame
from attsiammask_core.session.statistics import LossStats
from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import TrackResult

FRAME = np.zeros((120, 160, 3), np.uint8)


class ScriptedTracker:
    """A tracker double: track() returns the box it was given, with the states and scores of ``script`` in turn."""

    def __init__(self, script=None) -> None:
        self.config = "base"
        self.script = script if script is not None else []
        self.box = None
        self.steps = 0

    def init(self, frame, box) -> None:
        if box[2] > frame.shape[1]:
            raise ValueError("box wider than the frame")
        self.box, self.steps = tuple(box), 0

    def track(self, frame) -> TrackResult:
        state, score = self.script[self.steps] if self.steps < len(self.script) else (TrackState.TRACKING, 0.9)
        self.steps += 1
        mask = np.zeros(frame.shape[:2], bool)
        x, y, w, h = (int(v) for v in self.box)
        mask[y:y + h, x:x + w] = True
        return TrackResult(self.box, np.zeros((4, 2)), mask, score, state)


@pytest.fixture(autouse=True)
def one_by_one(monkeypatch):
    """The session's seam, track_targets, stepping the doubles one by one (the real one batches real trackers)."""
    import attsiammask_core.session.session as module

    monkeypatch.setattr(module, "track_targets", lambda trackers, frame: [t.track(frame) for t in trackers])


def session(**kwargs) -> TrackingSession:
    return TrackingSession(ScriptedTracker(kwargs.pop("script", None)), **kwargs)


def test_empty_id_replaces_new_id_adds_existing_id_reinitialises():
    s = session(max_targets=2)
    single = s.set_target(FRAME, (10, 10, 20, 20), 1)
    assert len(single.track_id) == 8 and [t.track_id for t in s.targets] == [single.track_id]
    s.set_target(FRAME, (10, 10, 20, 20), 2, "a")
    assert [t.track_id for t in s.targets] == [single.track_id, "a"]
    with pytest.raises(SessionError, match="tracking.max_targets"):
        s.set_target(FRAME, (10, 10, 20, 20), 3, "b")
    again = s.set_target(FRAME, (50, 50, 20, 20), 4, "a")  # an existing id: re-initialised in its place
    assert [t.track_id for t in s.targets] == [single.track_id, "a"] and again.box == (50, 50, 20, 20)
    replaced = s.set_target(FRAME, (10, 10, 20, 20), 5)
    assert [t.track_id for t in s.targets] == [replaced.track_id] and replaced.track_id != single.track_id


def test_refusals_leave_the_targets_as_they_were():
    s = session()
    s.set_target(FRAME, (10, 10, 20, 20), 1, "a")
    with pytest.raises(SessionError, match="rejected"):
        s.set_target(FRAME, (0, 0, 500, 20), 2, "a")
    with pytest.raises(SessionError, match="not an id"):
        s.set_target(FRAME, (10, 10, 20, 20), 2, "../x")
    assert [(t.track_id, t.box) for t in s.targets] == [("a", (10.0, 10.0, 20.0, 20.0))]


def test_clear_one_or_all():
    s = session()
    for name in "abc":
        s.set_target(FRAME, (10, 10, 20, 20), 1, name)
    assert s.clear("b") == ["b"] and s.clear("zz") == []
    assert [t.track_id for t in s.targets] == ["a", "c"]
    assert s.clear() == ["a", "c"] and s.targets == [] and s.state == TrackState.IDLE


def test_every_target_steps_through_track_targets_and_results_keep_order(monkeypatch):
    import attsiammask_core.session.session as module

    calls = []
    monkeypatch.setattr(module, "track_targets", lambda trackers, frame: calls.append(len(trackers)) or [
        t.track(frame) for t in trackers])
    s = session()
    s.set_target(FRAME, (10, 10, 20, 20), 1, "a")
    s.set_target(FRAME, (60, 10, 20, 20), 1, "b")
    result = s.step(FRAME, 2)
    assert calls == [2] and [t.track_id for t in result.targets] == ["a", "b"]
    assert result.first.track_id == "a" and result.state == TrackState.TRACKING


def test_a_frame_in_flight_is_discarded_when_the_targets_change():
    s = session()
    s.set_target(FRAME, (10, 10, 20, 20), 1, "a")
    entered, release = threading.Event(), threading.Event()
    tracker = s.targets[0].tracker
    original = tracker.track

    def slow(frame):
        entered.set()
        release.wait(5)
        return original(frame)

    tracker.track = slow
    out = []
    worker = threading.Thread(target=lambda: out.append(s.step(FRAME, 2, deliver=out.append)))
    worker.start()
    assert entered.wait(5)
    s.clear("a")
    release.set()
    worker.join(5)
    assert out == [None] and s.stats.discarded == 1


def test_image_size_change_reinitialises_or_drops_the_target():
    s = session()
    s.set_target(FRAME, (10, 10, 20, 20), 1, "a")
    result = s.step(np.zeros((240, 320, 3), np.uint8), 2)
    assert s.stats.reinitialised == 1 and "re-initialised" in result.notes[0]
    assert s.targets[0].box == (20.0, 20.0, 40.0, 40.0)
    result = s.step(np.zeros((3, 3, 3), np.uint8), 3)  # the scaled box is below the minimum: dropped
    assert result.targets == [] and s.targets == [] and "cannot go on" in result.notes[0]


def test_loss_statistics_count_reacquisitions_and_their_delay():
    lost, ok = (TrackState.LOST, 0.1), (TrackState.TRACKING, 0.9)
    s = session(script=[ok, lost, lost, lost, ok, ok, lost, ok])
    s.set_target(FRAME, (10, 10, 20, 20), 0, "a")
    for k in range(1, 9):
        s.step(FRAME, k * 100_000_000)  # 0.1 s apart
    stats = s.stats.targets["a"]
    assert (stats.frames, stats.frames_lost, stats.reacquisitions) == (8, 4, 2)
    assert list(stats.reacquire_frames) == [3, 1] and list(stats.reacquire_s) == pytest.approx([0.3, 0.1])
    values = s.stats.values()
    assert values["target a re-acquire last s"] == pytest.approx(0.1)
    assert values["re-acquire median frames"] == 2.0 and values["re-acquisitions"] == 2
    s.clear()
    assert s.stats.total().reacquisitions == 2 and "target a frames lost" not in s.stats.values()


def test_loss_stats_without_losses_are_nan_not_zero():
    values = LossStats().values()
    assert values["frames lost"] == 0 and np.isnan(values["re-acquire median s"])


def _result(track_id, box, state, score=0.8, hw=(120, 160)):
    mask = np.zeros(hw, bool)
    x, y, w, h = box
    mask[y:y + h, x:x + w] = True
    return TargetResult(track_id, TrackResult(box, np.zeros((4, 2)), mask, score, state))


def test_publication_rule():
    idle = frame_publication(FrameResult(1, (120, 160)), "target")
    assert idle.confidence == 0.0 and idle.detection is None and idle.mask is None and idle.detections == []
    a = _result("a", (10, 10, 20, 20), TrackState.LOST, 0.2)
    b = _result("b", (15, 15, 20, 20), TrackState.TRACKING)
    out = frame_publication(FrameResult(1, (120, 160), [a, b]), "person")
    assert out.confidence == pytest.approx(0.2) and out.detection is None  # the first target is lost
    assert out.mask is not None and out.mask.sum() == 400
    assert [(d.track_id, d.center_x, d.size_x, d.class_id) for d in out.detections] == [("b", 25.0, 20.0, "person")]
    assert set(np.unique(out.labels)) == {0, 1} and out.labels[20, 20] == 1  # k = position in detections
    a2 = _result("a", (10, 10, 20, 20), TrackState.TRACKING)
    both = frame_publication(FrameResult(1, (120, 160), [a2, b]), "t", publish_mask=True)
    assert both.detection.track_id == "a" and both.labels[12, 12] == 1 and both.labels[32, 32] == 2
    assert both.labels[20, 20] == 1  # overlap: the earlier target wins
    single = frame_publication(FrameResult(1, (120, 160), [a2]), "t", publish_mask=False)
    assert single.labels is None and single.mask is None


def test_match_frame_says_why_a_stamp_is_not_buffered():
    frames: FrameBuffer[str] = FrameBuffer(3)
    with pytest.raises(ValueError, match="no image received yet on /cam"):
        match_frame(frames, 0, 0, "/cam")
    for k in range(1, 5):
        frames.push(k * 1000, f"f{k}")
    assert match_frame(frames, 0, 0) == (4000, "f4") and match_frame(frames, 3001, 5) == (3000, "f3")
    for stamp, why in ((9000, "newer than every"), (1000, "older than every"), (2500, "between")):
        with pytest.raises(ValueError, match=why):
            match_frame(frames, stamp, 10)


def test_set_target_at_decodes_the_matched_frame_and_checks_the_box():
    s: TrackingSession = session()
    s.frames.push(5, "five")
    target, frame = s.set_target_at(5, 0, lambda item: FRAME, lambda f: (1, 2, 30, 40), "x")
    assert target.stamp_ns == 5 and frame is FRAME and target.box == (1, 2, 30, 40)

    def refuse(_):
        raise ValueError("box too small")

    with pytest.raises(SessionError, match="box too small"):
        s.set_target_at(0, 0, lambda item: FRAME, refuse)

    def undecodable(_):
        raise ValueError("bad encoding")

    with pytest.raises(SessionError, match="cannot be decoded: bad encoding"):
        s.set_target_at(0, 0, undecodable, lambda f: (1, 2, 30, 40))


def test_handoff_keeps_the_newest_and_stops():
    handoff: FrameHandoff[int] = FrameHandoff()
    assert handoff.put(1) is False and handoff.put(2) is True
    assert handoff.take()[0] == 2
    handoff.put(3)
    handoff.discard()
    waiter = []
    thread = threading.Thread(target=lambda: waiter.append(handoff.take()))
    thread.start()
    handoff.stop()
    thread.join(5)
    assert waiter == [None]

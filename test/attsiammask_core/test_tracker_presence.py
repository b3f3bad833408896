"""The tracker with the presence verifier: lost on a frame without the target, re-found elsewhere by the frame tiles;
several targets in one batched step; the lost step's bounded number of searches."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from attsiammask_core import geometry as geo
from attsiammask_core import tracker as tracker_module
from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import Tracker, track_targets

H, W = 240, 320


def _scene():
    rng = np.random.default_rng(3)
    background = np.kron(rng.integers(40, 200, (H // 8, W // 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    texture = np.zeros((40, 40, 3), np.uint8)
    texture[:] = (40, 140, 240)
    cv2.circle(texture, (20, 20), 10, (20, 60, 160), -1)

    def frame(*positions):
        image = background.copy()
        for x, y in positions:
            image[y:y + 40, x:x + 40] = texture
        return image

    return frame


@pytest.fixture(scope="module")
def lite():
    return Tracker.create(variant="lite", backend="onnxruntime", threads=1)


def _fresh(base: Tracker, **overrides) -> Tracker:
    return Tracker(base.model, config=dataclasses.replace(base.config, **overrides), attention=False)


def test_lost_while_absent_and_found_again_far_away(lite):
    frame = _scene()
    tracker = _fresh(lite)
    assert tracker.config.presence == "verifier"  # the shipped calibration of the lite weights
    tracker.init(frame((60, 100)), (60, 100, 40, 40))
    for i in range(1, 10):
        result = tracker.track(frame((60 + i, 100)))
        assert result.state == TrackState.TRACKING and result.presence > 0.9
    absent = [tracker.track(frame()) for _ in range(15)]
    # the raw score stays high on the empty background (a ghost); the presence confidence does not
    assert max(r.score for r in absent) > 0.7
    assert all(r.state == TrackState.LOST for r in absent[tracker.config.lost_frames:])
    assert max(r.presence for r in absent[tracker.config.lost_frames:]) < tracker.config.lost_threshold
    back = [tracker.track(frame((230, 40 + i))) for i in range(10)]
    found = next(i for i, r in enumerate(back) if r.state == TrackState.TRACKING)
    assert found <= 5
    x, y, w, h = back[-1].box
    assert abs(x - 230) < 8 and abs(y - 49) < 8 and 30 < w < 50 and 30 < h < 50


def test_candidates_the_head_likes_but_the_verifier_refuses_are_remembered(lite):
    frame = _scene()
    tracker = _fresh(lite)
    tracker.init(frame((60, 100)), (60, 100, 40, 40))
    tracker.mark_lost()
    results = [tracker.track(frame()) for _ in range(4)]  # background only: the head still scores it high
    assert all(r.state == TrackState.LOST for r in results)
    assert len(tracker._memory.distractors) > 0  # candidates with a head score >= 0.9 the verifier refused
    # the target itself is not mistaken for a distractor: found once the tiles reach it
    states = [tracker.track(frame((200, 150))).state for _ in range(6)]
    assert TrackState.TRACKING in states


def test_a_look_alike_beside_the_tracked_target_is_remembered_as_a_distractor(lite):
    frame = _scene()
    tracker = _fresh(lite)
    tracker.init(frame((100, 100)), (100, 100, 40, 40))
    for i in range(1, 12):  # a twin 45 px to the right (5 px apart), inside the search crop
        result = tracker.track(frame((100 + i, 100), (145 + i, 100)))
        assert result.state == TrackState.TRACKING and abs(result.box[0] - (100 + i)) < 8  # still on the target
    assert len(tracker._memory.distractors) >= 1
    alone = _fresh(lite)
    alone.init(frame((100, 100)), (100, 100, 40, 40))
    for i in range(1, 12):  # no look-alike: nothing to remember while tracking
        alone.track(frame((100 + i, 100)))
    assert len(alone._memory.distractors) == 0


def test_a_lost_step_runs_the_local_search_plus_redetect_tiles_searches(lite, monkeypatch):
    frame = _scene()
    for tiles in (0, 2, 5):
        tracker = _fresh(lite, redetect_tiles=tiles, recover_threshold=1.0)
        tracker.init(frame((60, 100)), (60, 100, 40, 40))
        tracker.mark_lost()
        cfg = tracker.config
        _, side = geo.search_scale((40, 40), cfg.context_amount, cfg.exemplar_size, cfg.instance_size, 1.0,
                                   cfg.context)
        available = len(geo.tile_centres((H, W), side, (80, 120), reach=1.25))  # the first lost frame's reach
        calls: list[int] = []
        original = tracker._search

        def counted(*args, _original=original, _calls=calls, **kwargs):
            _calls.append(1)
            return _original(*args, **kwargs)

        monkeypatch.setattr(tracker, "_search", counted)
        tracker.track(frame())
        assert len(calls) == 1 + min(tiles, available)


def test_mark_lost_needs_init(lite):
    with pytest.raises(RuntimeError, match="init"):
        _fresh(lite).mark_lost()


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_several_targets_in_one_batched_step_give_each_tracker_s_own_results(backend):
    base = Tracker.create(variant="lite", backend=backend, threads=1)
    frame = _scene()
    boxes = [(60, 100, 40, 40), (200, 60, 40, 40), (150, 170, 40, 40)]
    alone = [_fresh(base) for _ in boxes]
    together = [_fresh(base) for _ in boxes]
    first = frame((60, 100), (200, 60), (150, 170))
    for a, b, box in zip(alone, together, boxes, strict=True):
        a.init(first, box)
        b.init(first, box)
    calls = []
    search_heads = base.model.search_heads
    base.model.search_heads = lambda feats, kernels: calls.append(1) or search_heads(feats, kernels)
    try:
        for i in range(1, 6):
            image = frame((60 + i, 100), (200 - i, 60), (150, 170 + i))
            expected = [t.track(image) for t in alone]
            calls.clear()
            got = track_targets(together, image)
            assert len(calls) == 1  # one network call for the three targets
            for e, g in zip(expected, got, strict=True):
                np.testing.assert_allclose(g.box, e.box, atol=1e-6)
                assert g.state == e.state and g.presence == pytest.approx(e.presence, abs=1e-6)
                np.testing.assert_array_equal(g.mask, e.mask)
    finally:
        base.model.search_heads = search_heads


def test_a_lost_target_steps_alone_beside_the_batch(lite):
    frame = _scene()
    trackers = [_fresh(lite) for _ in range(3)]
    first = frame((60, 100), (200, 60))
    trackers[0].init(first, (60, 100, 40, 40))
    trackers[1].init(first, (200, 60, 40, 40))
    trackers[2].init(first, (150, 170, 40, 40))  # background only: the verifier should not hold on to it forever
    trackers[2].mark_lost()
    results = track_targets(trackers, frame((61, 100), (199, 60)))
    assert [r.state for r in results[:2]] == [TrackState.TRACKING, TrackState.TRACKING]
    assert results[2].state in (TrackState.LOST, TrackState.TRACKING)


def test_a_lost_target_does_not_jump_onto_a_box_another_target_holds(lite):
    frame = _scene()
    a, b = _fresh(lite), _fresh(lite)
    first = frame((60, 100), (200, 60))
    a.init(first, (60, 100, 40, 40))
    b.init(first, (200, 60, 40, 40))  # a look-alike of A: the verifier cannot tell them apart
    b.mark_lost()
    for _ in range(8):  # B is gone; the tiles reach A, whose box A holds
        results = track_targets([a, b], frame((60, 100)))
        assert results[0].state == TrackState.TRACKING and results[1].state == TrackState.LOST
    alone = _fresh(lite)
    alone.init(first, (200, 60, 40, 40))
    alone.mark_lost()
    states = [alone.track(frame((60, 100))).state for _ in range(8)]
    assert TrackState.TRACKING in states  # without A's box to avoid, the look-alike is taken


def test_recover_frames_asks_for_that_many_verified_frames_in_one_place(lite):
    frame = _scene()
    found = {}
    for frames in (1, 3):
        tracker = _fresh(lite, recover_frames=frames)
        tracker.init(frame((60, 100)), (60, 100, 40, 40))
        tracker.mark_lost()
        states = [tracker.track(frame((70, 100))).state for _ in range(6)]  # back right where it was
        found[frames] = states.index(TrackState.TRACKING)
    assert found[3] == found[1] + 2


def _lost_on_a_visible_target(lite, start, **overrides):
    """A tracker lost on its first frame although the target is there (the verifier asked for certainty), then
    given the shipped thresholds back: what a look change the verifier refuses does."""
    frame = _scene()
    tracker = _fresh(lite, lost_threshold=1.0, recover_threshold=1.0)
    tracker.init(frame(start), (*start, 40, 40))
    first = tracker.track(frame((start[0] + 3, start[1])))
    assert first.state == TrackState.LOST
    tracker.config = dataclasses.replace(lite.config, **overrides)
    return tracker, frame


def test_while_lost_the_reported_box_follows_the_plain_tracking_step(lite):
    tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_threshold=1.0)  # never resumes
    for i in range(2, 12):
        result = tracker.track(frame((60 + 3 * i, 100)))
        assert result.state == TrackState.LOST  # not published ...
        assert abs(result.box[0] - (60 + 3 * i)) < 8 and abs(result.box[1] - 100) < 8  # ... but on the target


def test_a_candidate_away_from_the_plain_step_must_look_more_like_the_target(lite, monkeypatch):
    monkeypatch.setattr(tracker_module, "SHADOW_SCORE", 0.0)  # the plain step's place always weighs
    taken = {}
    for shadow_presence in (0.0, 1.0):
        tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_frames=1)
        monkeypatch.setattr(tracker, "_presence_elsewhere", lambda *_, p=shadow_presence: p)
        # the target is gone from where the plain step looks; a look-alike stands far away, where the tiles reach
        states = [tracker.track(frame((230, 150))).state for _ in range(10)]
        taken[shadow_presence] = TrackState.TRACKING in states
    assert taken == {0.0: True, 1.0: False}


def test_the_plain_step_s_place_weighs_only_while_its_head_score_is_high_enough(lite, monkeypatch):
    taken = {}
    for shadow_score in (0.0, 1.01):  # every head score counts / none does
        monkeypatch.setattr(tracker_module, "SHADOW_SCORE", shadow_score)
        tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_frames=1)
        monkeypatch.setattr(tracker, "_presence_elsewhere", lambda *_: 1.0)  # the plain step's place looks best
        states = [tracker.track(frame((230, 150))).state for _ in range(10)]
        taken[shadow_score] = TrackState.TRACKING in states
    assert taken == {0.0: False, 1.01: True}


def test_the_reported_box_follows_the_plain_step_however_weak_its_score(lite, monkeypatch):
    tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_threshold=1.0)  # never resumes
    search_from = tracker._search_from

    def weak(*args):
        search, state = search_from(*args)
        return dataclasses.replace(search, best_score=0.01), state

    monkeypatch.setattr(tracker, "_search_from", weak)
    result = tracker.track(frame((90, 100)))
    assert result.state == TrackState.LOST and abs(result.box[0] - 90) < 8


def test_a_candidate_where_the_plain_step_is_resumes_on_its_box(lite, monkeypatch):
    tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_frames=1)
    shadows = []
    search_from = tracker._search_from
    monkeypatch.setattr(tracker, "_search_from",
                        lambda *args: shadows.append(search_from(*args)) or shadows[-1])
    result = tracker.track(frame((66, 100)))
    assert result.state == TrackState.TRACKING
    np.testing.assert_allclose(tracker._state, shadows[-1][1])


def test_a_lost_step_after_a_loss_on_the_confidence_runs_one_more_search_for_the_plain_step(lite, monkeypatch):
    tracker, frame = _lost_on_a_visible_target(lite, (60, 100), recover_threshold=1.0, redetect_tiles=2)
    calls: list[int] = []
    original = tracker._search
    monkeypatch.setattr(tracker, "_search", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    tracker.track(frame((66, 100)))
    assert len(calls) == 1 + 2 + 1  # the widened local search, two tiles, the plain step


def test_mark_lost_follow_keeps_a_plain_step_going(lite):
    frame = _scene()
    tracker = _fresh(lite, recover_threshold=1.0)
    tracker.init(frame((60, 100)), (60, 100, 40, 40))
    tracker.mark_lost(follow=True)
    results = [tracker.track(frame((60 + 3 * i, 100))) for i in range(1, 8)]
    assert all(r.state == TrackState.LOST for r in results)
    assert abs(results[-1].box[0] - 81) < 8  # the reported box went along with the target


def test_relocate_moves_the_target_and_keeps_the_template_and_memory(lite):
    frame = _scene()
    tracker = _fresh(lite)
    tracker.init(frame((60, 100)), (60, 100, 40, 40))
    for i in range(1, 12):
        tracker.track(frame((60 + i, 100)))
    kernels, memory, confirmed = tracker._kernels, tracker._memory, len(tracker._memory.confirmed)
    tracker.mark_lost()
    tracker.relocate(frame((200, 150)), (200, 150, 40, 40))
    assert tracker.state == TrackState.TRACKING and tracker.box_now() == pytest.approx((200, 150, 40, 40), abs=1)
    assert tracker._kernels is kernels and tracker._memory is memory and len(memory.confirmed) == confirmed
    result = tracker.track(frame((203, 150)))
    assert result.state == TrackState.TRACKING and abs(result.box[0] - 203) < 8 and abs(result.box[1] - 150) < 8


def test_relocate_needs_init_and_refuses_a_bad_box(lite):
    frame = _scene()
    with pytest.raises(RuntimeError, match="init"):
        _fresh(lite).relocate(frame(), (10, 10, 20, 20))
    tracker = _fresh(lite)
    tracker.init(frame((60, 100)), (60, 100, 40, 40))
    for bad in ((1, 2, 0, 5), (float("nan"), 0, 5, 5), (5000, 5000, 10, 10)):
        with pytest.raises(ValueError):
            tracker.relocate(frame(), bad)
    assert tracker.box_now() == pytest.approx((60, 100, 40, 40), abs=1)  # unchanged by the refusals

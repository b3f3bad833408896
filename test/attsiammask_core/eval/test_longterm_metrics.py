"""Long-term measures by hand: VOT-LT Pr/Re/F (always-present, never-present, perfect and graded trackers,
averaging over sequences), re-acquisition counting and delays, events from absent runs, absent-frame detections."""
from __future__ import annotations

import numpy as np
import pytest

from attsiammask_core.eval import longterm_metrics as lt

# 10 frames: the target present on the first 6, absent on the last 4
PRESENT = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], bool)


def _score(*sequences):
    return lt.longterm_score([tuple(np.asarray(a) for a in s) for s in sequences])


def test_perfect_tracker_scores_one():
    iou = np.where(PRESENT, 1.0, 0.0)
    conf = np.where(PRESENT, 1.0, 0.0)
    score = _score((iou, conf, PRESENT))
    # t = 0: every frame reported, Pr = 6/10, Re = 1; t = 1: only the present frames, Pr = Re = 1
    np.testing.assert_allclose(score.thresholds, [0.0, 1.0])
    np.testing.assert_allclose(score.precision_curve, [0.6, 1.0])
    np.testing.assert_allclose(score.f_curve, [0.75, 1.0])
    assert (score.f, score.precision, score.recall, score.threshold) == (1.0, 1.0, 1.0, 1.0)


def test_always_present_tracker():
    iou = np.where(PRESENT, 0.8, 0.0)  # its box on the absent frames overlaps nothing
    score = _score((iou, np.ones(10), PRESENT))
    # every threshold reports every frame: Pr = 6 * 0.8 / 10 = 0.48, Re = 0.8, F = 2 * 0.48 * 0.8 / 1.28 = 0.6
    assert score.precision == pytest.approx(0.48) and score.recall == pytest.approx(0.8)
    assert score.f == pytest.approx(0.6) and score.threshold == 0.0  # ties: the lowest threshold


def test_never_present_tracker():
    iou = np.where(PRESENT, 0.8, 0.0)
    never = _score((iou, np.zeros(10), PRESENT))
    # t = 1 reports nothing (Pr = 1 by vot-toolkit's convention, Re = 0, F = 0); t = 0 counts every frame, so
    # a constant confidence scores the same as always present: only the order of confidences matters
    np.testing.assert_allclose(never.precision_curve, [0.48, 1.0])
    np.testing.assert_allclose(never.recall_curve, [0.8, 0.0])
    assert never.f == pytest.approx(0.6) and never.threshold == 0.0
    no_box = _score((np.zeros(10), np.zeros(10), PRESENT))  # a tracker that never reports and gives no box
    assert no_box.f == 0.0 and no_box.recall == 0.0


def test_graded_confidences_by_hand():
    iou = [0.9, 0.5, 0.0, 0.0]
    conf = [0.9, 0.4, 0.6, 0.2]
    present = [True, True, False, False]
    score = _score((iou, conf, present))
    np.testing.assert_allclose(score.thresholds, [0.0, 0.2, 0.4, 0.6, 0.9, 1.0])
    # t<=0.2: all four, 1.4/4 and 1.4/2; t=0.4: three, 1.4/3; t=0.6: frames 0, 2; t=0.9: frame 0; t=1: none
    np.testing.assert_allclose(score.precision_curve, [0.35, 0.35, 1.4 / 3, 0.45, 0.9, 1.0])
    np.testing.assert_allclose(score.recall_curve, [0.7, 0.7, 0.7, 0.45, 0.45, 0.0])
    np.testing.assert_allclose(score.f_curve, [1.4 / 3, 1.4 / 3, 0.56, 0.45, 0.6, 0.0])
    assert score.f == pytest.approx(0.6) and score.threshold == 0.9
    assert score.precision == pytest.approx(0.9) and score.recall == pytest.approx(0.45)


def test_curves_are_averaged_over_sequences_then_f():
    graded = ([0.9, 0.5, 0.0, 0.0], [0.9, 0.4, 0.6, 0.2], [True, True, False, False])
    perfect = ([1.0, 1.0], [1.0, 1.0], [True, True])
    score = _score(graded, perfect)
    # at t = 0.9: Pr = (0.9 + 1) / 2, Re = (0.45 + 1) / 2 -> F = 2 * 0.95 * 0.725 / 1.675
    assert score.threshold == 0.9 and score.sequences == 2
    assert score.precision == pytest.approx(0.95) and score.recall == pytest.approx(0.725)
    assert score.f == pytest.approx(2 * 0.95 * 0.725 / 1.675)
    # pooling the frames instead would give Pr(0.9) = (0.9 + 2) / 3: the averaging is per sequence
    assert score.precision != pytest.approx(2.9 / 3)


def test_sequence_without_present_frames_is_left_out_of_recall():
    precision, recall = lt.pr_re_curves([0.0, 0.0], [1.0, 0.5], [False, False], np.array([0.0, 1.0]))
    np.testing.assert_allclose(precision, [0.0, 0.0]) and np.isnan(recall).all()
    score = _score(([0.0, 0.0], [1.0, 0.5], [False, False]), ([1.0], [1.0], [True]))
    assert score.recall == 1.0 and score.precision == 0.5
    assert np.isnan(_score().f) and _score().sequences == 0


def test_confidence_and_published_frames():
    np.testing.assert_array_equal(lt.confidence_from([None, 0.3, None], [False, False, True]), [1.0, 0.3, 0.0])
    np.testing.assert_array_equal(lt.published_from([False, True, False]), [True, False, True])
    np.testing.assert_array_equal(lt.published_from([False, True, False], [0.2, 0.9, 0.5], 0.5),
                                  [False, True, True])
    with pytest.raises(ValueError):
        lt.published_from([False], None, 0.5)
    np.testing.assert_allclose(lt.f_score([0.0, 0.5, 1.0], [0.0, 0.5, 0.0]), [0.0, 0.5, 0.0])


def test_absent_runs_and_events():
    present = np.array([0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0], bool)
    assert lt.absent_runs(present) == [(0, 1), (3, 8), (10, 12), (19, 25), (26, 28)]
    events = lt.occlusion_events(present)
    # (0, 1) starts at the first frame, (10, 12) is short, (26, 28) reaches the end
    assert events == [lt.Event(3, 8, "occlusion"), lt.Event(19, 25, "occlusion")]
    listed = [lt.Event(17, 26, left=15), lt.Event(20, 40)]  # the second lies beyond the frames
    assert lt.occlusion_events(present, listed) == [lt.Event(3, 8, "occlusion"), lt.Event(17, 26, left=15)]
    assert lt.occlusion_events(present, min_run=2)[1] == lt.Event(10, 12, "occlusion")
    with pytest.raises(ValueError):
        lt.Event(5, 5)
    with pytest.raises(ValueError):
        lt.Event(5, 8, left=6)


def test_reacquisition_counting_and_delays():
    n = 200
    iou = np.zeros(n)
    published = np.ones(n, bool)
    events = [lt.Event(25, 40, left=20), lt.Event(70, 80, left=65), lt.Event(130, 140, "occlusion")]
    iou[10:20] = 0.8  # A: tracked before it left (frames 15 .. 19 count)
    iou[43] = 0.6  # A: back at 40, tracked at 43 -> delay 3
    iou[60:65] = 0.9  # B: tracked before leaving at 65 ...
    iou[110] = 0.7  # ... but back at 80 and tracked only at 80 + 30: too late (frames 0 .. 29 count)
    iou[139] = 0.9  # C: a frame before it is back does not count
    iou[140 + 29] = 0.5  # C: at back + 29 exactly -> delay 29; nothing tracked in 125 .. 129
    outcomes = lt.reacquisition(iou, published, events)
    assert [(o.tracked_before, o.reacquired, o.delay) for o in outcomes] == [
        (True, True, 3), (True, False, None), (False, True, 29)]
    summary = lt.summarize_reacquisition(outcomes)
    assert (summary.events, summary.reacquired, summary.rate) == (3, 2, pytest.approx(2 / 3))
    assert (summary.tracked_before, summary.reacquired_tracked_before, summary.rate_tracked_before) == (2, 1, 0.5)
    assert summary.median_delay == 16.0
    # a box on the target while the tracker reports it absent is not tracking: A's next tracked frame is 60
    published[43] = False
    assert lt.reacquisition(iou, published, events[:1])[0].delay == 20
    # without ``left`` the frames before ``out`` count: 20 .. 24 hold nothing for A
    assert lt.reacquisition(iou, published, [lt.Event(25, 40)])[0].tracked_before is False
    assert lt.reacquisition(iou, published, events, within=31)[1].delay == 30
    empty = lt.summarize_reacquisition([])
    assert empty.events == 0 and np.isnan(empty.rate) and np.isnan(empty.median_delay)
    with pytest.raises(ValueError, match="beyond"):
        lt.reacquisition(iou[:50], published[:50], events)


def test_absent_frames_with_a_detection():
    assert lt.false_detection_share(PRESENT, np.ones(10, bool)) == (4, 4)
    published = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0, 0], bool)
    assert lt.false_detection_share(PRESENT, published) == (1, 4)
    with pytest.raises(ValueError):
        lt.LongTermSettings(within=0)

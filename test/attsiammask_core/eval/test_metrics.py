"""Hand-checked metric values: every expected number is computed by hand in the comment next to it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from attsiammask_core.eval.metrics import (
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    OPEResult,
    VOTRun,
    box_xywh_to_polygon,
    center_error_xywh,
    eao,
    expected_overlap_curve,
    failures_per_100,
    iou_xywh,
    latency_stats,
    make_vot_run,
    mean_j,
    ope_overall,
    ope_sequence,
    percentile,
    polygon_iou,
    polygon_to_box_xywh,
    precision_at,
    precision_curve,
    region_overlap,
    region_similarity,
    success_auc,
    success_curve,
    vot_accuracy,
    vot_failures,
)

NAN4 = [np.nan] * 4


# ---------------------------------------------------------------- boxes


def test_iou_xywh_hand_values():
    pred = np.array([
        [0, 0, 10, 10],   # vs [5,5,10,10]: inter 5*5 = 25, union 100 + 100 - 25 = 175 -> 1/7
        [0, 0, 10, 10],   # vs [20,20,5,5]: disjoint -> 0
        [0, 0, 10, 10],   # vs [10,0,10,10]: touching edge, inter width 10 - 10 = 0 -> 0
        [2, 2, 4, 4],     # inside [0,0,8,8]: inter 16, union 64 -> 0.25
        [3, 4, 5, 6],     # identical -> 1
        [0, 0, 10, 10],   # gt NaN -> NaN
        NAN4,             # no prediction on a valid frame -> 0
    ], dtype=float)
    gt = np.array([[5, 5, 10, 10], [20, 20, 5, 5], [10, 0, 10, 10], [0, 0, 8, 8], [3, 4, 5, 6], NAN4,
                   [0, 0, 4, 4]], dtype=float)
    pred_before, gt_before = pred.copy(), gt.copy()
    got = iou_xywh(pred, gt)
    np.testing.assert_allclose(got[:5], [1 / 7, 0.0, 0.0, 0.25, 1.0])
    assert math.isnan(got[5]) and got[6] == 0.0
    np.testing.assert_array_equal(pred, pred_before)  # inputs untouched
    np.testing.assert_array_equal(gt, gt_before)


def test_iou_xywh_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        iou_xywh(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(N,4\)"):
        iou_xywh(np.zeros((2, 5)), np.zeros((2, 5)))


def test_center_error_hand_values():
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], NAN4], dtype=float)
    gt = np.array([[3, 4, 10, 10], NAN4, [0, 0, 2, 2]], dtype=float)
    got = center_error_xywh(pred, gt)
    # centres (5,5) and (8,9): sqrt(3^2 + 4^2) = 5
    assert got[0] == pytest.approx(5.0)
    assert math.isnan(got[1])          # no gt -> excluded (NaN)
    assert got[2] == math.inf          # no prediction -> a miss at every threshold


def test_polygon_box_conversions():
    np.testing.assert_array_equal(box_xywh_to_polygon([1, 2, 3, 4]), [[1, 2], [4, 2], [4, 6], [1, 6]])
    # rotated square (3,0),(6,3),(3,6),(0,3): x in [0,6], y in [0,6] -> box (0,0,6,6)
    polys = np.array([[3, 0, 6, 3, 3, 6, 0, 3], [np.nan] * 8], dtype=float)
    boxes = polygon_to_box_xywh(polys)
    np.testing.assert_array_equal(boxes[0], [0, 0, 6, 6])
    assert np.isnan(boxes[1]).all()


def test_polygon_iou_hand_values():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)          # area 4
    diamond = np.array([[1, -1], [3, 1], [1, 3], [-1, 1]], float)       # |x-1|+|y-1| <= 2: area 2*2*2 = 8
    # the square lies inside the diamond (its corners on the diamond's edges): IoU = 4 / 8
    assert polygon_iou(square, diamond) == pytest.approx(0.5)
    assert polygon_iou(diamond[::-1], square) == pytest.approx(0.5)     # orientation does not matter
    shifted = square + [1, 0]                                          # inter 1*2 = 2, union 4+4-2 = 6
    assert polygon_iou(square, shifted) == pytest.approx(1 / 3)
    assert polygon_iou(square, square + [5, 5]) == 0.0
    assert math.isnan(polygon_iou(square, np.full((4, 2), np.nan)))


def test_region_overlap_box_polygon_and_bound():
    # box (0,0,2,2) against the diamond as a flat VOT polygon: 0.5 as above
    assert region_overlap(np.array([0, 0, 2, 2.0]), np.array([1, -1, 3, 1, 1, 3, -1, 1.0])) == pytest.approx(0.5)
    # two boxes: 1/7 (see test_iou_xywh_hand_values)
    assert region_overlap([0, 0, 10, 10], [5, 5, 10, 10]) == pytest.approx(1 / 7)
    # pred (-10,0,20,10) vs gt (0,0,10,10): inter 100, union 200 + 100 - 100 = 200 -> 0.5 unbounded;
    # clipped to a 100x100 image the pred becomes (0,0,10,10) -> 1.0
    assert region_overlap([-10, 0, 20, 10], [0, 0, 10, 10]) == pytest.approx(0.5)
    assert region_overlap([-10, 0, 20, 10], [0, 0, 10, 10], bound=(100, 100)) == pytest.approx(1.0)
    assert region_overlap([-30, 0, 20, 10], [0, 0, 10, 10], bound=(100, 100)) == 0.0  # pred fully outside
    assert math.isnan(region_overlap([0, 0, 1, 1], NAN4))
    assert region_overlap(NAN4, [0, 0, 1, 1]) == 0.0
    with pytest.raises(ValueError, match="pred"):
        region_overlap([1, 2, 3], [0, 0, 1, 1])


# ---------------------------------------------------------------- OPE


def test_thresholds():
    assert len(SUCCESS_THRESHOLDS) == 21 and SUCCESS_THRESHOLDS[10] == 0.5 and SUCCESS_THRESHOLDS[-1] == 1.0
    assert PRECISION_THRESHOLDS[20] == 20 and len(PRECISION_THRESHOLDS) == 51


def test_success_curve_three_frames_and_auc():
    ious = np.array([1.0, 0.5, 0.0, np.nan])  # 3 valid frames, the NaN one is excluded
    curve = success_curve(ious)
    # IoU > t strictly: t = 0 .. 0.45 (10 thresholds): 1.0 and 0.5 pass -> 2/3
    #                   t = 0.5 .. 0.95 (10 thresholds): only 1.0 passes -> 1/3;  t = 1.0: none -> 0
    expected = np.array([2 / 3] * 10 + [1 / 3] * 10 + [0.0])
    np.testing.assert_allclose(curve, expected)
    # AUC = mean of the 21 values = (10 * 2/3 + 10 * 1/3 + 0) / 21 = 10 / 21
    assert success_auc(curve) == pytest.approx(10 / 21)
    assert np.isnan(success_curve(np.array([np.nan]))).all()


def test_precision_curve_and_at_20():
    errors = np.array([0.0, 20.0, 20.5, np.nan, np.inf])  # 4 valid frames (inf = no prediction)
    # error <= 20: 0 and 20 -> 2/4
    assert precision_at(errors) == pytest.approx(0.5)
    curve = precision_curve(errors)
    assert curve[0] == pytest.approx(1 / 4)      # only the 0 px frame is <= 0
    assert curve[20] == pytest.approx(2 / 4)
    assert curve[21] == pytest.approx(3 / 4)     # 20.5 <= 21
    assert curve[50] == pytest.approx(3 / 4)     # inf never counts
    assert precision_at(errors, px=0.0) == pytest.approx(1 / 4)


def _ope_case():
    gt = np.array([[0, 0, 10, 10]] * 3 + [NAN4], float)
    pred = np.array([[50, 50, 10, 10],   # frame 0: whatever the tracker said at init
                     [5, 5, 10, 10],     # IoU 1/7 = 0.1429, centre error sqrt(5^2+5^2) = 7.07 px
                     [0, 0, 10, 10],     # IoU 1, error 0
                     [1, 1, 1, 1]], float)  # no gt: excluded
    return pred, gt


def test_ope_sequence_skip_first():
    pred, gt = _ope_case()
    before = pred.copy()
    r = ope_sequence(pred, gt)  # frames 1 and 2 count
    # IoU 1/7 passes t = 0, 0.05, 0.10 (3 thresholds) -> 1; then only IoU 1 passes up to 0.95 (17) -> 1/2; t=1 -> 0
    np.testing.assert_allclose(r.success, [1.0] * 3 + [0.5] * 17 + [0.0])
    assert r.auc == pytest.approx((3 + 17 * 0.5) / 21)  # = 23/42
    assert r.precision20 == pytest.approx(1.0) and r.frames == 2
    np.testing.assert_array_equal(pred, before)


def test_ope_sequence_counts_init_frame_like_got10k_otb():
    pred, gt = _ope_case()
    r = ope_sequence(pred, gt, skip_first=False)  # frame 0 scored with the gt box (IoU 1, error 0), 3 frames
    np.testing.assert_allclose(r.success, [1.0] * 3 + [2 / 3] * 17 + [0.0])
    assert r.auc == pytest.approx((3 + 17 * 2 / 3) / 21)  # = 43/63
    assert r.precision20 == pytest.approx(1.0) and r.frames == 3
    assert pred[0, 0] == 50  # the caller's array is not overwritten


def test_ope_overall_is_mean_of_curves():
    pred, gt = _ope_case()
    good = ope_sequence(pred, gt)                                      # curve 1 (x3), 0.5 (x17), 0
    far = np.array([[100, 100, 10, 10]] * 3, float)
    bad = ope_sequence(far, np.array([[0, 0, 10, 10]] * 3, float))     # 2 frames, IoU 0, error 141 px
    np.testing.assert_array_equal(bad.success, np.zeros(21))
    empty = ope_sequence(np.zeros((2, 4)), np.array([NAN4, NAN4]))   # no valid frame: left out
    assert empty.frames == 0 and math.isnan(empty.auc)
    overall = ope_overall([good, bad, empty])
    # mean curve: 0.5 (x3), 0.25 (x17), 0 -> AUC = (1.5 + 4.25) / 21 = 23/84; precision20 = (1 + 0) / 2
    np.testing.assert_allclose(overall.success, [0.5] * 3 + [0.25] * 17 + [0.0])
    assert overall.auc == pytest.approx(23 / 84)
    assert overall.precision20 == pytest.approx(0.5)
    assert overall.frames == 4
    assert math.isnan(ope_overall([]).auc)


def test_ope_result_is_frozen_and_read_only():
    r = ope_sequence(*_ope_case())
    assert isinstance(r, OPEResult)
    with pytest.raises(AttributeError):
        r.auc = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.success[0] = 0.0


# ---------------------------------------------------------------- VOT

# 16 frames: init 0, tracked 1..5, failure at 6 (overlap 0), skipped 7..10, re-init at 11 (= 6 + 5), tracked 12..15
RUN_OVERLAPS = [np.nan, .5, .6, .7, .8, .9, 0.0, np.nan, np.nan, np.nan, np.nan, np.nan, .4, .6, .8, 1.0]


def _run() -> VOTRun:
    return make_vot_run(RUN_OVERLAPS, init_frames=(0, 11), failure_frames=(6,))


def test_vot_accuracy_with_burn_in():
    run = _run()
    # burn_in 3 drops frames 0,1,2 and 11,12,13; the failure frame 6 and NaNs are out:
    # frames 3,4,5,14,15 -> (0.7 + 0.8 + 0.9 + 0.8 + 1.0) / 5 = 4.2 / 5 = 0.84
    assert vot_accuracy(run, burn_in=3) == pytest.approx(0.84)
    # burn_in 0: every tracked frame: (0.5+0.6+0.7+0.8+0.9 + 0.4+0.6+0.8+1.0) / 9 = 6.3 / 9 = 0.7
    assert vot_accuracy(run, burn_in=0) == pytest.approx(0.7)
    # burn_in 10 drops 0..9 and 11..20: frame 10 is skipped (NaN) -> nothing left -> NaN
    assert math.isnan(vot_accuracy(run))


def test_vot_failures_and_per_100():
    run = _run()
    assert vot_failures(run) == 1
    clean = make_vot_run([np.nan, 1.0, 1.0, 1.0], (0,), ())
    # 1 failure in 16 + 4 = 20 frames -> 100 * 1 / 20 = 5 per 100 frames
    assert failures_per_100([run, clean]) == pytest.approx(5.0)
    assert math.isnan(failures_per_100([]))


def test_vot_run_validation():
    with pytest.raises(ValueError, match="length"):
        VOTRun(overlaps=np.zeros(3), init_frames=(0,), failure_frames=(), length=4)
    with pytest.raises(ValueError, match="more than one failure"):
        make_vot_run([np.nan, 0, 0, 1], (0,), (1, 2))
    with pytest.raises(ValueError, match="without a failure"):
        make_vot_run([np.nan, 1, np.nan, 1], (0, 2), ())
    with pytest.raises(ValueError, match="ascending"):
        make_vot_run([np.nan, 0, np.nan, np.nan], (2, 0), (1,))
    with pytest.raises(ValueError, match="init frame"):
        make_vot_run([1.0], (), ())
    assert _run().segments() == [(0, 6, True), (11, 16, False)]


def test_expected_overlap_curve_one_run_with_reinit():
    curve = expected_overlap_curve([_run()], max_length=6)
    # segment 1 (init 0, failed at 6): Phi = .5 .6 .7 .8 .9 then 0;  segment 2 (init 11, no failure): .4 .6 .8 1.0
    # Ns=1: (.5 + .4)/2 = .45           Ns=2: (1.1/2 + 1.0/2)/2 = (.55 + .5)/2 = .525
    # Ns=3: (1.8/3 + 1.8/3)/2 = .6      Ns=4: (2.6/4 + 2.8/4)/2 = (.65 + .7)/2 = .675
    # Ns=5: segment 2 has only 4 frames after its init -> only segment 1: 3.5/5 = .7
    # Ns=6: segment 1 with Phi_6 = 0 (failure): 3.5/6
    assert math.isnan(curve[0])
    np.testing.assert_allclose(curve[1:], [.45, .525, .6, .675, .7, 3.5 / 6])


def test_eao_two_tiny_runs():
    a = make_vot_run([np.nan, 0.8, 0.6, 0.0, np.nan, np.nan], (0,), (3,))  # fails at 3, no time to re-init
    b = make_vot_run([np.nan, 1.0, 0.5, 0.9], (0,), ())                    # 3 frames after init, no failure
    curve = expected_overlap_curve([a, b], max_length=4)
    # Ns=1: (0.8 + 1.0)/2 = 0.9             Ns=2: ((0.8+0.6)/2 + (1.0+0.5)/2)/2 = (0.7 + 0.75)/2 = 0.725
    # Ns=3: (1.4/3 + 2.4/3)/2 = 3.8/6 = 19/30   Ns=4: b is too short and did not fail -> a only: 1.4/4 = 0.35
    np.testing.assert_allclose(curve[1:], [0.9, 0.725, 19 / 30, 0.35])
    # EAO over [2, 4] = (29/40 + 19/30 + 7/20)/3 = (87 + 76 + 42)/120/3 = 205/360 = 41/72
    assert eao([a, b], low=2, high=4) == pytest.approx(41 / 72)
    # sequences shorter than the interval: b alone reaches Ns <= 3 only, so over [2, 6] Ns 4..6 are skipped:
    # (0.75 + 0.8)/2 = 0.775; and over [5, 6] nothing remains -> NaN
    assert eao([b], low=2, high=6) == pytest.approx(0.775)
    assert math.isnan(eao([b], low=5, high=6))
    # a failed segment counts at every Ns: over [4, 5] = (1.4/4 + 1.4/5)/2 = (0.35 + 0.28)/2 = 0.315
    assert eao([a, b], low=4, high=5) == pytest.approx(0.315)
    with pytest.raises(ValueError, match="low"):
        eao([a], low=5, high=4)


def test_expected_overlap_nan_inside_segment_is_left_out():
    run = make_vot_run([np.nan, 0.6, np.nan, 0.2], (0,), ())  # frame 2 has no gt
    # Ns=1: 0.6; Ns=2: mean of observed (0.6) = 0.6; Ns=3: (0.6 + 0.2)/2 = 0.4
    np.testing.assert_allclose(expected_overlap_curve([run], 3)[1:], [0.6, 0.6, 0.4])


# ---------------------------------------------------------------- masks and speed


def test_region_similarity_hand_values():
    pred = np.array([[1, 1, 0], [0, 1, 0]], bool)
    gt = np.array([[1, 0, 0], [0, 1, 1]], bool)
    # inter {(0,0),(1,1)} = 2, union {(0,0),(0,1),(1,1),(1,2)} = 4 -> 0.5
    assert region_similarity(pred, gt) == pytest.approx(0.5)
    assert region_similarity(pred.astype(np.uint8) * 255, gt) == pytest.approx(0.5)  # 0/255 PNG masks
    empty = np.zeros((2, 3), bool)
    assert region_similarity(empty, empty) == 1.0   # DAVIS convention
    assert region_similarity(empty, gt) == 0.0
    with pytest.raises(ValueError, match="shapes"):
        region_similarity(np.zeros((2, 2)), gt)


def test_mean_j():
    assert mean_j([0.5, 1.0, np.nan, 0.0]) == pytest.approx(0.5)  # (0.5 + 1 + 0) / 3
    assert math.isnan(mean_j([]))


def test_percentile_interpolates_and_is_nan_when_empty():
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile(iter([7.0]), 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_latency_stats():
    stats = latency_stats([0.010, 0.020, 0.030, 0.040, np.nan])
    # ms 10,20,30,40: median 25; p95 at rank 0.95*3 = 2.85 -> 30 + 0.85*10 = 38.5; mean 25 -> 1000/25 = 40 fps
    assert stats == pytest.approx({"median_ms": 25.0, "p95_ms": 38.5, "fps": 40.0, "frames": 4})
    assert latency_stats([])["frames"] == 0 and math.isnan(latency_stats([])["fps"])

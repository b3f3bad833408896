"""Pure geometry of the tracking step: crops, scales, anchors, window, decoding, penalties, mask warp, polygon."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from attsiammask_core import geometry as geo


def test_round_half_up_is_pysot_rounding():
    assert geo.round_half_up(2.5) == 3 and geo.round_half_up(-2.5) == -2 and geo.round_half_up(3.49) == 3


def test_channel_mean_is_truncated_to_uint8():
    frame = np.zeros((10, 10, 3), np.uint8)
    frame[:, :, 0] = 117
    frame[:8, :, 0] = 118  # mean 117.8 -> 117
    frame[:, :, 1] = 200
    mean = geo.channel_mean_uint8(frame)
    assert mean.dtype == np.uint8 and mean.tolist() == [117, 200, 0]


def _index_frame(h: int = 40, w: int = 50) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx, yy, np.full_like(xx, 7)], axis=2).astype(np.uint8)


def test_crop_inside_uses_pysot_rounding_and_copies():
    frame = _index_frame()
    before = frame.copy()
    # side 5: c = 3, x0 = floor(20.5 - 3 + 0.5) = 18, y0 = floor(10 - 3 + 0.5) = 7
    crop = geo.crop_square(frame, (20.5, 10.0), 5, 5, np.array([1, 2, 3], np.uint8))
    assert crop[0, 0].tolist() == [18, 7, 7] and crop[4, 4].tolist() == [22, 11, 7]
    crop[...] = 0
    np.testing.assert_array_equal(frame, before)


def test_crop_pads_with_the_mean_outside_the_frame():
    frame = _index_frame()
    pad = np.array([201, 202, 203], np.uint8)
    crop = geo.crop_square(frame, (1.0, 1.0), 7, 7, pad)  # x0 = y0 = floor(1 - 4 + 0.5) = -3
    assert crop[:3].reshape(-1, 3).tolist() == [[201, 202, 203]] * 21
    assert crop[:, :3].reshape(-1, 3).tolist() == [[201, 202, 203]] * 21
    assert crop[3, 3].tolist() == [0, 0, 7] and crop[6, 6].tolist() == [3, 3, 7]
    far = geo.crop_square(frame, (500.0, 500.0), 9, 9, pad)  # wholly outside: all padding
    assert (far == pad).all()


def test_crop_resizes_bilinear_to_the_output_size():
    frame = _index_frame(200, 200)
    crop = geo.crop_square(frame, (100.0, 100.0), 100, 50, np.zeros(3, np.uint8))
    assert crop.shape == (50, 50, 3) and crop.dtype == np.uint8
    window = frame[50:150, 50:150]
    np.testing.assert_array_equal(crop, cv2.resize(window, (50, 50)))
    with pytest.raises(ValueError, match="side"):
        geo.crop_square(frame, (0.0, 0.0), 0, 5, np.zeros(3, np.uint8))


def test_template_and_search_scales():
    # w = h = 100: w_z = h_z = 200
    assert geo.context_side((100, 100), 0.5) == pytest.approx(200.0)
    assert geo.template_crop_side((100, 60), 0.5) == round(np.sqrt(180 * 140))
    scale_z, s_x = geo.search_scale((100, 100), 0.5, 127, 255)
    assert scale_z == pytest.approx(127 / 200) and s_x == round(200 * 255 / 127) == 402
    wide_scale, wide_x = geo.search_scale((100, 100), 0.5, 127, 255, widen=2.0)
    assert wide_scale == pytest.approx(127 / 400) and wide_x == round(400 * 255 / 127)
    np.testing.assert_allclose(geo.search_crop_box_xywh((50.0, 60.0), 402), [-151, -141, 402, 402])


def test_anchor_shapes_and_order():
    np.testing.assert_array_equal(geo.anchor_shapes_wh(8, (0.33, 0.5, 1, 2, 3), (8,)),
                                  [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]])
    anchors = geo.anchors_cxcywh(8, (0.33, 0.5, 1, 2, 3), (8,), 25)
    assert anchors.shape == (3125, 4)
    shapes = [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]]
    for a, y, x in [(0, 0, 0), (1, 3, 17), (4, 24, 24), (2, 12, 12)]:
        np.testing.assert_array_equal(anchors[a * 625 + y * 25 + x], [-96 + 8 * x, -96 + 8 * y, *shapes[a]])


def test_hann_window():
    window = geo.hann_window(25, 5)
    assert window.shape == (3125,)
    grid = window[:625].reshape(25, 25)
    assert grid[12, 12] == pytest.approx(1.0) and grid[0, :].max() == 0 and grid[:, 24].max() == 0
    np.testing.assert_array_equal(window[625 * 3:625 * 4], window[:625])
    np.testing.assert_allclose(grid, np.outer(np.hanning(25), np.hanning(25)))


def test_decode_deltas():
    anchors = np.array([[0.0, 0.0, 64, 64], [-24.0, 24.0, 88, 40]])
    deltas = np.array([[0.0, 0.1], [0.0, -0.2], [0.0, 0.05], [0.0, 0.1]])
    before = deltas.copy()
    boxes = geo.decode_deltas_cxcywh(deltas, anchors)
    np.testing.assert_allclose(boxes[0], [0, 0, 64, 64])
    np.testing.assert_allclose(boxes[1], [-24 + 8.8, 24 - 8.0, 88 * np.exp(0.05), 40 * np.exp(0.1)])
    np.testing.assert_array_equal(deltas, before)


def _context(w, h):
    p = (w + h) / 2
    return np.sqrt((w + p) * (h + p))


def test_scale_ratio_penalty():
    scale = 0.5
    pred = np.array([[50.0, 30.0], [100.0, 30.0], [25.0, 15.0], [30.0, 50.0]])
    penalty = geo.scale_ratio_penalty(pred, (100.0, 60.0), scale, 0.1)
    assert penalty[0] == pytest.approx(1.0)  # same size and ratio as before
    assert np.all(penalty[1:] < 1.0)
    s_c = max(_context(100, 30) / _context(50, 30), _context(50, 30) / _context(100, 30))
    r_c = max((100 / 60) / (100 / 30), (100 / 30) / (100 / 60))
    assert penalty[1] == pytest.approx(np.exp(-(r_c * s_c - 1) * 0.1))
    assert np.all(geo.scale_ratio_penalty(pred, (100.0, 60.0), scale, 0.0) == 1.0)


def test_blend_window():
    np.testing.assert_allclose(geo.blend_window(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25), [0.75, 0.25])


def test_state_clipping():
    np.testing.assert_allclose(geo.clip_state_cxcywh((-5, 700, 2, 900), (480, 640)), [0, 480, 10, 480])
    np.testing.assert_allclose(geo.clip_state_cxcywh((30, 40, 50, 60), (480, 640)), [30, 40, 50, 60])


def test_box_conventions():
    np.testing.assert_allclose(geo.xywh_to_cxcywh((10, 20, 30, 40)), [24.5, 39.5, 30, 40])
    np.testing.assert_allclose(geo.cxcywh_to_xywh((24.5, 39.5, 30, 40)), [9.5, 19.5, 30, 40])
    np.testing.assert_allclose(geo.clip_xywh_to_frame((-10, 5, 30, 1000), (100, 200)), [0, 5, 20, 95])
    assert geo.clip_xywh_to_frame((200, 5, 30, 10), (100, 200)) is None
    np.testing.assert_allclose(geo.axis_aligned_polygon_cxcywh((15, 25, 10, 20)),
                               [[10, 15], [20, 15], [20, 35], [10, 35]])


def test_mask_source_box():
    # crop of side 255 at the origin, centre cell: the 127 window centred in the crop
    np.testing.assert_allclose(geo.mask_source_box_xywh((0, 0, 255, 255), (12, 12), 8, 8, 127, 255),
                               [64, 64, 127, 127])
    # side 510 (s = 2), cell (y=4, x=6): top-left (8 (x - 4), 8 (y - 4)) crop pixels, times s
    np.testing.assert_allclose(geo.mask_source_box_xywh((100, 50, 510, 510), (4, 6), 8, 8, 127, 255),
                               [100 + 32, 50, 254, 254])


def test_mask_warp_lands_where_the_affine_map_says():
    height, width = 400, 500
    mask = np.zeros((127, 127), np.float32)
    mask[40:80, 30:90] = 1.0  # rows v 40..79, cols u 30..89
    before = mask.copy()
    box = (100.0, 50.0, 254.0, 254.0)  # 2 frame pixels per mask pixel
    warped = geo.mask_to_frame(mask, box, (height, width))
    assert warped.shape == (height, width) and warped.dtype == np.float32
    np.testing.assert_array_equal(mask, before)
    k = 127 / 254
    a, c = (width - 1) / (width * k), box[0] * (width - 1) / width
    b, d = (height - 1) / (height * k), box[1] * (height - 1) / height
    u = (np.arange(width) - c) / a  # inverse of X = a u + c
    v = (np.arange(height) - d) / b
    # bilinear sampling of a box of ones: a separable trapezoid profile along u and along v
    profile_u = np.clip(np.minimum(u - 29, 90 - u), 0, 1)
    profile_v = np.clip(np.minimum(v - 39, 80 - v), 0, 1)
    np.testing.assert_allclose(warped, profile_v[:, None] * profile_u[None, :], atol=2 / 32)
    ys, xs = np.nonzero(warped > 0.5)
    assert abs(xs.min() - (100 + 2 * 30)) <= 1 and abs(xs.max() - (100 + 2 * 90)) <= 2
    assert abs(ys.min() - (50 + 2 * 40)) <= 1 and abs(ys.max() - (50 + 2 * 80)) <= 2
    assert warped[0, 0] == 0.0  # constant border 0 (pysot)


@pytest.mark.parametrize("frame_hw", [(480, 640), (1080, 1920), (90, 100)])
def test_mask_warp_is_zero_outside_its_reach(frame_hw):
    """mask_reach_xyxy bounds everything the warp of a mask of ones can set, boxes partly outside included."""
    rng = np.random.default_rng(3)
    ones = np.ones((127, 127), np.float32)
    for _ in range(40):
        side = rng.uniform(4, 2 * max(frame_hw))
        box = (rng.uniform(-side, frame_hw[1]), rng.uniform(-side, frame_hw[0]), side, side)
        warped = geo.mask_to_frame(ones, box, frame_hw)
        x0, y0, x1, y1 = geo.mask_reach_xyxy(127, box, frame_hw)
        assert 0 <= x0 <= x1 <= frame_hw[1] and 0 <= y0 <= y1 <= frame_hw[0]
        outside = warped.copy()
        outside[y0:y1, x0:x1] = 0.0
        assert not outside.any()
        ys, xs = np.nonzero(warped)
        if xs.size:  # the rectangle is tight: at most 3 spare pixels each way
            assert x0 >= max(xs.min() - 3, 0) and x1 <= xs.max() + 4
            assert y0 >= max(ys.min() - 3, 0) and y1 <= ys.max() + 4


def test_mask_polygon_of_a_region_equals_the_whole_frame_one():
    mask = np.zeros((300, 400), np.float32)
    corners = cv2.boxPoints(((200.0, 150.0), (90.0, 50.0), 20.0))
    cv2.fillPoly(mask, [np.rint(corners).astype(np.int32)], 0.9)
    whole = geo.mask_polygon(mask, 0.5, (10, 10, 20, 20))
    region = geo.mask_polygon(mask[80:230, 120:290], 0.5, (10, 10, 20, 20), offset_xy=(120, 80))
    np.testing.assert_array_equal(region, whole)


def test_mask_polygon_rotated_rectangle_and_fallbacks():
    mask = np.zeros((200, 300), np.float32)
    corners = cv2.boxPoints(((150.0, 100.0), (120.0, 40.0), 30.0))
    cv2.fillPoly(mask, [np.rint(corners).astype(np.int32)], 0.9)
    polygon = geo.mask_polygon(mask, 0.5, (10, 10, 20, 20))
    assert polygon.shape == (4, 2) and polygon.dtype == np.float64
    (cx, cy), (w, h), _ = cv2.minAreaRect(polygon.astype(np.float32))
    assert (cx, cy) == pytest.approx((150, 100), abs=1.5)
    assert sorted((w, h)) == pytest.approx([40, 120], abs=2.5)
    fallback = np.array([[0, 0], [20, 0], [20, 20], [0, 20]], np.float64)
    np.testing.assert_allclose(geo.mask_polygon(np.zeros((50, 50)), 0.5, (10, 10, 20, 20)), fallback)
    small = np.zeros((50, 50))
    small[5:12, 5:12] = 1.0  # contour area 36 <= 100
    np.testing.assert_allclose(geo.mask_polygon(small, 0.5, (10, 10, 20, 20)), fallback)
    assert np.asarray(mask).max() == pytest.approx(0.9)  # input untouched


def test_decode_ltrb_gives_the_box_around_each_point():
    points = np.array([[0.0, 0.0, 1.0, 1.0], [16.0, -32.0, 1.0, 1.0]])
    distances = np.array([[10.0, 4.0], [20.0, 4.0], [30.0, 8.0], [40.0, 8.0]])  # (left, top, right, bottom) x N
    boxes = geo.decode_ltrb_cxcywh(distances, points)
    np.testing.assert_allclose(boxes, [[10.0, 10.0, 40.0, 60.0], [18.0, -30.0, 12.0, 12.0]])


def test_first_cell_offset_of_both_geometries():
    assert geo.first_cell_offset(8, 8, 127, 255) == -32.0  # r50: (x - base_size / 2) * stride at x = 0
    assert geo.first_cell_offset(16, 7, 127, 255) == -64.0  # lite: cell 8's window is centred on the crop
    box = geo.mask_source_box_xywh((100.0, 50.0, 510.0, 510.0), (8, 8), 16, 7, 127, 255)
    np.testing.assert_allclose(box[:2] + box[2:] / 2, [100 + 510 / 2, 50 + 510 / 2])  # the crop's centre


def test_near_tie_weights_are_the_argmax_without_a_tie():
    pscore = np.array([0.2, 0.9, 0.5, 0.8989])  # the runner-up is 1.1e-3 below: outside 10 temperatures of 1e-4
    near, weights = geo.near_tie_weights(pscore, 1, 1e-4)
    assert near.tolist() == [1] and weights.tolist() == [1.0]
    near, weights = geo.near_tie_weights(pscore, 1, 0.0)  # 0: plain argmax
    assert near.tolist() == [1] and weights.tolist() == [1.0]


def test_near_tie_weights_are_continuous_in_the_scores():
    """Two cells 1e-6 apart get nearly equal weights whichever is ahead: round-off cannot flip the choice."""
    a = geo.near_tie_weights(np.array([0.1, 0.7, 0.7 - 1e-6]), 1, 1e-4)
    b = geo.near_tie_weights(np.array([0.1, 0.7 - 1e-6, 0.7]), 2, 1e-4)
    assert a[0].tolist() == b[0].tolist() == [1, 2]
    assert a[1].sum() == pytest.approx(1.0) and np.abs(a[1] - b[1]).max() < 0.011
    np.testing.assert_allclose(a[1], [np.exp(0) / (1 + np.exp(-0.01)), np.exp(-0.01) / (1 + np.exp(-0.01))])


def test_area_context_is_lightfcs_crop_and_equals_pysot_for_squares():
    from attsiammask_core.geometry import context_side, search_scale

    assert context_side((30.0, 30.0), 0.5, "area") == pytest.approx(context_side((30.0, 30.0), 0.5))
    assert context_side((20.0, 80.0), 0.5, "area") == pytest.approx(2.0 * 40.0)  # LightFC: factor 2 * sqrt(w h)
    scale_z, s_x = search_scale((20.0, 80.0), 0.5, 127, 255, mode="area")
    assert scale_z == pytest.approx(127 / 80.0) and s_x == round(80.0 * 255 / 127)


def test_tile_centres_cover_the_frame_nearest_first_within_reach():
    from attsiammask_core.geometry import tile_centres

    height, width, side = 480, 640, 200.0
    centres = tile_centres((height, width), side, (600, 40))
    covered = np.zeros((height, width), bool)
    for cx, cy in centres:
        covered[max(0, int(cy - side / 2)):int(cy + side / 2), max(0, int(cx - side / 2)):int(cx + side / 2)] = True
    assert covered.all()
    distances = [float(np.hypot(cx - 600, cy - 40)) for cx, cy in centres]
    assert distances == sorted(distances)
    assert len(tile_centres((100, 100), 300.0, (0, 0))) == 1  # one tile when the side covers the frame
    near = tile_centres((height, width), side, (600, 40), reach=1.0)
    assert 0 < len(near) < len(centres)
    assert all(np.hypot(cx - 600, cy - 40) <= side for cx, cy in near)

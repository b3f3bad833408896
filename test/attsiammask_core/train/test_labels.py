import numpy as np

from attsiammask_core.config import TrackerConfig
from attsiammask_core.geometry import decode_deltas_cxcywh
from attsiammask_core.geometry import decode_ltrb_cxcywh as decode_ltrb
from attsiammask_core.train.config import LabelConfig
from attsiammask_core.train.labels import (
    anchor_targets,
    box_iou_cxcywh,
    crop_anchors,
    encode_deltas_cxcywh,
    mask_positions,
    mask_window,
)

GEOMETRY = TrackerConfig()
ANCHORS = crop_anchors(GEOMETRY)


def index(a, y, x):
    return a * 625 + y * 25 + x


def test_anchor_equal_to_the_box_is_positive_far_ones_negative_and_counts_capped():
    # anchor 2 (64x64) at row 12, col 14: centre (+16, 0)
    box = ANCHORS[index(2, 12, 14)].copy()
    assert np.allclose(box, [16, 0, 64, 64])
    config = LabelConfig()
    for seed in range(5):
        t = anchor_targets(box, ANCHORS, config, np.random.default_rng(seed))
        iou = box_iou_cxcywh(ANCHORS, box)
        assert t.cls[index(2, 12, 14)] == 1  # IoU 1: positive (up to 16 sampled; only few exceed 0.6)
        assert (iou > 0.6).sum() <= config.max_pos
        assert np.all(t.cls[iou > 0.6] == 1)
        assert np.all(t.cls[(iou >= 0.3) & (iou <= 0.6)] == -1)
        assert np.all(np.isin(t.cls[iou < 0.3], [0, -1]))
        assert t.cls[index(2, 0, 0)] in (0, -1) and iou[index(2, 0, 0)] == 0
        assert (t.cls >= 0).sum() == config.total
        assert np.isclose(t.loc_weight.sum(), 1.0) and np.all(t.loc_weight[t.cls != 1] == 0)
    # a big box has many anchors above 0.6: capped at max_pos
    small = LabelConfig(max_pos=3, total=10)
    t = anchor_targets(np.array([0, 0, 70, 70.0]), ANCHORS, small, np.random.default_rng(0))
    assert t.num_positive == 3 and (t.cls == 0).sum() == 7


def test_negative_pair_has_only_negatives():
    t = anchor_targets(None, ANCHORS, LabelConfig(), np.random.default_rng(0))
    assert t.num_positive == 0 and (t.cls == 0).sum() == 64 and t.loc_weight.sum() == 0


def test_loc_targets_round_trip_through_the_spec_decoding():
    box = np.array([-23.5, 41.25, 77.0, 31.0])
    deltas = encode_deltas_cxcywh(box, ANCHORS)
    assert np.allclose(deltas[:, index(2, 12, 12)], [-23.5 / 64, 41.25 / 64, np.log(77 / 64), np.log(31 / 64)])
    assert np.allclose(decode_deltas_cxcywh(deltas, ANCHORS), np.tile(box, (len(ANCHORS), 1)))


def test_mask_window_follows_spec_8_9():
    mask = np.zeros((255, 255), bool)
    mask[100, 60] = True
    # cell (y=5, x=7): window top-left (8*(7-4), 8*(5-4)) = (24, 8)
    window = mask_window(mask, (5, 7), GEOMETRY)
    assert window.shape == (127, 127) and window.sum() == 1 and window[100 - 8, 60 - 24]
    # window centred on the anchor centre: cell (12, 12) covers crop pixels 64..190, centre 127
    full = np.ones((255, 255), bool)
    assert mask_window(full, (12, 12), GEOMETRY).all()
    corner = mask_window(full, (0, 0), GEOMETRY)  # top-left (-32, -32): 32 rows/cols outside the crop
    assert not corner[:32].any() and not corner[:, :32].any() and corner[32:, 32:].all()


def test_mask_positions_are_distinct_positive_cells():
    box = np.array([0, 0, 70, 70.0])
    t = anchor_targets(box, ANCHORS, LabelConfig(), np.random.default_rng(1))
    cells = mask_positions(t.cls, 25, 3, np.random.default_rng(0))
    assert len(set(cells)) == len(cells) == 3
    positive_cells = {(int(i % 625) // 25, int(i % 625) % 25) for i in np.flatnonzero(t.cls == 1)}
    assert set(cells) <= positive_cells


def test_point_targets_centre_positive_outside_negative_and_edge_distances():
    from attsiammask_core.config import preset
    from attsiammask_core.train.labels import crop_anchors, point_targets

    geometry = preset("nanotrack")
    points = crop_anchors(geometry)
    assert points.shape == (256, 4)
    box = np.array([0.0, 0.0, 64.0, 48.0])
    targets = point_targets(box, points, LabelConfig(max_pos=16, total=64), np.random.default_rng(0))
    pos = np.flatnonzero(targets.cls == 1)
    assert len(pos) > 0 and np.all(np.abs(points[pos, 0]) <= 16) and np.all(np.abs(points[pos, 1]) <= 12)
    neg = np.flatnonzero(targets.cls == 0)
    assert np.all((np.abs(points[neg, 0]) > 32) | (np.abs(points[neg, 1]) > 24))
    decoded = decode_ltrb(targets.loc[:, pos], points[pos])
    np.testing.assert_allclose(decoded, np.repeat(box[None], len(pos), axis=0), atol=1e-4)
    negative = point_targets(None, points, LabelConfig(), np.random.default_rng(0))
    assert (negative.cls == 1).sum() == 0


def test_mask_window_of_the_point_geometry_is_centred_on_cell_8():
    from attsiammask_core.config import preset
    from attsiammask_core.train.labels import mask_window

    mask = np.zeros((255, 255), bool)
    mask[64:191, 64:191] = True  # the centred exemplar-sized square
    assert mask_window(mask, (8, 8), preset("nanotrack")).all()
    assert not mask_window(mask, (0, 0), preset("nanotrack"))[:64, :64].any()

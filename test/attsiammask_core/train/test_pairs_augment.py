import dataclasses
import re

import numpy as np
import pytest

from attsiammask_core.train.augment import augment_pair, flip_pair, occluder, paste_object
from attsiammask_core.train.config import AugmentConfig, DataConfig, TrainConfig
from attsiammask_core.train.data import PairDataset, SampleCoordinates
from attsiammask_core.train.pairs import FramePool, PairSampler, valid_frames

ALL_ON = AugmentConfig(flip_prob=0.5, gray_prob=0.3, blur_prob=0.5, color_prob=0.8, occluder_prob=0.5,
                       distractor_prob=0.5, paste_prob=0.5)


def test_valid_frames_skip_absent_and_degenerate_boxes():
    boxes = np.array([[1, 2, 3, 4], [np.nan] * 4, [0, 0, 1, 5], [5, 5, 10, 10.0]])
    assert valid_frames(boxes).tolist() == [0, 3]


def test_sampler_never_uses_absent_frames_and_respects_the_gap(sequences):
    pool = FramePool(sequences)
    sampler = PairSampler(pool, DataConfig(max_gap=2))
    absent = {0, 3, 4, 9}
    rng = np.random.default_rng(0)
    for _ in range(300):
        t, s = sampler._pick_frames(0, rng)
        assert t not in absent and s not in absent and abs(t - s) <= 2
    for seed in range(60):
        pair = sampler.sample(np.random.default_rng(seed))
        used = re.findall(r"(\w+):(\d+)(?:->(\d+))?", pair.source)
        assert used
        for name, t, s in used:
            if name == "boxes_a":
                assert int(t) not in absent and (not s or int(s) not in absent)


def test_crops_put_the_target_where_the_box_says(sequences):
    """The synthetic target is a bright rectangle on dark noise: the box centre must be bright in both crops."""
    pool = FramePool(sequences)
    sampler = PairSampler(pool, DataConfig(neg_pair_prob=0.0))
    for seed in range(20):
        pair = sampler.sample(np.random.default_rng(seed))
        assert pair.template.shape == (127, 127, 3) and pair.search.shape == (255, 255, 3)
        for image, box, mid in ((pair.search, pair.box, 127), (pair.template, pair.template_box, 63)):
            x, y = int(round(mid + box[0])), int(round(mid + box[1]))
            assert image[y, x].min() >= 140, pair.source
            assert abs(box[0]) <= 64 + 1e-9 and abs(box[1]) <= 64 + 1e-9
        if pair.mask is not None:
            x0, y0 = int(np.ceil(127 + pair.box[0] - pair.box[2] / 2 + 1)), int(np.ceil(127 + pair.box[1] -
                                                                                      pair.box[3] / 2 + 1))
            x1, y1 = int(127 + pair.box[0] + pair.box[2] / 2 - 1), int(127 + pair.box[1] + pair.box[3] / 2 - 1)
            assert pair.mask[y0:y1, x0:x1].all() and pair.mask.sum() < 1.3 * pair.box[2] * pair.box[3] + 50


def _pairs_equal(a, b):
    for field in ("template", "search", "box", "template_box", "mask", "template_mask"):
        x, y = getattr(a, field), getattr(b, field)
        if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
            return False
    return True


def test_augmentation_is_a_function_of_the_seed(sequences):
    pool = FramePool(sequences)
    config = dataclasses.replace(TrainConfig(), augment=ALL_ON)
    first = PairDataset(pool, config, 50, SampleCoordinates(seed=3, epoch=1))
    again = PairDataset(FramePool(sequences, cache=True), config, 50, SampleCoordinates(seed=3, epoch=1))
    other_epoch = PairDataset(pool, config, 50, SampleCoordinates(seed=3, epoch=2))
    for i in range(12):
        assert _pairs_equal(first.pair(i), again.pair(i))
        a, b = first[i], again[i]
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(_pairs_equal(first.pair(i), other_epoch.pair(i)) for i in range(6))
    # ranks draw different samples
    rank1 = PairDataset(pool, config, 50, SampleCoordinates(seed=3, epoch=1, rank=1, world=2))
    assert not all(_pairs_equal(first.pair(i), rank1.pair(i)) for i in range(6))


def test_single_augmentations(sequences):
    pool = FramePool(sequences)
    sampler = PairSampler(pool, DataConfig(neg_pair_prob=0.0))
    pair = sampler.sample(np.random.default_rng(0), mask_only=True)
    template_before = pair.template.copy()
    flipped = flip_pair(pair)
    assert np.array_equal(flipped.search, pair.search[:, ::-1]) and flipped.box[0] == -pair.box[0]
    assert _pairs_equal(flip_pair(flipped), pair)
    occluded = occluder(pair, AugmentConfig(occluder_cover=0.5), np.random.default_rng(1))
    assert occluded.mask.sum() < pair.mask.sum() and not np.array_equal(occluded.search, pair.search)
    background = (np.zeros((127, 127, 3), np.uint8), np.zeros((255, 255, 3), np.uint8))
    pasted = paste_object(pair, background, feather=0.0)
    assert np.array_equal(pasted.search[pair.mask], pair.search[pair.mask])
    assert pasted.search[~pair.mask].max() == 0 and np.array_equal(pasted.box, pair.box)
    augmented = augment_pair(pair, ALL_ON, np.random.default_rng(5), donor=sampler.object_patch)
    assert augmented.search.dtype == np.uint8 and augmented.search.shape == (255, 255, 3)
    assert np.array_equal(pair.template, template_before)  # inputs never modified


@pytest.mark.parametrize("index", range(6))
def test_dataset_items_have_consistent_shapes(sequences, index):
    ds = PairDataset(FramePool(sequences), TrainConfig(), 10)
    item = ds[index]
    assert item["template"].shape == (3, 127, 127) and item["search"].shape == (3, 255, 255)
    assert item["cls"].shape == (5, 25, 25) and item["loc"].shape == (4, 5, 25, 25)
    assert item["mask_target"].shape == (1, 127, 127) and item["mask_pos"].shape == (1, 2)
    if item["mask_weight"].sum() > 0:
        y, x = item["mask_pos"][0].tolist()
        assert (item["cls"][:, y, x] == 1).any()

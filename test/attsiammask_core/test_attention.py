"""The attention step: candidate windows, essential-part selection by HOG, the attention map and the weighting."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
from fake_siammask import ConvFeatureModel

from attsiammask_core.attention import (
    attended_kernels,
    attention_map,
    candidate_windows_xywh,
    correlate_same,
    feature_cells,
    find_essential_part,
    normalise_map,
    target_box_in_template_xywh,
    weight_features,
)
from attsiammask_core.config import AttentionConfig


def test_candidate_windows_form_the_paper_grid():
    windows = candidate_windows_xywh((64, 32))
    assert windows.shape == (9, 4)
    np.testing.assert_allclose(windows[0], [0, 0, 32, 16])
    np.testing.assert_allclose(windows[1], [16, 0, 32, 16])  # left to right first
    np.testing.assert_allclose(windows[3], [0, 8, 32, 16])
    np.testing.assert_allclose(windows[4], [16, 8, 32, 16])
    np.testing.assert_allclose(windows[8], [32, 16, 32, 16])  # bottom-right
    assert (windows[:, 0] + windows[:, 2]).max() == 64 and (windows[:, 1] + windows[:, 3]).max() == 32


def _textured(size: tuple[int, int], window: np.ndarray, seed: int = 0, colour: bool = True,
              background: int = 128) -> np.ndarray:
    """Flat patch with a smooth random texture only inside ``window`` (x, y, w, h), averaging the background.

    (A texture much brighter or darker than the background would add a block outline, structure that spans
    several windows; centring it on the background keeps the textured window the only distinctive part.)
    """
    h, w = size
    patch = np.full((h, w, 3) if colour else (h, w), background, np.uint8)
    x, y, ww, hh = (int(round(v)) for v in window)
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (hh, ww) + patch.shape[2:]), (0, 0), 1.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min()) * 2 - 1  # [-1, 1]
    noise = background + min(background, 255 - background) * noise
    patch[y:y + hh, x:x + ww] = np.rint(noise).reshape(patch[y:y + hh, x:x + ww].shape).astype(np.uint8)
    return patch


@pytest.mark.parametrize("background", [40, 128, 215])
@pytest.mark.parametrize("index", range(9))
def test_essential_part_is_the_textured_window(index, background):
    windows = candidate_windows_xywh((64, 64))
    patch = _textured((64, 64), windows[index], seed=index, background=background)
    before = patch.copy()
    part = find_essential_part(patch)
    assert part.index == index
    assert part.scores.shape == (9,) and int(np.argmin(part.scores)) == index
    np.testing.assert_allclose(part.window_xywh, windows[index])
    np.testing.assert_array_equal(patch, before)


def test_essential_part_on_non_square_grey_patch():
    windows = candidate_windows_xywh((90, 40))
    patch = _textured((40, 90), windows[2], colour=False)
    part = find_essential_part(patch)
    assert part.index == 2
    np.testing.assert_allclose(part.window_xywh, [45, 0, 45, 20])


def test_essential_part_rejects_bad_patches():
    with pytest.raises(ValueError, match="HxW or HxWx3"):
        find_essential_part(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="at least 2x2"):
        find_essential_part(np.zeros((1, 8, 3), np.uint8))


def test_target_box_in_template_and_feature_cells():
    box = target_box_in_template_xywh((64, 64), 128, 127)
    np.testing.assert_allclose(box, [63 - 31.75, 63 - 31.75, 63.5, 63.5])
    wide = target_box_in_template_xywh((1000, 10), 100, 127)  # wider than the crop: clipped to it
    assert wide[0] == 0 and wide[2] == 127
    # 7x7 template cells are centred on 39, 47, ..., 87
    assert feature_cells(31.25, 31.75, 7, 8, 63) == slice(0, 4)
    assert feature_cells(63, 31.75, 7, 8, 63) == slice(3, 7)
    assert feature_cells(40, 2, 7, 8, 63) == slice(0, 1)  # no centre inside: the nearest cell


def test_correlate_same_keeps_the_map_size_and_peaks_on_its_source():
    torch.manual_seed(0)
    feature = torch.randn(1, 16, 7, 7)
    for rows, cols in [(slice(1, 4), slice(2, 5)), (slice(3, 7), slice(0, 4)), (slice(0, 2), slice(5, 7))]:
        kernel = feature[..., rows, cols]
        out = correlate_same(feature, kernel)
        assert out.shape == (7, 7)
        y, x = np.unravel_index(int(out.argmax()), (7, 7))
        assert rows.start <= y < rows.stop and cols.start <= x < cols.stop


def test_normalise_map():
    z = torch.tensor([[-2.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(normalise_map(z, "minmax").numpy(), [[0, 0.5], [0.75, 1]])
    np.testing.assert_allclose(normalise_map(z, "max").numpy(), [[0, 0], [0.5, 1]])
    assert normalise_map(torch.full((3, 3), 5.0), "minmax").abs().max() == 0
    assert normalise_map(-torch.ones(3, 3), "max").abs().max() == 0
    with pytest.raises(ValueError, match="normalisation"):
        normalise_map(z, "softmax")


def test_weight_features():
    torch.manual_seed(0)
    f = torch.randn(1, 8, 7, 7)
    zero, one = torch.zeros(7, 7), torch.ones(7, 7)
    assert torch.equal(weight_features(f, zero, 0.5, False), f)
    torch.testing.assert_close(weight_features(f, one, 0.5, False), f * 1.5)
    torch.testing.assert_close(weight_features(f, one, 0.5, True), f)
    peak = torch.zeros(7, 7)
    peak[2, 3] = 1.0
    weighted = weight_features(f, peak, 1.0, True)
    assert weighted.norm() == pytest.approx(float(f.norm()), rel=1e-5)
    ratio = weighted / f
    assert float(ratio[0, 0, 2, 3]) == pytest.approx(2 * float(ratio[0, 0, 0, 0]), rel=1e-5)
    kernel = weight_features(torch.ones(1, 8, 5, 5), peak, 1.0, False)  # A centre-cropped to 5x5
    assert float(kernel[0, 0, 1, 2]) == 2.0 and float(kernel.sum()) == 8 * 26


def _template_with_textured_part(index: int) -> tuple[np.ndarray, np.ndarray]:
    """A 127 template crop: flat grey, a 64x64 target in the middle with texture only in candidate ``index``."""
    crop = np.full((127, 127, 3), 128, np.uint8)
    target = target_box_in_template_xywh((64, 64), 128, 127)
    window = candidate_windows_xywh((target[2], target[3]))[index] + np.array([target[0], target[1], 0, 0])
    crop[:] = _textured((127, 127), window, seed=10 + index)
    return crop, target


@pytest.mark.parametrize("part_features", ["template", "backbone"])
@pytest.mark.parametrize("index", [0, 2, 4, 6, 8])
def test_attention_map_peaks_at_the_essential_part(index, part_features):
    model = ConvFeatureModel()
    crop, target = _template_with_textured_part(index)
    config = AttentionConfig(part_features=part_features)
    zf = model.template_features(torch.from_numpy(crop).permute(2, 0, 1)[None].float())
    att = attention_map(model, zf, crop, target, config)
    assert att.part.index == index
    assert att.map.shape == (7, 7) and att.map.min() == 0.0 and att.map.max() == pytest.approx(1.0)
    x, y, w, h = att.part_box_xywh
    rows = feature_cells(y, h, 7, 8, 63)
    cols = feature_cells(x, w, 7, 8, 63)
    peak_y, peak_x = np.unravel_index(int(att.map.argmax()), (7, 7))
    assert rows.start <= peak_y < rows.stop and cols.start <= peak_x < cols.stop
    inside = att.map[rows, cols].mean()
    outside = np.ma.masked_array(att.map, mask=np.zeros((7, 7), bool))
    outside.mask[rows, cols] = True
    assert inside > outside.mean()


def test_attended_kernels_levels_and_strength():
    model = ConvFeatureModel()
    crop, target = _template_with_textured_part(0)
    zf = model.template_features(torch.from_numpy(crop).permute(2, 0, 1)[None].float())
    plain = model.template_kernels(zf)
    att = attention_map(model, zf, crop, target, AttentionConfig())
    off = attended_kernels(model, zf, att, AttentionConfig(strength=0.0))
    for field in dataclasses.fields(plain):
        torch.testing.assert_close(getattr(off, field.name), getattr(plain, field.name))
    for level in ("neck", "kernels"):
        weighted = attended_kernels(model, zf, att, AttentionConfig(level=level, strength=1.0))
        for field in dataclasses.fields(plain):
            a, b = getattr(weighted, field.name), getattr(plain, field.name)
            assert a.shape == b.shape and not torch.allclose(a, b)
            if level == "kernels":  # renormalised to the plain kernel's norm
                assert float(a.norm()) == pytest.approx(float(b.norm()), rel=1e-4)

"""Tracker/attention configuration: presets, validation, immutability."""
from __future__ import annotations

import dataclasses

import pytest

from attsiammask_core.config import DEFAULT_PRESET, AttentionConfig, TrackerConfig, preset, preset_names


@pytest.mark.parametrize(("name", "values"), [
    ("r50_l3", (0.10, 0.41, 0.32, 0.15)),
    ("vot", (0.04, 0.42, 0.25, 0.30)),
    ("davis", (0.04, 0.40, 1.0, 0.35)),
])
def test_presets_match_the_spec_table(name, values):
    cfg = preset(name)
    assert (cfg.penalty_k, cfg.window_influence, cfg.lr, cfg.mask_threshold) == values
    assert (cfg.exemplar_size, cfg.instance_size, cfg.stride, cfg.score_size, cfg.context_amount) == (127, 255, 8, 25,
                                                                                                       0.5)
    assert cfg.ratios == (0.33, 0.5, 1.0, 2.0, 3.0) and cfg.scales == (8.0,) and cfg.anchor_num == 5


def test_default_preset_is_pysot_r50_l3():
    assert DEFAULT_PRESET == "r50_l3"
    assert TrackerConfig() == preset("r50_l3")
    assert set(preset_names()) == {"r50_l3", "vot", "davis", "nanotrack", "lightfc"}


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="unknown tracker preset 'otb'.*r50_l3, vot, davis, nanotrack"):
        preset("otb")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("penalty_k", -0.1, "penalty_k"),
    ("window_influence", 1.5, "window_influence"),
    ("lr", 0.0, "lr"),
    ("mask_threshold", 1.0, "mask_threshold"),
    ("penalty_k", float("nan"), "finite"),
    ("stride", 8.0, "stride must be a positive int"),
    ("score_size", 17, "score_size must be"),
    ("ratios", (), "ratios"),
    ("ratios", (1.0, -2.0), "ratios"),
    ("lost_frames", 0, "lost_frames"),
    ("recover_threshold", 0.1, "recover_threshold"),
    ("lost_search_factor", 0.5, "lost_search_factor"),
    ("lost_window_factor", 2.0, "lost_window_factor"),
])
def test_tracker_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrackerConfig(**{field: value})


def test_configs_are_frozen_and_lists_become_tuples():
    cfg = TrackerConfig(ratios=[0.5, 1, 2])
    assert cfg.ratios == (0.5, 1.0, 2.0) and cfg.anchor_num == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        AttentionConfig().strength = 1.0  # type: ignore[misc]
    assert dataclasses.replace(cfg, lr=0.5).lr == 0.5


def test_attention_defaults_and_grid():
    cfg = AttentionConfig()
    assert cfg.enabled and cfg.grid == 3
    assert (cfg.part_fraction, cfg.stride_fraction) == (0.5, 0.25)
    assert (cfg.normalisation, cfg.level, cfg.part_features) == ("minmax", "neck", "template")
    assert AttentionConfig(part_fraction=0.5, stride_fraction=0.5).grid == 2
    assert cfg.cells_per_block == 8 and AttentionConfig(hog_cells_per_block=2).cells_per_block == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("strength", -1.0, "strength"),
    ("normalisation", "softmax", "normalisation must be one of"),
    ("level", "backbone", "level must be one of"),
    ("part_features", "pixels", "part_features must be one of"),
    ("stride_fraction", 0.3, "whole number"),
    ("hog_pixels_per_cell", 128, "hog_size must hold"),
    ("hog_cells_per_block", 0, "hog_cells_per_block must be a positive int"),
    ("hog_block_norm", "L3", "hog_block_norm"),
    ("mask_fill", "black", "mask_fill must be one of"),
    ("enabled", 1, "enabled must be a bool"),
])
def test_attention_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        AttentionConfig(**{field: value})


def test_point_head_geometry_and_json_round_trip():
    from attsiammask_core.config import VARIANT_PRESETS, tracker_config_from_json, tracker_config_to_json

    lite = preset(VARIANT_PRESETS["lite"])
    assert lite.head == "point" and lite.anchor_num == 1 and (lite.stride, lite.score_size) == (16, 16)
    assert tracker_config_from_json(tracker_config_to_json(lite)) == lite
    with pytest.raises(ValueError, match="head must be one of"):
        TrackerConfig(head="grid")
    with pytest.raises(ValueError, match="unknown fields"):
        tracker_config_from_json('{"lr": 0.3, "speed": 1}')
    with pytest.raises(ValueError, match="not JSON"):
        tracker_config_from_json("lr=0.3")
    with pytest.raises(ValueError, match="lr must be in"):
        tracker_config_from_json('{"lr": 3.0}')


@pytest.mark.parametrize(("field", "value"), [("context", "square"), ("pad", "edge"), ("score_lr_power", 5.0)])
def test_crop_and_update_options_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        TrackerConfig(**{field: value})

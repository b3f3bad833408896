"""Presence: the calibrated probability, the appearance memory, the score map's peak shape, the shipped calibration."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from attsiammask_core.config import TrackerConfig
from attsiammask_core.presence import (
    FEATURE_NAMES,
    PresenceCalibration,
    PresenceMemory,
    calibration_from_values,
    cosine,
    presence_probability,
    score_logit,
    score_map_features,
    shipped_calibrations,
    with_shipped_presence,
)


def test_probability_is_the_logistic_of_the_weighted_features():
    calibration = PresenceCalibration(weights=(1.0,) + (0.0,) * (len(FEATURE_NAMES) - 1), bias=-2.0)
    features = np.zeros(len(FEATURE_NAMES))
    features[0] = 2.0
    assert presence_probability(features, calibration) == pytest.approx(0.5)
    features[0] = 1e6  # no overflow at the extremes
    assert presence_probability(features, calibration) == pytest.approx(1.0)
    features[0] = -1e6
    assert presence_probability(features, calibration) == pytest.approx(0.0, abs=1e-20)


def test_calibration_needs_one_finite_weight_per_feature():
    with pytest.raises(ValueError, match="values expected"):
        PresenceCalibration(weights=(1.0,), bias=0.0)
    with pytest.raises(ValueError, match="finite"):
        calibration_from_values([0.0, float("nan")] + [0.0] * (len(FEATURE_NAMES) - 1))
    assert calibration_from_values([0.5] + [1.0] * len(FEATURE_NAMES)).bias == 0.5


def test_cosine_and_score_logit():
    a = np.arange(1.0, 7.0).reshape(1, 2, 3)
    assert cosine(a, 3 * a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(a, np.zeros_like(a)) == 0.0
    assert score_logit(0.5) == pytest.approx(0.0)
    assert score_logit(1.0) == pytest.approx(score_logit(1 - 1e-4))  # clipped, finite
    assert score_logit(0.0) < -9


def test_score_map_peak_margin_and_spread():
    one = np.zeros((1, 16, 16))
    one[0, 8, 8] = 0.9
    margin, spread = score_map_features(one.reshape(-1), int(np.argmax(one)), (1, 16, 16))
    assert margin == pytest.approx(0.9) and spread == pytest.approx(1 / 256)
    two = one.copy()
    two[0, 1, 1] = 0.9  # a look-alike far away: no margin left
    margin, spread = score_map_features(two.reshape(-1), int(np.argmax(two)), (1, 16, 16))
    assert margin == pytest.approx(0.0) and spread == pytest.approx(2 / 256)


def test_memory_features_and_distractors():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(1, 8, 8, 8))
    other = rng.normal(size=(1, 8, 8, 8))
    memory = PresenceMemory(target)
    same = memory.features(target, 0.9, 0.5, 0.1)
    assert same.shape == (len(FEATURE_NAMES),)
    assert same[1] == pytest.approx(1.0) and same[2] == pytest.approx(1.0) and same[3] == pytest.approx(1.0)
    assert memory.features(other, 0.9, 0.5, 0.1)[1] < 0.5
    assert not memory.like_distractor(other)
    memory.reject(other)
    assert memory.like_distractor(other + 0.01 * rng.normal(size=other.shape))
    assert not memory.like_distractor(target)
    memory.confirm(other)  # a confirmed appearance counts as the target again
    assert memory.features(other, 0.9, 0.5, 0.1)[3] == pytest.approx(1.0)


def test_shipped_calibration_fills_the_config_or_falls_back_to_the_score(tmp_path):
    base = TrackerConfig()
    assert with_shipped_presence(base, "no-such-variant").presence == "score"
    path = tmp_path / "presence.json"
    values = [-1.0] + [0.5] * len(FEATURE_NAMES)
    path.write_text(json.dumps({"variants": {"x": {"presence_weights": values, "lost_threshold": 0.4,
                                                   "recover_threshold": 0.6, "lost_frames": 2}}}))
    config = with_shipped_presence(base, "x", path)
    assert config.presence == "verifier" and config.presence_weights == tuple(values)
    assert (config.lost_threshold, config.recover_threshold, config.lost_frames) == (0.4, 0.6, 2)
    assert dataclasses.replace(config, presence="auto").presence_weights == tuple(values)


def test_the_package_ships_a_lite_calibration_with_its_provenance():
    entry = shipped_calibrations()["lite"]
    assert len(entry["presence_weights"]) == len(FEATURE_NAMES) + 1
    assert not any("test" in folder for folder in entry["collected_on"] + entry["selected_on"])
    assert 0 < entry["lost_threshold"] <= entry["recover_threshold"] <= 1


def test_verifier_without_weights_is_refused():
    with pytest.raises(ValueError, match="presence_weights"):
        TrackerConfig(presence="verifier")
    with pytest.raises(ValueError, match="presence must be"):
        TrackerConfig(presence="maybe")
    with pytest.raises(ValueError, match="redetect_tiles"):
        TrackerConfig(redetect_tiles=17)

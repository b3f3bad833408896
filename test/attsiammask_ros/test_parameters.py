"""The parameter schema: the contract's names, defaults, validation, descriptors."""
from __future__ import annotations

import dataclasses
import math

import pytest

from attsiammask_ros import parameters as params

CONTRACT_NAMES = [
    "model.variant", "model.weights", "model.device", "model.backend", "model.providers", "model.precision",
    "model.threads", "model.half", "attention.enabled", "tracking.penalty_k", "tracking.window_influence",
    "tracking.lr",
    "tracking.context_amount", "tracking.mask_threshold", "tracking.lost_threshold", "tracking.lost_frames",
    "tracking.recover_threshold", "tracking.redetect_tiles", "tracking.redetect_reach", "tracking.recover_frames",
    "tracking.max_targets",
    "input.transport", "input.reliability", "input.queue_depth", "input.camera_info", "input.depth",
    "input.sync_tolerance_ms", "target.class_id", "target.frame_buffer", "target.stamp_tolerance_ms",
    "output.publish_mask", "output.publish_debug_image",
]
READ_ONLY = {"model.variant", "model.weights", "model.device", "model.threads", "model.backend", "model.providers",
             "model.precision", "model.half", "attention.enabled",
             "input.transport", "input.reliability", "input.queue_depth", "input.camera_info", "input.depth"}


def test_schema_has_exactly_the_contract_parameters():
    assert [spec.name for spec in params.SPECS] == CONTRACT_NAMES
    assert {spec.name for spec in params.SPECS if spec.read_only} == READ_ONLY
    assert all(spec.description for spec in params.SPECS)


def test_defaults_are_valid():
    defaults = params.TrackerNodeParameters()
    assert defaults.as_dict() == params.DEFAULTS
    assert params.DEFAULTS["input.reliability"] == "best_effort"
    assert params.DEFAULTS["model.variant"] == "lite" and params.DEFAULTS["model.weights"] == ""
    for spec in params.SPECS:
        assert params.validate(spec.name, spec.default) is None
        assert type(spec.default) is spec.type


@pytest.mark.parametrize("name, value, words", [
    ("tracking.lr", "fast", "tracking.lr must be a double, got str"),
    ("tracking.lr", True, "must be a double, got bool"),
    ("tracking.lost_frames", 2.5, "tracking.lost_frames must be an integer"),
    ("output.publish_mask", 1, "must be a bool"),
    ("model.variant", 3, "must be a string"),
    ("tracking.lr", 0.0, "tracking.lr must be in (0.0, 1.0]"),
    ("tracking.lr", 1.5, "in (0.0, 1.0]"),
    ("tracking.mask_threshold", 1.0, "in [0.0, 1.0)"),
    ("tracking.window_influence", -0.1, "in [0.0, 1.0]"),
    ("tracking.penalty_k", math.nan, "must be finite"),
    ("tracking.lost_frames", 0, "in [1, 1000]"),
    ("input.queue_depth", 101, "in [1, 100]"),
    ("target.frame_buffer", 0, "in [1, 300]"),
    ("target.stamp_tolerance_ms", -1.0, "in [0.0, 10000.0]"),
    ("model.variant", "r18", "model.variant must be one of lite, lfc, r50; got 'r18'"),
    ("input.transport", "theora", "one of raw, compressed"),
    ("input.reliability", "reliable!", "one of best_effort, reliable"),
    ("model.device", "gpu", "model.device must match"),
    ("model.device", "cuda:x", "must match"),
    ("model.backend", "tensorrt", "model.backend must be one of auto, torch, onnxruntime"),
    ("model.providers", "gpu", "model.providers must match"),
    ("model.providers", "cuda,,cpu", "e.g. cpu; cuda,cpu"),
    ("model.providers", "", "must match"),
    ("no.such", 1, "unknown parameter 'no.such'"),
])
def test_validate_rejects_with_a_reason(name, value, words):
    error = params.validate(name, value)
    assert error is not None and words in error, error


@pytest.mark.parametrize("name, value", [
    ("tracking.lr", 1.0), ("tracking.lr", 1), ("tracking.mask_threshold", 0.0), ("model.device", "cuda:1"),
    ("model.device", "CUDA"), ("model.device", "cpu"), ("target.class_id", "person"), ("input.queue_depth", 1),
    ("model.providers", "tensorrt, cuda, cpu"), ("model.providers", "CUDAExecutionProvider,cpu"),
    ("model.backend", "onnxruntime"),
])
def test_validate_accepts(name, value):
    assert params.validate(name, value) is None


def test_dataclass_validates_and_from_values():
    with pytest.raises(params.ParameterError, match="tracking.lr"):
        params.TrackerNodeParameters(tracking_lr=0.0)
    with pytest.raises(params.ParameterError, match="unknown parameter"):
        params.TrackerNodeParameters.from_values({"tracking.speed": 1.0})
    values = params.TrackerNodeParameters.from_values({"model.variant": "r50", "tracking.lost_frames": 9})
    assert values.model_variant == "r50" and values.value("tracking.lost_frames") == 9
    assert values.target_class_id == "target"
    with pytest.raises(dataclasses.FrozenInstanceError):
        values.model_variant = "lite"  # type: ignore[misc]


def test_descriptors_carry_type_range_choices_and_read_only():
    pytest.importorskip("rcl_interfaces.msg", reason="rcl_interfaces not installed: run `make setup`")
    from rcl_interfaces.msg import ParameterType

    lr = params.descriptor(params.SPEC_BY_NAME["tracking.lr"])
    assert lr.type == ParameterType.PARAMETER_DOUBLE and not lr.read_only
    assert (lr.floating_point_range[0].from_value, lr.floating_point_range[0].to_value) == (0.0, 1.0)
    frames = params.descriptor(params.SPEC_BY_NAME["tracking.lost_frames"])
    assert frames.type == ParameterType.PARAMETER_INTEGER and frames.integer_range[0].to_value == 1000
    variant = params.descriptor(params.SPEC_BY_NAME["model.variant"])
    assert variant.read_only and variant.type == ParameterType.PARAMETER_STRING
    assert "lite" in variant.additional_constraints and "r50" in variant.additional_constraints


def test_tracking_defaults_are_the_values_stored_with_the_embedded_weights():
    from attsiammask_core.tracker import stored_tracker_config, with_shipped_presence
    from attsiammask_core.weights import embedded_weights_path

    stored = stored_tracker_config(embedded_weights_path("lite"))
    assert stored is not None, "the embedded lite weights carry their tuned tracker configuration"
    for field in ("penalty_k", "window_influence", "lr", "context_amount", "mask_threshold"):
        assert params.DEFAULTS[f"tracking.{field}"] == getattr(stored, field), field
    # loss and re-detection: the lite variant's shipped presence calibration (what Tracker.create fills in)
    calibrated = with_shipped_presence(stored, "lite")
    assert calibrated.presence == "verifier" and calibrated.presence_weights
    for field in ("lost_threshold", "lost_frames", "recover_threshold", "redetect_tiles", "redetect_reach",
                  "recover_frames"):
        assert params.DEFAULTS[f"tracking.{field}"] == getattr(calibrated, field), field


@pytest.mark.parametrize(("name", "good", "bad", "message"), [
    ("tracking.recover_threshold", 0.0, 1.5, "in [0.0, 1.0]"),
    ("tracking.redetect_tiles", 16, 17, "in [0, 16]"),
    ("tracking.redetect_tiles", 0, -1, "in [0, 16]"),
    ("tracking.redetect_reach", 100.0, -0.5, "in [0.0, 100.0]"),
    ("tracking.recover_frames", 30, 31, "in [1, 30]"),
])
def test_redetection_parameters_have_ranges(name, good, bad, message):
    assert params.validate(name, good) is None
    assert message in params.validate(name, bad)
    assert "must be an integer" in params.validate("tracking.redetect_tiles", 2.0)


def test_interface_page_parameter_table_is_the_schema():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "ros-interface.md").read_text()
    assert params.markdown_table() in page, ("docs/ros-interface.md's parameter table is stale: run "
                                             "python tools/docs/make_params_table.py")

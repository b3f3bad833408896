"""The tracker node's parameter schema: one frozen dataclass, the single source of truth.

Every parameter of the ROS interface contract is one field of :class:`TrackerNodeParameters` with its
default, its ROS name, a description, and its allowed values (choices, a range or a pattern). The node
declares the parameters from it (:func:`declare`), validates start-up values and run-time changes with
:func:`validate`, and ``config/tracker.yaml`` and the launch file are tested against it.
"""
from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from attsiammask_core.session.boxes import MAX_TARGET_SCALE, MIN_TARGET_SIZE

__all__ = ["NODE_NAME", "MIN_TARGET_SIZE", "MAX_TARGET_SCALE", "ParameterSpec", "TrackerNodeParameters", "SPECS",
           "SPEC_BY_NAME", "DEFAULTS", "ParameterError", "validate", "declare", "read", "descriptor"]

NODE_NAME = "attsiammask_tracker"
DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
# onnxruntime providers, in order of preference: aliases or full onnxruntime names (matched in lower case)
_PROVIDER = r"(cpu|cuda|tensorrt|[a-z]+executionprovider)"
PROVIDERS_PATTERN = rf"{_PROVIDER}(\s*,\s*{_PROVIDER})*"


class ParameterError(ValueError):
    """Start-up parameter values that fail validation (the message lists every problem)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: ROS name, Python type, default and constraints."""

    name: str
    field_name: str
    type: type
    default: bool | int | float | str
    description: str
    read_only: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    pattern: str | None = None
    example: str | None = None  # allowed values, for the error message of a pattern

    def constraints(self) -> str:
        """The allowed values in words (also the descriptor's additional_constraints)."""
        if self.choices is not None:
            return "one of: " + ", ".join(self.choices)
        if self.pattern is not None:
            return f"matches {self.pattern}"
        if self.minimum is not None or self.maximum is not None:
            low = "(" if self.exclusive_minimum else "["
            high = ")" if self.exclusive_maximum else "]"
            return f"in {low}{self.minimum}, {self.maximum}{high}"
        return ""


def _param(name: str, default: Any, description: str, **constraints: Any) -> Any:
    return field(default=default, metadata={"name": name, "description": description, **constraints})


@dataclass(frozen=True)
class TrackerNodeParameters:
    """Every node parameter with its default. Model and input parameters are read-only after start-up."""

    model_variant: str = _param("model.variant", "lite", "network: lite = embedded CPU model (fast), lfc = embedded "
                                "LightFC-trunk model (more accurate, slower), r50 = the paper's ResNet-50 SiamMask "
                                "(needs model.weights)", choices=("lite", "lfc", "r50"), read_only=True)
    model_weights: str = _param("model.weights", "", "weights file (official SiamMask .pth or our .pt); "
                                "empty = the variant's embedded weights", read_only=True)
    model_device: str = _param("model.device", "auto", "auto (CUDA when available), cpu, cuda or cuda:N",
                               pattern=DEVICE_PATTERN, example="auto, cpu, cuda, cuda:0", read_only=True)
    model_backend: str = _param("model.backend", "auto", "auto (onnxruntime on a CPU when installed, else torch), "
                                "torch, or onnxruntime (the same network as ONNX graphs; hardware from "
                                "model.providers)", choices=("auto", "torch", "onnxruntime"), read_only=True)
    model_providers: str = _param("model.providers", "cpu", "onnxruntime backend: execution providers in order of "
                                  "preference, comma-separated (cpu, cuda, tensorrt or onnxruntime names); one "
                                  "that is not available falls back to cpu with a warning",
                                  pattern=PROVIDERS_PATTERN, example="cpu; cuda,cpu; tensorrt,cuda,cpu",
                                  read_only=True)
    model_precision: str = _param("model.precision", "fp32", "onnxruntime backend: fp32, or int8 (the per-frame "
                                  "graphs statically quantised, shipped for the embedded lfc weights: about 2x "
                                  "faster on a CPU for 0.001 validation AUC; other variants refuse it)",
                                  choices=("fp32", "int8"), read_only=True)
    model_threads: int = _param("model.threads", 0, "CPU threads for inference (torch intra-op, or onnxruntime's); "
                                "0 = all cores but one (the measured choice on a shared CPU: README)",
                                minimum=0, maximum=256, read_only=True)
    model_half: bool = _param("model.half", False, "fp16 inference; not supported by the core tracker yet: "
                              "true logs a warning and runs fp32", read_only=True)
    attention_enabled: bool = _param("attention.enabled", False, "Att-SiamMask attention on the template "
                                     "(false = plain SiamMask, same weights; off by default: it tracked worse with "
                                     "the embedded lite weights on validation, see its model card)", read_only=True)
    tracking_penalty_k: float = _param("tracking.penalty_k", 0.055, "scale/ratio change penalty",
                                       minimum=0.0, maximum=10.0)
    tracking_window_influence: float = _param("tracking.window_influence", 0.455, "cosine window weight "
                                              "(0 = none, 1 = only the window)", minimum=0.0, maximum=1.0)
    tracking_lr: float = _param("tracking.lr", 0.45, "box size update rate", minimum=0.0, maximum=1.0,
                                exclusive_minimum=True)
    tracking_context_amount: float = _param("tracking.context_amount", 0.5, "context around the target in the "
                                            "template and search crops", minimum=0.0, maximum=4.0)
    tracking_mask_threshold: float = _param("tracking.mask_threshold", 0.3, "mask probability threshold",
                                            minimum=0.0, maximum=1.0, exclusive_maximum=True)
    tracking_lost_threshold: float = _param("tracking.lost_threshold", 0.4, "confidence (the presence "
                                            "probability with the lite model's verifier, else the raw score) below "
                                            "this counts towards loss (0 = never lost); default: the lite "
                                            "calibration", minimum=0.0, maximum=1.0)
    tracking_lost_frames: int = _param("tracking.lost_frames", 1, "frames in a row below lost_threshold before "
                                       "the state is lost (no detection is published while lost)",
                                       minimum=1, maximum=1000)
    tracking_recover_threshold: float = _param("tracking.recover_threshold", 0.6, "while lost, the confidence a "
                                               "re-detected candidate must reach before tracking resumes (a value "
                                               "below tracking.lost_threshold acts as lost_threshold)",
                                               minimum=0.0, maximum=1.0)
    tracking_redetect_tiles: int = _param("tracking.redetect_tiles", 2, "while lost, search-crop-sized tiles of "
                                          "the frame searched per frame besides the widened local search, nearest "
                                          "first and in turns (needs the presence verifier: lite); 0 = local "
                                          "search only", minimum=0, maximum=16)
    tracking_redetect_reach: float = _param("tracking.redetect_reach", 0.0, "how far the re-detection tiles "
                                            "reach from where the target was last seen, in search-crop sides "
                                            "(0 = the whole frame)", minimum=0.0, maximum=100.0)
    tracking_recover_frames: int = _param("tracking.recover_frames", 6, "while lost, frames in a row a "
                                          "re-detected candidate must pass verification in one place before "
                                          "tracking resumes (lite's verifier)", minimum=1, maximum=30)
    tracking_max_targets: int = _param("tracking.max_targets", 4, "most targets tracked at once (set_target with "
                                       "a new target_id adds one up to this)", minimum=1, maximum=16)
    input_transport: str = _param("input.transport", "raw", "raw = subscribe image, compressed = image/compressed",
                                  choices=("raw", "compressed"), read_only=True)
    input_reliability: str = _param("input.reliability", "best_effort", "image QoS: best_effort (sensor data) "
                                    "or reliable", choices=("best_effort", "reliable"), read_only=True)
    input_queue_depth: int = _param("input.queue_depth", 5, "image subscription history depth (keep last)",
                                    minimum=1, maximum=100, read_only=True)
    input_camera_info: bool = _param("input.camera_info", False, "subscribe camera_info (sensor_msgs/CameraInfo, "
                                     "matched to the image by stamp) and publish target/ray, the unit ray to the "
                                     "target in the optical frame", read_only=True)
    input_depth: bool = _param("input.depth", False, "subscribe depth (sensor_msgs/Image registered to the image: "
                               "16UC1 mm or 32FC1 m) and publish target/point and target/detection3d; needs "
                               "input.camera_info", read_only=True)
    input_sync_tolerance_ms: float = _param("input.sync_tolerance_ms", 20.0, "largest stamp difference between "
                                            "the image and the camera_info / depth paired with it",
                                            minimum=0.0, maximum=1000.0)
    target_class_id: str = _param("target.class_id", "target", "class_id written into each Detection2D")
    target_frame_buffer: int = _param("target.frame_buffer", 30, "recent images kept to match set_target stamps",
                                      minimum=1, maximum=300)
    target_stamp_tolerance_ms: float = _param("target.stamp_tolerance_ms", 1.0, "largest difference between a "
                                              "set_target stamp and a buffered image's stamp",
                                              minimum=0.0, maximum=10000.0)
    output_publish_mask: bool = _param("output.publish_mask", True, "publish the mask image")
    output_publish_debug_image: bool = _param("output.publish_debug_image", False, "publish the debug overlay "
                                              "(only while someone subscribes)")

    def __post_init__(self) -> None:
        errors = [error for spec in SPECS if (error := validate(spec.name, getattr(self, spec.field_name)))]
        if self.input_depth is True and self.input_camera_info is False:
            errors.append("input.depth needs input.camera_info (the 3D point is the depth along the camera ray)")
        if errors:
            raise ParameterError("; ".join(errors))

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> TrackerNodeParameters:
        """Build from ROS names -> values (missing names keep their defaults); ParameterError on bad values."""
        unknown = sorted(set(values) - set(SPEC_BY_NAME))
        if unknown:
            raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}")
        return cls(**{SPEC_BY_NAME[name].field_name: value for name, value in values.items()})

    def value(self, name: str) -> Any:
        """The value of the parameter with ROS name ``name``."""
        return getattr(self, SPEC_BY_NAME[name].field_name)

    def as_dict(self) -> dict[str, Any]:
        """ROS name -> value."""
        return {spec.name: getattr(self, spec.field_name) for spec in SPECS}


def _specs() -> tuple[ParameterSpec, ...]:
    specs = []
    for f in fields(TrackerNodeParameters):
        meta = dict(f.metadata)
        assert f.default is not MISSING
        kind = {"str": str, "bool": bool, "int": int, "float": float}[str(f.type)]
        specs.append(ParameterSpec(name=meta.pop("name"), field_name=f.name, type=kind, default=f.default,
                                   description=meta.pop("description"), **meta))
    return tuple(specs)


SPECS: tuple[ParameterSpec, ...] = _specs()
SPEC_BY_NAME: dict[str, ParameterSpec] = {spec.name: spec for spec in SPECS}
DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in SPECS}


def _type_name(kind: type) -> str:
    return {str: "string", bool: "bool", int: "integer", float: "double"}[kind]


def validate(name: str, value: Any) -> str | None:
    """None when ``value`` is allowed for parameter ``name``; otherwise a sentence saying what is wrong."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        return f"unknown parameter {name!r}"
    kind = spec.type
    if kind is float:
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok_type = isinstance(value, kind)
    if not ok_type:
        article = "an" if kind is int else "a"
        return f"{name} must be {article} {_type_name(kind)}, got {type(value).__name__} {value!r}"
    if spec.choices is not None and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}; got {value!r}"
    if spec.pattern is not None and re.fullmatch(spec.pattern, value.strip().lower()) is None:
        return f"{name} must match {spec.pattern} (e.g. {spec.example}); got {value!r}"
    if kind in (int, float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name} must be finite, got {value!r}"
        low_bad = spec.minimum is not None and (value <= spec.minimum if spec.exclusive_minimum
                                                else value < spec.minimum)
        high_bad = spec.maximum is not None and (value >= spec.maximum if spec.exclusive_maximum
                                                 else value > spec.maximum)
        if low_bad or high_bad:
            return f"{name} must be {spec.constraints()}; got {value!r}"
    return None


def descriptor(spec: ParameterSpec) -> Any:
    """The rcl_interfaces ParameterDescriptor of ``spec`` (type, description, constraints, read_only)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    kind = {str: ParameterType.PARAMETER_STRING, bool: ParameterType.PARAMETER_BOOL,
            int: ParameterType.PARAMETER_INTEGER, float: ParameterType.PARAMETER_DOUBLE}[spec.type]
    desc = ParameterDescriptor(name=spec.name, type=kind, description=spec.description,
                               additional_constraints=spec.constraints(), read_only=spec.read_only)
    # Inclusive ranges go into the descriptor too; exclusive ends are checked by validate().
    if spec.type is int and spec.minimum is not None and spec.maximum is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    if spec.type is float and spec.minimum is not None and spec.maximum is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.minimum),
                                                        to_value=float(spec.maximum), step=0.0)]
    return desc


def read(node: Any) -> TrackerNodeParameters:
    """The node's current parameter values as a validated TrackerNodeParameters."""
    return TrackerNodeParameters.from_values({spec.name: node.get_parameter(spec.name).value for spec in SPECS})


def declare(node: Any) -> TrackerNodeParameters:
    """Declare every parameter on ``node`` (overrides from YAML/command line apply) and return the values.

    Raises ParameterError naming every bad start-up value.
    """
    errors = []
    for spec in SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except Exception as exc:  # rclpy: wrong override type or out of the descriptor's range
            errors.append(f"{spec.name}: {exc}")
    if errors:
        raise ParameterError("; ".join(errors))
    return read(node)


def markdown_table() -> str:
    """The parameter table of the README (a test keeps the README equal to this)."""
    rows = ["| parameter | default | allowed | run time | description |", "| --- | --- | --- | --- | --- |"]
    for spec in SPECS:
        default = str(spec.default).lower() if spec.type is bool else (
            f'"{spec.default}"' if spec.type is str else str(spec.default))
        if spec.pattern is not None and spec.example:
            allowed = f"e.g. {spec.example}"
        else:
            allowed = spec.constraints() or _type_name(spec.type)
        rows.append(f"| `{spec.name}` | `{default}` | {allowed} | {'read-only' if spec.read_only else 'settable'} "
                    f"| {spec.description} |")
    return "\n".join(rows)

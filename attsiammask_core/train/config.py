"""Typed, frozen training configuration and its YAML form (sections mirror the dataclasses; unknown keys are errors).

YAML schema (every key optional; defaults are the paper's recipe where it has one)::

    model:    variant (a name of models.MODELS), init ("imagenet" | weights file | null),
              freeze (parameter-name prefixes, e.g. "backbone.layer1"), bn_eval (extra BN prefixes kept in eval),
              backbone_lr_scale
    data:     data_dir, split, split_file, sequences (explicit names, override split), max_gap, neg_pair_prob,
              template_shift, template_scale, search_shift, search_scale, search_aspect, cache_frames
    augment:  flip_prob, gray_prob, blur_prob, blur_sigma, color_prob, color_gain, brightness, contrast,
              occluder_prob, occluder_cover, distractor_prob, distractor_from_other_prob, paste_prob, paste_feather
    labels:   pos_iou, neg_iou, max_pos, total, mask_positions
    loss:     cls_weight, loc_weight, mask_weight, loc_beta
    optim:    epochs, samples_per_epoch, batch_size, warmup_epochs, warmup_lr, base_lr, final_lr, momentum,
              weight_decay, grad_clip
    run:      seed, num_workers, threads, log_every, checkpoint_every

Relative paths (data_dir, split_file, model.init) are taken relative to the current working directory.
``samples_per_epoch`` counts pairs over all processes; ``batch_size`` is per process.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = ["AugmentConfig", "DataConfig", "LabelConfig", "LossConfig", "ModelConfig", "OptimConfig", "RunConfig",
           "TrainConfig", "config_from_dict", "config_to_dict", "load_config"]


def _check(ok: bool, owner: object, message: str) -> None:
    if not ok:
        raise ValueError(f"{type(owner).__name__}: {message}")


def _check_probabilities(owner: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(owner, name)
        _check(0.0 <= value <= 1.0, owner, f"{name} must be in [0, 1], got {value}")


def _check_positive(owner: object, names: tuple[str, ...], allow_zero: bool = False) -> None:
    for name in names:
        value = getattr(owner, name)
        ok = value >= 0 if allow_zero else value > 0
        _check(ok and math.isfinite(value), owner, f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass(frozen=True)
class ModelConfig:
    """Which network to train, where its initial weights come from, and what stays frozen."""

    variant: str = "lite"
    init: str | None = "imagenet"
    freeze: tuple[str, ...] = ()
    bn_eval: tuple[str, ...] = ()
    backbone_lr_scale: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "freeze", tuple(self.freeze))
        object.__setattr__(self, "bn_eval", tuple(self.bn_eval))
        _check(bool(self.variant), self, "variant must be a model name")
        _check_positive(self, ("backbone_lr_scale",), allow_zero=True)
        _check(all(p and not p.endswith(".") for p in self.freeze + self.bn_eval), self,
               "freeze/bn_eval prefixes must be non-empty module or parameter names without a trailing '.'")


@dataclass(frozen=True)
class DataConfig:
    """Where pairs come from and how the crops are cut (shifts in 255-crop pixels, scales as log-ratios)."""

    data_dir: str = "data/sequences"  # tools/data/build_sequences.py writes it
    split: str = "train"
    split_file: str | None = None
    sequences: tuple[str, ...] = ()
    max_gap: int = 100
    neg_pair_prob: float = 0.1
    template_shift: float = 4.0
    template_scale: float = 0.05
    search_shift: float = 64.0
    search_scale: float = 0.18
    search_aspect: float = 0.1
    cache_frames: bool = False
    mask_pairs_only: bool = False  # draw every pair from a sequence with masks (when training only the mask branch)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sequences", tuple(self.sequences))
        _check(isinstance(self.max_gap, int) and self.max_gap >= 0, self, f"max_gap must be >= 0, got {self.max_gap}")
        _check_probabilities(self, ("neg_pair_prob",))
        _check_positive(self, ("template_shift", "template_scale", "search_shift", "search_scale", "search_aspect"),
                        allow_zero=True)
        _check(self.search_shift <= 96, self, "search_shift above 96 moves targets off the 25x25 anchor grid")
        _check(isinstance(self.mask_pairs_only, bool), self, "mask_pairs_only must be true or false")


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and strengths of the photometric and content augmentations (augment.py)."""

    flip_prob: float = 0.5
    gray_prob: float = 0.1
    blur_prob: float = 0.2
    blur_sigma: float = 2.0
    color_prob: float = 0.8
    color_gain: float = 0.1
    brightness: float = 25.0
    contrast: float = 0.2
    occluder_prob: float = 0.2
    occluder_cover: float = 0.4
    distractor_prob: float = 0.2
    distractor_from_other_prob: float = 0.5
    paste_prob: float = 0.3
    paste_feather: float = 1.0

    def __post_init__(self) -> None:
        _check_probabilities(self, ("flip_prob", "gray_prob", "blur_prob", "color_prob", "occluder_prob",
                                    "occluder_cover", "distractor_prob", "distractor_from_other_prob", "paste_prob"))
        _check_positive(self, ("blur_sigma", "color_gain", "brightness", "contrast", "paste_feather"), allow_zero=True)


@dataclass(frozen=True)
class LabelConfig:
    """Anchor assignment (IoU thresholds, sampling caps) and mask positions trained per sample."""

    pos_iou: float = 0.6
    neg_iou: float = 0.3
    max_pos: int = 16
    total: int = 64
    mask_positions: int = 1

    def __post_init__(self) -> None:
        _check(0.0 <= self.neg_iou <= self.pos_iou <= 1.0, self, "need 0 <= neg_iou <= pos_iou <= 1")
        _check(0 < self.max_pos <= self.total, self, "need 0 < max_pos <= total")
        _check(self.mask_positions >= 0, self, "mask_positions must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (foolwood SiamMask: cls 1.0, loc 1.2, mask 36) and the smooth-L1 transition point."""

    cls_weight: float = 1.0
    loc_weight: float = 1.2
    mask_weight: float = 36.0
    loc_beta: float = 1.0 / 9.0

    def __post_init__(self) -> None:
        _check_positive(self, ("cls_weight", "loc_weight", "mask_weight", "loc_beta"), allow_zero=True)


OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class OptimConfig:
    """SGD (the paper's; or AdamW) and the paper's schedule: linear warm-up warmup_lr -> base_lr, then log decay
    to final_lr. ``momentum`` is SGD's; AdamW uses its default betas."""

    epochs: int = 20
    samples_per_epoch: int = 600_000
    batch_size: int = 64
    warmup_epochs: int = 5
    warmup_lr: float = 1e-3
    base_lr: float = 5e-3
    final_lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 10.0
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        _check(self.optimizer in OPTIMIZERS, self, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("epochs", "samples_per_epoch", "batch_size"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value > 0, self, f"{name} must be a positive integer, got {value}")
        _check(0 <= self.warmup_epochs < self.epochs or self.warmup_epochs == self.epochs == 0, self,
               f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}")
        _check_positive(self, ("warmup_lr", "base_lr", "final_lr"))
        _check_positive(self, ("momentum", "weight_decay", "grad_clip"), allow_zero=True)


@dataclass(frozen=True)
class RunConfig:
    """Seeding, workers, logging and checkpoint cadence (checkpoint_every in iterations; 0 = epoch ends only)."""

    seed: int = 0
    num_workers: int = 1
    threads: int | None = None
    log_every: int = 10
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        _check(self.num_workers >= 0, self, "num_workers must be >= 0")
        _check(self.threads is None or self.threads > 0, self, "threads must be > 0 or null")
        _check(self.log_every > 0 and self.checkpoint_every >= 0, self, "need log_every > 0, checkpoint_every >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """The whole training recipe; one YAML section per field."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


def _convert(value: Any, hint: Any, where: str) -> Any:
    """YAML value -> field type (nested dataclass, tuple, int/float/str/bool, optional)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported field type {hint!r}")


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}")
    return cls(**{k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()})


def config_from_dict(data: Mapping[str, Any] | None, where: str = "config") -> TrainConfig:
    """A TrainConfig from nested mappings (YAML), rejecting unknown keys and wrongly typed values."""
    return _build(TrainConfig, data, where)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Nested plain dict (tuples as lists) that `config_from_dict` turns back into an equal config."""
    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
    return {f.name: {k: plain(v) for k, v in dataclasses.asdict(getattr(config, f.name)).items()}
            for f in fields(config)}


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML training config; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    return config_from_dict(yaml.safe_load(path.read_text()), where=str(path))

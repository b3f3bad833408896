"""The tracker: holds the per-target state, runs the SiamMask step (spec section 8); the model only computes.

Public API: ``Tracker.create(variant, weights, device, attention, config)``, ``init(frame, box)`` and
``track(frame) -> TrackResult``. Frames are H x W x 3 uint8 BGR; boxes are (x, y, w, h), 0-based, top-left.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attsiammask_core import geometry as geo
from attsiammask_core.attention import TemplateAttention, attended_kernels, attention_map, target_box_in_template_xywh
from attsiammask_core.config import (
    DEFAULT_PRESET,
    VARIANT_PRESETS,
    AttentionConfig,
    TrackerConfig,
    preset,
    tracker_config_from_json,
)
from attsiammask_core.deploy.precision import check_precision, precision_graphs
from attsiammask_core.presence import (
    PresenceMemory,
    calibration_from_values,
    presence_probability,
    score_map_features,
    with_shipped_presence,
)
from attsiammask_core.track_state import TrackState

BACKENDS = ("auto", "torch", "onnxruntime")
__all__ = ["TrackResult", "TrackState", "Tracker", "track_targets", "resolve_device", "resolve_tracker_config",
           "resolve_attention_config", "stored_attention_default", "stored_tracker_config"]

TRACKING = TrackState.TRACKING
LOST = TrackState.LOST
CONFIRM_CONFIDENCE = 0.8  # presence at or above which a frame's box is taken as the target's
CONFIRM_EVERY = 5         # confident frames between two appearances added to the memory (chosen on train/validation)
DISTRACTOR_SCORE = 0.9    # raw box-head score from which a candidate the verifier refuses is remembered as a distractor
RIVAL_SCORE = 0.5         # raw box-head score from which a cell apart from the target counts as a look-alike
FOLLOW_SCORE = 0.5        # raw box-head score from which the held box follows the local search while lost
SHADOW_SCORE = 0.5        # raw box-head score from which the shadow's place is weighed against re-detected candidates
REDETECT_GROWTH = 0.25    # search-crop sides the re-detection tiles' reach grows by per lost frame


@dataclass(frozen=True)
class TrackResult:
    """One frame's output: box (x, y, w, h) from the RPN state, polygon (4, 2), mask (H x W bool), the box head's
    raw score, state, and confidence: how sure the tracker is that the box holds the target (the presence
    verifier's probability, or the score without it; None in results made elsewhere: read it as the score)."""

    box: tuple[float, float, float, float]
    polygon: np.ndarray
    mask: np.ndarray
    score: float
    state: TrackState
    confidence: float | None = None

    @property
    def presence(self) -> float:
        """The confidence, or the score when none was given."""
        return self.score if self.confidence is None else self.confidence


@dataclass(frozen=True)
class _Search:
    """One search crop read at its best cell: the network output, the crop, the chosen cell and its scores, the
    size update rate, the box (centre offset and size, frame pixels) relative to ``origin`` (the state the crop
    stands for), and the crop / backbone / heads times."""

    out: Any
    crop_box: np.ndarray
    best: int
    score: np.ndarray
    best_score: float
    lr: float
    offset: np.ndarray
    origin: np.ndarray
    timings: tuple[float, float, float]
    boxes: np.ndarray  # every cell's decoded box (centre offset from the crop's centre, size; crop px)
    scale_z: float     # crop pixels per frame pixel
    size: np.ndarray   # (w, h) of the state the crop was made for (frame pixels)


@dataclass(frozen=True)
class _Located:
    """A tracked frame whose mask is still to be refined (several targets refine in one network call)."""

    search: _Search
    confidence: float
    timings: dict[str, float]


def resolve_backend(backend: str, device: torch.device, attention: AttentionConfig) -> str:
    """"auto" -> onnxruntime on a CPU when it is installed and runs this attention setting, else torch."""
    if backend != "auto":
        return backend
    if device.type != "cpu" or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    if attention.enabled and attention.part_features == "backbone":  # needs a backbone run on a part of any size
        return "torch"
    return "onnxruntime"


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """"cpu", "cuda", "cuda:N" or "auto"; CUDA asked for but absent falls back to the CPU with a warning."""
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    if not torch.cuda.is_available():
        warnings.warn(f"device {device!r} requested but CUDA is not available; running on the CPU", stacklevel=3)
        return torch.device("cpu")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return torch.device(name)


def resolve_tracker_config(config: TrackerConfig | str | None) -> TrackerConfig:
    """None -> the default preset; a name -> that preset; a TrackerConfig as it is."""
    if config is None:
        return preset(DEFAULT_PRESET)
    if isinstance(config, str):
        return preset(config)
    if isinstance(config, TrackerConfig):
        return config
    raise TypeError(f"config must be a TrackerConfig, a preset name or None, got {type(config).__name__}")


def resolve_attention_config(attention: bool | AttentionConfig) -> AttentionConfig:
    """True/False -> the default AttentionConfig on/off; an AttentionConfig as it is."""
    if isinstance(attention, bool):
        return AttentionConfig(enabled=attention)
    if isinstance(attention, AttentionConfig):
        return attention
    raise TypeError(f"attention must be a bool or an AttentionConfig, got {type(attention).__name__}")


def _stored_metadata(weights: str | Path | None) -> dict[str, str]:
    """The metadata of our weights file; empty for None, a missing file or an official .pth."""
    if weights is None:
        return {}
    from attsiammask_core.weights import read_metadata

    path = Path(weights)
    if path.is_dir():  # an `attsiammask export` folder: its (checked) manifest carries the weights' metadata
        from attsiammask_core.deploy.manifest import MANIFEST, read_manifest

        return read_manifest(path).metadata if (path / MANIFEST).is_file() else {}
    return read_metadata(path) if path.is_file() else {}


def stored_tracker_config(weights: str | Path | None) -> TrackerConfig | None:
    """The tracker configuration our weights file carries in its metadata ("tracker_config"), if any."""
    text = _stored_metadata(weights).get("tracker_config")
    return tracker_config_from_json(text) if text else None


def stored_attention_default(weights: str | Path | None) -> bool:
    """The attention default our weights file stores ("attention": "true"/"false"); True otherwise."""
    return _stored_metadata(weights).get("attention", "true").strip().lower() != "false"


def _ort_model_from_folder(folder: str | Path, variant: str, providers: Sequence[str] | None,
                           threads: int | None) -> Any:
    from attsiammask_core.deploy.ort_model import OrtModel
    from attsiammask_core.weights import WeightsError

    model = OrtModel.from_directory(folder, providers, threads)
    found = model.metadata.get("variant")
    if found != variant:
        raise WeightsError(f"{folder}: holds graphs of variant {found!r}, not {variant!r}")
    return model


def _check_frame(frame: Any) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array (H x W x 3 uint8 BGR), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 (H x W x 3 BGR), got dtype {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame must be H x W x 3 (BGR), got shape {frame.shape}")
    return frame


def _check_box(box: Any, frame_hw: tuple[int, int]) -> np.ndarray:
    try:
        values = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"box must be 4 numbers (x, y, w, h), got {box!r}") from None
    if values.shape != (4,):
        raise ValueError(f"box must be 4 numbers (x, y, w, h), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"box must be finite, got {values.tolist()}")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"box width and height must be > 0, got {values[2]} x {values[3]}")
    clipped = geo.clip_xywh_to_frame(values, frame_hw)
    if clipped is None:
        raise ValueError(f"box {values.tolist()} lies outside the {frame_hw[1]}x{frame_hw[0]} frame")
    return clipped


class Tracker:
    """Single-object Att-SiamMask tracker around a SiamMask-like model (features/template/search/refine)."""

    def __init__(self, model: Any, config: TrackerConfig | str | None = None,
                 attention: bool | AttentionConfig = True, device: str | torch.device = "cpu",
                 masks: bool = True) -> None:
        """``masks=False`` skips the refine module: results carry an empty mask and the box as polygon (the box
        itself does not depend on the mask)."""
        self.masks = masks
        self.config = resolve_tracker_config(config)
        self.attention_config = resolve_attention_config(attention)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        cfg = self.config
        model_head = getattr(model, "box_head", cfg.head)
        if model_head != cfg.head:
            raise ValueError(f"the model's box head is {model_head!r} but the tracker configuration reads "
                             f"{cfg.head!r} outputs: use a configuration made for this model (its weights' own, or "
                             f"the variant's preset)")
        if cfg.head == "point":  # the cells' points; their sizes are unused
            self._anchors = geo.anchors_cxcywh(cfg.stride, (1.0,), (1.0,), cfg.score_size)
        else:
            self._anchors = geo.anchors_cxcywh(cfg.stride, cfg.ratios, cfg.scales, cfg.score_size)
        self._window = geo.hann_window(cfg.score_size, cfg.anchor_num)
        self._kernels: Any = None
        self._pad = np.zeros(3, dtype=np.uint8)
        self._state = np.zeros(4, dtype=np.float64)  # cx, cy, w, h
        self._low_count = 0
        self._lost = False
        self._calibration = None
        if cfg.presence != "score" and cfg.presence_weights:
            self._calibration = calibration_from_values(cfg.presence_weights)
        self._memory: PresenceMemory | None = None
        self._confirmed_state = self._state.copy()
        self._since_confirmed = 0
        self._tile_cursor = 0
        self._lost_for = 0  # frames since the target was lost
        self._candidate: tuple[np.ndarray, int] | None = None
        self._shadow: np.ndarray | None = None  # while lost: the state a plain tracking step follows (reported box)
        self._last_template: np.ndarray | None = None
        self.last_presence_features: np.ndarray | None = None
        self.attention: TemplateAttention | None = None
        self.last_timings: dict[str, float] = {}

    @classmethod
    def create(cls, variant: str = "lite", weights: str | Path | None = None, device: str | torch.device = "cpu",
               attention: bool | AttentionConfig | None = None, config: TrackerConfig | str | None = None,
               random_init: bool = False, threads: int | None = None,
               overrides: Mapping[str, Any] | None = None, backend: str = "auto",
               providers: Sequence[str] | None = None, precision: str = "fp32") -> Tracker:
        """Build the model of ``variant``, load ``weights`` (official .pth or our .pt) and wrap it.

        ``backend="auto"`` (default) is onnxruntime on a CPU when it is installed (the faster CPU runtime: README,
        ``attsiammask bench``) and torch otherwise (CUDA devices, no onnxruntime, or an attention setting only torch
        runs). ``backend="onnxruntime"`` runs the same network parts as ONNX graphs (exported from the loaded weights in
        memory, or read from an `attsiammask export` folder given as ``weights``) on ``providers`` (``"cpu"``,
        ``"cuda"``, ``"tensorrt"`` or onnxruntime names, in order of preference; unavailable ones fall back to
        the CPU with a warning); ``device`` then stays "cpu".

        The tracker configuration is ``config`` when given (a TrackerConfig or a preset name), else the one stored
        in the weights file (our weights files carry the values tuned for them), else the variant's preset;
        ``overrides`` then replaces single fields (e.g. ``{"lr": 0.4}``). ``attention=None`` takes the default the
        weights file stores ("attention" in its metadata: the setting that tracked better on validation), else on.

        ``precision="int8"`` (onnxruntime, embedded weights, variants that ship int8 graphs: lfc) runs the per-frame
        graphs statically quantised (deploy/precision.py; the variant's model card has the measured cost in accuracy).

        ``random_init=True`` (tests and benchmarks only) keeps random weights when no file is given.
        ``threads`` sets torch's intra-op CPU threads for the whole process (None: torch's default); fewer
        threads than cores keep inference from stalling when other threads of the process need a core.
        """
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        from attsiammask_core.models import build_model
        from attsiammask_core.weights import embedded_weights_path, load_any

        if weights is not None and random_init:
            raise ValueError("give either weights or random_init=True, not both")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "auto" and providers is not None:
            backend = "onnxruntime"
        if providers is not None and backend != "onnxruntime":
            raise ValueError("providers apply to backend='onnxruntime' only")
        if backend == "onnxruntime" and str(device).strip().lower() not in ("cpu", "auto"):
            raise ValueError("with backend='onnxruntime' choose the hardware with providers (e.g. ['cuda']) "
                             "and keep device='cpu'")
        target_device = resolve_device(device)
        model = build_model(variant)
        if weights is None and not random_init:
            weights = embedded_weights_path(variant)
        attention_config = resolve_attention_config(stored_attention_default(weights) if attention is None
                                                    else attention)
        tracker_config = resolve_tracker_config(config if config is not None else
                                                stored_tracker_config(weights) or VARIANT_PRESETS.get(variant))
        if tracker_config.presence != "score" and not tracker_config.presence_weights:
            tracker_config = with_shipped_presence(tracker_config, variant)
        if overrides:
            unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(TrackerConfig)})
            if unknown:
                raise ValueError(f"unknown tracker configuration fields {unknown}")
            tracker_config = dataclasses.replace(tracker_config, **overrides)
        backend = resolve_backend(backend, target_device, attention_config)
        precision = check_precision(precision, backend, variant)
        if backend == "onnxruntime" and weights is not None and Path(weights).is_dir():
            if precision != "fp32":
                raise ValueError("precision 'int8' applies to the embedded weights, not to an export folder")
            return cls(_ort_model_from_folder(weights, variant, providers, threads), config=tracker_config,
                       attention=attention_config)
        if weights is not None:
            load_any(weights, model, variant=variant)
        elif not random_init:
            raise ValueError(f"variant {variant!r} has no embedded weights: pass weights=<path> to an official "
                             "SiamMask checkpoint (SiamMask_VOT.pth, SiamMask_VOT_LD.pth, SiamMask_DAVIS.pth, pysot "
                             "model.pth) or our .pt file (random_init=True only for tests/benchmarks)")
        if backend == "onnxruntime":
            from attsiammask_core.deploy.ort_model import OrtModel

            return cls(OrtModel.from_torch(model, providers, threads, replaced=precision_graphs(variant, model,
                                                                                             precision)),
                       config=tracker_config, attention=attention_config)
        if target_device.type == "cpu" and hasattr(model, "optimize_for_inference"):
            model.optimize_for_inference()  # TorchScript per-frame paths (lite: about a third faster on a CPU)
        return cls(model, config=tracker_config, attention=attention_config, device=target_device)

    @property
    def state(self) -> TrackState:
        """TrackState.TRACKING or TrackState.LOST (of the last frame)."""
        return LOST if self._lost else TRACKING

    @property
    def initialised(self) -> bool:
        """True once init() has run."""
        return self._kernels is not None

    def box_now(self) -> tuple[float, float, float, float]:
        """The current box (x, y, w, h) as track() reports it."""
        return self._box()

    def mark_lost(self, follow: bool = False) -> None:
        """Take the target as lost from the next frame (e.g. it is known to have left the view): the tracker
        searches for it (re-detection with the verifier) and reports it only once it is found again. ``follow``:
        a plain tracking step goes on from the current box meanwhile, as after a loss on the confidence."""
        if self._kernels is None:
            raise RuntimeError("call init(frame, box) before mark_lost()")
        self._lost = True
        self._tile_cursor = 0
        self._lost_for = 0
        self._shadow = self._state.copy() if follow and self._memory is not None else None

    def relocate(self, frame: np.ndarray, box: Any) -> None:
        """The target is at ``box`` (x, y, w, h) in ``frame`` (e.g. found by another detector): tracking goes on
        from there with the first frame's template and the appearance memory kept (init() would replace them)."""
        if self._kernels is None:
            raise RuntimeError("call init(frame, box) before relocate()")
        frame = _check_frame(frame)
        self._resume_at(geo.xywh_to_cxcywh(_check_box(box, frame.shape[:2])))
        self._confirmed_state = self._state.copy()
        self._candidate = None

    def _resume_at(self, state: np.ndarray) -> None:
        """Tracking (not lost) from ``state``: the loss count, the shadow and the lost state cleared."""
        self._state = state
        self._lost = False
        self._shadow = None
        self._low_count = 0

    def _to_tensor(self, crop: np.ndarray, batched: bool = False) -> torch.Tensor:
        """(1, 3, H, W) float32 from an H x W x 3 uint8 crop ((N, 3, H, W) from N x H x W x 3 when ``batched``). On
        the CPU numpy converts it on one thread: a torch op here would wake torch's OpenMP threads, which then spin
        on the cores the next network step needs."""
        crops = crop if batched else crop[None]
        if self.device.type == "cpu":
            return torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32))
        tensor = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        return tensor.permute(0, 3, 1, 2).to(torch.float32).contiguous()

    def init(self, frame: np.ndarray, box: Any) -> None:
        """Start tracking the target in ``box`` (x, y, w, h; clipped to the frame) of ``frame``."""
        frame = _check_frame(frame)
        xywh = _check_box(box, frame.shape[:2])
        cfg = self.config
        self._state = geo.xywh_to_cxcywh(xywh)
        self._pad = geo.channel_mean_uint8(frame) if cfg.pad == "mean" else np.zeros(3, dtype=np.uint8)
        side = max(geo.template_crop_side(self._state[2:], cfg.context_amount, cfg.context), 1)
        crop = geo.crop_square(frame, self._crop_centre(), side, cfg.exemplar_size, self._pad)
        with torch.inference_mode():
            zf = self.model.template_features(self._to_tensor(crop))
            if self.attention_config.enabled:
                target = target_box_in_template_xywh(self._state[2:], side, cfg.exemplar_size)
                self.attention = attention_map(self.model, zf, crop, target, self.attention_config, cfg.stride)
                self._kernels = attended_kernels(self.model, zf, self.attention, self.attention_config)
            else:
                self.attention = None
                self._kernels = self.model.template_kernels(zf)
        self._low_count = 0
        self._lost = False
        self._confirmed_state = self._state.copy()
        self._since_confirmed = 0
        self._tile_cursor = 0
        self._candidate = None
        self._shadow = None
        if self._calibration is not None:
            self._last_template = zf.float().cpu().numpy()
            self._memory = PresenceMemory(self._last_template)

    def track(self, frame: np.ndarray, avoid: Sequence[Sequence[float]] = ()) -> TrackResult:
        """One tracking step (spec section 8, pysot order: clip before the mask), plus presence, loss and
        re-detection (TrackerConfig: presence, lost_threshold, redetect_tiles). ``avoid``: boxes (x, y, w, h) other
        targets hold on this frame; while lost, a candidate centred inside one of them is not taken."""
        if self._kernels is None:
            raise RuntimeError("call init(frame, box) before track(frame)")
        frame = _check_frame(frame)
        if self._lost:
            return self._track_lost(frame, avoid)
        t0 = time.perf_counter()
        return self._step(frame, self._search(frame, self._crop_centre(), 1.0, self.config.window_influence), t0)

    def _step(self, frame: np.ndarray, search: _Search, t0: float, template: np.ndarray | None = None,
              defer_mask: bool = False, state: np.ndarray | None = None) -> TrackResult | _Located:
        """The tracking step after the network: state update (``state``: the search's, already computed),
        presence (on ``template``, the template-branch features of the new box, when given), loss, mask (or,
        ``defer_mask``, what the mask needs)."""
        cfg = self.config
        t2 = time.perf_counter()
        timings = {"crop": search.timings[0], "backbone": search.timings[1], "heads": search.timings[2]}
        self._state = state if state is not None else self._updated_state(search, frame.shape[:2])
        confidence = search.best_score
        if self._memory is not None:
            if template is None:
                template = self._template_features(frame, self._state)
            confidence = self._presence(template, search)
            self._confirm(confidence, frame, search)
        timings["presence"] = time.perf_counter() - t2
        self._low_count = self._low_count + 1 if confidence < cfg.lost_threshold else 0
        if self._low_count >= cfg.lost_frames:
            self._lost = True
            self._tile_cursor = 0
            self._lost_for = 0
            if self._memory is not None:  # search again from where the target was last seen for sure; the plain
                self._shadow = self._state.copy()  # tracking step goes on from here (the box reported while lost)
                self._state = self._confirmed_state.copy()
            timings["refine"], timings["post"] = 0.0, time.perf_counter() - t2 - timings["presence"]
            return self._lost_result(frame, confidence, search.best_score, timings)
        if defer_mask and self.masks:
            return _Located(search, confidence, timings)
        return self._result(frame, search, confidence, timings, t0)

    def _track_lost(self, frame: np.ndarray, avoid: Sequence[Sequence[float]] = ()) -> TrackResult:
        """While lost: the local search widened around where the target was last seen for sure, plus (with the
        verifier) tiles of the frame in turns; tracking resumes on the best candidate when it is confident enough
        (and verified, when the verifier is on). With the verifier a plain tracking step also goes on from where the
        loss happened (the "shadow", the box reported while lost, every frame: a target whose look changed stays
        boxed); while its head score is at least SHADOW_SCORE a candidate away from it must look more like the
        target than the shadow's box does, and a candidate at it resumes on the shadow's box."""
        cfg = self.config
        t0 = time.perf_counter()
        self._lost_for += 1
        if self._candidate is not None:  # a candidate to confirm: look there as a tracking step would
            searches = [self._search(frame, self._crop_centre(), 1.0, cfg.window_influence)]
        else:
            searches = [self._search(frame, self._crop_centre(), cfg.lost_search_factor,
                                     cfg.window_influence * cfg.lost_window_factor)]
        if self._memory is not None and cfg.redetect_tiles:
            _, side = geo.search_scale(self._state[2:], cfg.context_amount, cfg.exemplar_size, cfg.instance_size,
                                       1.0, cfg.context)
            # the tiles' reach grows by REDETECT_GROWTH search sides a lost frame, up to redetect_reach (0: frame)
            reach = 1.0 + REDETECT_GROWTH * self._lost_for
            if cfg.redetect_reach > 0:
                reach = min(reach, cfg.redetect_reach)
            centres = geo.tile_centres(frame.shape[:2], side, self._crop_centre(), reach=reach)
            for k in range(min(cfg.redetect_tiles, len(centres))):
                centre = centres[(self._tile_cursor + k) % len(centres)]
                searches.append(self._search(frame, centre, 1.0, 0.0))
            self._tile_cursor = (self._tile_cursor + cfg.redetect_tiles) % max(1, len(centres))
        shadow = self._search_from(frame, self._shadow) if self._shadow is not None else None
        t2 = time.perf_counter()
        timed = searches if shadow is None else [*searches, shadow[0]]
        timings = {"crop": sum(item.timings[0] for item in timed),
                   "backbone": sum(item.timings[1] for item in timed),
                   "heads": sum(item.timings[2] for item in timed)}
        if self._memory is None:
            search = max(searches, key=lambda item: item.best_score)
            accepted, confidence, state = search.best_score >= cfg.recover_threshold, search.best_score, None
        else:
            search, state, confidence = self._best_verified(frame, searches, avoid)
            accepted = confidence >= cfg.recover_threshold and not self._memory.like_distractor(self._last_template)
            credible = shadow is not None and shadow[0].best_score >= SHADOW_SCORE  # the plain step found something
            if accepted and credible and not _near(state, shadow[1]):
                # a candidate away from where the plain step went must look more like the target than that place
                accepted = confidence > self._presence_elsewhere(frame, *shadow)
            accepted = self._consistent(state) if accepted else self._consistent(None)
            if accepted and credible and _near(state, shadow[1]):
                search, state = shadow  # resume on the plain step's box: it kept the target's size through the loss
        timings["presence"] = time.perf_counter() - t2
        if not accepted:
            local = searches[0]
            if self._candidate is not None:  # search there again next frame
                self._state = self._candidate[0].copy()
            elif self._memory is not None and local.best_score >= FOLLOW_SCORE:
                # unconfirmed, not published: the held box follows the local search (position only), so a target
                # whose look changed more than the verifier accepts is not left behind
                followed = self._updated_state(local, frame.shape[:2])
                self._state = np.array([followed[0], followed[1], self._state[2], self._state[3]])
            if shadow is not None:  # the reported box goes along with the plain step, however weak
                self._shadow = shadow[1]
            timings["refine"], timings["post"] = 0.0, 0.0
            return self._lost_result(frame, confidence, search.best_score, timings)
        self._resume_at(state if state is not None else self._updated_state(search, frame.shape[:2]))
        self._confirm(confidence)
        return self._result(frame, search, confidence, timings, t0)

    def _consistent(self, state: np.ndarray | None) -> bool:
        """Count a verified candidate (None: none this frame): True once recover_frames of them in a row lie in one
        place (each centre within the previous one's size)."""
        if state is None:
            self._candidate = None
            return False
        if self._candidate is not None:
            previous, count = self._candidate
            if _near(state, previous):
                self._candidate = (state, count + 1)
            else:
                self._candidate = (state, 1)
        else:
            self._candidate = (state, 1)
        if self._candidate[1] >= self.config.recover_frames:
            self._candidate = None
            return True
        return False

    def _best_verified(self, frame: np.ndarray, searches: list[_Search],
                       avoid: Sequence[Sequence[float]] = ()) -> tuple[_Search, np.ndarray, float]:
        """The candidate (search, state, presence) the verifier likes best among the searches' best cells, none
        centred inside an ``avoid`` box (presence 0 if all are); those the box head scores high but the verifier
        clearly refuses are remembered as distractors."""
        best: tuple[float, int, np.ndarray, np.ndarray, np.ndarray] | None = None
        for index, item in enumerate(searches):
            state = self._updated_state(item, frame.shape[:2])
            if any(x <= state[0] <= x + w and y <= state[1] <= y + h for x, y, w, h in avoid):
                continue  # another target holds this place
            template = self._template_features(frame, state)
            presence = self._presence(template, item)
            if item.best_score >= DISTRACTOR_SCORE and presence < self.config.lost_threshold:
                self._memory.reject(template)  # a look-alike
            if best is None or presence > best[0]:
                best = (presence, index, state, template, self.last_presence_features)
        if best is None:
            return searches[0], self._state.copy(), 0.0
        presence, index, state, template, features = best
        self._last_template, self.last_presence_features = template, features
        return searches[index], state, presence

    def _presence_elsewhere(self, frame: np.ndarray, search: _Search, state: np.ndarray) -> float:
        """The presence of ``state`` (found by ``search``), not kept as the last one checked."""
        return presence_probability(self._presence_features(self._template_features(frame, state), search),
                                    self._calibration)

    def _search_from(self, frame: np.ndarray, state: np.ndarray) -> tuple[_Search, np.ndarray]:
        """A plain tracking step's search from ``state`` instead of the tracker's: the search and the state it gives."""
        search = self._search(frame, self._crop_centre(state), 1.0, self.config.window_influence, size=state[2:])
        return search, self._updated_state(search, frame.shape[:2])

    def _search(self, frame: np.ndarray, centre: np.ndarray, widen: float, influence: float,
                size: np.ndarray | None = None) -> _Search:
        """One search crop centred on ``centre`` (crop convention) through the network, read at the best cell;
        scaled for a target of ``size`` (w, h; default the tracker's)."""
        t0 = time.perf_counter()
        crop, crop_box, scale_z = self._search_crop(frame, centre, widen, size)
        t1 = time.perf_counter()
        with torch.inference_mode():
            feats = self.model.search_features(self._to_tensor(crop))
            t_backbone = time.perf_counter()
            out = self.model.search_heads(feats, self._kernels)
        return self._read_search(out, crop_box, scale_z, centre, influence,
                                 (t1 - t0, t_backbone - t1, time.perf_counter() - t_backbone), size)

    def _search_crop(self, frame: np.ndarray, centre: np.ndarray, widen: float,
                     size: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """(crop, crop box in the frame, crop pixels per frame pixel) of a search crop centred on ``centre``, for a
        target of ``size`` (default the tracker's)."""
        cfg = self.config
        size = self._state[2:] if size is None else size
        scale_z, s_x = geo.search_scale(size, cfg.context_amount, cfg.exemplar_size, cfg.instance_size,
                                        widen, cfg.context)
        crop = geo.crop_square(frame, centre, s_x, cfg.instance_size, self._pad)
        return crop, geo.search_crop_box_xywh(centre, s_x), scale_z

    def _read_search(self, out: Any, crop_box: np.ndarray, scale_z: float, centre: np.ndarray, influence: float,
                     timings: tuple[float, float, float], size: np.ndarray | None = None) -> _Search:
        """The network output of one search crop read at its best cell (penalty, window, near-tie blend), for a
        target of ``size`` (default the tracker's)."""
        cfg = self.config
        size = np.array(self._state[2:] if size is None else size, dtype=np.float64)
        score = torch.softmax(torch.as_tensor(out.cls[0]).reshape(2, -1), dim=0)[1].cpu().numpy().astype(np.float64)
        deltas = torch.as_tensor(out.loc[0]).reshape(4, -1).cpu().numpy()
        if cfg.head == "point":
            boxes = geo.decode_ltrb_cxcywh(deltas, self._anchors)
        else:
            boxes = geo.decode_deltas_cxcywh(deltas, self._anchors)
        penalty = geo.scale_ratio_penalty(boxes[:, 2:], size, scale_z, cfg.penalty_k)
        weighted = penalty * score * self._window ** cfg.window_power if cfg.window_power else penalty * score
        pscore = geo.blend_window(weighted, self._window, influence)
        best = int(np.argmax(pscore))
        near, weights = geo.near_tie_weights(pscore, best, cfg.tie_temperature)
        lr = float(weights @ (penalty[near] * score[near]) ** cfg.score_lr_power) * cfg.lr
        return _Search(out=out, crop_box=crop_box, best=best, score=score, best_score=float(weights @ score[near]),
                       lr=lr, offset=(weights @ boxes[near]) / scale_z,
                       origin=np.asarray(centre, dtype=np.float64) - self._crop_centre() + self._state[:2],
                       timings=timings, boxes=boxes, scale_z=scale_z, size=size)

    def _updated_state(self, search: _Search, frame_hw: tuple[int, int]) -> np.ndarray:
        """The state the search's best cell gives: centre moved, size (the one the search was made for) blended at
        the search's rate, clipped."""
        cx, cy, w, h = search.offset
        lr = search.lr
        return geo.clip_state_cxcywh((search.origin[0] + cx, search.origin[1] + cy,
                                      search.size[0] * (1 - lr) + w * lr, search.size[1] * (1 - lr) + h * lr),
                                     frame_hw, self.config.min_size)

    def _presence_crop(self, frame: np.ndarray, state: np.ndarray) -> np.ndarray:
        """``state``'s box cropped as the template is (the presence check's input)."""
        cfg = self.config
        side = max(geo.template_crop_side(state[2:], cfg.context_amount, cfg.context), 1)
        return geo.crop_square(frame, self._crop_centre(state), side, cfg.exemplar_size, self._pad)

    def _template_features(self, frame: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The template branch's features of ``state``'s box (presence check)."""
        crop = self._presence_crop(frame, state)
        with torch.inference_mode():
            return self.model.template_features(self._to_tensor(crop)).float().cpu().numpy()

    def _presence_features(self, template: np.ndarray, search: _Search) -> np.ndarray:
        """The verifier's features (presence.FEATURE_NAMES) of a box's template-branch features and its search."""
        cfg = self.config
        margin, spread = score_map_features(search.score, search.best, (cfg.anchor_num, cfg.score_size,
                                                                        cfg.score_size))
        return self._memory.features(template, search.best_score, margin, spread)

    def _presence(self, template: np.ndarray, search: _Search) -> float:
        """The presence probability of a box, kept (its features and template) as the last one checked."""
        self.last_presence_features = self._presence_features(template, search)
        self._last_template = template
        return presence_probability(self.last_presence_features, self._calibration)

    def _confirm(self, confidence: float, frame: np.ndarray | None = None, search: _Search | None = None) -> None:
        """A confident frame: remember where the target was; every CONFIRM_EVERY of them add its appearance to the
        memory and (given the frame and its search) a look-alike beside it to the distractors."""
        if self._memory is None or confidence < CONFIRM_CONFIDENCE:
            return
        self._confirmed_state = self._state.copy()
        self._since_confirmed += 1
        if self._since_confirmed < CONFIRM_EVERY:
            return
        self._memory.confirm(self._last_template)
        self._since_confirmed = 0
        rival = self._rival(search, frame.shape[:2]) if frame is not None and search is not None else None
        if rival is not None:
            self._memory.reject(self._template_features(frame, rival))

    def _rival(self, search: _Search, frame_hw: tuple[int, int]) -> np.ndarray | None:
        """The state of the best-scored cell whose box does not touch the target's (raw box-head score at least
        RIVAL_SCORE): a look-alike the re-detection must not take for the target later; None if none."""
        boxes, target = search.boxes, search.boxes[search.best]
        apart = ((np.abs(boxes[:, 0] - target[0]) > (boxes[:, 2] + target[2]) / 2)
                 | (np.abs(boxes[:, 1] - target[1]) > (boxes[:, 3] + target[3]) / 2))
        if not apart.any():
            return None
        cell = int(np.flatnonzero(apart)[np.argmax(search.score[apart])])
        if search.score[cell] < RIVAL_SCORE:
            return None
        cx, cy, w, h = boxes[cell] / search.scale_z
        return geo.clip_state_cxcywh((search.origin[0] + cx, search.origin[1] + cy, w, h), frame_hw,
                                     self.config.min_size)

    def _mask_cell(self, search: _Search) -> tuple[int, int]:
        """(row y, col x) of the search's best cell on the score map: where the mask is refined."""
        cfg = self.config
        _, y, x = np.unravel_index(search.best, (cfg.anchor_num, cfg.score_size, cfg.score_size))
        return int(y), int(x)

    def _result(self, frame: np.ndarray, search: _Search, confidence: float, timings: dict[str, float],
                t0: float, logits: torch.Tensor | None = None) -> TrackResult:
        """The tracked result of a frame: mask (refine at the best cell, or the given refine ``logits``) and
        polygon, timings recorded."""
        cfg = self.config
        t2 = time.perf_counter()
        if not self.masks:
            self.last_timings = {**timings, "refine": 0.0, "post": time.perf_counter() - t2}
            return TrackResult(box=self._box(), polygon=geo.axis_aligned_polygon_cxcywh(self._output_state()),
                               mask=np.zeros(frame.shape[:2], dtype=bool), score=search.best_score, state=TRACKING,
                               confidence=confidence)
        y, x = self._mask_cell(search)
        t3 = time.perf_counter()
        with torch.inference_mode():
            if logits is None:
                logits = self.model.refine(search.out, (y, x))
            prob = torch.sigmoid(logits)[0].cpu().numpy()
        t4 = time.perf_counter()
        source = geo.mask_source_box_xywh(search.crop_box, (int(y), int(x)), cfg.stride, cfg.base_size,
                                          cfg.exemplar_size, cfg.instance_size)
        prob_frame = geo.mask_to_frame(prob, source, frame.shape[:2])
        # Beyond the mask's reach the warp is 0: threshold and trace contours inside it only (same results).
        x0, y0, x1, y1 = geo.mask_reach_xyxy(prob.shape[1], source, frame.shape[:2])
        reach = prob_frame[y0:y1, x0:x1]
        mask = np.zeros(frame.shape[:2], dtype=bool)
        mask[y0:y1, x0:x1] = reach > cfg.mask_threshold
        if cfg.polygon == "box":
            polygon = geo.axis_aligned_polygon_cxcywh(self._output_state())
        else:
            polygon = geo.mask_polygon(reach, cfg.mask_threshold, self._state, cfg.min_contour_area, (x0, y0))
        result = TrackResult(box=self._box(), polygon=polygon, mask=mask, score=search.best_score, state=TRACKING,
                             confidence=confidence)
        self.last_timings = {**timings, "refine": t4 - t3, "post": (t3 - t2) + (time.perf_counter() - t4)}
        return result

    def _crop_centre(self, state: np.ndarray | None = None) -> np.ndarray:
        """Where the crops for ``state`` (default the tracker's) are centred: its centre (pysot, whose crop then sits
        one pixel up and left of it), or one pixel further so the crop's centre pixel is the state's
        (coordinates="exact")."""
        centre = (self._state if state is None else state)[:2]
        return centre + 1.0 if self.config.coordinates == "exact" else centre

    def _output_state(self, state: np.ndarray | None = None) -> np.ndarray:
        """The state (``state``, else the tracker's) as reported: pysot's (box corner at cx - w/2), or with the
        pixel-centre convention the state was set in (corner at cx + 0.5 - w/2; coordinates="exact")."""
        state = self._state if state is None else state
        if self.config.coordinates == "exact":
            return state + np.array([0.5, 0.5, 0.0, 0.0])
        return state

    def _box(self, state: np.ndarray | None = None) -> tuple[float, float, float, float]:
        x, y, w, h = geo.cxcywh_to_xywh(self._output_state(state))
        return (float(x), float(y), float(w), float(h))

    def _lost_result(self, frame: np.ndarray, confidence: float, score: float,
                     timings: dict[str, float]) -> TrackResult:
        """While lost: the shadow's box (else the held box), its axis-aligned polygon and an empty mask."""
        self.last_timings = timings
        return TrackResult(box=self._box(self._shadow),
                           polygon=geo.axis_aligned_polygon_cxcywh(self._output_state(self._shadow)),
                           mask=np.zeros(frame.shape[:2], dtype=bool), score=score if math.isfinite(score) else 0.0,
                           state=LOST, confidence=confidence if math.isfinite(confidence) else 0.0)


def _near(state: np.ndarray, other: np.ndarray) -> bool:
    """True when ``state``'s centre lies within ``other``'s size of ``other``'s centre."""
    return abs(state[0] - other[0]) <= other[2] and abs(state[1] - other[1]) <= other[3]


def track_targets(trackers: Sequence[Tracker], frame: np.ndarray) -> list[TrackResult]:
    """One tracking step of every tracker on the same frame, in order. The search steps of the trackers that are
    tracking (not lost) on one shared model run as one batched network call; each result is what its tracker's
    own track() gives (same crops, same reading; the network's batch rows are independent)."""
    results: list[TrackResult | None] = [None] * len(trackers)
    groups: dict[int, list[int]] = {}
    for index, tracker in enumerate(trackers):
        if tracker.initialised and not tracker._lost and getattr(tracker.model, "batched", True):
            groups.setdefault(id(tracker.model), []).append(index)
    for members in groups.values():
        if len(members) > 1:
            batch = [trackers[k] for k in members]
            for k, result in zip(members, _track_batch(batch, frame), strict=True):
                results[k] = result
    for index, tracker in enumerate(trackers):  # the others' boxes of this frame: a lost target does not jump on them
        if results[index] is None:
            held = [r.box for k, r in enumerate(results) if k != index and r is not None
                    and r.state == TrackState.TRACKING]
            held += [t.box_now() for k, t in enumerate(trackers) if k != index and results[k] is None
                     and t.initialised and not t._lost]
            results[index] = tracker.track(frame, avoid=held)
    return results  # type: ignore[return-value]


def _track_batch(trackers: Sequence[Tracker], frame: np.ndarray) -> list[TrackResult]:
    """track() of trackers sharing one model: their search crops in one network call, then the presence checks of
    their new boxes in one, then the masks of those still tracked in one."""
    frame = _check_frame(frame)
    t0 = time.perf_counter()
    crops = [tracker._search_crop(frame, tracker._crop_centre(), 1.0) for tracker in trackers]
    first = trackers[0]
    model = first.model
    t1 = time.perf_counter()
    with torch.inference_mode():
        feats = model.search_features(first._to_tensor(np.stack([crop for crop, _, _ in crops]), batched=True))
        t_backbone = time.perf_counter()
        out = model.search_heads(feats, _stack(tracker._kernels for tracker in trackers))
    share = len(trackers)
    timings = ((t1 - t0) / share, (t_backbone - t1) / share, (time.perf_counter() - t_backbone) / share)
    searches = [tracker._read_search(_row(out, k), crop_box, scale_z, tracker._crop_centre(),
                                     tracker.config.window_influence, timings)
                for k, (tracker, (_, crop_box, scale_z)) in enumerate(zip(trackers, crops, strict=True))]
    states = [tracker._updated_state(search, frame.shape[:2]) for tracker, search in zip(trackers, searches,
                                                                                           strict=True)]
    templates = _templates_at(trackers, states, frame)
    steps = [tracker._step(frame, search, t0, template, defer_mask=True, state=state)
             for tracker, search, template, state in zip(trackers, searches, templates, states, strict=True)]
    located = [k for k, step in enumerate(steps) if isinstance(step, _Located)]
    if located:
        t3 = time.perf_counter()
        outs = [steps[k].search.out for k in located]
        cells = [trackers[k]._mask_cell(steps[k].search) for k in located]
        with torch.inference_mode():
            if hasattr(model, "refine_many"):
                logits = model.refine_many(outs, cells)
            else:
                logits = torch.cat([model.refine(o, c) for o, c in zip(outs, cells, strict=True)])
        refine_s = (time.perf_counter() - t3) / len(located)
        for row, k in enumerate(located):
            step = steps[k]
            steps[k] = trackers[k]._result(frame, step.search, step.confidence, step.timings, t0,
                                           logits=logits[row:row + 1])
            trackers[k].last_timings["refine"] += refine_s
    return steps  # type: ignore[return-value]


def _templates_at(trackers: Sequence[Tracker], states: Sequence[np.ndarray],
                  frame: np.ndarray) -> list[np.ndarray | None]:
    """The template-branch features of each verified tracker's new box (``states``), in one network call (None
    where the tracker has no verifier)."""
    wanted = [k for k, tracker in enumerate(trackers) if tracker._memory is not None]
    templates: list[np.ndarray | None] = [None] * len(trackers)
    if not wanted:
        return templates
    crops = [trackers[k]._presence_crop(frame, states[k]) for k in wanted]
    first = trackers[wanted[0]]
    batch = first._to_tensor(np.stack(crops), batched=True)
    with torch.inference_mode():
        many = getattr(first.model, "template_features_many", first.model.template_features)
        features = many(batch).float().cpu().numpy()
    for row, k in enumerate(wanted):
        templates[k] = features[row:row + 1]
    return templates


def _stack(kernels: Any) -> Any:
    """Kernels dataclasses of several targets as one, each field concatenated along the batch axis (by numpy on
    the CPU: a torch op would wake torch's threads, see Tracker._to_tensor)."""
    kernels = list(kernels)

    def join(parts: list[torch.Tensor]) -> torch.Tensor:
        if all(part.device.type == "cpu" for part in parts):
            return torch.from_numpy(np.concatenate([part.numpy() for part in parts]))
        return torch.cat(parts)

    return type(kernels[0])(**{f.name: join([torch.as_tensor(getattr(k, f.name)) for k in kernels])
                               for f in dataclasses.fields(kernels[0])})


def _row(out: Any, k: int) -> Any:
    """Row k of a batched search output (a dataclass of tensors or arrays), batch axis kept."""
    return dataclasses.replace(out, **{f.name: getattr(out, f.name)[k:k + 1] for f in dataclasses.fields(out)})

"""Typed, frozen configuration for the tracker and the attention step, and the named tracker presets."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from types import MappingProxyType

__all__ = ["AttentionConfig", "TrackerConfig", "DEFAULT_PRESET", "HEADS", "PRESETS", "VARIANT_PRESETS", "preset",
           "preset_names", "tracker_config_from_json", "tracker_config_to_json"]


def _require(ok: bool, cls: str, message: str) -> None:
    """Raise a ValueError naming the config class when a check fails."""
    if not ok:
        raise ValueError(f"{cls}: {message}")


def _check_finite(obj: object) -> None:
    """Reject NaN/inf in any float field."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{type(obj).__name__}: {f.name} must be finite, got {value}")


@dataclass(frozen=True)
class TrackerConfig:
    """Tracking-step parameters (spec sections 2, 6, 8, 10) plus our loss/recovery extension.

    The loss logic: when the best raw score stays below ``lost_threshold`` for ``lost_frames`` frames in a
    row the state becomes "lost"; while lost the search side is multiplied by ``lost_search_factor``, the
    window influence by ``lost_window_factor`` and the state is held still; the state returns to
    "tracking" on the first frame whose score reaches ``recover_threshold``. ``lost_threshold=0`` disables
    it (the step is then exactly the reference step on every frame).

    ``head`` is how the model's box output is read: "anchor" (SiamMask's RPN: 2A scores and 4A deltas per cell
    over ``ratios`` x ``scales`` anchors) or "point" (one score and the distances to the box's four edges per
    cell, as NanoTrack's head; ratios and scales unused). ``polygon`` is what TrackResult.polygon reports:
    "mask" (SiamMask: the rotated rectangle of the mask's largest contour, the box when that is too small) or
    "box" (the axis-aligned tracked box).

    ``tie_temperature`` makes the choice of the best cell continuous in the scores: cells whose penalised score
    is within 10 temperatures of the best are blended in (softmax weights), so a near-tie of two cells (scores
    1e-6 apart) gives nearly the same box whichever way float round-off tips it (other hardware, another
    backend); the step is exactly the argmax step on every frame without such a tie. 0 = plain argmax (pysot's
    step, the default of the r50 presets); the lite preset and weights use 1e-4.

    ``window_power`` p multiplies the penalised scores by the cosine window raised to p before the blend with the
    window (``window_influence``): 0 (default) is pysot's purely additive window; p=1 with window_influence 0 is
    the multiplicative window of OSTrack-style trackers (LightFC).

    ``context`` is how the crops' context is sized (geometry.context_side): "pysot" (SiamMask, default) or "area"
    ((1 + 2 context_amount) sqrt(w h), the crop LightFC was trained on); ``pad`` fills the crop beyond the frame
    with the frame's mean colour ("mean", pysot) or black ("zero", LightFC).

    ``coordinates``: "pysot" (default; its crops sit one pixel up and left of the state and its boxes half a
    pixel, which pysot-trained networks absorb) or "exact" (crops centred on the state, boxes in the pixel-centre
    convention the state is set in), for networks trained with exact crops (LightFC).

    ``score_lr_power`` q: the size update rate is lr * (penalty * score) ** q; 1 (default) is pysot's step, 0 a
    constant rate (with lr 1 the new size replaces the old one, as LightFC's step does).

    ``presence`` is what the thresholds above and the result's confidence read: "score" (the box head's raw score),
    "verifier" (attsiammask_core.presence: the tracked box's appearance checked against the first frame's and a
    memory, calibrated to a probability with ``presence_weights`` = (bias, one weight per presence feature)), or
    "auto" (the verifier when ``presence_weights`` are given; Tracker.create fills in the calibration shipped for
    the variant). With the verifier, while lost the tracker also searches ``redetect_tiles`` tiles of the frame a
    frame (the search crop's size, nearest first, in turns, so the search grows to the whole frame), and resumes
    only on a candidate the verifier accepts (>= ``recover_threshold``); 0 tiles = the local search only.
    The tiles' reach grows by a quarter of a search-crop side per lost frame from where the target was last seen
    (tracker.REDETECT_GROWTH), up to ``redetect_reach`` sides (0 = until it covers the whole frame).
    ``recover_frames``: with the verifier, a candidate must pass on that many frames in a row, in the same place
    (centre within its own size), before tracking resumes (a one-frame look-alike is not taken).
    """

    penalty_k: float = 0.10
    window_influence: float = 0.41
    lr: float = 0.32
    mask_threshold: float = 0.15
    context_amount: float = 0.5
    exemplar_size: int = 127
    instance_size: int = 255
    stride: int = 8
    base_size: int = 8
    ratios: tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)
    scales: tuple[float, ...] = (8.0,)
    score_size: int = 25
    min_size: float = 10.0
    min_contour_area: float = 100.0
    lost_threshold: float = 0.3
    lost_frames: int = 5
    recover_threshold: float = 0.5
    lost_search_factor: float = 2.0
    lost_window_factor: float = 0.5
    head: str = "anchor"
    polygon: str = "mask"
    tie_temperature: float = 0.0
    window_power: float = 0.0
    score_lr_power: float = 1.0
    context: str = "pysot"
    pad: str = "mean"
    coordinates: str = "pysot"
    presence: str = "auto"
    presence_weights: tuple[float, ...] = ()
    redetect_tiles: int = 2
    redetect_reach: float = 0.0
    recover_frames: int = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        _require(self.head in HEADS, name, f"head must be one of {HEADS}, got {self.head!r}")
        _require(self.context in CONTEXT_MODES, name, f"context must be one of {CONTEXT_MODES}, got {self.context!r}")
        _require(self.pad in PADS, name, f"pad must be one of {PADS}, got {self.pad!r}")
        _require(self.coordinates in COORDINATES, name,
                 f"coordinates must be one of {COORDINATES}, got {self.coordinates!r}")
        _require(self.presence in PRESENCE_MODES, name,
                 f"presence must be one of {PRESENCE_MODES}, got {self.presence!r}")
        object.__setattr__(self, "presence_weights", tuple(float(w) for w in self.presence_weights))
        _require(all(math.isfinite(w) for w in self.presence_weights), name, "presence_weights must be finite")
        _require(self.presence != "verifier" or bool(self.presence_weights), name,
                 "presence='verifier' needs presence_weights (a calibration)")
        _require(isinstance(self.redetect_tiles, int) and 0 <= self.redetect_tiles <= 16, name,
                 f"redetect_tiles must be an int in [0, 16], got {self.redetect_tiles!r}")
        _require(self.redetect_reach >= 0, name, f"redetect_reach must be >= 0, got {self.redetect_reach}")
        _require(isinstance(self.recover_frames, int) and 1 <= self.recover_frames <= 30, name,
                 f"recover_frames must be an int in [1, 30], got {self.recover_frames!r}")
        _require(self.polygon in POLYGONS, name, f"polygon must be one of {POLYGONS}, got {self.polygon!r}")
        object.__setattr__(self, "ratios", tuple(float(r) for r in self.ratios))
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        _check_finite(self)
        _require(self.penalty_k >= 0, name, f"penalty_k must be >= 0, got {self.penalty_k}")
        _require(0 <= self.window_influence <= 1, name, f"window_influence must be in [0, 1], got "
                 f"{self.window_influence}")
        _require(0 < self.lr <= 1, name, f"lr must be in (0, 1], got {self.lr}")
        _require(0 <= self.mask_threshold < 1, name, f"mask_threshold must be in [0, 1), got {self.mask_threshold}")
        _require(0 <= self.tie_temperature <= 0.01, name, f"tie_temperature must be in [0, 0.01], got "
                 f"{self.tie_temperature}")
        _require(0 <= self.score_lr_power <= 4, name, f"score_lr_power must be in [0, 4], got {self.score_lr_power}")
        _require(0 <= self.window_power <= 4, name, f"window_power must be in [0, 4], got {self.window_power}")
        _require(self.context_amount >= 0, name, f"context_amount must be >= 0, got {self.context_amount}")
        for key in ("exemplar_size", "instance_size", "stride", "base_size", "score_size", "lost_frames"):
            value = getattr(self, key)
            _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, name,
                     f"{key} must be a positive int, got {value!r}")
        _require(self.instance_size > self.exemplar_size, name, "instance_size must exceed exemplar_size")
        expected = (self.instance_size - self.exemplar_size) // self.stride + 1 + self.base_size
        _require(self.score_size == expected, name, f"score_size must be (instance - exemplar) // stride + 1 + "
                 f"base_size = {expected}, got {self.score_size}")
        _require(len(self.ratios) > 0 and all(0 < r < math.inf for r in self.ratios), name,
                 "ratios must be non-empty, finite, > 0")
        _require(len(self.scales) > 0 and all(0 < s < math.inf for s in self.scales), name,
                 "scales must be non-empty, finite, > 0")
        _require(self.min_size > 0, name, f"min_size must be > 0, got {self.min_size}")
        _require(self.min_contour_area >= 0, name, "min_contour_area must be >= 0")
        _require(0 <= self.lost_threshold <= 1, name, f"lost_threshold must be in [0, 1], got {self.lost_threshold}")
        _require(self.lost_threshold <= self.recover_threshold <= 1, name,
                 f"recover_threshold must be in [lost_threshold, 1], got {self.recover_threshold}")
        _require(self.lost_search_factor >= 1, name, f"lost_search_factor must be >= 1, got {self.lost_search_factor}")
        _require(0 <= self.lost_window_factor <= 1, name,
                 f"lost_window_factor must be in [0, 1], got {self.lost_window_factor}")

    @property
    def anchor_num(self) -> int:
        """Anchors per score-map position (1 for the point head)."""
        return 1 if self.head == "point" else len(self.ratios) * len(self.scales)


HEADS = ("anchor", "point")
CONTEXT_MODES = ("pysot", "area")  # geometry.CONTEXT_MODES
PADS = ("mean", "zero")
COORDINATES = ("pysot", "exact")
POLYGONS = ("mask", "box")
PRESENCE_MODES = ("auto", "score", "verifier")
_NORMALISATIONS = ("minmax", "max")
_LEVELS = ("neck", "kernels")
_PART_FEATURES = ("template", "backbone")
_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_FILLS = ("mean", "zero")


@dataclass(frozen=True)
class AttentionConfig:
    """The Att-SiamMask attention step (paper 4.2-4.3); the choices the paper leaves open, with defaults.

    - ``strength`` a: the template features become f * (1 + a * A) with A in [0, 1].
    - ``normalisation``: "minmax" maps the correlation to [0, 1] by (z - min) / (max - min);
      "max" uses max(z, 0) / max(z).
    - ``level``: "neck" weights the 7x7 template feature before the kernel convs; "kernels" weights the
      three 5x5 template kernels (A's centre 5x5) after them.
    - ``part_features``: how f(K) is obtained. "template" cuts K's cells out of the template feature map
      (no extra forward pass; the paper: "the features of the target location can be reused");
      "backbone" runs the backbone and neck on K's pixels cut from the template crop (at least
      ``backbone_min_side`` pixels, centred on K).
    - ``renormalise``: rescale the weighted features to the L2 norm of the unweighted ones, so the
      attention changes where the template responds, not how strongly (keeps the score scale).
    - Candidate grid: windows of ``part_fraction`` of the target size, stride ``stride_fraction`` of it
      (0.5 and 0.25 give the paper's 3x3 grid).
    - HOG (scikit-image): the target patch is resized to ``hog_size`` x ``hog_size`` pixels first.
      ``hog_cells_per_block=None`` makes one block of the whole patch, i.e. one global ``hog_block_norm``
      normalisation of the cell histograms. Measured on synthetic patches (texture in one of the 9 windows,
      flat or noisy grey background at 3 levels), the global L2 block picks the textured window 216/216
      times; skimage's usual 2x2-cell L2-Hys blocks only 44/216, because per-block normalisation makes any
      faint gradient as strong as real structure and the zeroed window's border edges then decide.
    - ``mask_fill``: how window i is "set to zero" in T_m(i). "zero" is the paper's black; "mean" sets it to
      zero in mean-centred pixels, i.e. fills it with the window's own per-channel mean colour (its structure
      goes, no new edge is drawn). Measured on 432 synthetic patches (smooth or noisy texture in one window;
      backgrounds 30/128/220, flat or noisy; square and 90x40 patches; global L2 HOG): "mean" 421/432,
      "zero" 354/432 (black draws strong artificial edges on bright backgrounds that dominate the comparison).
    """

    enabled: bool = True
    strength: float = 0.5
    normalisation: str = "minmax"
    level: str = "neck"
    part_features: str = "template"
    renormalise: bool = True
    part_fraction: float = 0.5
    stride_fraction: float = 0.25
    mask_fill: str = "mean"
    hog_size: int = 64
    hog_orientations: int = 9
    hog_pixels_per_cell: int = 8
    hog_cells_per_block: int | None = None
    hog_block_norm: str = "L2"
    backbone_min_side: int = 31

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_finite(self)
        _require(isinstance(self.enabled, bool), name, f"enabled must be a bool, got {self.enabled!r}")
        _require(isinstance(self.renormalise, bool), name, f"renormalise must be a bool, got {self.renormalise!r}")
        _require(self.strength >= 0, name, f"strength must be >= 0, got {self.strength}")
        _require(self.normalisation in _NORMALISATIONS, name,
                 f"normalisation must be one of {_NORMALISATIONS}, got {self.normalisation!r}")
        _require(self.level in _LEVELS, name, f"level must be one of {_LEVELS}, got {self.level!r}")
        _require(self.part_features in _PART_FEATURES, name,
                 f"part_features must be one of {_PART_FEATURES}, got {self.part_features!r}")
        _require(self.mask_fill in _FILLS, name, f"mask_fill must be one of {_FILLS}, got {self.mask_fill!r}")
        _require(0 < self.part_fraction <= 1, name, f"part_fraction must be in (0, 1], got {self.part_fraction}")
        _require(0 < self.stride_fraction <= 1, name,
                 f"stride_fraction must be in (0, 1], got {self.stride_fraction}")
        steps = (1 - self.part_fraction) / self.stride_fraction
        _require(abs(steps - round(steps)) < 1e-6, name,
                 "(1 - part_fraction) / stride_fraction must be a whole number so the windows tile the target")
        for key in ("hog_size", "hog_orientations", "hog_pixels_per_cell", "hog_cells_per_block",
                    "backbone_min_side"):
            value = getattr(self, key)
            if key == "hog_cells_per_block" and value is None:
                continue
            _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, name,
                     f"{key} must be a positive int, got {value!r}")
        _require(self.hog_size >= self.hog_pixels_per_cell * max(self.cells_per_block, 1), name,
                 "hog_size must hold at least one HOG block")
        _require(self.hog_block_norm in _BLOCK_NORMS, name,
                 f"hog_block_norm must be one of {_BLOCK_NORMS}, got {self.hog_block_norm!r}")

    @property
    def cells_per_block(self) -> int:
        """HOG cells per block side (the whole resized patch when hog_cells_per_block is None)."""
        if self.hog_cells_per_block is None:
            return self.hog_size // self.hog_pixels_per_cell
        return self.hog_cells_per_block

    @property
    def grid(self) -> int:
        """Candidate windows per axis (3 for the paper's values)."""
        return int(round((1 - self.part_fraction) / self.stride_fraction)) + 1


DEFAULT_PRESET = "r50_l3"

PRESETS: MappingProxyType[str, TrackerConfig] = MappingProxyType({
    # pysot experiments/siammask_r50_l3 (= foolwood config_vot18, "SiamMask-LD")
    "r50_l3": TrackerConfig(penalty_k=0.10, window_influence=0.41, lr=0.32, mask_threshold=0.15),
    # foolwood config_vot.json
    "vot": TrackerConfig(penalty_k=0.04, window_influence=0.42, lr=0.25, mask_threshold=0.30),
    # foolwood config_davis.json
    "davis": TrackerConfig(penalty_k=0.04, window_influence=0.40, lr=1.0, mask_threshold=0.35),
    # the lite model's geometry (stride 16, 16x16 point head) with NanoTrack V2's published tracking values;
    # the shipped weights carry their own tuned values (weights metadata), which take precedence
    "nanotrack": TrackerConfig(penalty_k=0.15, window_influence=0.49, lr=0.385, mask_threshold=0.3, stride=16,
                               base_size=7, score_size=16, head="point", tie_temperature=1e-4),
    # the lfc model (LightFC trunk) in the lite geometry, with the crops LightFC was trained on (context from the
    # target's area, black padding) and LightFC's own step as the start: multiplicative window, no scale/ratio
    # penalty, the size replaced; the shipped weights carry the values tuned on validation
    "lightfc": TrackerConfig(penalty_k=0.0, window_influence=0.0, window_power=1.0, lr=1.0, score_lr_power=0.0,
                             mask_threshold=0.3, stride=16, base_size=7, score_size=16, head="point",
                             tie_temperature=1e-4, context="area", pad="zero", coordinates="exact"),
})
# The preset a variant uses when neither the caller nor the weights file gives a tracker configuration.
VARIANT_PRESETS: MappingProxyType[str, str] = MappingProxyType({"r50": "r50_l3", "effnet": "r50_l3",
                                                                 "lite": "nanotrack", "lfc": "lightfc"})


def preset_names() -> tuple[str, ...]:
    """Names accepted by `preset`."""
    return tuple(PRESETS)


def preset(name: str) -> TrackerConfig:
    """The tracker configuration of a named preset; ValueError naming the valid presets otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown tracker preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def tracker_config_to_json(config: TrackerConfig) -> str:
    """The configuration as a JSON object of its fields (stored in weights metadata)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def tracker_config_from_json(text: str) -> TrackerConfig:
    """A TrackerConfig from `tracker_config_to_json` text; unknown fields or bad values raise ValueError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"tracker configuration is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError("tracker configuration must be a JSON object")
    known = {f.name for f in fields(TrackerConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"tracker configuration has unknown fields {unknown}")
    try:
        return TrackerConfig(**data)
    except TypeError as err:
        raise ValueError(f"tracker configuration: {err}") from None

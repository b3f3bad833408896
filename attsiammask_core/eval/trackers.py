"""Trackers behind one evaluation interface: ours (every variant and option) and the OpenCV peers.

The interface is the minimal one (`init(frame, box_xywh)`, `update(frame) -> Prediction`), so any tracker
runs in either protocol unchanged. `make_tracker(spec, ...)` turns a spec string into a `TrackerFactory`;
calling the factory gives a *fresh* tracker, one per (re)initialisation.

Spec grammar (case-insensitive)::

    csrt | kcf                     OpenCV CSRT / KCF (opencv-contrib)
    nanotrack                      cv2.TrackerNano, NanoTrack V2 ONNX files from the peers folder
    vit                            cv2.TrackerVit, VitTrack ONNX file from the peers folder
    nanotrackv3 | lightfc          NanoTrack V3 / LightFC through onnxruntime with their own published tracking
                                   steps (attsiammask_core.eval.onnx_peers)
    ours[:VARIANT][:att|:noatt][:PRESET][:score]   (score: the raw score decides presence; no verifier, no
                                                   re-detection)
                                   Att-SiamMask; VARIANT one of attsiammask_core.models.MODELS (default: the
                                   package's default variant), att or noatt (plain SiamMask; default: the
                                   weights' stored choice),
                                   PRESET a tracker preset of attsiammask_core.config (default: the default
                                   preset); the options after "ours" may come in any order, each at most once

Peers folder layout (``--peers DIR``, written by tools/peers/build_peers.py):
``nanotrackv2/nanotrack_backbone_sim.onnx``, ``nanotrackv2/nanotrack_head_sim.onnx``,
``vittrack/object_tracking_vittrack_2023sep.onnx``,
``nanotrackv3/nanotrack_{backbone,head}.onnx``, ``lightfc/lightfc_{backbone,tracking}.onnx``.

OpenCV trackers take integer boxes (rounded here, clipped to the frame) and may report ``ok=False`` on a
frame; the prediction then keeps the tracker's last box and is flagged ``held=True`` (counted in the results).
Our tracker's "lost" state is flagged the same way (its box is then the held state).
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from attsiammask_core.deploy.precision import check_precision, model_sha256, precision_graphs
from attsiammask_core.track_state import TrackState

__all__ = ["EvalTracker", "Prediction", "TrackerFactory", "PEER_FILES", "PEER_SPECS", "SPEC_HELP", "make_tracker",
           "parse_spec", "valid_specs", "box_to_int_xywh", "file_sha256", "model_sha256"]

# Files each ONNX-based peer needs, relative to the peers folder.
PEER_FILES: Mapping[str, tuple[str, ...]] = {
    "nanotrack": ("nanotrackv2/nanotrack_backbone_sim.onnx", "nanotrackv2/nanotrack_head_sim.onnx"),
    "vit": ("vittrack/object_tracking_vittrack_2023sep.onnx",),
    "nanotrackv3": ("nanotrackv3/nanotrack_backbone.onnx", "nanotrackv3/nanotrack_head.onnx"),
    "lightfc": ("lightfc/lightfc_backbone.onnx", "lightfc/lightfc_tracking.onnx"),
}
PEER_SPECS: tuple[str, ...] = ("csrt", "kcf", "nanotrack", "vit", "nanotrackv3", "lightfc")
# Peers run by onnxruntime with their own tracking step (attsiammask_core.eval.onnx_peers), not by OpenCV.
ORT_PEERS: tuple[str, ...] = ("nanotrackv3", "lightfc")

SPEC_HELP = ("tracker specs: csrt, kcf, nanotrack, vit (OpenCV peers), nanotrackv3, lightfc (onnxruntime peers with "
             "their published tracking steps; all but csrt/kcf need --peers DIR), "
             "ours[:VARIANT][:att|:noatt][:PRESET][:score] (Att-SiamMask; e.g. ours, ours:r50:noatt, "
             "ours:lite:att:vot, ours:lite:score)")


@dataclass(frozen=True)
class Prediction:
    """One frame's output: box (4,) x, y, w, h float (0-based, top-left), optional polygon (4, 2) and mask (H x W
    bool); held=True when the tracker reported no target and the box is its last one; confidence: how sure the
    tracker is that the target is present (ours: its score), None when it gives none (the long-term protocol then
    takes 1.0, or 0.0 when held)."""

    box: np.ndarray
    polygon: np.ndarray | None = None
    mask: np.ndarray | None = None
    held: bool = False
    confidence: float | None = None


@runtime_checkable
class EvalTracker(Protocol):
    """The minimal evaluation interface."""

    name: str

    def init(self, frame: np.ndarray, box_xywh: Any) -> None: ...

    def update(self, frame: np.ndarray) -> Prediction: ...


@dataclass(frozen=True)
class TrackerFactory:
    """Makes fresh trackers of one spec. ``spec`` is the canonical spec (the tracker's name in results);
    ``options`` holds everything else that determines its output (file checksums, resolved configuration), so
    cached results are reused only when these match."""

    spec: str
    create: Callable[[], EvalTracker]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec

    def __call__(self) -> EvalTracker:
        return self.create()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def box_to_int_xywh(box_xywh: Any, frame_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Round a float box to integers for OpenCV (corners rounded, then clipped to the frame, >= 1 px each side).
    Never modifies its input."""
    x, y, w, h = (float(v) for v in np.asarray(box_xywh, dtype=np.float64).reshape(4))
    height, width = frame_hw
    x0 = min(max(int(round(x)), 0), width - 1)
    y0 = min(max(int(round(y)), 0), height - 1)
    x1 = min(max(int(round(x + w)), x0 + 1), width)
    y1 = min(max(int(round(y + h)), y0 + 1), height)
    return x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)


class OpenCVTracker:
    """An OpenCV tracker (cv2.Tracker API) behind the evaluation interface."""

    def __init__(self, name: str, create: Callable[[], Any]) -> None:
        self.name = name
        self._create = create
        self._tracker: Any = None
        self._last = np.zeros(4, dtype=np.float64)

    def init(self, frame: np.ndarray, box_xywh: Any) -> None:
        self._tracker = self._create()
        box = box_to_int_xywh(box_xywh, frame.shape[:2])
        self._tracker.init(frame, box)
        self._last = np.asarray(box, dtype=np.float64)

    def update(self, frame: np.ndarray) -> Prediction:
        if self._tracker is None:
            raise RuntimeError(f"{self.name}: call init(frame, box) before update(frame)")
        ok, box = self._tracker.update(frame)
        if ok:
            values = np.asarray(box, dtype=np.float64).reshape(4)
            if np.all(np.isfinite(values)) and values[2] > 0 and values[3] > 0:
                self._last = values
                return Prediction(box=values.copy())
        return Prediction(box=self._last.copy(), held=True)


def _box_tuple(box_xywh: Any) -> tuple[float, ...]:
    """(x, y, w, h) as four Python floats."""
    return tuple(float(v) for v in np.asarray(box_xywh, dtype=np.float64).reshape(4))


class OursTracker:
    """attsiammask_core.Tracker behind the evaluation interface (box, polygon and mask)."""

    def __init__(self, name: str, tracker: Any) -> None:
        self.name = name
        self._tracker = tracker

    def init(self, frame: np.ndarray, box_xywh: Any) -> None:
        self._tracker.init(frame, _box_tuple(box_xywh))

    def update(self, frame: np.ndarray) -> Prediction:
        result = self._tracker.track(frame)
        return Prediction(box=np.asarray(result.box, dtype=np.float64), polygon=np.asarray(result.polygon),
                          mask=np.asarray(result.mask, dtype=bool), held=result.state == TrackState.LOST,
                          confidence=float(getattr(result, "presence", result.score)))

    def relocate(self, frame: np.ndarray, box_xywh: Any) -> None:
        """Tracking goes on from ``box_xywh`` with the template kept (Tracker.relocate)."""
        self._tracker.relocate(frame, _box_tuple(box_xywh))


@dataclass(frozen=True)
class OursSpec:
    variant: str
    attention: bool | None  # None: the weights' stored default
    preset: str | None
    score_only: bool = False  # "score": no presence verifier and no re-detection (the raw score decides)
    precision: str = "fp32"  # "int8": the shipped int8 per-frame graphs (onnxruntime; deploy/precision.py)

    @property
    def canonical(self) -> str:
        parts = ["ours", self.variant] + ([] if self.attention is None else ["att" if self.attention else "noatt"])
        return ":".join(parts + ([self.preset] if self.preset else []) + (["score"] if self.score_only else [])
                        + (["int8"] if self.precision == "int8" else []))


def _variants() -> tuple[str, ...]:
    from attsiammask_core.models import MODELS

    return tuple(MODELS)


def default_variant() -> str:
    """The package's default model variant (models.DEFAULT_VARIANT when defined, else the first in MODELS)."""
    from attsiammask_core import models

    return getattr(models, "DEFAULT_VARIANT", None) or next(iter(models.MODELS))


def valid_specs() -> list[str]:
    """Examples of every valid spec form, for error messages and help."""
    from attsiammask_core.config import preset_names

    ours = [f"ours:{v}:{a}" for v in _variants() for a in ("att", "noatt")]
    return [*PEER_SPECS, "ours", *ours, f"(ours...:PRESET with PRESET in {', '.join(preset_names())})"]


def parse_spec(spec: str) -> str | OursSpec:
    """A peer name, or an OursSpec for "ours[...]"; ValueError listing the valid specs otherwise."""
    from attsiammask_core.config import preset_names

    text = spec.strip().lower()
    if text in PEER_SPECS:
        return text
    tokens = text.split(":")
    if tokens[0] != "ours":
        raise ValueError(f"unknown tracker spec {spec!r}; valid: {', '.join(valid_specs())}")
    variants, presets = _variants(), preset_names()
    variant: str | None = None
    attention: bool | None = None
    preset_name: str | None = None
    score_only = False
    precision = "fp32"
    for token in tokens[1:]:
        if token == "score" and not score_only:
            score_only = True
        elif token == "int8" and precision == "fp32":
            precision = "int8"
        elif token in variants and variant is None:
            variant = token
        elif token in ("att", "noatt") and attention is None:
            attention = token == "att"
        elif token in presets and preset_name is None:
            preset_name = token
        else:
            kind = ("repeated option" if token in (*variants, "att", "noatt", "score", "int8", *presets)
                    else "unknown option")
            raise ValueError(f"tracker spec {spec!r}: {kind} {token!r}; use "
                             f"ours[:VARIANT][:att|:noatt][:PRESET][:score][:int8] "
                             f"with VARIANT in {', '.join(variants)} and PRESET in {', '.join(presets)}")
    return OursSpec(variant or default_variant(), attention, preset_name, score_only, precision)


def _peer_paths(kind: str, peers_dir: Path | None) -> tuple[Path, ...]:
    needed = PEER_FILES[kind]
    listing = ", ".join(needed)
    if peers_dir is None:
        raise FileNotFoundError(f"tracker {kind!r} needs its ONNX files: pass --peers DIR, a folder holding {listing}")
    paths = tuple(Path(peers_dir) / name for name in needed)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"tracker {kind!r}: missing ONNX file(s) {', '.join(missing)} (the peers folder "
                                f"{peers_dir} must hold {listing})")
    return paths


def _quietly(create: Callable[[], Any]) -> Callable[[], Any]:
    """Create with OpenCV's log level at ERROR (restored after): TrackerVit warns on every creation that its
    DNN target is not supported by the new graph engine, which is harmless."""
    import cv2

    def wrapped() -> Any:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            return create()
        finally:
            cv2.utils.logging.setLogLevel(level)

    return wrapped


def _ort_peer_factory(kind: str, peers_dir: Path | None) -> TrackerFactory:
    import onnxruntime

    from .onnx_peers import LightFCTracker, NanoTrackV3Tracker

    first, second = _peer_paths(kind, peers_dir)
    cls = NanoTrackV3Tracker if kind == "nanotrackv3" else LightFCTracker
    options = {"onnxruntime": onnxruntime.__version__, "files": {p.name: file_sha256(p) for p in (first, second)}}
    try:  # fail here, with the spec named, rather than on the first sequence
        cls(first, second)
    except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
        raise ValueError(f"tracker {kind!r}: onnxruntime cannot open its graphs: {err}") from None
    return TrackerFactory(spec=kind, create=lambda: cls(first, second, name=kind), options=options)


def _peer_factory(kind: str, peers_dir: Path | None) -> TrackerFactory:
    import cv2

    if kind in ORT_PEERS:
        return _ort_peer_factory(kind, peers_dir)

    options: dict[str, Any] = {"opencv": cv2.__version__}
    if kind == "csrt":
        create: Callable[[], Any] = cv2.TrackerCSRT.create
    elif kind == "kcf":
        create = cv2.TrackerKCF.create
    elif kind == "nanotrack":
        backbone, neckhead = _peer_paths(kind, peers_dir)

        def create() -> Any:
            params = cv2.TrackerNano_Params()
            params.backbone, params.neckhead = str(backbone), str(neckhead)
            return cv2.TrackerNano.create(params)

        options["files"] = {p.name: file_sha256(p) for p in (backbone, neckhead)}
    else:
        (net,) = _peer_paths(kind, peers_dir)

        def create() -> Any:
            params = cv2.TrackerVit_Params()
            params.net = str(net)
            return cv2.TrackerVit.create(params)

        options["files"] = {net.name: file_sha256(net)}
    create = _quietly(create)
    try:  # fail here, with the spec named, rather than on the first sequence
        create()
    except cv2.error as err:
        raise ValueError(f"tracker {kind!r}: OpenCV cannot create it: {err}") from None
    return TrackerFactory(spec=kind, create=lambda: OpenCVTracker(kind, create), options=options)


def _ours_factory(parsed: OursSpec, weights: Path | None, device: str, random_init: bool,
                  backend: str = "auto") -> TrackerFactory:
    from attsiammask_core import __version__
    from attsiammask_core.tracker import Tracker, resolve_backend

    # Build (and load) the model once; every factory call wraps it in a fresh Tracker (the model is stateless).
    base = Tracker.create(variant=parsed.variant, weights=weights, device=device, attention=parsed.attention,
                          config=parsed.preset, random_init=random_init, backend="torch",
                          **({"overrides": {"presence": "score"}} if parsed.score_only else {}))
    backend = resolve_backend(backend, base.device, base.attention_config)
    name = dataclasses.replace(parsed, attention=base.attention_config.enabled).canonical
    # The model's own digest keys the cache: embedded weights may change without a file to hash.
    options = {"version": __version__, "config": dataclasses.asdict(base.config),
               "attention": dataclasses.asdict(base.attention_config), "device": str(base.device),
               "weights": str(weights) if weights is not None else ("random" if random_init else "embedded"),
               "model_sha256": model_sha256(base.model), "backend": backend}
    model = base.model
    precision = check_precision(parsed.precision, backend, parsed.variant)
    if backend == "onnxruntime":  # the same loaded weights, exported in memory and run by onnxruntime
        from attsiammask_core.deploy.ort_model import OrtModel

        model = OrtModel.from_torch(base.model, replaced=precision_graphs(parsed.variant, base.model, precision,
                                                                          options["model_sha256"]))
        options["providers"] = model.providers
        options["precision"] = precision

    def create() -> EvalTracker:
        fresh = type(base)(model, config=base.config, attention=base.attention_config, device=base.device)
        return OursTracker(name, fresh)

    return TrackerFactory(spec=name, create=create, options=options)


def make_tracker(spec: str, peers_dir: Path | None = None, weights: str | Path | None = None, device: str = "cpu",
                 random_init: bool = False, backend: str = "auto") -> TrackerFactory:
    """The factory of one tracker spec (see the module docstring for the grammar).

    ``peers_dir`` is needed by nanotrack and vit (FileNotFoundError naming the missing files otherwise);
    ``weights``, ``device``, ``random_init`` (tests/timing only) and ``backend`` ("torch" or "onnxruntime") apply
    to "ours". ValueError on a bad spec.
    """
    parsed = parse_spec(spec)
    if isinstance(parsed, OursSpec):
        return _ours_factory(parsed, Path(weights) if weights is not None else None, device, random_init, backend)
    return _peer_factory(parsed, Path(peers_dir) if peers_dir is not None else None)

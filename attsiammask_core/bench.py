"""Latency measurement of `Tracker.track` on synthetic frames, with a per-stage split.

Also times the reference formulation of the network step (template-side kernel convs and the full
3969-channel mask head recomputed every frame, as the reference codebases do) on the same crops and
reports how far its outputs are from ours, so the speed-up is shown together with the equality of results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from attsiammask_core import geometry as geo
from attsiammask_core.tracker import Tracker, track_targets

STAGES = ("crop", "backbone", "heads", "presence", "refine", "post")


@dataclass(frozen=True)
class LatencyStats:
    """Median and 95th percentile of a list of durations, in milliseconds."""

    median_ms: float
    p95_ms: float

    @staticmethod
    def of(seconds: list[float]) -> LatencyStats:
        values = np.asarray(seconds, dtype=np.float64) * 1000.0
        return LatencyStats(float(np.median(values)), float(np.percentile(values, 95)))


@dataclass
class TrackBench:
    """One configuration's result: whole track() step and each stage."""

    label: str
    step: LatencyStats
    stages: dict[str, LatencyStats] = field(default_factory=dict)
    init_ms: float = 0.0


@dataclass
class ReferenceComparison:
    """Network time of our split step vs the reference formulation on the same crops, and output differences."""

    ours: LatencyStats
    reference: LatencyStats
    max_abs_diff: dict[str, float]


def synthetic_sequence(frames: int, size_wh: tuple[int, int] = (640, 480), seed: int = 0, objects: int = 1
                       ) -> tuple[list[np.ndarray], tuple[float, float, float, float]]:
    """A textured object drifting over a textured background; returns frames and the first box (x, y, w, h).
    ``objects`` > 1 adds more objects, each its own texture, starting at ``object_boxes`` and bouncing off the
    frame's edges at the same speed (several targets to track in `bench --targets`)."""
    if not 1 <= objects <= len(TARGET_OFFSETS):
        raise ValueError(f"objects: 1 to {len(TARGET_OFFSETS)}, got {objects}")
    rng = np.random.default_rng(seed)
    w, h = size_wh
    background = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    background = np.ascontiguousarray(np.kron(background, np.ones((8, 8, 1), dtype=np.uint8)))
    textures = [rng.integers(0, 256, (60, 80, 3), dtype=np.uint8) for _ in range(objects)]
    box = (200.0, 150.0, 80.0, 60.0)
    starts = object_boxes(box, objects, size_wh)
    out = []
    for i in range(frames):
        frame = background.copy()
        for k in range(objects - 1, -1, -1):  # the first object on top
            if k == 0:
                x, y = int(200 + 3 * i) % (w - 80), int(150 + 2 * i) % (h - 60)
            else:
                x, y = _bounce(starts[k][0] + 3 * i, w - 80), _bounce(starts[k][1] + 2 * i, h - 60)
            frame[y:y + 60, x:x + 80] = textures[k]
        out.append(frame)
    return out, box


def _bounce(position: float, high: int) -> int:
    """``position`` folded into [0, high] as a point bouncing between the two ends (a triangle wave)."""
    period = 2 * high
    p = int(position) % period
    return p if p <= high else period - p


TARGET_OFFSETS = ((0, 0), (160, 0), (-160, 0), (0, 140), (0, -140), (160, 140), (-160, -140), (160, -140))


def object_boxes(box: tuple[float, float, float, float], count: int, size_wh: tuple[int, int]
                 ) -> list[tuple[float, float, float, float]]:
    """The first boxes of ``count`` targets: ``box`` moved by TARGET_OFFSETS[k], kept inside the frame."""
    x, y, w, h = (float(v) for v in box)
    return [(min(max(x + dx, 0.0), size_wh[0] - w), min(max(y + dy, 0.0), size_wh[1] - h), w, h)
            for dx, dy in TARGET_OFFSETS[:count]]


class EvalTrackerTimer:
    """An evaluation tracker (init/update, e.g. OpenCV's NanoTrack) with the Tracker's init/track/last_timings, so
    bench_trackers times it on the same frames, in turn with ours."""

    def __init__(self, tracker) -> None:  # type: ignore[no-untyped-def]
        self.tracker = tracker
        self.last_timings: dict[str, float] = {}

    def init(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> None:
        self.tracker.init(frame, box)

    def track(self, frame: np.ndarray) -> object:
        return self.tracker.update(frame)


def bench_trackers(trackers: dict[str, Tracker], frames: list[np.ndarray], box: tuple[float, float, float, float],
                   warmup: int = 3, settle_s: float = 0.0) -> list[TrackBench]:
    """Init each tracker on the first frame, then track the rest, the trackers taking turns on every frame.

    Taking turns exposes every configuration to the same machine load, so their difference is not drift.
    The first `warmup` steps are not counted. ``settle_s`` is an untimed pause before every step, as between a
    camera's frames (threads fall asleep, caches go cold); without it the configurations run back to back.
    """
    init_ms: dict[str, float] = {}
    for label, tracker in trackers.items():
        t0 = time.perf_counter()
        tracker.init(frames[0], box)
        init_ms[label] = (time.perf_counter() - t0) * 1000.0
    steps: dict[str, list[float]] = {label: [] for label in trackers}
    stages: dict[str, dict[str, list[float]]] = {label: {name: [] for name in STAGES} for label in trackers}
    for i, frame in enumerate(frames[1:]):
        for label, tracker in trackers.items():
            if settle_s > 0:
                time.sleep(settle_s)
            t0 = time.perf_counter()
            tracker.track(frame)
            elapsed = time.perf_counter() - t0
            if i < warmup:
                continue
            steps[label].append(elapsed)
            for name in STAGES:
                stages[label][name].append(tracker.last_timings.get(name, 0.0))
    return [TrackBench(label, LatencyStats.of(steps[label]),
                       {k: LatencyStats.of(v) for k, v in stages[label].items()}, init_ms[label])
            for label in trackers]


class ReferenceFormulation:
    """The r50 model doing, every frame, what the reference codebases (pysot) compute: the template-side kernel
    convolutions redone from the template features, and the full 3969-channel mask head (its output unused when the
    refine module makes the mask, as there). Behind the model API the Tracker calls, so `bench` times it in turns
    with ours on the same frames and weights. Decoding is the tracker's own (float64; pysot decodes in float32)."""

    box_head = "anchor"

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def to(self, device: torch.device | str) -> ReferenceFormulation:
        self.model.to(device)
        return self

    def eval(self) -> ReferenceFormulation:
        self.model.eval()
        return self

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.template_features(z)

    def template_kernels(self, zf: torch.Tensor) -> torch.Tensor:
        return zf  # kept as it is: the kernels are computed again every frame

    def search_features(self, x: torch.Tensor):  # type: ignore[no-untyped-def]
        return self.model.search_features(x)

    def search_heads(self, feats, zf: torch.Tensor):  # type: ignore[no-untyped-def]
        from attsiammask_core.models.siammask import SearchOutput

        out = _reference_heads(self.model, zf, feats.xf)
        return SearchOutput(cls=out["cls"], loc=out["loc"], mask_corr=out["mask_corr"], f0=feats.f0, f1=feats.f1,
                            f2=feats.f2)

    def refine(self, out, pos: tuple[int, int]) -> torch.Tensor:  # type: ignore[no-untyped-def]
        return self.model.refine(out, pos)


def _reference_heads(model, zf: torch.Tensor, xf: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reference's heads on the search feature: kernel convs redone, the full 3969-channel mask map computed."""
    cls, _ = model.rpn_head.cls(zf, xf)
    loc, _ = model.rpn_head.loc(zf, xf)
    _mask_map, mask_corr = model.mask_head(zf, xf)
    return {"cls": cls, "loc": loc, "mask_corr": mask_corr}


def _reference_search(model, zf: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reference codebases' per-frame network step: kernel convs redone and the full 3969-channel mask map."""
    return _reference_heads(model, zf, model.neck(model.backbone(x)[-1], crop=False))


def compare_with_reference(tracker: Tracker, frames: list[np.ndarray], box: tuple[float, float, float, float],
                           warmup: int = 2) -> ReferenceComparison:
    """Run our network step and the reference one on the same search crops (attention off, same kernels)."""
    model, cfg = tracker.model, tracker.config
    state = geo.xywh_to_cxcywh(np.asarray(box, dtype=np.float64))
    pad = geo.channel_mean_uint8(frames[0])
    side = geo.template_crop_side(state[2:], cfg.context_amount)
    to_tensor = tracker._to_tensor  # the tracker's own image -> tensor conversion
    ours_t: list[float] = []
    ref_t: list[float] = []
    diffs = {"cls": 0.0, "loc": 0.0, "mask_corr": 0.0}
    with torch.inference_mode():
        zf = model.template_features(to_tensor(geo.crop_square(frames[0], state[:2], side, cfg.exemplar_size, pad)))
        kernels = model.template_kernels(zf)
        for i, frame in enumerate(frames[1:]):
            _, s_x = geo.search_scale(state[2:], cfg.context_amount, cfg.exemplar_size, cfg.instance_size)
            x = to_tensor(geo.crop_square(frame, state[:2], s_x, cfg.instance_size, pad))
            t0 = time.perf_counter()
            ours = model.search(x, kernels)
            t1 = time.perf_counter()
            ref = _reference_search(model, zf, x)
            t2 = time.perf_counter()
            if i >= warmup:
                ours_t.append(t1 - t0)
                ref_t.append(t2 - t1)
            for name in diffs:
                diffs[name] = max(diffs[name], float((getattr(ours, name) - ref[name]).abs().max()))
    return ReferenceComparison(LatencyStats.of(ours_t), LatencyStats.of(ref_t), diffs)


class TargetsTimer:
    """``count`` trackers on one model stepped together by track_targets (one batched search a frame), behind the
    Tracker's init/track/last_timings; the k-th target's box is the bench box moved by TARGET_OFFSETS[k] (the k-th
    object of ``synthetic_sequence(..., objects=count)``). ``states`` counts the targets' states over the steps."""

    def __init__(self, make: Any, count: int) -> None:
        if not 1 <= count <= len(TARGET_OFFSETS):
            raise ValueError(f"targets: 1 to {len(TARGET_OFFSETS)} per frame, got {count}")
        self.trackers = [make() for _ in range(count)]
        self.last_timings: dict[str, float] = {}
        self.states: dict[str, int] = {}

    def init(self, frame: np.ndarray, box: Any) -> None:
        for tracker, start in zip(self.trackers, object_boxes(box, len(self.trackers), frame.shape[1::-1]),
                                  strict=True):
            tracker.init(frame, start)

    def track(self, frame: np.ndarray) -> Any:
        results = track_targets(self.trackers, frame)
        for result in results:
            self.states[result.state.value] = self.states.get(result.state.value, 0) + 1
        return results


class LostTimer:
    """A tracker whose every step is a lost step after a loss on the confidence (the widened local search,
    re-detection tiles, the plain step from where the loss happened, verification)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.last_timings: dict[str, float] = {}

    def init(self, frame: np.ndarray, box: Any) -> None:
        self.tracker.init(frame, box)

    def track(self, frame: np.ndarray) -> Any:
        self.tracker.mark_lost(follow=True)
        result = self.tracker.track(frame)
        self.last_timings = self.tracker.last_timings
        return result

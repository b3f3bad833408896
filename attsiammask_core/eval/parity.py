"""The onnxruntime backend against the torch backend on the same frames.

Two measures per sequence:
- per frame: every frame, the onnxruntime step starts from the torch tracker's state (box, loss counters), so the
  difference is that of the two backends' networks alone, on every frame of the sequence;
- closed loop: each backend tracks on its own. float32 round-off differs between the backends (about 1e-4 crop
  px in the box head), and a tracker feeds its box back into the next crop, so the two drift apart slowly; where
  the drift moves a crop by a pixel and two cells of the score map are within 1e-7 of each other, the loops
  pick different cells and part ways. Reported, with the first frame where that happened.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from attsiammask_core.tracker import Tracker


@dataclass(frozen=True)
class ParityResult:
    """Largest per-frame differences between two backends tracking one sequence from the same first box."""

    sequence: str
    frames: int
    max_box_px: float  # per frame, from the same state
    max_score: float  # per frame, from the same state
    mask_pixels_differing: float  # per frame, from the same state: largest fraction of mask pixels that differ
    closed_loop_max_box_px: float
    closed_loop_parted_at: int | None  # first frame where the closed loops differ by more than the tolerance


def backend_pair(variant: str, attention: bool, weights: str | None = None, random_init: bool = False,
                 threads: int | None = None) -> tuple[Tracker, Tracker]:
    """A torch tracker and an onnxruntime tracker running the very same loaded weights."""
    from attsiammask_core.deploy.ort_model import OrtModel

    torch_tracker = Tracker.create(variant=variant, weights=weights, attention=attention, random_init=random_init,
                                   threads=threads, backend="torch")
    ort_model = OrtModel.from_torch(torch_tracker.model, threads=threads)
    ort_tracker = Tracker(ort_model, config=torch_tracker.config, attention=torch_tracker.attention_config)
    return torch_tracker, ort_tracker


def _follow(leader: Tracker, follower: Tracker) -> None:
    """Give `follower` the tracking state of `leader` (its own kernels stay: they are part of its backend)."""
    follower._state = leader._state.copy()
    follower._low_count, follower._lost = leader._low_count, leader._lost


def _box_diff(a, b) -> float:  # type: ignore[no-untyped-def]
    return float(np.max(np.abs(np.subtract(a.box, b.box))))


def compare_on_frames(name: str, pair: tuple[Tracker, Tracker], frames: Iterable[np.ndarray],
                      box: tuple[float, float, float, float], tolerance_px: float = 0.5) -> ParityResult:
    """Init both trackers (and a closed-loop twin of the second) on the first frame, track the rest."""
    reference, candidate = pair
    twin = Tracker(candidate.model, config=candidate.config, attention=candidate.attention_config)
    box_px = score = mask_frac = closed = 0.0
    parted: int | None = None
    count = 0
    for i, frame in enumerate(frames):
        count += 1
        if i == 0:
            for tracker in (reference, candidate, twin):
                tracker.init(frame, box)
            continue
        _follow(reference, candidate)
        a, b, c = reference.track(frame), candidate.track(frame), twin.track(frame)
        box_px = max(box_px, _box_diff(a, b))
        score = max(score, abs(a.score - b.score))
        mask_frac = max(mask_frac, float(np.mean(a.mask != b.mask)))
        closed = max(closed, _box_diff(a, c))
        if parted is None and closed > tolerance_px:
            parted = i
    return ParityResult(name, count, box_px, score, mask_frac, closed, parted)

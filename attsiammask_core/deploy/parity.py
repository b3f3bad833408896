"""The onnxruntime backend against the torch backend on the same frames: per-frame box and score differences."""
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
    max_box_px: float
    max_score: float
    mask_pixels_differing: float  # largest fraction of mask pixels that differ in one frame


def backend_pair(variant: str, attention: bool, weights: str | None = None, random_init: bool = False,
                 threads: int | None = None) -> tuple[Tracker, Tracker]:
    """A torch tracker and an onnxruntime tracker running the very same loaded weights."""
    from .ort_model import OrtModel

    torch_tracker = Tracker.create(variant=variant, weights=weights, attention=attention, random_init=random_init,
                                   threads=threads)
    ort_model = OrtModel.from_torch(torch_tracker.model, threads=threads)
    ort_tracker = Tracker(ort_model, config=torch_tracker.config, attention=torch_tracker.attention_config)
    return torch_tracker, ort_tracker


def compare_on_frames(name: str, pair: tuple[Tracker, Tracker], frames: Iterable[np.ndarray],
                      box: tuple[float, float, float, float]) -> ParityResult:
    """Init both trackers on the first frame, track the rest, and keep the largest differences."""
    box_px = score = mask_frac = 0.0
    count = 0
    for i, frame in enumerate(frames):
        if i == 0:
            for tracker in pair:
                tracker.init(frame, box)
            count = 1
            continue
        a, b = (tracker.track(frame) for tracker in pair)
        box_px = max(box_px, float(np.max(np.abs(np.subtract(a.box, b.box)))))
        score = max(score, abs(a.score - b.score))
        mask_frac = max(mask_frac, float(np.mean(a.mask != b.mask)))
        count += 1
    return ParityResult(name, count, box_px, score, mask_frac)

"""Presence: how sure the tracker is that its box holds the target, from an appearance check of the box.

Each frame the tracker crops the tracked box as it crops the template (same context, same size) and runs the
template branch of the network on it; the result is compared with the template of the first frame and with a small
memory of confirmed appearances (cosine similarity of the feature maps, whole and centre). Those similarities, the
raw score of the box head and the score map's peak shape go through a logistic model calibrated on training and
validation long-term data (tools/presence/calibrate.py); its output, in [0, 1], is the published confidence.
A candidate found while the target is lost that scores well but fails the check is remembered as a distractor:
a later candidate looking more like a distractor than like the target is refused.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CALIBRATION_FILE", "FEATURE_NAMES", "calibration_from_values", "shipped_calibrations",
           "with_shipped_presence", "PresenceCalibration", "PresenceMemory", "cosine", "presence_probability",
           "score_map_features"]

CALIBRATION_FILE = Path(__file__).resolve().parent / "weights" / "presence.json"
DISTRACTOR_MARGIN = 0.05  # how much closer to a distractor than to the target a candidate must be to be refused
FEATURE_NAMES = ("score_logit", "sim_init", "sim_init_centre", "sim_memory", "peak_margin", "score_spread")


@dataclass(frozen=True)
class PresenceCalibration:
    """A logistic model over FEATURE_NAMES: p = sigmoid(bias + sum(weights * features))."""

    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURE_NAMES):
            raise ValueError(f"presence weights: {len(FEATURE_NAMES)} values expected ({', '.join(FEATURE_NAMES)}), "
                             f"got {len(self.weights)}")
        if not all(math.isfinite(w) for w in (*self.weights, self.bias)):
            raise ValueError("presence weights must be finite")


def presence_probability(features: np.ndarray, calibration: PresenceCalibration) -> float:
    """The calibrated probability that the box holds the target."""
    z = calibration.bias + float(np.dot(calibration.weights, features))
    return float(1.0 / (1.0 + math.exp(-min(max(z, -60.0), 60.0))))


def score_logit(score: float) -> float:
    """log(s / (1 - s)) of the box head's score, s clipped to [1e-4, 1 - 1e-4]: a confident head's scores crowd near
    1, where the logit still tells 0.99 from 0.9999."""
    s = min(max(float(score), 1e-4), 1.0 - 1e-4)
    return math.log(s / (1.0 - s))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two feature arrays (flattened); 0 when either is all zeros."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def _centre(features: np.ndarray) -> np.ndarray:
    """The middle half (each side) of a C x H x W feature map: where the target sits in a template crop."""
    _, h, w = features.shape
    return features[:, h // 4: h - h // 4, w // 4: w - w // 4]


def score_map_features(score: np.ndarray, best: int, grid: tuple[int, int, int],
                       radius: int = 2) -> tuple[float, float]:
    """Peak shape of a score map (flattened anchors x H x W, ``grid`` = (anchors, H, W)): the margin of the best
    cell's score over the best score farther than ``radius`` cells from it, and the share of cells above half the
    best score."""
    cells = np.asarray(score, dtype=np.float64).reshape(grid).max(axis=0)
    _, y, x = np.unravel_index(best, grid)
    peak = float(cells[y, x])
    if peak <= 0:
        return 0.0, 0.0
    outside = cells.copy()
    outside[max(0, y - radius): y + radius + 1, max(0, x - radius): x + radius + 1] = 0.0
    return peak - float(outside.max()), float(np.mean(cells >= 0.5 * peak))


def _unit(features: np.ndarray) -> np.ndarray:
    """Flattened to unit length (float64; zeros stay zeros), so a cosine is one dot product."""
    flat = np.asarray(features, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat


def _map(candidate: np.ndarray) -> np.ndarray:
    """C x H x W from C x H x W or 1 x C x H x W."""
    return candidate[0] if candidate.ndim == 4 else candidate


class PresenceMemory:
    """The first frame's template features, a few confirmed appearances, and distractors' features, each kept as a
    unit vector (normalised once, when stored, not every frame)."""

    def __init__(self, initial: np.ndarray, size: int = 4, distractors: int = 8) -> None:
        first = _map(np.asarray(initial, dtype=np.float32))
        self.initial = _unit(first)
        self.initial_centre = _unit(_centre(first))
        self.confirmed: deque[np.ndarray] = deque(maxlen=size)
        self.distractors: deque[np.ndarray] = deque(maxlen=distractors)

    def features(self, candidate: np.ndarray, score: float, peak_margin: float, score_spread: float) -> np.ndarray:
        """FEATURE_NAMES for a candidate's template-branch features (C x H x W or 1 x C x H x W)."""
        cand = _map(candidate)
        unit = _unit(cand)
        sim_init = float(unit @ self.initial)
        sim_centre = float(_unit(_centre(cand)) @ self.initial_centre)
        sim_memory = max((float(unit @ m) for m in self.confirmed), default=sim_init)
        return np.array([score_logit(score), sim_init, sim_centre, sim_memory, peak_margin, score_spread],
                        dtype=np.float64)

    def like_distractor(self, candidate: np.ndarray) -> bool:
        """True when the candidate is closer (by DISTRACTOR_MARGIN) to a remembered distractor than to the target
        (first frame, memory)."""
        if not self.distractors:
            return False
        unit = _unit(_map(candidate))
        target = max([float(unit @ self.initial), *(float(unit @ m) for m in self.confirmed)])
        return max(float(unit @ d) for d in self.distractors) > target + DISTRACTOR_MARGIN

    def confirm(self, candidate: np.ndarray) -> None:
        self.confirmed.append(_unit(_map(candidate)))

    def reject(self, candidate: np.ndarray) -> None:
        self.distractors.append(_unit(_map(candidate)))


def calibration_from_values(values: Sequence[float]) -> PresenceCalibration:
    """(bias, w1, ..., wn) as stored in a tracker configuration."""
    values = tuple(float(v) for v in values)
    return PresenceCalibration(weights=values[1:], bias=values[0])


def shipped_calibrations(path: Path = CALIBRATION_FILE) -> dict[str, dict[str, Any]]:
    """The presence calibrations shipped per variant (weights/presence.json; tools/presence/calibrate.py)."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("variants", {}))


def with_shipped_presence(config: Any, variant: str, path: Path = CALIBRATION_FILE) -> Any:
    """``config`` (a TrackerConfig) with the variant's shipped presence calibration and the loss thresholds chosen
    with it on validation; unchanged (the raw score decides) when the variant has none."""
    entry = shipped_calibrations(path).get(variant)
    if not entry:
        return dataclasses.replace(config, presence="score")
    return dataclasses.replace(config, presence="verifier", presence_weights=tuple(entry["presence_weights"]),
                               **{key: entry[key] for key in ("lost_threshold", "recover_threshold", "lost_frames",
                                                              "redetect_tiles", "recover_frames") if key in entry})

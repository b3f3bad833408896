"""Tracking hyperparameters tuned on a split that is not the test split: candidates ranked by OPE success AUC.

Each candidate is a set of TrackerConfig field overrides on one model. Runs are box-only (the refine module is
skipped: the box does not depend on the mask), one sequence at a time with its frames decoded once and shared by
every candidate; every (candidate, sequence) result is appended to a JSON-lines file, so a stopped search resumes.
Ranking: the highest overall OPE AUC (mean of per-sequence success curves, as `attsiammask eval`); the VOT
failures of the leaders can be counted afterwards (`vot_failures`) to break near-ties.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .runner import run_ope, run_vot
from .sequences import Sequence
from .trackers import OursTracker

__all__ = ["FrameCache", "CandidateScore", "grid", "parse_axis", "rank", "tune", "vot_failures", "TEST_SPLITS"]

# Splits a search refuses: results on them are reported, never tuned on.
TEST_SPLITS = ("test",)


def parse_axis(text: str) -> tuple[str, list[float]]:
    """"lr=0.3,0.35,0.4" -> ("lr", [0.3, 0.35, 0.4]); ValueError naming the problem."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise ValueError(f"grid axis must look like name=v1,v2,..., got {text!r}")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"grid axis {name!r}: values must be numbers, got {values!r}") from None
    return name, numbers


def grid(axes: Mapping[str, Seq[float]]) -> list[dict[str, float]]:
    """Every combination of the axes' values, as override dicts (the empty grid is one empty candidate)."""
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(axes[n] for n in names))]


class FrameCache:
    """A Sequence with its frames decoded once (the evaluation runners read frames through ``frame``)."""

    def __init__(self, seq: Sequence) -> None:
        self.name = seq.name
        self.boxes = seq.boxes
        self.polygons = seq.polygons
        self.mask_paths = None  # box-only search: no J
        self._frames = [seq.frame(i) for i in range(len(seq))]

    def __len__(self) -> int:
        return len(self._frames)

    def frame(self, i: int) -> np.ndarray:
        return self._frames[i]

    def mask(self, i: int) -> None:
        return None


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's result: overrides, overall OPE AUC over the sequences, per-sequence AUCs."""

    overrides: dict[str, float]
    auc: float
    per_sequence: dict[str, float]


def _key(overrides: Mapping[str, float]) -> str:
    return json.dumps(dict(sorted(overrides.items())))


def _factory(model: Any, config: Any, attention: Any, device: Any, tracker_cls: Any) -> Callable[[], OursTracker]:
    def create() -> OursTracker:
        return OursTracker("tune", tracker_cls(model, config=config, attention=attention, device=device,
                                               masks=False))
    return create


def _load_results(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[(row["candidate"], row["sequence"])] = row
    return done


def tune(base: Any, sequences: Iterable[Sequence], candidates: Seq[Mapping[str, float]], results_path: Path,
         progress: Callable[[str], None] | None = None) -> list[CandidateScore]:
    """OPE of every candidate (overrides on ``base``, a Tracker whose model, config, attention and device are
    used) on every sequence; results appended to ``results_path`` and reused. Returns the ranking."""
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    done = _load_results(results_path)
    configs = {_key(c): dataclasses.replace(base.config, **c) for c in candidates}
    names: list[str] = []
    for seq in sequences:
        names.append(seq.name)
        todo = [k for k in configs if (k, seq.name) not in done]
        if not todo:
            continue
        cached = FrameCache(seq)
        for key in todo:
            record = run_ope(_factory(base.model, configs[key], base.attention_config, base.device, type(base)),
                             cached)  # type: ignore[arg-type]
            result = record.result()
            row = {"candidate": key, "sequence": seq.name, "auc": None if result is None else result.auc,
                   "success": None if result is None else result.success.tolist(),
                   "frames": 0 if result is None else result.frames}
            with results_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            done[(key, seq.name)] = row
            if progress:
                progress(f"{seq.name} {key}: AUC {row['auc']:.3f}" if row["auc"] is not None else f"{seq.name}: -")
    return rank(done, [json.loads(k) for k in configs], names)


def rank(done: Mapping[tuple[str, str], Mapping[str, Any]], candidates: Seq[Mapping[str, float]],
         sequence_names: Seq[str]) -> list[CandidateScore]:
    """Candidates by overall OPE AUC (mean success curve over the sequences), best first."""
    scores = []
    for overrides in candidates:
        key = _key(overrides)
        rows = [done[(key, name)] for name in sequence_names if (key, name) in done]
        results = [metrics.OPEResult(auc=r["auc"], precision20=float("nan"), success=np.asarray(r["success"]),
                                     precision=np.zeros(metrics.PRECISION_THRESHOLDS.shape), frames=r["frames"])
                   for r in rows if r["auc"] is not None]
        overall = metrics.ope_overall(results)
        scores.append(CandidateScore(overrides=dict(overrides), auc=overall.auc,
                                     per_sequence={r["sequence"]: r["auc"] for r in rows}))
    return sorted(scores, key=lambda s: -s.auc if np.isfinite(s.auc) else np.inf)


def vot_failures(base: Any, sequences: Iterable[Sequence], overrides: Mapping[str, float], skip: int = 5) -> int:
    """VOT-protocol failures (box-only) of one candidate over the sequences."""
    config = dataclasses.replace(base.config, **overrides)
    factory = _factory(base.model, config, base.attention_config, base.device, type(base))
    return sum(metrics.vot_failures(run_vot(factory, seq, skip=skip).run) for seq in sequences)

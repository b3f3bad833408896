"""The long-term part of an evaluation's summary: per tracker and sequence from `runner.LongTermRecord`s, and the
markdown section of the table.

Frames after the init frame are evaluated. IoU is the box IoU (`metrics.iou_xywh`) with the ground truth, 0 where
the target is absent; the target is present where the ground-truth box is finite with w, h > 0 (on the long-term
sequences the frames out of the window are NaN). F, Pr, Re and the threshold: `longterm_metrics.longterm_score`
over the tracker's sequences (per-sequence curves averaged, VOT-LT). Events: the sequence's longterm.json events
plus the runs of at least ``min_run`` absent frames outside them (`longterm_metrics.occlusion_events`); outcomes
and absent frames with a published detection are pooled over sequences.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attsiammask_core.eval import longterm_metrics as lt
from attsiammask_core.eval import metrics
from attsiammask_core.eval.runner import LongTermRecord, valid_boxes

__all__ = ["COLUMNS", "frames_of", "markdown_section", "summarize_longterm"]

COLUMNS = ("tracker", "F", "Pr", "Re", "threshold", "re-acquired (all events)", "re-acquired (tracked before)",
           "median delay", "absent frames with a detection")


@dataclasses.dataclass(frozen=True)
class _Frames:
    iou: np.ndarray
    confidence: np.ndarray
    present: np.ndarray
    published: np.ndarray
    events: list[lt.Event]


def frame_ious(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Box IoU per frame with the ground truth, 0 where the target is absent or the box is missing."""
    if not len(gt):
        return np.zeros(0)
    return np.where(valid_boxes(gt), np.nan_to_num(metrics.iou_xywh(boxes, gt), nan=0.0), 0.0)


def frames_of(record: LongTermRecord, settings: lt.LongTermSettings) -> _Frames | None:
    """The measures' per-frame inputs of one record (frames after the init frame, events shifted to them); None
    when the tracker was never initialised."""
    if record.init_frame is None:
        return None
    start = record.init_frame + 1
    gt, boxes = record.gt[start:], record.boxes[start:]
    present = valid_boxes(gt)
    iou = frame_ious(boxes, gt)
    confidence = np.asarray(record.confidence[start:], dtype=np.float64)
    published = lt.published_from(record.held[start:], confidence, settings.presence_threshold)
    listed = [lt.Event(o - start, b - start, left=max(0, x - start)) for x, o, b in record.events
              if 0 <= o - start < b - start < len(gt)]
    events = lt.occlusion_events(present, listed, settings.min_run)
    return _Frames(iou=iou, confidence=confidence, present=present, published=published, events=events)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _score_json(score: lt.LongTermScore) -> dict[str, Any]:
    return {"f": _num(score.f), "precision": _num(score.precision), "recall": _num(score.recall),
            "threshold": _num(score.threshold)}


def _event_json(outcome: lt.EventOutcome, start: int) -> dict[str, Any]:
    """One event's outcome, frames numbered as in the sequence."""
    e = outcome.event
    return {"kind": e.kind, "left": e.leaves + start, "out": e.out + start, "back": e.back + start,
            "tracked_before": outcome.tracked_before, "reacquired": outcome.reacquired, "delay": outcome.delay}


def summarize_longterm(records: Mapping[str, LongTermRecord], sequences: Sequence[str],
                       settings: lt.LongTermSettings) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """(overall, per sequence) long-term numbers of one tracker; overall None when no record was initialised."""
    inputs = {name: frames_of(records[name], settings) for name in sequences if name in records}
    inputs = {name: f for name, f in inputs.items() if f is not None}
    if not inputs:
        return None, {}
    thresholds = lt.thresholds_of(f.confidence for f in inputs.values())
    per_seq: dict[str, dict[str, Any]] = {}
    outcomes: list[lt.EventOutcome] = []
    detected = absent = frames = 0
    for name, f in inputs.items():
        score = lt.longterm_score([(f.iou, f.confidence, f.present)], thresholds)
        seq_outcomes = lt.reacquisition(f.iou, f.published, f.events, settings.iou_threshold, settings.within,
                                        settings.before)
        outcomes += seq_outcomes
        hits, misses = lt.false_detection_share(f.present, f.published)
        detected, absent, frames = detected + hits, absent + misses, frames + len(f.present)
        start = records[name].init_frame + 1
        per_seq[name] = {**_score_json(score), "frames": len(f.present), "absent_frames": misses,
                         "absent_with_detection": hits, "held_frames": records[name].held_frames,
                         "events": [_event_json(o, start) for o in seq_outcomes]}
    score = lt.longterm_score([(f.iou, f.confidence, f.present) for f in inputs.values()], thresholds)
    summary = lt.summarize_reacquisition(outcomes)
    overall = {**_score_json(score), "sequences": len(inputs), "frames": frames, "absent_frames": absent,
               "absent_with_detection": detected, "absent_detection_share": detected / absent if absent else None,
               "events": summary.events, "reacquired": summary.reacquired, "reacquisition_rate": _num(summary.rate),
               "tracked_before_events": summary.tracked_before,
               "reacquired_tracked_before": summary.reacquired_tracked_before,
               "reacquisition_rate_tracked_before": _num(summary.rate_tracked_before),
               "median_delay": _num(summary.median_delay)}
    return overall, per_seq


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _ratio(rate: float | None, hits: int, total: int) -> str:
    return f"{_fmt(rate)} ({hits}/{total})" if total else "-"


def markdown_section(summary: dict[str, Any]) -> str:
    """The long-term table (one row per tracker with long-term results) and its legend; "" when there is none."""
    rows = [(spec, t["overall"]["longterm"]) for spec, t in summary["trackers"].items()
            if t["overall"].get("longterm")]
    if not rows:
        return ""
    first = rows[0][1]
    settings = summary.get("longterm_settings") or {}
    threshold = settings.get("presence_threshold")
    published = ("the tracker's own decision (not held)" if threshold is None
                 else f"confidence >= {threshold:g}")
    lines = [f"Long-term (one pass, no re-initialisation): {first['sequences']} sequence(s) with absent frames, "
             f"{first['frames']} frames, {first['absent_frames']} absent, {first['events']} event(s). F, Pr, Re: "
             "VOT-LT at the threshold of the best F; re-acquired: IoU >= "
             f"{settings.get('iou_threshold', 0.5):g} with a published detection within "
             f"{settings.get('within', 30)} frames of the target's return (tracked before: in one of the "
             f"{settings.get('before', 5)} frames before it left); published detection: {published}.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for spec, o in rows:
        cells = [spec, _fmt(o["f"]), _fmt(o["precision"]), _fmt(o["recall"]), _fmt(o["threshold"], 4),
                 _ratio(o["reacquisition_rate"], o["reacquired"], o["events"]),
                 _ratio(o["reacquisition_rate_tracked_before"], o["reacquired_tracked_before"],
                        o["tracked_before_events"]),
                 _fmt(o["median_delay"], 1),
                 _ratio(o["absent_detection_share"], o["absent_with_detection"], o["absent_frames"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

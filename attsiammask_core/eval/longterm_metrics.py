"""Long-term tracking measures as pure functions: VOT-LT precision/recall/F and re-acquisition after absence.

Inputs are per-frame arrays of one sequence, restricted to the evaluated frames (the frames after the init frame):

* ``iou``: IoU of the tracker's box with the ground truth, 0 where the target is absent (NaN is read as 0);
* ``confidence``: the tracker's "reported present" value; a tracker without one reports 1.0 when it outputs a box
  and 0.0 when its prediction is flagged ``held`` (`confidence_from`);
* ``present``: the ground truth holds the target (finite box of positive size, the frame not absent).

VOT-LT (Lukezic et al., "Now you see me: evaluating performance in long-term visual tracking", and vot-toolkit's
``compute_tpr_curves``), per sequence and threshold t:

* precision Pr(t) = mean IoU over the frames with confidence >= t (IoU 0 on those where the target is absent);
  1.0 when no frame reaches t (vot-toolkit's convention, so F is 0 there);
* recall Re(t) = sum of the IoU over the frames with confidence >= t, divided by the number of frames where the
  target is present (a frame reported absent adds 0); NaN for a sequence without a present frame.

Overall, as VOT-LT: the per-sequence Pr(t) and Re(t) curves are averaged over sequences (each sequence weighs
the same; sequences without a present frame are left out of the recall mean), then F(t) = 2 Pr Re / (Pr + Re)
(0 where Pr + Re = 0) and F = max over t, reported with Pr, Re and t at that maximum (the lowest such t on ties).
The thresholds are the distinct finite confidences of the tracker over every sequence plus 0 and 1. t = 0 counts
every frame (confidences are >= 0), so a tracker whose confidence never changes is scored as if it always
reported the target: only the order of the confidences matters, as in VOT-LT.

Re-acquisition, per event (a frame ``out`` where the target is fully out of view and the first frame ``back``
where it is fully back; from a long-term sequence's longterm.json, or every run of at least ``min_run`` absent
ground-truth frames, `occlusion_events`): a frame counts as *tracked* when the tracker publishes a detection
(``published``) and its IoU is >= ``iou_threshold``. The event is re-acquired when a frame back .. back + within - 1
is tracked (``back`` is frame 0, so delays run 0 .. within - 1); it was *tracked before* when one of the
``before`` frames before it left was tracked: left - before .. left - 1, where ``left`` is the first frame the
target was not wholly in view (a pan event's first partly visible frame; ``out`` for an occlusion), since the
ground truth of a partly visible target is clipped to the view.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Event", "EventOutcome", "LongTermScore", "LongTermSettings", "ReacquisitionSummary", "absent_runs",
           "confidence_from", "f_score", "false_detection_share", "longterm_score", "occlusion_events", "pr_re_curves",
           "published_from", "reacquisition", "summarize_reacquisition", "thresholds_of"]


@dataclass(frozen=True)
class LongTermSettings:
    """The measures' parameters: ``presence_threshold`` None = a detection is published when the tracker does not
    hold its box (its own lost/present decision), else when its confidence is >= the value; re-acquisition IoU,
    frames after the return (``within``) and before leaving (``before``); the shortest run of absent ground truth
    that counts as an event (``min_run``)."""

    presence_threshold: float | None = None
    iou_threshold: float = 0.5
    within: int = 30
    before: int = 5
    min_run: int = 5

    def __post_init__(self) -> None:
        if self.within < 1 or self.before < 1 or self.min_run < 1:
            raise ValueError(f"within, before and min_run must be >= 1, got {self.within}, {self.before}, "
                             f"{self.min_run}")
        if not 0 < self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")


def _float(values: Iterable[float] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _bool(values: Iterable[bool] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=bool).reshape(-1)


def _same_length(*arrays: np.ndarray) -> int:
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"per-frame arrays must have the same length, got {sorted(len(a) for a in arrays)}")
    return lengths.pop()


def confidence_from(confidence: Sequence[float | None], held: Sequence[bool]) -> np.ndarray:
    """Per-frame confidence: the tracker's value where it gave one, else 1.0 (box output) or 0.0 (``held``)."""
    held = _bool(held)
    if len(confidence) != len(held):
        raise ValueError(f"{len(confidence)} confidences for {len(held)} frames")
    out = np.where(held, 0.0, 1.0)
    for i, value in enumerate(confidence):
        if value is not None:
            out[i] = float(value)
    return out


def published_from(held: Sequence[bool], confidence: Sequence[float] | None = None,
                   threshold: float | None = None) -> np.ndarray:
    """Frames on which the tracker publishes a detection: ``held`` False (its own lost/present decision) when
    ``threshold`` is None, else confidence >= threshold."""
    held = _bool(held)
    if threshold is None:
        return ~held
    if confidence is None:
        raise ValueError("a presence threshold needs the confidences")
    conf = _float(confidence)
    _same_length(held, conf)
    with np.errstate(invalid="ignore"):
        return conf >= float(threshold)


def thresholds_of(confidences: Iterable[np.ndarray]) -> np.ndarray:
    """Ascending thresholds: the distinct finite confidences of every sequence, plus 0 and 1."""
    pooled = [np.zeros(0)] + [_float(c) for c in confidences]
    values = np.concatenate(pooled)
    return np.unique(np.concatenate([values[np.isfinite(values)], [0.0, 1.0]]))


def pr_re_curves(iou: np.ndarray, confidence: np.ndarray, present: np.ndarray,
                 thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sequence's Pr(t) and Re(t) at each threshold (see the module docstring). Frames with a NaN confidence
    never count as reported."""
    iou, conf, present = _float(iou), _float(confidence), _bool(present)
    _same_length(iou, conf, present)
    t = _float(thresholds)
    overlap = np.where(present & np.isfinite(iou), np.clip(iou, 0.0, 1.0), 0.0)
    reported = np.isfinite(conf)
    order = np.argsort(conf[reported], kind="stable")
    conf_sorted = conf[reported][order]
    overlap_sorted = overlap[reported][order]
    suffix = np.concatenate([np.cumsum(overlap_sorted[::-1])[::-1], [0.0]])  # sum of frames from index k on
    first = np.searchsorted(conf_sorted, t, side="left")  # first frame with confidence >= t
    count = len(conf_sorted) - first
    total = suffix[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    n_present = int(np.count_nonzero(present))
    recall = total / n_present if n_present else np.full(t.shape, np.nan)
    return precision, recall


def f_score(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """2 Pr Re / (Pr + Re), 0 where Pr + Re is 0 (NaN stays NaN)."""
    pr, re = _float(precision), _float(recall)
    total = pr + re
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * pr * re / np.where(total > 0, total, 1.0), np.where(np.isnan(total),
                                                                                             np.nan, 0.0))


def _readonly(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class LongTermScore:
    """F at its maximum over the thresholds, with Pr, Re and the threshold there; the curves they come from.
    ``sequences``: sequences averaged (recall: those with a present frame); NaN scores when there is none."""

    f: float
    precision: float
    recall: float
    threshold: float
    thresholds: np.ndarray
    precision_curve: np.ndarray
    recall_curve: np.ndarray
    f_curve: np.ndarray
    sequences: int

    def __post_init__(self) -> None:
        for name in ("thresholds", "precision_curve", "recall_curve", "f_curve"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))


def longterm_score(sequences: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                   thresholds: np.ndarray | None = None) -> LongTermScore:
    """VOT-LT F, Pr, Re over sequences of (iou, confidence, present): per-sequence curves averaged, then F.

    ``thresholds`` default: `thresholds_of` the sequences' confidences."""
    t = thresholds_of(conf for _, conf, _ in sequences) if thresholds is None else np.unique(_float(thresholds))
    curves = [pr_re_curves(iou, conf, present, t) for iou, conf, present in sequences]
    if not curves:
        nan = np.full(t.shape, np.nan)
        return LongTermScore(f=float("nan"), precision=float("nan"), recall=float("nan"), threshold=float("nan"),
                             thresholds=t, precision_curve=nan, recall_curve=nan, f_curve=nan, sequences=0)
    precision = np.mean(np.stack([pr for pr, _ in curves]), axis=0)
    recalls = [re for _, re in curves if not np.isnan(re).all()]
    recall = np.mean(np.stack(recalls), axis=0) if recalls else np.full(t.shape, np.nan)
    f = f_score(precision, recall)
    if np.isnan(f).all():
        best_f = best_pr = best_re = best_t = float("nan")
    else:
        best = int(np.nanargmax(f))
        best_f, best_pr, best_re, best_t = float(f[best]), float(precision[best]), float(recall[best]), float(t[best])
    return LongTermScore(f=best_f, precision=best_pr, recall=best_re, threshold=best_t, thresholds=t,
                         precision_curve=precision, recall_curve=recall, f_curve=f, sequences=len(curves))


# ---------------------------------------------------------------- re-acquisition


@dataclass(frozen=True)
class Event:
    """The target fully out of view at frame ``out``, fully back at frame ``back`` (out < back); ``kind``: "pan"
    (a long-term sequence's camera event) or "occlusion" (a run of absent ground-truth frames); ``left``: the first
    frame it was not wholly in view (a pan: the first partly visible frame; default ``out``)."""

    out: int
    back: int
    kind: str = "pan"
    left: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.out < self.back:
            raise ValueError(f"event needs 0 <= out < back, got out={self.out}, back={self.back}")
        if self.left is not None and not 0 <= self.left <= self.out:
            raise ValueError(f"event needs 0 <= left <= out, got left={self.left}, out={self.out}")

    @property
    def leaves(self) -> int:
        """The frame the target starts to leave the view (``left``, else ``out``)."""
        return self.out if self.left is None else self.left


def absent_runs(present: np.ndarray) -> list[tuple[int, int]]:
    """Runs of frames where ``present`` is False, as (first, end) with end exclusive, in order."""
    absent = ~_bool(present)
    edges = np.diff(np.concatenate([[0], absent.astype(np.int8), [0]]))
    return [(int(s), int(e)) for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)]


def occlusion_events(present: np.ndarray, listed: Iterable[Event] = (), min_run: int = 5) -> list[Event]:
    """``listed`` events that lie inside the frames (back < number of frames), plus every run of at least
    ``min_run`` absent frames that neither starts at frame 0 nor reaches the end and overlaps no listed event
    (frames out .. back - 1); ordered by ``out``."""
    present = _bool(present)
    n = len(present)
    kept = [e for e in listed if e.back < n]
    extra = [Event(s, e, "occlusion") for s, e in absent_runs(present)
             if e - s >= min_run and s > 0 and e < n
             and not any(s < ev.back and ev.out < e for ev in kept)]
    return sorted(kept + extra, key=lambda ev: (ev.out, ev.back))


@dataclass(frozen=True)
class EventOutcome:
    """One event: tracked in one of the frames before it left, re-acquired, and the delay (frames after back)."""

    event: Event
    tracked_before: bool
    reacquired: bool
    delay: int | None


def reacquisition(iou: np.ndarray, published: np.ndarray, events: Iterable[Event], iou_threshold: float = 0.5,
                  within: int = 30, before: int = 5) -> list[EventOutcome]:
    """Per event: tracked before it left, re-acquired within ``within`` frames of ``back``, and the delay."""
    iou, published = _float(iou), _bool(published)
    n = _same_length(iou, published)
    with np.errstate(invalid="ignore"):
        tracked = published & (np.nan_to_num(iou, nan=0.0) >= iou_threshold)
    out = []
    for event in events:
        if event.back >= n:
            raise ValueError(f"event {event} lies beyond the {n} frames")
        ahead = np.flatnonzero(tracked[event.back:min(n, event.back + within)])
        delay = int(ahead[0]) if ahead.size else None
        was = bool(tracked[max(0, event.leaves - before):event.leaves].any())
        out.append(EventOutcome(event=event, tracked_before=was, reacquired=delay is not None, delay=delay))
    return out


@dataclass(frozen=True)
class ReacquisitionSummary:
    """Counts and rates over events (all, and those tracked before the target left); median delay of the
    re-acquired events (all); rates and the median are NaN when there is no event to take them over."""

    events: int
    reacquired: int
    rate: float
    tracked_before: int
    reacquired_tracked_before: int
    rate_tracked_before: float
    median_delay: float


def summarize_reacquisition(outcomes: Iterable[EventOutcome]) -> ReacquisitionSummary:
    """Pool outcomes (over sequences) into counts, rates and the median delay."""
    outcomes = list(outcomes)
    before = [o for o in outcomes if o.tracked_before]
    delays = [o.delay for o in outcomes if o.delay is not None]
    hits, hits_before = sum(o.reacquired for o in outcomes), sum(o.reacquired for o in before)
    return ReacquisitionSummary(
        events=len(outcomes), reacquired=hits, rate=hits / len(outcomes) if outcomes else float("nan"),
        tracked_before=len(before), reacquired_tracked_before=hits_before,
        rate_tracked_before=hits_before / len(before) if before else float("nan"),
        median_delay=float(np.median(delays)) if delays else float("nan"))


def false_detection_share(present: np.ndarray, published: np.ndarray) -> tuple[int, int]:
    """(absent frames with a published detection, absent frames): pool these over sequences for the share."""
    present, published = _bool(present), _bool(published)
    _same_length(present, published)
    return int(np.count_nonzero(~present & published)), int(np.count_nonzero(~present))

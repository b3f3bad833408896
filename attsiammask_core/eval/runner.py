"""Run trackers through the protocols, one (tracker, sequence, protocol) at a time, with results cached.

- One-pass (OPE, `run_ope`): initialise on the first frame with valid ground truth (finite, w and h > 0), then
  `update()` on every later frame; the init frame's prediction is the init box. Records the predicted boxes,
  the latency of every `update()` and, on sequences with masks, the region similarity J of the tracker's mask
  ("J", when it gives masks) and of its filled box ("J_box", every tracker) on every frame after the init.
- Supervised (VOT style, `run_vot`): the same start; a frame whose ground truth is valid and whose overlap with
  the prediction (`metrics.region_overlap`: the predicted polygon when the tracker gives one, else its box,
  against the gt polygon when the sequence has polygons, else the gt box, both clipped to the image as VOT does)
  is 0 is a failure; the tracker is re-initialised, as a fresh tracker, ``skip`` (5) frames after the failure on
  that frame's ground truth, or on the next frame with valid ground truth when that one has none. Frames without
  ground truth are tracked but never fail and have no overlap (NaN), like the init and skipped frames.
- Long-term (`run_longterm`, only on sequences with an absent frame after the init frame): the OPE pass, also
  recording per frame the tracker's confidence (`Prediction.confidence`; 1.0, or 0.0 when held, for a tracker that
  gives none) and whether it held its box, with the events of the sequence's longterm.json (none for an ordinary
  sequence); the measures are `longterm_metrics`'.

Results are saved as JSON per (tracker, sequence, protocol) under ``OUT/runs/`` and reused when present, keyed
by a hash of the tracker spec, its options (file checksums, configuration), the sequence's ground truth and the
protocol parameters. Every run seeds numpy, torch and OpenCV first, so results do not depend on run order.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attsiammask_core.eval import metrics
from attsiammask_core.eval.longterm_data import read_events, sequence_folder
from attsiammask_core.eval.sequences import Sequence
from attsiammask_core.eval.trackers import EvalTracker, Prediction, TrackerFactory

__all__ = ["ALL_PROTOCOLS", "PROTOCOLS", "EvalOptions", "EvalResults", "LongTermRecord", "OPERecord", "VOTRecord",
           "evaluate", "fill_box_mask", "first_valid_frame", "has_absent_frames", "load_record", "record_path",
           "run_cached", "run_key", "run_longterm", "run_ope", "run_vot", "save_record", "seed_everything",
           "sequence_events", "valid_boxes"]

PROTOCOLS = ("ope", "vot")  # the default pair ("both")
ALL_PROTOCOLS = (*PROTOCOLS, "longterm")
FORMAT_VERSION = 1


def seed_everything(seed: int) -> None:
    """Seed Python, numpy, torch and OpenCV."""
    import cv2
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    cv2.setRNGSeed(seed)


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: rows that are finite with w > 0 and h > 0."""
    boxes = np.asarray(boxes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def first_valid_frame(boxes: np.ndarray, start: int = 0) -> int | None:
    """Index of the first frame >= start with a valid box, None when there is none."""
    idx = np.flatnonzero(valid_boxes(boxes)[start:])
    return int(idx[0]) + start if idx.size else None


def fill_box_mask(box_xywh: Any, frame_hw: tuple[int, int]) -> np.ndarray:
    """H x W bool: pixels whose centres lie inside the box (clipped to the frame)."""
    height, width = frame_hw
    x, y, w, h = (float(v) for v in np.asarray(box_xywh, dtype=np.float64).reshape(4))
    mask = np.zeros((height, width), dtype=bool)
    if not np.all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
        return mask
    x0, x1 = int(np.clip(np.ceil(x - 0.5), 0, width)), int(np.clip(np.ceil(x + w - 0.5), 0, width))
    y0, y1 = int(np.clip(np.ceil(y - 0.5), 0, height)), int(np.clip(np.ceil(y + h - 0.5), 0, height))
    mask[y0:y1, x0:x1] = True
    return mask


def _length(seq: Sequence, max_frames: int | None) -> int:
    return len(seq) if max_frames is None else min(len(seq), int(max_frames))


def _frames(seq: Sequence, n: int, desc: str, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=n, desc=desc, unit="frame", leave=False, disable=not progress)


def _timed_update(tracker: EvalTracker, frame: np.ndarray) -> tuple[Prediction, float]:
    t0 = time.perf_counter()
    pred = tracker.update(frame)
    return pred, time.perf_counter() - t0


def _check_prediction(pred: Any, name: str) -> np.ndarray:
    box = np.asarray(getattr(pred, "box", None), dtype=np.float64)
    if box.shape != (4,):
        raise ValueError(f"tracker {name!r}: update() must return a Prediction with a (4,) box, got {pred!r}")
    return box


# ---------------------------------------------------------------- records


def _encode(values: np.ndarray | None) -> Any:
    """Array -> nested lists with None for NaN (strict JSON)."""
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    out = array.astype(object)
    out[~np.isfinite(array)] = None
    return out.tolist()


def _decode(values: Any, width: int | None = None) -> np.ndarray | None:
    if values is None:
        return None
    array = np.array(values, dtype=np.float64)  # None -> NaN
    return array.reshape(-1, width) if width else array.reshape(-1)


@dataclass(frozen=True)
class OPERecord:
    """One tracker on one sequence, one pass. Arrays have one row per evaluated frame (N = sequence length, or
    --max-frames): ``boxes`` (N, 4) predictions (NaN before the init frame; the init box on it), ``gt`` (N, 4),
    ``latency_s`` (N,) of update() (NaN on the init frame and before), ``j``/``j_box`` (N,) or None."""

    tracker: str
    sequence: str
    boxes: np.ndarray
    gt: np.ndarray
    init_frame: int | None
    latency_s: np.ndarray
    init_latency_s: float
    held_frames: int
    j: np.ndarray | None = None
    j_box: np.ndarray | None = None
    protocol: str = field(default="ope", init=False)

    def result(self) -> metrics.OPEResult | None:
        """Success/precision of the frames after the init frame (frames without gt excluded); None if never init."""
        if self.init_frame is None:
            return None
        return metrics.ope_sequence(self.boxes[self.init_frame:], self.gt[self.init_frame:], skip_first=True)

    def to_json(self) -> dict[str, Any]:
        return {"protocol": "ope", "tracker": self.tracker, "sequence": self.sequence, "init_frame": self.init_frame,
                "held_frames": self.held_frames, "init_latency_s": self.init_latency_s,
                "boxes": _encode(self.boxes), "gt": _encode(self.gt), "latency_s": _encode(self.latency_s),
                "j": _encode(self.j), "j_box": _encode(self.j_box)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OPERecord:
        return cls(tracker=data["tracker"], sequence=data["sequence"], boxes=_decode(data["boxes"], 4),
                   gt=_decode(data["gt"], 4), init_frame=data["init_frame"], latency_s=_decode(data["latency_s"]),
                   init_latency_s=float(data["init_latency_s"]), held_frames=int(data["held_frames"]),
                   j=_decode(data["j"]), j_box=_decode(data["j_box"]))


@dataclass(frozen=True)
class VOTRecord:
    """One tracker on one sequence, supervised: the metrics.VOTRun, the predictions (NaN where not tracked), the
    latency of every update() and the protocol parameters."""

    tracker: str
    sequence: str
    run: metrics.VOTRun
    boxes: np.ndarray
    latency_s: np.ndarray
    init_latency_s: tuple[float, ...]
    held_frames: int
    skip: int
    burn_in: int
    protocol: str = field(default="vot", init=False)

    @property
    def failures(self) -> int:
        return len(self.run.failure_frames)

    def accuracy(self) -> float:
        return float(metrics.vot_accuracy(self.run, burn_in=self.burn_in))

    def to_json(self) -> dict[str, Any]:
        run = self.run
        return {"protocol": "vot", "tracker": self.tracker, "sequence": self.sequence, "skip": self.skip,
                "burn_in": self.burn_in, "length": int(run.length), "init_frames": [int(i) for i in run.init_frames],
                "failure_frames": [int(i) for i in run.failure_frames], "overlaps": _encode(run.overlaps),
                "boxes": _encode(self.boxes), "latency_s": _encode(self.latency_s),
                "init_latency_s": list(self.init_latency_s), "held_frames": self.held_frames}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VOTRecord:
        run = _vot_run(_decode(data["overlaps"]), data["init_frames"], data["failure_frames"], data["length"])
        return cls(tracker=data["tracker"], sequence=data["sequence"], run=run, boxes=_decode(data["boxes"], 4),
                   latency_s=_decode(data["latency_s"]), init_latency_s=tuple(data["init_latency_s"]),
                   held_frames=int(data["held_frames"]), skip=int(data["skip"]), burn_in=int(data["burn_in"]))


@dataclass(frozen=True)
class LongTermRecord:
    """One tracker on one sequence, one pass, long-term: the OPE arrays plus, per frame, ``confidence`` (N,) (NaN
    before the init frame and on it) and ``held`` (N,) bool, and the sequence's listed ``events`` (exit, out, back:
    `longterm_data.read_events`)."""

    tracker: str
    sequence: str
    boxes: np.ndarray
    gt: np.ndarray
    init_frame: int | None
    confidence: np.ndarray
    held: np.ndarray
    latency_s: np.ndarray
    init_latency_s: float
    events: tuple[tuple[int, int, int], ...] = ()
    protocol: str = field(default="longterm", init=False)

    @property
    def held_frames(self) -> int:
        return int(np.count_nonzero(self.held))

    def to_json(self) -> dict[str, Any]:
        return {"protocol": "longterm", "tracker": self.tracker, "sequence": self.sequence,
                "init_frame": self.init_frame, "init_latency_s": self.init_latency_s, "boxes": _encode(self.boxes),
                "gt": _encode(self.gt), "confidence": _encode(self.confidence),
                "held": [bool(h) for h in self.held], "latency_s": _encode(self.latency_s),
                "events": [list(e) for e in self.events]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LongTermRecord:
        return cls(tracker=data["tracker"], sequence=data["sequence"], boxes=_decode(data["boxes"], 4),
                   gt=_decode(data["gt"], 4), init_frame=data["init_frame"],
                   confidence=_decode(data["confidence"]), held=np.array(data["held"], dtype=bool),
                   latency_s=_decode(data["latency_s"]), init_latency_s=float(data["init_latency_s"]),
                   events=tuple((int(x), int(o), int(b)) for x, o, b in data["events"]))


def _vot_run(overlaps: np.ndarray, init_frames: Seq[int], failure_frames: Seq[int], length: int) -> metrics.VOTRun:
    return metrics.VOTRun(overlaps=np.asarray(overlaps, dtype=np.float64),
                          init_frames=tuple(int(i) for i in init_frames),
                          failure_frames=tuple(int(i) for i in failure_frames), length=int(length))


# ---------------------------------------------------------------- protocols


def run_ope(factory: Callable[[], EvalTracker], seq: Sequence, *, max_frames: int | None = None,
            progress: bool = False) -> OPERecord:
    """One pass of a fresh tracker over ``seq`` (see the module docstring)."""
    n = _length(seq, max_frames)
    gt = np.asarray(seq.boxes[:n], dtype=np.float64).reshape(n, 4)
    boxes = np.full((n, 4), np.nan)
    latency = np.full(n, np.nan)
    has_masks = seq.mask_paths is not None
    j = np.full(n, np.nan) if has_masks else None
    j_box = np.full(n, np.nan) if has_masks else None
    any_mask = False
    held = 0
    init_latency = float("nan")
    start = first_valid_frame(gt)
    name = getattr(factory, "name", "tracker")
    if start is not None:
        tracker = factory()
        name = getattr(tracker, "name", name)
        with _frames(seq, n - start, f"ope {name} {seq.name}", progress) as bar:
            frame = seq.frame(start)
            t0 = time.perf_counter()
            tracker.init(frame, gt[start].copy())
            init_latency = time.perf_counter() - t0
            boxes[start] = gt[start]
            bar.update(1)
            for i in range(start + 1, n):
                frame = seq.frame(i)
                pred, latency[i] = _timed_update(tracker, frame)
                boxes[i] = _check_prediction(pred, name)
                held += bool(pred.held)
                if has_masks:
                    gt_mask = seq.mask(i)
                    if gt_mask is not None:
                        j_box[i] = metrics.region_similarity(fill_box_mask(boxes[i], gt_mask.shape), gt_mask)
                        if pred.mask is not None:
                            any_mask = True
                            j[i] = metrics.region_similarity(np.asarray(pred.mask, dtype=bool), gt_mask)
                bar.update(1)
    return OPERecord(tracker=name, sequence=seq.name, boxes=boxes, gt=gt, init_frame=start, latency_s=latency,
                     init_latency_s=init_latency, held_frames=held, j=j if any_mask else None, j_box=j_box)


def _gt_region(seq: Sequence, gt: np.ndarray, i: int) -> np.ndarray:
    if seq.polygons is not None:
        polygon = np.asarray(seq.polygons[i], dtype=np.float64)
        if polygon.shape == (8,) and np.all(np.isfinite(polygon)):
            return polygon
    return gt[i]


def run_vot(factory: Callable[[], EvalTracker], seq: Sequence, skip: int = 5, burn_in: int = 10, *,
            max_frames: int | None = None, progress: bool = False) -> VOTRecord:
    """Supervised run with re-initialisation ``skip`` frames after each failure (see the module docstring);
    ``burn_in`` is kept in the record for the accuracy (frames after each init excluded)."""
    if skip < 1:
        raise ValueError(f"skip must be >= 1, got {skip}")
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}")
    n = _length(seq, max_frames)
    gt = np.asarray(seq.boxes[:n], dtype=np.float64).reshape(n, 4)
    valid = valid_boxes(gt)
    if not valid.any():
        raise ValueError(f"sequence {seq.name!r}: no frame with ground truth (in the first {n} frames)")
    overlaps = np.full(n, np.nan)
    boxes = np.full((n, 4), np.nan)
    latency = np.full(n, np.nan)
    inits: list[int] = []
    failures: list[int] = []
    init_latency: list[float] = []
    held = 0
    name = getattr(factory, "name", "tracker")
    with _frames(seq, n, f"vot {name} {seq.name}", progress) as bar:

        def advance(to: int) -> None:
            if to > bar.n:
                bar.update(to - bar.n)

        i = first_valid_frame(gt)
        while i is not None:
            advance(i)
            tracker = factory()
            name = getattr(tracker, "name", name)
            t0 = time.perf_counter()
            tracker.init(seq.frame(i), gt[i].copy())
            init_latency.append(time.perf_counter() - t0)
            inits.append(i)
            boxes[i] = gt[i]
            advance(i + 1)
            restart = None
            for k in range(i + 1, n):
                frame = seq.frame(k)
                pred, latency[k] = _timed_update(tracker, frame)
                boxes[k] = _check_prediction(pred, name)
                held += bool(pred.held)
                advance(k + 1)
                if not valid[k]:
                    continue
                region = pred.polygon if pred.polygon is not None else boxes[k]
                overlaps[k] = float(metrics.region_overlap(np.asarray(region, dtype=np.float64),
                                                           _gt_region(seq, gt, k),
                                                           bound=(frame.shape[1], frame.shape[0])))
                if overlaps[k] <= 0.0:
                    overlaps[k] = 0.0
                    failures.append(k)
                    restart = k + skip
                    break
            i = None if restart is None or restart >= n else first_valid_frame(gt, restart)
        advance(n)
    return VOTRecord(tracker=name, sequence=seq.name, run=_vot_run(overlaps, inits, failures, n), boxes=boxes,
                     latency_s=latency, init_latency_s=tuple(init_latency), held_frames=held, skip=skip,
                     burn_in=burn_in)


def sequence_events(seq: Sequence) -> tuple[tuple[int, int, int], ...]:
    """(exit, out, back) of the events listed in the sequence folder's longterm.json; () for an ordinary
    sequence."""
    return tuple(read_events(sequence_folder(seq.frame_paths)))


def has_absent_frames(seq: Sequence, max_frames: int | None = None) -> bool:
    """Whether a frame after the first one with ground truth has none (the long-term protocol's sequences)."""
    gt = np.asarray(seq.boxes[:_length(seq, max_frames)], dtype=np.float64)
    start = first_valid_frame(gt)
    return start is not None and not valid_boxes(gt[start + 1:]).all()


def run_longterm(factory: Callable[[], EvalTracker], seq: Sequence, *,
                 events: Seq[tuple[int, int, int]] | None = None, max_frames: int | None = None,
                 progress: bool = False) -> LongTermRecord:
    """One pass of a fresh tracker with its confidence per frame (see the module docstring); ``events`` default:
    `sequence_events`."""
    n = _length(seq, max_frames)
    gt = np.asarray(seq.boxes[:n], dtype=np.float64).reshape(n, 4)
    boxes = np.full((n, 4), np.nan)
    confidence = np.full(n, np.nan)
    held = np.zeros(n, dtype=bool)
    latency = np.full(n, np.nan)
    init_latency = float("nan")
    start = first_valid_frame(gt)
    name = getattr(factory, "name", "tracker")
    if start is not None:
        tracker = factory()
        name = getattr(tracker, "name", name)
        with _frames(seq, n - start, f"longterm {name} {seq.name}", progress) as bar:
            t0 = time.perf_counter()
            tracker.init(seq.frame(start), gt[start].copy())
            init_latency = time.perf_counter() - t0
            boxes[start] = gt[start]
            bar.update(1)
            for i in range(start + 1, n):
                pred, latency[i] = _timed_update(tracker, seq.frame(i))
                boxes[i] = _check_prediction(pred, name)
                held[i] = bool(pred.held)
                value = getattr(pred, "confidence", None)
                confidence[i] = (0.0 if held[i] else 1.0) if value is None else float(value)
                bar.update(1)
    listed = sequence_events(seq) if events is None else tuple((int(x), int(o), int(b)) for x, o, b in events)
    return LongTermRecord(tracker=name, sequence=seq.name, boxes=boxes, gt=gt, init_frame=start,
                          confidence=confidence, held=held, latency_s=latency, init_latency_s=init_latency,
                          events=listed)


# ---------------------------------------------------------------- caching and the whole evaluation


@dataclass(frozen=True)
class EvalOptions:
    """Protocols to run and their parameters."""

    protocols: tuple[str, ...] = PROTOCOLS  # any of ALL_PROTOCOLS
    skip: int = 5
    burn_in: int = 10
    max_frames: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [p for p in self.protocols if p not in ALL_PROTOCOLS]
        if unknown or not self.protocols:
            raise ValueError(f"protocols must be a non-empty subset of {ALL_PROTOCOLS}, got {self.protocols}")
        if self.skip < 1 or self.burn_in < 0:
            raise ValueError(f"skip must be >= 1 and burn_in >= 0, got {self.skip}, {self.burn_in}")
        if self.max_frames is not None and self.max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {self.max_frames}")


def run_key(factory: TrackerFactory, seq: Sequence, protocol: str, options: EvalOptions) -> dict[str, Any]:
    """Everything that determines one run's result."""
    n = _length(seq, options.max_frames)
    gt = np.ascontiguousarray(np.asarray(seq.boxes[:n], dtype=np.float64))
    params: dict[str, Any] = {"max_frames": options.max_frames, "seed": options.seed}
    if protocol == "vot":
        params.update(skip=options.skip, burn_in=options.burn_in,
                      polygons=seq.polygons is not None)
    if protocol == "longterm":
        params.update(events=[list(e) for e in sequence_events(seq)])
    return {"format": FORMAT_VERSION, "tracker": factory.spec, "tracker_options": dict(factory.options),
            "sequence": seq.name, "frames": n, "gt_sha256": hashlib.sha256(gt.tobytes()).hexdigest(),
            "masks": seq.mask_paths is not None, "protocol": protocol, "params": params}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


def record_path(runs_dir: Path, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(runs_dir) / _slug(key["tracker"]) / _slug(key["sequence"]) / f"{key['protocol']}-{digest}.json"


def save_record(path: Path, key: dict[str, Any], record: OPERecord | VOTRecord | LongTermRecord) -> None:
    """Write atomically (a partial file never looks like a finished run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"key": key, "record": record.to_json()}, default=str), encoding="utf-8")
    tmp.replace(path)


def load_record(path: Path, key: dict[str, Any] | None = None) -> OPERecord | VOTRecord | LongTermRecord | None:
    """The saved record, or None when absent, unreadable or saved under another key."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if key is not None and data.get("key") != json.loads(json.dumps(key, default=str)):
        return None
    record = data.get("record", {})
    kinds = {"ope": OPERecord, "longterm": LongTermRecord}
    try:
        return kinds.get(record.get("protocol"), VOTRecord).from_json(record)
    except (KeyError, TypeError, ValueError):
        return None


def run_cached(factory: TrackerFactory, seq: Sequence, protocol: str, runs_dir: Path, options: EvalOptions,
               resume: bool = True, progress: bool = False) -> tuple[OPERecord | VOTRecord | LongTermRecord, bool]:
    """The record of one run and whether it came from the cache (the tracker is not called then)."""
    key = run_key(factory, seq, protocol, options)
    path = record_path(runs_dir, key)
    if resume:
        cached = load_record(path, key)
        if cached is not None:
            return cached, True
    seed_everything(options.seed)
    if protocol == "ope":
        record: OPERecord | VOTRecord | LongTermRecord = run_ope(factory, seq, max_frames=options.max_frames,
                                                                  progress=progress)
    elif protocol == "longterm":
        record = run_longterm(factory, seq, events=key["params"]["events"], max_frames=options.max_frames,
                              progress=progress)
    else:
        record = run_vot(factory, seq, options.skip, options.burn_in, max_frames=options.max_frames,
                         progress=progress)
    save_record(path, key, record)
    return record, False


@dataclass
class EvalResults:
    """Records by protocol, tracker spec and sequence name, in run order (longterm: only the sequences with an
    absent frame)."""

    trackers: list[str]
    sequences: list[str]
    options: EvalOptions
    ope: dict[str, dict[str, OPERecord]] = field(default_factory=dict)
    vot: dict[str, dict[str, VOTRecord]] = field(default_factory=dict)
    longterm: dict[str, dict[str, LongTermRecord]] = field(default_factory=dict)
    cached: int = 0
    ran: int = 0


def evaluate(factories: Iterable[TrackerFactory], sequences: Seq[Sequence], out_dir: Path,
             options: EvalOptions = EvalOptions(), resume: bool = True, progress: bool = True) -> EvalResults:
    """Every tracker on every sequence in every protocol (longterm: the sequences with an absent frame); records
    saved under OUT/runs/ and reused when present."""
    from tqdm import tqdm

    factories = list(factories)
    names = [f.spec for f in factories]
    if len(set(names)) != len(names):
        raise ValueError(f"tracker specs repeat: {names}")
    seq_names = [s.name for s in sequences]
    if len(set(seq_names)) != len(seq_names):
        raise ValueError(f"sequence names repeat: {seq_names}")
    results = EvalResults(trackers=names, sequences=seq_names, options=options)
    runs_dir = Path(out_dir) / "runs"
    for factory in factories:
        jobs = [(seq, protocol) for seq in sequences for protocol in options.protocols
                if protocol != "longterm" or has_absent_frames(seq, options.max_frames)]
        with tqdm(jobs, desc=factory.spec, unit="run", disable=not progress) as bar:
            for seq, protocol in bar:
                bar.set_postfix_str(f"{seq.name} {protocol}")
                record, cached = run_cached(factory, seq, protocol, runs_dir, options, resume, progress)
                getattr(results, protocol).setdefault(factory.spec, {})[seq.name] = record
                results.cached += cached
                results.ran += not cached
    return results

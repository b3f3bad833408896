"""Long-term sequences from ordinary ones: a virtual camera (a crop window) that follows the target, pans away
until the target is out of view, stays away, and pans back. Pure logic; tools/data/make_longterm.py reads the
source frames and writes the crops.

The camera (lengths in source pixels; window positions are integer top-left corners, the window always inside
the frame, so a crop never needs padding):

* Window: fixed size per sequence, a fraction of the frame's width and height (rounded): of ``window_fracs``
  (0.6, 0.5, 0.4) the one with which the most events are planned, the larger on ties (a window inside the frame
  can only leave a target that lies in a band along the frame's edges, so a smaller window leaves more targets).
* Follow: each frame the window's top-left moves ``follow_rate`` of the way to where it puts the target centre at
  the window centre plus an offset (0 at the start; after a return the target's offset then, shrinking by
  ``offset_decay`` a frame), then as little as needed to hold the whole target box with a gap of ``margin`` of the
  window side (when it fits), then into the frame. On frames without ground truth the window stays still.
* Event: after ``first_event`` (then ``gap``) frames of following, drawn per event, an event is tried: an axis and a
  direction in which the window can leave the target (drawn among those that fit the frame), a pan speed
  ``speed_ratio`` x ``pan_speed`` x the window side per frame (rounded down, >= 1 px; each axis at most the speed
  along it; longterm.json's ``pan_speed_px`` is the bound), a stay of ``stay`` frames (15-90; at most what the
  frames left allow) and the third of the window (along the pan axis) in which the target will sit at the end of
  the return, drawn among the thirds other than the one it sat in at the first frame (and reachable inside the
  frame). The window pans along the axis until the target is outside it with a gap of ``margin``, stays away
  (moving only to keep that gap should the target come near), then pans back to the position that puts the
  target centre in the middle of the drawn third (moved inward as far as needed to show the whole box; other
  axis: centred), and following resumes from there. The stay is fitted so that exactly the drawn number of frames
  are absent when the target's motion allows. The event is kept only when every check holds: ground truth on
  every frame from ``before`` frames before the target is out to ``after`` frames after it is back; the target
  wholly outside the window on one run of ``stay`` (15-90) frames and never else; from its first fully visible
  frame back to the end of the return wholly inside; off the middle third of the window (pan axis) on that first
  frame back, and in the drawn third at the end. Otherwise the event is tried again ``retry`` frames later.
* Randomness: one ``random.Random`` per sequence and window, seeded with ``longterm:<seed>:<source name>``, and
  only its ``random()`` (a stream Python keeps across versions), so the output is identical on every run.

Absent frames: the target box (clipped to the frame) lies wholly outside the window (no area in common), or the
source's ground truth is NaN (an annotated absence or full occlusion; longterm.json lists those runs as
``occlusions``). Ground truth in window coordinates is the source box clipped to the frame and to the window;
NaN on absent frames; partly visible frames keep the clipped box.

Sources (`source_problem`): every frame the same size; at least ``min_present`` (150) frames with ground truth;
the window at least ``min_window_to_target`` (2.5) times the largest target width and height of the sequence; and
at least one event planned. The long-term sets take the validation and test splits of split.json separately.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "LONGTERM_FILE", "CameraPlan", "LongTermParams", "PanEvent", "box_visibility", "clip_boxes",
           "longterm_json", "plan_camera", "plan_longterm", "read_events", "sequence_folder", "source_problem",
           "third_of", "window_groundtruth"]

FORMAT = 1
LONGTERM_FILE = "longterm.json"
IN, PARTIAL, OUT = "in", "partial", "out"


@dataclass(frozen=True)
class LongTermParams:
    """The generator's rule (see the module docstring); written into every longterm.json."""

    window_fracs: tuple[float, ...] = (0.6, 0.5, 0.4)
    min_window_to_target: float = 2.5
    min_present: int = 150
    pan_speed: float = 0.04  # most window movement per frame in a pan, as a fraction of the window side
    speed_ratio: tuple[float, float] = (0.5, 1.0)
    follow_rate: float = 0.15
    offset_decay: float = 0.97
    margin: float = 0.05
    stay: tuple[int, int] = (15, 90)
    first_event: tuple[int, int] = (20, 60)
    gap: tuple[int, int] = (40, 120)
    before: int = 5
    after: int = 30
    retry: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.window_fracs or not all(0 < f < 1 for f in self.window_fracs):
            raise ValueError(f"window_fracs must be fractions in (0, 1), got {self.window_fracs}")
        if self.min_window_to_target < 1 or self.pan_speed <= 0:
            raise ValueError("need min_window_to_target >= 1 and pan_speed > 0")
        for name in ("speed_ratio", "stay", "first_event", "gap"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be 0 < low <= high, got {(lo, hi)}")
        if self.stay[0] < 1 or self.before < 1 or self.after < 1 or self.retry < 1:
            raise ValueError("stay, before, after and retry must be >= 1")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class PanEvent:
    """One camera event, frame indices of the sequence: the pan away starts at ``leave``; the target is wholly
    visible before ``exit``, partly visible from ``exit``, wholly outside the window on frames ``out`` ..
    ``enter`` - 1, partly visible from ``enter``, wholly visible from ``back``; the pan back ends at ``arrived``
    (following resumes on the next frame)."""

    axis: int  # 0: x, 1: y
    direction: int  # +1: the window moves toward larger coordinates
    speed_px: int
    leave: int
    exit: int
    out: int
    enter: int
    back: int
    arrived: int
    stay_drawn: int
    park_frames: int
    return_third: int
    back_third: int

    @property
    def absent_frames(self) -> int:
        return self.enter - self.out

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(axis="xy"[self.axis], absent_frames=self.absent_frames, between=[self.out, self.back - 1])
        return out


@dataclass(frozen=True, eq=False)
class CameraPlan:
    """Window fraction and size (w, h), per-frame integer top-left corners (N, 2), the events, the pan speed bound
    (x, y) and the third (x, y) of the window holding the target centre at the first frame."""

    window_frac: float
    size: tuple[int, int]
    windows: np.ndarray
    events: tuple[PanEvent, ...]
    speed_bound_px: tuple[int, int]
    start_third: tuple[int, int]


# ---------------------------------------------------------------- geometry


def clip_boxes(boxes: np.ndarray, frame_wh: tuple[int, int]) -> np.ndarray:
    """(N,4) xywh boxes intersected with the frame [0, W] x [0, H]; NaN rows where nothing is inside (or NaN)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = frame_wh
    x0, y0 = np.maximum(b[:, 0], 0.0), np.maximum(b[:, 1], 0.0)
    x1, y1 = np.minimum(b[:, 0] + b[:, 2], width), np.minimum(b[:, 1] + b[:, 3], height)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    with np.errstate(invalid="ignore"):
        empty = ~((x1 > x0) & (y1 > y0))
    out[empty] = np.nan
    return out


def box_visibility(box: np.ndarray, corner: Sequence[float], size: Sequence[float]) -> str:
    """"in" (the box wholly inside the window), "partial" or "out" (no area in common, or a NaN box)."""
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return OUT
    wx, wy = float(corner[0]), float(corner[1])
    ww, wh = float(size[0]), float(size[1])
    if min(x + w, wx + ww) - max(x, wx) <= 0 or min(y + h, wy + wh) - max(y, wy) <= 0:
        return OUT
    if x >= wx and y >= wy and x + w <= wx + ww and y + h <= wy + wh:
        return IN
    return PARTIAL


def third_of(centre: float, start: float, side: float) -> int:
    """0, 1 or 2: the third of [start, start + side) holding ``centre`` (clamped)."""
    return int(min(2, max(0, math.floor(3.0 * (centre - start) / side))))


def window_groundtruth(boxes: np.ndarray, windows: np.ndarray, size: tuple[int, int],
                       frame_wh: tuple[int, int]) -> np.ndarray:
    """(N,4) boxes in window coordinates: clipped to the frame and the window, NaN where nothing is visible."""
    clipped = clip_boxes(boxes, frame_wh)
    corners = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    shifted = clipped.copy()
    shifted[:, :2] -= corners
    return clip_boxes(shifted, size)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


# ---------------------------------------------------------------- sources


def source_problem(boxes: np.ndarray, frame_wh: tuple[int, int], params: LongTermParams,
                   window_frac: float) -> str | None:
    """Why a source sequence cannot give a long-term sequence with this window (before planning), None when it
    can."""
    b = clip_boxes(boxes, frame_wh)
    valid = np.isfinite(b).all(axis=1)
    if int(valid.sum()) < params.min_present:
        return f"target present on {int(valid.sum())} frames (< {params.min_present})"
    size = _window_size(frame_wh, window_frac)
    largest = b[valid, 2:].max(axis=0)
    ratio = np.asarray(size, dtype=np.float64) / largest
    if (ratio < params.min_window_to_target).any():
        return (f"target up to {largest[0]:.0f}x{largest[1]:.0f} px: the {size[0]}x{size[1]} window is only "
                f"{ratio.min():.2f}x it (< {params.min_window_to_target})")
    return None


def _window_size(frame_wh: tuple[int, int], window_frac: float) -> tuple[int, int]:
    return int(round(window_frac * frame_wh[0])), int(round(window_frac * frame_wh[1]))


# ---------------------------------------------------------------- the camera


class _Draw:
    """Draws from ``random.Random(key).random()`` only (a stream Python keeps across versions)."""

    def __init__(self, key: str) -> None:
        self._rng = random.Random(key)

    def integer(self, lo: int, hi: int) -> int:
        """Uniform in lo .. hi inclusive."""
        return min(hi, lo + int(self._rng.random() * (hi - lo + 1)))

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self._rng.random()

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.integer(0, len(options) - 1)]


@dataclass
class _Camera:
    boxes: np.ndarray  # clipped to the frame
    frame_wh: tuple[int, int]
    size: tuple[int, int]
    params: LongTermParams
    valid: np.ndarray = field(init=False)
    limit: np.ndarray = field(init=False)  # largest top-left corner per axis

    def __post_init__(self) -> None:
        self.valid = np.isfinite(self.boxes).all(axis=1)
        self.limit = np.array([self.frame_wh[0] - self.size[0], self.frame_wh[1] - self.size[1]], dtype=np.float64)

    @property
    def sides(self) -> np.ndarray:
        return np.asarray(self.size, dtype=np.float64)

    def margin(self, axis: int) -> float:
        return self.params.margin * self.size[axis]

    def clamp(self, corner: np.ndarray) -> np.ndarray:
        return np.clip(corner, 0.0, self.limit)

    def follow(self, corner: np.ndarray, i: int, offset: np.ndarray) -> np.ndarray:
        """The window of frame i while following (the previous frame's window ``corner``)."""
        if not self.valid[i]:
            return corner.copy()
        box = self.boxes[i]
        goal = _centre(box) + offset - self.sides / 2.0
        moved = corner + self.params.follow_rate * (goal - corner)
        for axis in (0, 1):
            lo, hi = box[axis], box[axis] + box[axis + 2]
            gap = min(self.margin(axis), max(0.0, (self.size[axis] - (hi - lo)) / 2.0))
            low_corner, high_corner = hi + gap - self.size[axis], lo - gap
            if low_corner <= high_corner:
                moved[axis] = min(max(moved[axis], math.ceil(low_corner)), math.floor(high_corner))
        return np.round(self.clamp(moved))

    def directions(self, i: int) -> list[tuple[int, int]]:
        """(axis, direction) in which a window inside the frame can be wholly clear of the target of frame i."""
        box, out = self.boxes[i], []
        for axis in (0, 1):
            m = self.margin(axis)
            if box[axis] + box[axis + 2] + m <= self.limit[axis]:
                out.append((axis, +1))
            if box[axis] - m - self.size[axis] >= 0:
                out.append((axis, -1))
        return out

    def visibility(self, i: int, corner: np.ndarray) -> str:
        return box_visibility(self.boxes[i], corner, self.size)


@dataclass(frozen=True)
class _Draft:
    corners: list[np.ndarray]  # frames leave .. arrived
    event: PanEvent


def _return_corner(cam: _Camera, box: np.ndarray, axis: int, third: int) -> np.ndarray:
    """The window corner that puts the box centre at the middle of ``third`` along ``axis`` (centred along the
    other), moved just enough to hold the whole box with the margin when it fits (not clamped to the frame)."""
    centre = _centre(box)
    corner = centre - cam.sides / 2.0
    side, half = cam.size[axis], box[axis + 2] / 2.0
    inset = min(half + cam.margin(axis), side / 2.0)
    corner[axis] = centre[axis] - min(max(side * (third + 0.5) / 3.0, inset), side - inset)
    return corner


def _thirds(cam: _Camera, box: np.ndarray, axis: int, excluded: int) -> list[int]:
    """The thirds other than ``excluded`` that a return could end in for this box (window inside the frame)."""
    out = []
    for third in (0, 1, 2):
        corner = _return_corner(cam, box, axis, third)[axis]
        if third != excluded and 0 <= corner <= cam.limit[axis] and third_of(
                _centre(box)[axis], corner, cam.size[axis]) == third:
            out.append(third)
    return out


def _simulate(cam: _Camera, start: int, corner: np.ndarray, axis: int, direction: int, speed: np.ndarray,
              park: int, third: int, stay_drawn: int) -> _Draft | None:
    """The windows of one event from frame ``start`` (the window of frame start - 1 is ``corner``), or None when
    the target does not leave, or the return does not end in the drawn third, before the sequence ends."""
    n = len(cam.boxes)
    corners: list[np.ndarray] = []
    i, pos = start, corner.copy()
    while True:  # pan away until the target is clear of the window by the margin
        if i >= n or not cam.valid[i]:
            return None
        pos = pos.copy()
        pos[axis] = cam.clamp(pos + direction * speed)[axis]
        corners.append(pos)
        box = cam.boxes[i]
        lo, hi = box[axis], box[axis] + box[axis + 2]
        gap = pos[axis] - hi if direction > 0 else lo - (pos[axis] + cam.size[axis])
        i += 1
        if gap >= cam.margin(axis):
            break
        if pos[axis] in (0.0, cam.limit[axis]):
            return None
    for _ in range(park):  # stay away; should the target come near, keep the gap (at most the pan speed)
        if i >= n or not cam.valid[i]:
            return None
        box = cam.boxes[i]
        m = cam.margin(axis)
        need = (box[axis] + box[axis + 2] + m if direction > 0 else box[axis] - m - cam.size[axis]) - pos[axis]
        if need * direction > 0:
            pos = pos.copy()
            pos[axis] = cam.clamp(pos + direction * np.minimum(abs(need), speed))[axis]
        corners.append(pos.copy())
        i += 1
    limit_frames = i + 4 * int(math.ceil(cam.frame_wh[axis] / speed[axis])) + 30
    while True:  # pan back to put the target centre in the drawn third
        if i >= min(n, limit_frames) or not cam.valid[i]:
            return None
        goal = np.round(cam.clamp(_return_corner(cam, cam.boxes[i], axis, third)))
        pos = pos + np.clip(goal - pos, -speed, speed)
        corners.append(pos)
        i += 1
        if np.array_equal(pos, goal):
            break
    leave = start
    states = [cam.visibility(leave + k, c) for k, c in enumerate(corners)]
    absent = [k for k, s in enumerate(states) if s == OUT]
    fully = [k for k, s in enumerate(states) if s == IN]
    if not absent or absent != list(range(absent[0], absent[-1] + 1)):
        return None
    back_k = next((k for k in fully if k > absent[-1]), None)
    if back_k is None or any(s != IN for s in states[back_k:]):
        return None
    out, enter, back, arrived = leave + absent[0], leave + absent[-1] + 1, leave + back_k, leave + len(corners) - 1
    exit_ = leave + next(k for k, s in enumerate(states) if s != IN)
    back_third = third_of(_centre(cam.boxes[back])[axis], corners[back_k][axis], cam.size[axis])
    end_third = third_of(_centre(cam.boxes[arrived])[axis], corners[-1][axis], cam.size[axis])
    if end_third != third:
        return None
    event = PanEvent(axis=axis, direction=direction, speed_px=int(speed[axis]), leave=leave, exit=exit_, out=out,
                     enter=enter,
                     back=back, arrived=arrived, stay_drawn=stay_drawn, park_frames=park, return_third=third,
                     back_third=back_third)
    return _Draft(corners=corners, event=event)


def _acceptable(cam: _Camera, draft: _Draft | None) -> bool:
    """The checks of the module docstring that the simulation itself does not make."""
    if draft is None:
        return False
    e, p = draft.event, cam.params
    first, last = e.out - p.before, e.back + p.after
    if first < 0 or last >= len(cam.boxes) or not cam.valid[first:last + 1].all():
        return False
    return p.stay[0] <= e.absent_frames <= p.stay[1] and e.back_third != 1


def _try_event(cam: _Camera, start: int, corner: np.ndarray, draw: _Draw, start_third: tuple[int, int]
               ) -> _Draft | None:
    """Draw one event at frame ``start`` and fit its stay to the drawn length; None when it cannot be kept."""
    options = cam.directions(start) if cam.valid[start] else []
    if not options:
        return None
    axis, direction = draw.choice(options)
    ratio = draw.uniform(*cam.params.speed_ratio)
    speed = np.maximum(1.0, np.floor(ratio * cam.params.pan_speed * cam.sides))
    # the longest stay that leaves room for both pans across the window and the frames after the return
    room = len(cam.boxes) - start - cam.params.after - 2 * int(math.ceil(cam.size[axis] / speed[axis]))
    stay = draw.integer(cam.params.stay[0], min(cam.params.stay[1], max(cam.params.stay[0], room)))
    thirds = _thirds(cam, cam.boxes[start], axis, start_third[axis])
    if not thirds:
        return None
    third = draw.choice(thirds)
    park, tried, best = 0, set(), None
    for _ in range(8):  # absent frames grow with the stay; a few corrections meet the drawn length
        tried.add(park)
        draft = _simulate(cam, start, corner, axis, direction, speed, park, third, stay)
        if draft is None:
            return best
        if _acceptable(cam, draft):
            best = draft
        missing = stay - draft.event.absent_frames
        if missing == 0 or max(0, park + missing) in tried:
            break
        park = max(0, park + missing)
    return best


def plan_camera(boxes: np.ndarray, frame_wh: tuple[int, int], params: LongTermParams, key: str,
                window_frac: float) -> CameraPlan:
    """The window of every frame and the events, for a source with these 0-based xywh boxes (NaN = absent).

    ``key`` (the source's name) and ``params.seed`` seed the draws."""
    clipped = clip_boxes(boxes, frame_wh)
    size = _window_size(frame_wh, window_frac)
    cam = _Camera(clipped, (int(frame_wh[0]), int(frame_wh[1])), size, params)
    n = len(clipped)
    windows = np.zeros((n, 2))
    draw = _Draw(f"longterm:{params.seed}:{key}")
    first = int(np.flatnonzero(cam.valid)[0]) if cam.valid.any() else 0
    corner = np.round(cam.clamp(_centre(clipped[first]) - cam.sides / 2.0)) if cam.valid.any() else np.round(
        cam.limit / 2.0)
    start_third = tuple(third_of(_centre(clipped[first])[a], corner[a], size[a]) for a in (0, 1)) \
        if cam.valid.any() else (1, 1)
    windows[: first + 1] = corner
    events: list[PanEvent] = []
    offset = np.zeros(2)
    next_try = first + draw.integer(*params.first_event)
    i = first + 1
    while i < n:
        if i >= next_try:
            draft = _try_event(cam, i, windows[i - 1], draw, start_third)
            if draft is not None:
                e = draft.event
                windows[e.leave:e.arrived + 1] = np.stack(draft.corners)
                events.append(e)
                offset = windows[e.arrived] + cam.sides / 2.0 - _centre(clipped[e.arrived])
                next_try = e.arrived + 1 + draw.integer(*params.gap)
                i = e.arrived + 1
                continue
            next_try = i + params.retry
        offset = offset * params.offset_decay
        windows[i] = cam.follow(windows[i - 1], i, offset)
        i += 1
    bound = tuple(int(max(1.0, math.floor(params.speed_ratio[1] * params.pan_speed * s))) for s in size)
    return CameraPlan(window_frac=window_frac, size=size, windows=windows.astype(np.int64), events=tuple(events),
                      speed_bound_px=bound, start_third=start_third)


def plan_longterm(boxes: np.ndarray, frame_wh: tuple[int, int], params: LongTermParams, key: str
                  ) -> tuple[CameraPlan | None, str]:
    """The plan of the window fraction (``params.window_fracs``) that gives the most events (the larger window on
    ties), or (None, why none gives an event)."""
    best: CameraPlan | None = None
    reasons = []
    for frac in params.window_fracs:
        problem = source_problem(boxes, frame_wh, params, frac)
        if problem is not None:
            reasons.append(f"window {frac:g}: {problem}")
            continue
        plan = plan_camera(boxes, frame_wh, params, key, frac)
        if not plan.events:
            reasons.append(f"window {frac:g}: no event could be planned")
        elif best is None or len(plan.events) > len(best.events):
            best = plan
    return (best, "") if best is not None else (None, "; ".join(reasons))


# ---------------------------------------------------------------- the longterm.json format


def longterm_json(name: str, source: str, split: str, frame_wh: tuple[int, int], plan: CameraPlan,
                  groundtruth: np.ndarray, source_boxes: np.ndarray, params: LongTermParams) -> dict[str, Any]:
    """The content of a long-term sequence's longterm.json (events, annotated absences, params, windows)."""
    from attsiammask_core.eval.longterm_metrics import absent_runs

    source_valid = np.isfinite(clip_boxes(source_boxes, frame_wh)).all(axis=1)
    occlusions = [{"kind": "annotated", "start": s, "end": e, "absent_frames": e - s}
                  for s, e in absent_runs(source_valid)]
    present = np.isfinite(np.asarray(groundtruth, dtype=np.float64)).all(axis=1)
    return {
        "format": FORMAT, "name": name, "source": source, "split": split, "frames": int(len(groundtruth)),
        "frame_size": [int(frame_wh[0]), int(frame_wh[1])], "window_size": list(plan.size),
        "params": {**params.to_json(), "window_frac": plan.window_frac, "pan_speed_px": list(plan.speed_bound_px),
                   "start_third": list(plan.start_third),
                   "rule": "attsiammask_core.eval.longterm_data (module docstring)"},
        "absent_frames": int(np.count_nonzero(~present)),
        "events": [{"kind": "pan", **e.to_json()} for e in plan.events],
        "occlusions": occlusions,
        "windows": [[int(x), int(y)] for x, y in plan.windows],
    }


def sequence_folder(frame_paths: Sequence[Path]) -> Path | None:
    """The sequence folder of a sequence's frames (the folder above img/, else the frames' folder)."""
    if not frame_paths:
        return None
    parent = Path(frame_paths[0]).parent
    return parent.parent if parent.name in ("img", "color", "JPEGImages") else parent


def read_events(folder: Path | None) -> list[tuple[int, int, int]]:
    """(exit, out, back) of every event in folder/longterm.json: the first frame the target is not wholly visible,
    the first it is wholly out of view, the first it is wholly back; [] without the file. ValueError naming the
    file when it is not a longterm.json of this format."""
    if folder is None or not (Path(folder) / LONGTERM_FILE).is_file():
        return []
    path = Path(folder) / LONGTERM_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"format must be {FORMAT}")
        return [(int(e.get("exit", e["out"])), int(e["out"]), int(e["back"])) for e in data.get("events", [])]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a long-term events file: {err}") from None

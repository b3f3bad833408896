"""Tracking metrics as pure functions: one-pass (OTB), supervised (VOT), masks (DAVIS J) and latency.

Box format is in every name: ``xywh`` = (x, y, w, h), top-left corner and size in 0-based pixels, with
continuous extents [x, x + w) (no "+1" pixel convention, as got10k's ``rect_iou``). Polygons are VOT
corner lists (x1, y1, ..., x4, y4) or (K, 2) arrays. Inputs are never modified; everything is float64.

Conventions (chosen to agree with the got10k toolkit, ``ExperimentOTB``/``ExperimentVOT``, and vot-toolkit):

* Success counts frames with IoU **strictly greater** than the threshold (got10k ``np.greater``), so at
  t = 0 a frame with no overlap is a miss and at t = 1 no frame succeeds; AUC = mean of the 21 values.
* Precision counts frames with centre error **less than or equal to** the threshold (got10k
  ``np.less_equal``); precision20 = the curve at 20 px.
* Frames whose ground truth is NaN (target absent) are excluded everywhere. A NaN prediction on a valid
  frame (tracker gave no box) has IoU 0 and centre error +inf: it is a miss at every threshold.
* OPE overall = mean of the per-sequence curves (every sequence weighs the same, as got10k/OTB).
* VOT: overlaps of init, failure and skipped frames are excluded from accuracy, as are the ``burn_in``
  frames starting at each (re)initialisation (frames init .. init + burn_in - 1, vot-toolkit's burnin).
* EAO: see :func:`expected_overlap_curve`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from attsiammask_core.stats import percentile

__all__ = [
    "SUCCESS_THRESHOLDS", "PRECISION_THRESHOLDS", "iou_xywh", "center_error_xywh", "polygon_iou",
    "box_xywh_to_polygon", "polygon_to_box_xywh", "region_overlap", "success_curve", "success_auc",
    "precision_curve", "precision_at", "OPEResult", "ope_sequence", "ope_overall", "VOTRun", "make_vot_run",
    "vot_accuracy", "vot_failures", "failures_per_100", "expected_overlap_curve", "eao", "region_similarity",
    "mean_j", "latency_stats", "percentile",
]

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
PRECISION_THRESHOLDS = np.arange(0, 51)


def _boxes(a: np.ndarray, what: str) -> np.ndarray:
    """(N,4) float64 copy-free view of boxes; a single (4,) box becomes (1,4)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what}: expected (N,4) xywh boxes, got shape {np.shape(a)}")
    return arr


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two box arrays of the same length."""
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    return p, g


def iou_xywh(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-row IoU of (N,4) xywh boxes; NaN where gt has a NaN, 0 where pred has one or the union is empty."""
    p, g = _pair(pred, gt)
    gt_valid = ~np.isnan(g).any(axis=1)
    pred_valid = ~np.isnan(p).any(axis=1)
    pw, ph = np.maximum(p[:, 2], 0.0), np.maximum(p[:, 3], 0.0)
    gw, gh = np.maximum(g[:, 2], 0.0), np.maximum(g[:, 3], 0.0)
    iw = np.minimum(p[:, 0] + pw, g[:, 0] + gw) - np.maximum(p[:, 0], g[:, 0])
    ih = np.minimum(p[:, 1] + ph, g[:, 1] + gh) - np.maximum(p[:, 1], g[:, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    union = pw * ph + gw * gh - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    iou = np.where(pred_valid, np.clip(iou, 0.0, 1.0), 0.0)
    return np.where(gt_valid, iou, np.nan)


def center_error_xywh(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-row Euclidean distance in pixels between xywh box centres; NaN where gt is NaN, +inf for a NaN pred."""
    p, g = _pair(pred, gt)
    d = (p[:, :2] + p[:, 2:] / 2.0) - (g[:, :2] + g[:, 2:] / 2.0)
    err = np.hypot(d[:, 0], d[:, 1])
    err = np.where(np.isnan(p).any(axis=1), np.inf, err)
    return np.where(np.isnan(g).any(axis=1), np.nan, err)


def box_xywh_to_polygon(box: np.ndarray) -> np.ndarray:
    """(4,) xywh box -> (4,2) corners clockwise in image coordinates from the top-left."""
    x, y, w, h = np.asarray(box, dtype=np.float64).reshape(4)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def polygon_to_box_xywh(polygons: np.ndarray) -> np.ndarray:
    """(N,8) or (N,K,2) polygons -> (N,4) axis-aligned xywh boxes (min/max of the corners); NaN rows stay NaN."""
    pts = np.asarray(polygons, dtype=np.float64)
    pts = pts.reshape(pts.shape[0], -1, 2)
    with np.errstate(invalid="ignore"):
        lo, hi = pts.min(axis=1), pts.max(axis=1)
    return np.concatenate([lo, hi - lo], axis=1)


def _as_points(region: np.ndarray, what: str) -> np.ndarray:
    """A box (4,) or polygon (8,) / (K,2) as (K,2) float64 points."""
    arr = np.asarray(region, dtype=np.float64)
    if arr.shape == (4,):
        return box_xywh_to_polygon(arr)
    if arr.ndim == 1 and arr.size >= 6 and arr.size % 2 == 0:
        return arr.reshape(-1, 2)
    if arr.ndim == 2 and arr.shape[1] == 2 and arr.shape[0] >= 3:
        return arr
    raise ValueError(f"{what}: expected a (4,) xywh box, a flat polygon (2K,) or (K,2) points, got {arr.shape}")


def polygon_iou(pred_poly: np.ndarray, gt_poly: np.ndarray) -> float:
    """IoU of two (K,2) polygons in pixels, taken as their convex hulls (cv2.intersectConvexConvex / contourArea).

    NaN when gt has a NaN coordinate; 0 when pred has one or the union area is 0.
    """
    p, g = _as_points(pred_poly, "pred_poly"), _as_points(gt_poly, "gt_poly")
    if np.isnan(g).any():
        return float("nan")
    if np.isnan(p).any():
        return 0.0
    hp = cv2.convexHull(p.astype(np.float32))
    hg = cv2.convexHull(g.astype(np.float32))
    area_p, area_g = abs(cv2.contourArea(hp)), abs(cv2.contourArea(hg))
    if area_p <= 0.0 or area_g <= 0.0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(hp, hg, handleNested=True)
    inter = max(float(inter), 0.0)
    union = area_p + area_g - inter
    return float(np.clip(inter / union, 0.0, 1.0)) if union > 0 else 0.0


def _clip_polygon_to_bound(points: np.ndarray, bound: tuple[float, float]) -> np.ndarray | None:
    """Intersection of a convex polygon with the image rectangle [0,W]x[0,H]; None when empty."""
    w, h = bound
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    area, inter = cv2.intersectConvexConvex(cv2.convexHull(points.astype(np.float32)), frame, handleNested=True)
    if inter is None or area <= 0:
        return None
    return inter.reshape(-1, 2).astype(np.float64)


def region_overlap(pred_polygon_or_box: np.ndarray, gt_box_or_polygon: np.ndarray,
                   bound: tuple[float, float] | None = None) -> float:
    """VOT overlap of one frame: pred and gt each a (4,) xywh box or a polygon ((8,) or (K,2)).

    ``bound`` = (width, height) clips both regions to the image first, as vot-toolkit and got10k do.
    NaN when gt has a NaN; 0 when pred has one.
    """
    p = _as_points(pred_polygon_or_box, "pred")
    g = _as_points(gt_box_or_polygon, "gt")
    if np.isnan(g).any():
        return float("nan")
    if np.isnan(p).any():
        return 0.0
    if bound is not None:
        g_clip = _clip_polygon_to_bound(g, bound)
        p_clip = _clip_polygon_to_bound(p, bound)
        if g_clip is None or p_clip is None:
            return 0.0
        p, g = p_clip, g_clip
    return polygon_iou(p, g)


def _valid(values: np.ndarray) -> np.ndarray:
    """1-D float64 values without NaN entries (frames without ground truth)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return v[~np.isnan(v)]


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of valid (non-NaN) frames with IoU **>** t for each threshold t (got10k/OTB); NaN if none valid."""
    v = _valid(ious)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return np.full(t.shape, np.nan)
    return np.mean(v[:, None] > t[None, :], axis=0)


def success_auc(curve: np.ndarray) -> float:
    """Area under the success curve as the mean of its values over the uniform thresholds (OTB convention)."""
    return float(np.mean(np.asarray(curve, dtype=np.float64)))


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of valid (non-NaN) frames with centre error **<=** t pixels for each t; NaN if none valid."""
    v = _valid(errors)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return np.full(t.shape, np.nan)
    return np.mean(v[:, None] <= t[None, :], axis=0)


def precision_at(errors: np.ndarray, px: float = 20.0) -> float:
    """Fraction of valid frames with centre error <= ``px`` pixels; NaN if no frame is valid."""
    return float(precision_curve(errors, np.array([px]))[0])


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy, so frozen results stay frozen."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class OPEResult:
    """One-pass result: AUC (mean success curve), precision at 20 px, curves over SUCCESS/PRECISION_THRESHOLDS."""

    auc: float
    precision20: float
    success: np.ndarray
    precision: np.ndarray
    frames: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "success", _readonly(self.success))
        object.__setattr__(self, "precision", _readonly(self.precision))


def ope_sequence(pred_boxes: np.ndarray, gt_boxes: np.ndarray, skip_first: bool = True) -> OPEResult:
    """OPE on one sequence of (N,4) xywh boxes; frames with NaN gt are excluded.

    ``skip_first=True`` drops the initialisation frame 0 (GOT-10k convention: its box is given, not tracked).
    ``skip_first=False`` counts frame 0 with the ground-truth box as prediction, exactly as got10k's
    ``ExperimentOTB.report`` (``boxes[0] = anno[0]``): use it to reproduce got10k/OTB numbers.
    """
    p, g = _pair(pred_boxes, gt_boxes)
    if skip_first:
        p, g = p[1:], g[1:]
    elif len(p):
        p = p.copy()
        p[0] = g[0]
    ious = iou_xywh(p, g)
    errors = center_error_xywh(p, g)
    succ = success_curve(ious)
    prec = precision_curve(errors)
    frames = int(np.count_nonzero(~np.isnan(ious)))
    return OPEResult(auc=success_auc(succ), precision20=float(prec[20]), success=succ, precision=prec,
                     frames=frames)


def ope_overall(results: Sequence[OPEResult]) -> OPEResult:
    """Mean of the per-sequence curves (each sequence weighs the same, OTB/got10k); AUC and precision20 from it.

    Sequences without a valid frame (``frames == 0``) are left out; ``frames`` is the sum over sequences.
    """
    used = [r for r in results if r.frames > 0]
    if not used:
        nan_s, nan_p = np.full(SUCCESS_THRESHOLDS.shape, np.nan), np.full(PRECISION_THRESHOLDS.shape, np.nan)
        return OPEResult(auc=float("nan"), precision20=float("nan"), success=nan_s, precision=nan_p, frames=0)
    succ = np.mean(np.stack([r.success for r in used]), axis=0)
    prec = np.mean(np.stack([r.precision for r in used]), axis=0)
    return OPEResult(auc=success_auc(succ), precision20=float(prec[20]), success=succ, precision=prec,
                     frames=int(sum(r.frames for r in used)))


@dataclass(frozen=True, eq=False)
class VOTRun:
    """Per-frame record of one supervised (VOT) run on a sequence of ``length`` frames.

    ``overlaps[i]``: overlap of frame i, NaN on init and skipped frames (and frames without gt); a failure
    frame has overlap 0. ``init_frames``: frames where the tracker was (re)initialised, ascending, the
    first one 0 normally; ``failure_frames``: frames with overlap 0, at most one between two inits.
    """

    overlaps: np.ndarray
    init_frames: tuple[int, ...]
    failure_frames: tuple[int, ...]
    length: int = field(default=-1)

    def __post_init__(self) -> None:
        ov = _readonly(np.asarray(self.overlaps, dtype=np.float64).reshape(-1))
        length = len(ov) if self.length == -1 else int(self.length)
        inits = tuple(int(i) for i in self.init_frames)
        fails = tuple(int(f) for f in self.failure_frames)
        if length != len(ov):
            raise ValueError(f"VOTRun: length {length} != number of overlaps {len(ov)}")
        if not inits:
            raise ValueError("VOTRun: at least one init frame is needed")
        if list(inits) != sorted(set(inits)) or list(fails) != sorted(set(fails)):
            raise ValueError(f"VOTRun: init {inits} and failure {fails} frames must be strictly ascending")
        if inits[0] < 0 or inits[-1] >= length or (fails and (fails[0] < 0 or fails[-1] >= length)):
            raise ValueError(f"VOTRun: frames outside 0..{length - 1}: inits {inits}, failures {fails}")
        bounds = list(inits[1:]) + [length]
        for k, start in enumerate(inits):
            inside = [f for f in fails if start < f < bounds[k]]
            if len(inside) > 1:
                raise ValueError(f"VOTRun: more than one failure {inside} after init {start}")
            if k + 1 < len(inits) and not inside:
                raise ValueError(f"VOTRun: re-init at {inits[k + 1]} without a failure after init {start}")
        if any(not any(s < f < b for s, b in zip(inits, bounds, strict=True)) for f in fails):
            raise ValueError(f"VOTRun: every failure must follow an init: inits {inits}, failures {fails}")
        object.__setattr__(self, "overlaps", ov)
        object.__setattr__(self, "init_frames", inits)
        object.__setattr__(self, "failure_frames", fails)
        object.__setattr__(self, "length", length)

    def segments(self) -> list[tuple[int, int, bool]]:
        """(init, end, failed) per initialisation: end = failure frame if failed, else the sequence length."""
        bounds = list(self.init_frames[1:]) + [self.length]
        out = []
        for start, bound in zip(self.init_frames, bounds, strict=True):
            fail = next((f for f in self.failure_frames if start < f < bound), None)
            out.append((start, fail, True) if fail is not None else (start, self.length, False))
        return out


def make_vot_run(overlaps: Iterable[float], init_frames: Iterable[int], failure_frames: Iterable[int]) -> VOTRun:
    """Build a validated VOTRun (length = number of overlaps)."""
    ov = np.asarray(list(overlaps), dtype=np.float64)
    return VOTRun(overlaps=ov, init_frames=tuple(init_frames), failure_frames=tuple(failure_frames),
                  length=len(ov))


def vot_accuracy(run: VOTRun, burn_in: int = 10) -> float:
    """Mean overlap over valid frames, excluding failure frames and frames init .. init+burn_in-1 of each init.

    NaN when no frame remains (vot-toolkit reports 0 with weight 0 there).
    """
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}")
    keep = ~np.isnan(run.overlaps)
    for start in run.init_frames:
        keep[start:start + max(burn_in, 1)] = False  # the init frame itself is never tracked
    keep[list(run.failure_frames)] = False
    return float(np.mean(run.overlaps[keep])) if keep.any() else float("nan")


def vot_failures(run: VOTRun) -> int:
    """Number of failures (frames where the overlap dropped to 0) in one run."""
    return len(run.failure_frames)


def failures_per_100(runs: Sequence[VOTRun]) -> float:
    """Failures per 100 frames: 100 * total failures / total sequence frames over the runs; NaN without frames."""
    frames = sum(r.length for r in runs)
    return 100.0 * sum(vot_failures(r) for r in runs) / frames if frames else float("nan")


def expected_overlap_curve(runs: Sequence[VOTRun], max_length: int) -> np.ndarray:
    """VOT2015+ expected-overlap curve, indexed by Ns: ``curve[Ns]`` for Ns = 0..max_length (curve[0] = NaN).

    Each init starts a segment; Phi_k is the overlap k frames after the init frame (the init frame itself
    is not scored, as vot-toolkit). A segment ending in a failure counts for every Ns with Phi_k = 0 from
    the failure on (zero padding); a segment reaching the sequence end without failure counts only for
    Ns <= its number of frames after the init. curve[Ns] = mean over counted segments of mean(Phi_1..Phi_Ns);
    NaN overlaps inside a segment (no gt) are left out of that segment's mean. NaN where no segment counts.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    segs_vals, segs_limit = [], []
    for run in runs:
        for start, end, failed in run.segments():
            vals = np.zeros(max_length)  # Phi_1..Phi_max_length; zero after a failure
            after = run.overlaps[start + 1:end][:max_length]
            vals[:len(after)] = after
            if not failed:
                vals[len(after):] = np.nan  # not observed
            segs_vals.append(vals)
            segs_limit.append(max_length if failed else end - start - 1)
    curve = np.full(max_length + 1, np.nan)
    if not segs_vals:
        return curve
    vals = np.stack(segs_vals)
    observed = ~np.isnan(vals)
    sums = np.cumsum(np.where(observed, vals, 0.0), axis=1)
    counts = np.cumsum(observed, axis=1)
    ns = np.arange(1, max_length + 1)
    counted = (ns[None, :] <= np.asarray(segs_limit)[:, None]) & (counts > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_means = np.where(counted, sums / np.maximum(counts, 1), 0.0)
        n = counted.sum(axis=0)
        curve[1:] = np.where(n > 0, seg_means.sum(axis=0) / np.maximum(n, 1), np.nan)
    return curve


def eao(runs: Sequence[VOTRun], low: int = 100, high: int = 356) -> float:
    """Expected average overlap: mean of ``expected_overlap_curve`` over Ns in [low, high] (inclusive).

    Ns where no segment counts (every run's sequence is shorter than Ns and did not fail) are skipped, so
    sequences shorter than the interval contribute through their failed segments and the Ns they reach;
    NaN if no Ns of the interval remains.
    """
    if not 1 <= low <= high:
        raise ValueError(f"need 1 <= low <= high, got low={low}, high={high}")
    curve = expected_overlap_curve(runs, high)[low:high + 1]
    curve = curve[~np.isnan(curve)]
    return float(np.mean(curve)) if curve.size else float("nan")


def region_similarity(pred_mask: np.ndarray, gt_mask: np.ndarray) -> float:
    """DAVIS J = |A and B| / |A or B| of two HxW masks (pixels > 0 are foreground); 1.0 when both are empty."""
    a, b = np.asarray(pred_mask) > 0, np.asarray(gt_mask) > 0
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: pred {a.shape}, gt {b.shape}")
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def mean_j(values: Iterable[float]) -> float:
    """Mean of per-frame J values, NaN entries ignored; NaN when none. (DAVIS' own tool drops first/last frame.)"""
    v = _valid(np.asarray(list(values), dtype=np.float64))
    return float(np.mean(v)) if v.size else float("nan")


def latency_stats(seconds: Iterable[float]) -> dict[str, float | int]:
    """Per-frame latency summary: median_ms, p95_ms (linear interpolation), fps = 1000 / mean ms, frames.

    NaN entries (untimed frames) are ignored; NaN statistics when no frame is left.
    """
    ms = _valid(np.asarray(list(seconds), dtype=np.float64)) * 1000.0
    if ms.size == 0:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "fps": float("nan"), "frames": 0}
    mean = float(np.mean(ms))
    return {"median_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "fps": 1000.0 / mean if mean > 0 else float("inf"), "frames": int(ms.size)}

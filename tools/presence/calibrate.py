#!/usr/bin/env python3
"""Calibrate the presence verifier of one variant and choose its loss thresholds, on train/validation data only.

1. collect: run the tracker (verifier features on, never lost) over long-term sequences made from the train and
   validation splits (tools/data/make_longterm.py, any seeds) and the short-term validation sequences; per frame
   the presence features (attsiammask_core.presence.FEATURE_NAMES) and the label "the box holds the target"
   (IoU with the ground truth >= --label-iou; 0 where the target is absent).
2. fit: logistic regression (scipy's L-BFGS on the L2-regularised log-loss), sequences weighted equally.
3. select: on the long-term validation set(s), every (lost_threshold, recover_threshold, lost_frames) of a small
   grid with the fitted weights, ranked by F with the constraint that at most --max-absent of the absent frames get
   a detection; the chosen values and the weights go to attsiammask_core/weights/presence.json (--write).

Usage: python tools/presence/calibrate.py --variant lite --collect data/longterm/train data/longterm/validation
       data/longterm_calib/seed1/train ... --select data/longterm/validation --write
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from attsiammask_core.eval.longterm_metrics import LongTermSettings  # noqa: E402
from attsiammask_core.eval.longterm_report import summarize_longterm  # noqa: E402
from attsiammask_core.eval.metrics import iou_xywh, success_auc, success_curve  # noqa: E402
from attsiammask_core.eval.runner import run_longterm, run_ope  # noqa: E402
from attsiammask_core.eval.sequences import discover, load_split  # noqa: E402
from attsiammask_core.eval.trackers import OursTracker  # noqa: E402
from attsiammask_core.presence import CALIBRATION_FILE, FEATURE_NAMES, shipped_calibrations  # noqa: E402
from attsiammask_core.tracker import Tracker  # noqa: E402

# Collection only: a provisional presence (from the score alone) that fills the appearance memory as tracking would.
PROVISIONAL = (-4.0, 1.0) + (0.0,) * (len(FEATURE_NAMES) - 1)  # p = sigmoid(logit(score) - 4): 0.5 at 0.982
GRID = {"lost_threshold": (0.4, 0.5), "recover_threshold": (0.6,), "lost_frames": (1,), "recover_frames": (2,)}


def _tracker(variant: str, model: object, base: Tracker, **overrides: object) -> Tracker:
    return Tracker(model, config=dataclasses.replace(base.config, **overrides), attention=base.attention_config)


def _sequences(folders: list[Path], short_term: Path | None, splits: list[str]) -> list:
    """The long-term folders' sequences, then the short-term sequences of ``splits`` (never test) in ``short_term``."""
    sequences = [seq for folder in folders for seq in discover(folder)]
    for split in splits:
        if split == "test":
            raise ValueError("calibration reads train/validation data only")
        sequences += discover(short_term, load_split(split))
    return sequences


def collect(variant: str, sequences: list, label_iou: float) -> dict[str, np.ndarray]:
    """Features and labels per frame; the appearance memory is filled with the shipped calibration of the variant
    when there is one (a second pass), else with PROVISIONAL."""
    base = Tracker.create(variant=variant, backend="onnxruntime", threads=1)
    shipped = shipped_calibrations().get(variant)
    weights = tuple(shipped["presence_weights"]) if shipped else PROVISIONAL
    print(f"collecting with {'the shipped calibration' if shipped else 'the provisional presence'}", flush=True)
    features, labels, groups = [], [], []
    for group, seq in enumerate(sequences):
        tracker = _tracker(variant, base.model, base, presence="verifier", presence_weights=weights,
                           lost_threshold=0.0, recover_threshold=0.0)
        gt = np.asarray(seq.boxes, dtype=np.float64).reshape(-1, 4)
        start = next((i for i, b in enumerate(gt) if np.all(np.isfinite(b)) and b[2] > 0 and b[3] > 0), None)
        if start is None:
            continue
        tracker.init(seq.frame(start), gt[start])
        for i in range(start + 1, len(gt)):
            result = tracker.track(seq.frame(i))
            present = bool(np.all(np.isfinite(gt[i])) and gt[i][2] > 0 and gt[i][3] > 0)
            overlap = float(iou_xywh(np.asarray(result.box)[None], gt[i][None])[0]) if present else 0.0
            features.append(tracker.last_presence_features.copy())
            labels.append(overlap >= label_iou)
            groups.append(group)
        print(f"  {seq.name}: {len(gt) - start - 1} frames", flush=True)
    return {"x": np.array(features), "y": np.array(labels, dtype=np.float64), "group": np.array(groups)}


def fit(x: np.ndarray, y: np.ndarray, group: np.ndarray, l2: float = 1e-3) -> tuple[float, np.ndarray]:
    """(bias, weights) of the logistic model on the raw features (fitted on standardised ones, L2 there); each
    sequence weighs the same."""
    from scipy.optimize import minimize

    counts = np.bincount(group)
    sample = 1.0 / counts[group]
    sample /= sample.sum()
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / std])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ theta
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        value = -np.sum(sample * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))) + l2 * theta[1:] @ theta[1:]
        grad = design.T @ (sample * (p - y)) + 2 * l2 * np.concatenate([[0.0], theta[1:]])
        return value, grad

    theta = minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B").x
    weights = theta[1:] / std
    return float(theta[0] - weights @ mean), weights


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    pos = label > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / max(1, n_pos * n_neg))


def evaluate(variant: str, base: Tracker, folder: Path, **overrides: object) -> dict:
    sequences = discover(folder)
    settings = LongTermSettings()

    def factory() -> OursTracker:
        return OursTracker(variant, _tracker(variant, base.model, base, **overrides))

    records = {seq.name: run_longterm(factory, seq) for seq in sequences}
    overall, _ = summarize_longterm(records, [seq.name for seq in sequences], settings)
    return overall


def ope_auc(variant: str, base: Tracker, sequences: list, **overrides: object) -> float:
    """Mean success AUC of one pass over short-term sequences (the same measure for every setting compared)."""
    def factory() -> OursTracker:
        return OursTracker(variant, _tracker(variant, base.model, base, **overrides))

    aucs = []
    for seq in sequences:
        record = run_ope(factory, seq)
        start = record.init_frame
        if start is None:
            continue
        ious = iou_xywh(record.boxes[start + 1:], record.gt[start + 1:])
        aucs.append(success_auc(success_curve(ious[np.isfinite(ious)])))
    return float(np.mean(aucs))


def grid_with(grid: dict[str, tuple], changes: list[str]) -> dict[str, tuple]:
    """``grid`` with the axes named in ``changes`` ("KEY=V1,V2") replaced; ValueError on an unknown key or value."""
    grid = dict(grid)
    for change in changes:
        key, _, values = change.partition("=")
        if key not in grid or not values:
            raise ValueError(f"--grid {change!r}: KEY=V1,V2 with KEY one of {', '.join(grid)}")
        kind = type(grid[key][0])  # int for the frame counts, float for the thresholds
        try:
            grid[key] = tuple(kind(v) for v in values.split(","))
        except ValueError:
            raise ValueError(f"--grid {change!r}: {kind.__name__} values expected") from None
    return grid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="lite")
    parser.add_argument("--collect", type=Path, nargs="+", required=True, help="sequence folders (train/validation)")
    parser.add_argument("--select", type=Path, nargs="+", required=True, help="long-term validation folder(s)")
    parser.add_argument("--short-term", type=Path, default=REPO_ROOT / "data" / "sequences",
                        help="folder of the short-term sequences (default data/sequences)")
    parser.add_argument("--short-term-splits", nargs="*", default=[], choices=("train", "validation"),
                        help="also collect on these splits' short-term sequences (natural drift and occlusion)")
    parser.add_argument("--short-term-check", action="store_true",
                        help="also require OPE AUC on the short-term validation split within 0.005 of the score-only "
                             "tracker (same weights)")
    parser.add_argument("--label-iou", type=float, default=0.3)
    parser.add_argument("--max-absent", type=float, default=0.05, help="largest share of absent frames detected")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "outputs" / "presence")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help=f"replace one axis of the threshold grid (keys: {', '.join(GRID)}; default "
                             + ", ".join(f"{k}={','.join(map(str, v))}" for k, v in GRID.items()) + ")")
    parser.add_argument("--write", action="store_true", help=f"write the result into {CALIBRATION_FILE}")
    args = parser.parse_args(argv)
    try:
        grid = grid_with(GRID, args.grid)
    except ValueError as err:
        parser.error(str(err))
    for folder in [*args.collect, *args.select]:
        text = str(folder)
        if "/test" in text or text.endswith("test"):
            parser.error(f"{folder}: calibration reads train/validation data only")
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = args.cache / f"{args.variant}-features.npz"
    t0 = time.perf_counter()
    if cache.is_file():
        data = dict(np.load(cache))
    else:
        data = collect(args.variant, _sequences(args.collect, args.short_term, args.short_term_splits), args.label_iou)
        np.savez(cache, **data)
    print(f"\nfeatures: {len(data['y'])} frames, {int(data['y'].sum())} positive ({time.perf_counter() - t0:.0f} s)")
    bias, weights = fit(data["x"], data["y"], data["group"])
    prob = 1 / (1 + np.exp(-(bias + data["x"] @ weights)))
    print(f"fit: bias {bias:.3f} weights "
          + ", ".join(f"{n} {w:.3f}" for n, w in zip(FEATURE_NAMES, weights, strict=True)))
    print(f"ROC AUC on the collected frames: verifier {roc_auc(prob, data['y']):.3f}, raw score "
          f"{roc_auc(data['x'][:, 0], data['y']):.3f}")
    base = Tracker.create(variant=args.variant, backend="onnxruntime", threads=1)
    values = (bias, *(float(w) for w in weights))
    short_term = discover(args.short_term, load_split("validation")) if args.short_term_check else []
    floor = ope_auc(args.variant, base, short_term, presence="score") - 0.005 if short_term else -1.0
    if short_term:
        print(f"short-term validation OPE AUC, score only: {floor + 0.005:.3f}", flush=True)
    rows = []
    for lost, recover, frames, confirm in itertools.product(*grid.values()):
        if recover < lost:
            continue
        results = [evaluate(args.variant, base, folder, presence="verifier", presence_weights=values,
                            lost_threshold=lost, recover_threshold=recover, lost_frames=frames,
                            recover_frames=confirm)
                   for folder in args.select]
        f = float(np.mean([r["f"] for r in results]))
        share = float(np.mean([r["absent_detection_share"] or 0.0 for r in results]))
        reacq = float(np.mean([r["reacquisition_rate_tracked_before"] or 0.0 for r in results]))
        auc = ope_auc(args.variant, base, short_term, presence="verifier", presence_weights=values,
                      lost_threshold=lost, recover_threshold=recover, lost_frames=frames,
                      recover_frames=confirm) if short_term else 0.0
        rows.append((share <= args.max_absent and auc >= floor, f + reacq, f, reacq, share, lost, recover, frames,
                     confirm))
        print(f"  lost {lost} recover {recover} frames {frames} recover_frames {confirm}: F {f:.3f} re-acq "
              f"{reacq:.2f} absent-det {share:.3f}"
              + (f" short-term OPE AUC {auc:.3f}" if short_term else ""), flush=True)
    best = max(rows)
    _, _, f, reacq, share, lost, recover, frames, confirm = best
    print(f"chosen: lost_threshold {lost} recover_threshold {recover} lost_frames {frames} recover_frames {confirm} "
          f"(F {f:.3f}, re-acq "
          f"{reacq:.2f}, absent frames detected {share:.3f})")
    if args.write:
        document = json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.is_file() else {"variants": {}}
        document["features"] = list(FEATURE_NAMES)
        document["variants"][args.variant] = {
            "presence_weights": [round(v, 6) for v in values], "lost_threshold": lost, "recover_threshold": recover,
            "lost_frames": frames, "recover_frames": confirm, "label_iou": args.label_iou,
            "frames": int(len(data["y"])),
            "collected_on": [str(p) for p in args.collect] + [f"{args.short_term} ({split} split)"
                                                               for split in args.short_term_splits],
            "selected_on": [str(p) for p in args.select],
            "validation": {"f": round(f, 4), "reacquired_rate_tracked": round(reacq, 4),
                           "absent_detection_share": round(share, 4)},
            "date": datetime.date.today().isoformat()}
        CALIBRATION_FILE.write_text(json.dumps(document, indent=1) + "\n")
        print(f"written: {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The most that presence and re-acquisition can add to one model's long-term F (issue 23's first bar).

For each tracker spec, on each long-term sequence, three records of the same weights:
- ``as run``: the tracker as it is (its own confidence and boxes);
- ``oracle presence``: the same boxes, with the confidence replaced by the box's IoU with the ground truth where the
  target is present and 0 where it is absent (the threshold sweep of F then keeps exactly the frames worth keeping);
- ``oracle presence + re-acquisition``: the tracker moved to the ground truth (Tracker.relocate: template and
  memory kept) on the frame the target is wholly back after each exit and on every present frame where its box
  misses the target (IoU 0) while it is wholly in view (those frames count as misses), with the oracle confidence:
  no loss lasts, no ghost is published.
Any presence verifier and re-detector with these weights reaches at most about the last row's F (it cannot know
more than the ground truth, nor recover faster than at once); the gap between the last row and the ``as run`` row of
the score-only tracker is the headroom.

Usage: python tools/presence/ceiling.py --data data/longterm/validation --trackers ours:lite:score ours:lite
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from attsiammask_core.eval import runner  # noqa: E402
from attsiammask_core.eval.longterm_metrics import LongTermSettings  # noqa: E402
from attsiammask_core.eval.longterm_report import frame_ious, summarize_longterm  # noqa: E402
from attsiammask_core.eval.sequences import Sequence, discover  # noqa: E402
from attsiammask_core.eval.trackers import make_tracker  # noqa: E402


def with_oracle_presence(record: runner.LongTermRecord) -> runner.LongTermRecord:
    """The record with its confidence replaced by each box's IoU (0 where the target is absent), nothing held."""
    confidence = frame_ious(record.boxes, record.gt)
    if record.init_frame is not None:
        confidence[: record.init_frame + 1] = np.nan
    return dataclasses.replace(record, confidence=confidence, held=np.zeros_like(record.held))


def run_oracle(factory: Callable[[], Any], seq: Sequence) -> runner.LongTermRecord:
    """One pass moved to the ground truth (template kept) on the frame each exit's target is wholly back (the first
    present frame after an absence not listed as an event) and on every present frame whose box misses (IoU 0),
    except while the target is partly out of view; those frames count as misses. No update while it is absent. The
    oracle confidence (box IoU, 0 where absent)."""
    gt = np.asarray(seq.boxes, dtype=np.float64).reshape(len(seq), 4)
    present = runner.valid_boxes(gt)
    events = runner.sequence_events(seq)
    partial = np.zeros(len(seq), dtype=bool)
    for exit_, _, back in events:
        partial[exit_:back] = True
    relocate_at = {back for _, _, back in events}
    for i in range(1, len(seq)):
        if present[i] and not present[i - 1] and not partial[i]:
            relocate_at.add(i)
    boxes = np.full((len(seq), 4), np.nan)
    start = int(np.flatnonzero(present)[0])
    tracker = factory()
    tracker.init(seq.frame(start), gt[start].copy())
    boxes[start] = gt[start]
    for i in range(start + 1, len(seq)):
        if not present[i]:
            continue
        if i in relocate_at:  # wholly back: found at once (the frame itself counts as a miss)
            tracker.relocate(seq.frame(i), gt[i].copy())
            continue
        boxes[i] = np.asarray(tracker.update(seq.frame(i)).box, dtype=np.float64)
        if frame_ious(boxes[i:i + 1], gt[i:i + 1])[0] == 0.0 and not partial[i]:  # a miss: found again at once
            tracker.relocate(seq.frame(i), gt[i].copy())
    record = runner.LongTermRecord(tracker="oracle", sequence=seq.name, boxes=boxes, gt=gt, init_frame=start,
                                   confidence=np.zeros(len(seq)), held=np.zeros(len(seq), dtype=bool),
                                   latency_s=np.full(len(seq), np.nan), init_latency_s=float("nan"), events=events)
    return with_oracle_presence(record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="long-term sequence folders")
    parser.add_argument("--trackers", nargs="+", default=["ours:lite:score", "ours:lite"],
                        help="specs of ours (the oracle moves the tracker with Tracker.relocate)")
    args = parser.parse_args(argv)
    if any(not spec.startswith("ours") for spec in args.trackers):
        parser.error("--trackers: specs of ours only (ours[:VARIANT]...): peers cannot be relocated")
    sequences = [seq for folder in args.data for seq in discover(folder) if runner.has_absent_frames(seq)]
    settings = LongTermSettings()
    names = [seq.name for seq in sequences]
    print(f"{len(sequences)} long-term sequences, {sum(len(s) for s in sequences)} frames")
    print("| tracker | as run: F | oracle presence: F | oracle presence + re-acquisition: F |")
    print("| --- | --- | --- | --- |")
    for spec in args.trackers:
        factory = make_tracker(spec, backend="onnxruntime")
        as_run = {seq.name: runner.run_longterm(factory, seq) for seq in sequences}
        oracle = {name: with_oracle_presence(record) for name, record in as_run.items()}
        full = {seq.name: run_oracle(factory, seq) for seq in sequences}
        row = [summarize_longterm(records, names, settings)[0]["f"] for records in (as_run, oracle, full)]
        print(f"| {spec} | " + " | ".join(f"{f:.3f}" for f in row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/presence/ceiling.py: the oracle pass moves the tracker to the ground truth where the target is wholly back
and where its box misses, never while the target is partly out of view, and its confidence is the box's IoU."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from attsiammask_core.eval.longterm_data import FORMAT, LONGTERM_FILE
from attsiammask_core.eval.runner import LongTermRecord
from attsiammask_core.eval.sequences import Sequence
from attsiammask_core.eval.trackers import Prediction

TOOL = Path(__file__).resolve().parents[3] / "tools" / "presence" / "ceiling.py"
spec = importlib.util.spec_from_file_location("presence_ceiling", TOOL)
ceiling = sys.modules.setdefault("presence_ceiling", importlib.util.module_from_spec(spec))
spec.loader.exec_module(ceiling)

N = 30
TARGET = np.array([50.0, 50.0, 20.0, 20.0])


class StuckTracker:
    """Reports the box it was last put at, shifted 100 px right from frame 20 on (a drift that misses)."""

    def __init__(self, log: list) -> None:
        self.log, self.box, self.frame = log, None, 0

    def init(self, frame, box) -> None:
        self.box = np.asarray(box, dtype=float)

    def relocate(self, frame, box) -> None:
        self.log.append(int(frame[0, 0, 0]))
        self.box = np.asarray(box, dtype=float)

    def update(self, frame) -> Prediction:
        index = int(frame[0, 0, 0])
        box = self.box + (np.array([100.0, 0, 0, 0]) if index == 20 else 0.0)
        return Prediction(box=box, polygon=None, mask=None)


def _sequence(tmp_path: Path) -> Sequence:
    folder = tmp_path / "seq-lt"
    (folder / "img").mkdir(parents=True)
    boxes = np.tile(TARGET, (N, 1))
    boxes[8:12] = [60.0, 50.0, 10.0, 20.0]  # partly out of view (clipped) from the exit at 8
    boxes[12:16] = np.nan  # wholly out
    boxes[16:18] = [60.0, 50.0, 10.0, 20.0]  # coming back, wholly back at 18
    (folder / LONGTERM_FILE).write_text(json.dumps({"format": FORMAT, "events": [{"exit": 8, "out": 12, "back": 18}]}))
    frames = [folder / "img" / f"{i:04d}.png" for i in range(N)]
    seq = Sequence(name="seq-lt", frame_paths=tuple(frames), boxes=boxes, polygons=None, mask_paths=None)
    object.__setattr__(seq, "frame", lambda i: np.full((120, 160, 3), i, np.uint8))
    return seq


def test_the_oracle_moves_the_tracker_where_the_target_is_back_and_where_it_misses(tmp_path):
    log: list[int] = []
    record = ceiling.run_oracle(lambda: StuckTracker(log), _sequence(tmp_path))
    assert log == [18, 20]  # wholly back (18) and the miss at 20; nothing while partly out of view (8-11, 16-17)
    present = np.isfinite(record.gt[:, 0])
    assert np.all(record.confidence[~present] == 0.0)  # absent frames: no detection
    assert np.isnan(record.confidence[0])  # the init frame
    assert record.confidence[18] == 0.0 and record.confidence[20] == 0.0  # both count as misses
    assert record.confidence[21] == 1.0 and record.confidence[5] == 1.0
    assert 0.0 < record.confidence[9] < 1.0  # partly visible: the box's IoU with the clipped ground truth


def test_oracle_presence_is_the_box_iou_and_nothing_is_held():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]], dtype=float)
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10], [50, 50, 5, 5]], dtype=float)
    record = LongTermRecord(tracker="t", sequence="s", boxes=boxes, gt=gt, init_frame=0, confidence=np.ones(4),
                            held=np.ones(4, dtype=bool), latency_s=np.zeros(4), init_latency_s=0.0)
    oracle = ceiling.with_oracle_presence(record)
    assert np.isnan(oracle.confidence[0])
    assert oracle.confidence[1:] == pytest.approx([50 / 150, 0.0, 0.0])
    assert not oracle.held.any()

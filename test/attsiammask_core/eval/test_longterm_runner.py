"""The long-term protocol in the runner and the report: confidences and held flags recorded, events from
longterm.json, cached records keyed by them, only sequences with absent frames, the summary and table section;
ours' adapter reports its score as the confidence."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attsiammask_core.eval import report, runner
from attsiammask_core.eval.longterm_metrics import LongTermSettings
from attsiammask_core.eval.runner import EvalOptions, LongTermRecord, evaluate, run_longterm
from attsiammask_core.eval.sequences import Sequence, read_sequence_folder
from attsiammask_core.eval.trackers import OursTracker, Prediction, TrackerFactory

ABSENT = range(15, 25)


def write_sequence(root: Path, name: str, n: int = 40, absent: range = ABSENT, events: list | None = None) -> Sequence:
    """A square moving 1 px a frame, NaN ground truth on ``absent``; pixel (0, 0) holds the frame index (PNG);
    a longterm.json with ``events`` when given."""
    folder = root / name
    (folder / "img").mkdir(parents=True)
    lines = []
    for i in range(n):
        frame = np.full((48, 64, 3), 90, np.uint8)
        if i in absent:
            lines.append("nan,nan,nan,nan")
        else:
            frame[10:20, 10 + i // 2:20 + i // 2] = 220
            lines.append(f"{10 + i // 2},10,10,10")
        frame[0, 0] = i
        cv2.imwrite(str(folder / "img" / f"{i:03d}.png"), frame)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    if events is not None:
        (folder / "longterm.json").write_text(json.dumps({"format": 1, "events": events}))
    return read_sequence_folder(folder, index_base=0)


class Oracle:
    """The ground truth with confidence 0.9 where it exists; held with confidence 0.1 where it does not."""

    name = "oracle"

    def __init__(self, seq: Sequence, confident: bool = True) -> None:
        self.seq, self.confident, self.last = seq, confident, np.zeros(4)

    def init(self, frame, box_xywh):
        self.last = np.asarray(box_xywh, dtype=np.float64)

    def update(self, frame):
        box = self.seq.boxes[int(frame[0, 0, 0])]
        if np.isnan(box).any():
            return Prediction(box=self.last.copy(), held=True, confidence=0.1 if self.confident else None)
        self.last = box.copy()
        return Prediction(box=box.copy(), confidence=0.9 if self.confident else None)


class Ghost:
    """Always its first box, never held, no confidence: it keeps following a ghost."""

    name = "ghost"

    def init(self, frame, box_xywh):
        self.box = np.asarray(box_xywh, dtype=np.float64)

    def update(self, frame):
        return Prediction(box=self.box.copy())


def test_prediction_confidence_is_optional():
    assert Prediction(box=np.zeros(4)).confidence is None
    assert Prediction(np.zeros(4), None, None, True).held  # positional callers unchanged


def test_run_longterm_records_confidence_held_and_events(tmp_path):
    seq = write_sequence(tmp_path, "lt", events=[{"exit": 13, "out": 15, "back": 25}])
    record = run_longterm(lambda: Oracle(seq), seq)
    assert record.init_frame == 0 and record.events == ((13, 15, 25),) and np.isnan(record.confidence[0])
    np.testing.assert_allclose(record.confidence[1:], np.where(np.isin(np.arange(1, 40), ABSENT), 0.1, 0.9))
    assert record.held_frames == 10 and record.held[15:25].all()
    plain = run_longterm(lambda: Oracle(seq, confident=False), seq, events=[])
    np.testing.assert_array_equal(plain.confidence[1:], np.where(plain.held[1:], 0.0, 1.0))  # from held
    again = LongTermRecord.from_json(json.loads(json.dumps(record.to_json())))
    np.testing.assert_array_equal(again.confidence, record.confidence)
    np.testing.assert_array_equal(again.held, record.held)
    assert again.events == record.events and again.sequence == "lt"


def test_evaluate_runs_longterm_on_sequences_with_absent_frames_and_caches(tmp_path):
    with_absent = write_sequence(tmp_path / "data", "lt", events=[{"exit": 13, "out": 15, "back": 25}])
    without = write_sequence(tmp_path / "data", "plain", absent=range(0))
    assert runner.has_absent_frames(with_absent) and not runner.has_absent_frames(without)
    assert not runner.has_absent_frames(with_absent, max_frames=15)
    factories = [TrackerFactory("oracle", lambda: Oracle(with_absent)), TrackerFactory("ghost", Ghost)]
    options = EvalOptions(protocols=("longterm",))
    results = evaluate(factories, [with_absent, without], tmp_path / "out", options, progress=False)
    assert results.ran == 2 and set(results.longterm["oracle"]) == {"lt"} and not results.ope
    assert len(list((tmp_path / "out" / "runs").rglob("longterm-*.json"))) == 2
    assert evaluate(factories, [with_absent], tmp_path / "out", options, progress=False).cached == 2
    (tmp_path / "data" / "lt" / "longterm.json").write_text(json.dumps(
        {"format": 1, "events": [{"exit": 15, "out": 15, "back": 25}]}))  # other events: run again
    assert evaluate(factories[:1], [with_absent], tmp_path / "out", options, progress=False).ran == 1
    with pytest.raises(ValueError, match="protocols"):
        EvalOptions(protocols=("lt",))

    summary = report.summarize(results)
    oracle = summary["trackers"]["oracle"]["overall"]["longterm"]
    assert (oracle["f"], oracle["precision"], oracle["recall"]) == (1.0, 1.0, 1.0) and oracle["threshold"] == 0.9
    assert (oracle["events"], oracle["reacquired"], oracle["median_delay"]) == (1, 1, 0.0)
    assert oracle["tracked_before_events"] == 1 and oracle["absent_detection_share"] == 0.0
    ghost = summary["trackers"]["ghost"]["overall"]["longterm"]
    assert ghost["absent_with_detection"] == ghost["absent_frames"] == 10 and ghost["threshold"] == 0.0
    # its box stays where the target started, so the IoU falls as the target moves on
    assert ghost["recall"] < 1.0 and ghost["precision"] < ghost["recall"]
    events = summary["trackers"]["oracle"]["sequences"]["lt"]["longterm"]["events"]
    assert events == [{"kind": "pan", "left": 13, "out": 15, "back": 25, "tracked_before": True,
                       "reacquired": True, "delay": 0}]
    assert summary["longterm_settings"]["presence_threshold"] is None
    table = report.markdown_table(summary)
    assert "Long-term (one pass, no re-initialisation): 1 sequence(s) with absent frames, 39 frames, 10 absent" in table
    row = next(line for line in table.splitlines() if line.startswith("| oracle | 1.000"))
    assert "1.000 (1/1) | 1.000 (1/1) | 0.0 | 0.000 (0/10) |" in row
    strict = report.summarize(results, longterm=LongTermSettings(presence_threshold=0.95))
    assert strict["trackers"]["oracle"]["overall"]["longterm"]["reacquired"] == 0  # 0.9 < 0.95: never published


def test_report_without_longterm_is_unchanged(tmp_path):
    seq = write_sequence(tmp_path, "lt")
    results = evaluate([TrackerFactory("ghost", Ghost)], [seq], tmp_path / "out", EvalOptions(protocols=("ope",)),
                       progress=False)
    summary = report.summarize(results)
    assert "longterm_settings" not in summary and "longterm" not in summary["trackers"]["ghost"]["overall"]
    assert "Long-term" not in report.markdown_table(summary)


class _Result:
    box, polygon, mask, score, state = (1.0, 2.0, 3.0, 4.0), np.zeros((4, 2)), np.zeros((4, 4), bool), 0.42, "lost"


def test_ours_adapter_reports_its_score_as_confidence():
    class Stub:
        def init(self, frame, box):
            pass

        def track(self, frame):
            return _Result()

    pred = OursTracker("ours", Stub()).update(np.zeros((4, 4, 3), np.uint8))
    assert pred.confidence == pytest.approx(0.42) and pred.held

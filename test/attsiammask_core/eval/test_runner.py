"""Protocol runners on tiny synthetic sequences: oracle and far-away fake trackers (hand-counted), CSRT, resume."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attsiammask_core.eval import runner
from attsiammask_core.eval.runner import EvalOptions, evaluate, fill_box_mask, run_ope, run_vot
from attsiammask_core.eval.sequences import Sequence, read_sequence_folder
from attsiammask_core.eval.trackers import Prediction, TrackerFactory, make_tracker

SIDE = 20


def write_sequence(root: Path, name: str, n: int = 30, nan_frames: tuple[int, ...] = (), masks: bool = False,
                   hw: tuple[int, int] = (96, 128)) -> Sequence:
    """A textured background with a patterned square moving (2, 1) px per frame; pixel (0, 0) holds the frame
    index (PNG, lossless). Shared layout: img/, groundtruth.txt (nan rows), optional masks/."""
    rng = np.random.default_rng(7)
    background = cv2.GaussianBlur(rng.integers(0, 256, hw + (3,), dtype=np.uint8), (5, 5), 0)
    patch = np.full((SIDE, SIDE, 3), 230, np.uint8)
    patch[SIDE // 2 - 2:SIDE // 2 + 2, :] = (20, 20, 200)
    patch[:, SIDE // 2 - 2:SIDE // 2 + 2] = (200, 20, 20)
    folder = root / name
    (folder / "img").mkdir(parents=True)
    if masks:
        (folder / "masks").mkdir()
    lines = []
    for i in range(n):
        frame = background.copy()
        x, y = 20 + 2 * i, 20 + i
        if i not in nan_frames:
            frame[y:y + SIDE, x:x + SIDE] = patch
            lines.append(f"{x},{y},{SIDE},{SIDE}")
        else:
            lines.append("nan,nan,nan,nan")
        frame[0, 0] = i
        cv2.imwrite(str(folder / "img" / f"{i:04d}.png"), frame)
        if masks:
            mask = np.zeros(hw, np.uint8)
            if i not in nan_frames:
                mask[y:y + SIDE, x:x + SIDE] = 255
            cv2.imwrite(str(folder / "masks" / f"{i:04d}.png"), mask)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return read_sequence_folder(folder, index_base=0)


class Oracle:
    """Returns the ground truth of the frame (index read from pixel (0, 0)) and its mask; holds on NaN gt."""

    name = "oracle"

    def __init__(self, seq: Sequence, calls: list[str]) -> None:
        self.seq, self.calls, self.last = seq, calls, None

    def init(self, frame, box_xywh):
        self.calls.append("init")
        self.last = np.asarray(box_xywh, dtype=np.float64)

    def update(self, frame):
        self.calls.append("update")
        i = int(frame[0, 0, 0])
        box = self.seq.boxes[i]
        if np.isnan(box).any():
            return Prediction(box=self.last, mask=np.zeros(frame.shape[:2], bool), held=True)
        self.last = box.copy()
        return Prediction(box=box.copy(), mask=self.seq.mask(i))


class FarAway:
    """Always a box in the opposite corner, never overlapping the target."""

    name = "far"

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def init(self, frame, box_xywh):
        self.calls.append("init")

    def update(self, frame):
        self.calls.append("update")
        return Prediction(box=np.array([0.0, 80.0, 10.0, 10.0]))


def test_fill_box_mask_pixel_centres():
    mask = fill_box_mask((2, 1, 3, 2), (6, 8))
    assert mask.sum() == 6 and mask[1:3, 2:5].all()
    assert fill_box_mask((2.6, 1, 3, 2), (6, 8))[1:3, 3:6].all()  # centres 3.5, 4.5, 5.5 inside [2.6, 5.6)
    assert fill_box_mask((-5, -5, 7, 7), (6, 8)).sum() == 4  # clipped
    assert not fill_box_mask((np.nan, 0, 3, 3), (6, 8)).any()


def test_oracle_ope_perfect_scores(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=12, nan_frames=(0, 5), masks=True)
    calls: list[str] = []
    record = run_ope(lambda: Oracle(seq, calls), seq)
    assert record.init_frame == 1 and calls.count("init") == 1 and calls.count("update") == 10
    assert np.isnan(record.boxes[0]).all() and np.array_equal(record.boxes[1], seq.boxes[1])
    result = record.result()
    # got10k convention: success counts IoU > t, so a perfect tracker scores 20/21 (fails only at t = 1)
    assert result.auc == pytest.approx(20 / 21) and result.precision20 == 1.0 and result.frames == 9
    assert np.isnan(record.latency_s[:2]).all() and np.isfinite(record.latency_s[2:]).all()
    assert record.held_frames == 1
    assert np.isnan(record.j[:2]).all() and np.all(record.j[2:] == 1.0)  # empty pred and gt mask on frame 5: J=1
    j_box = record.j_box[2:]
    assert j_box[3] == 0.0 and np.all(np.delete(j_box, 3) == 1.0)  # held box vs absent target on frame 5


def test_box_only_tracker_has_j_box_but_no_j(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=6, masks=True)
    record = run_ope(lambda: FarAway([]), seq)
    assert record.j is None and np.all(record.j_box[1:] == 0.0)
    assert record.result().auc == 0.0


def test_oracle_vot_no_failures(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=25, nan_frames=(0, 8))
    calls: list[str] = []
    record = run_vot(lambda: Oracle(seq, calls), seq)
    assert record.run.init_frames == (1,) and record.run.failure_frames == () and calls.count("init") == 1
    assert record.failures == 0 and record.accuracy() == pytest.approx(1.0)
    assert np.isnan(record.run.overlaps[[0, 1, 8]]).all()


def test_far_tracker_vot_failures_counted_by_hand(tmp_path):
    # NaN gt on 0 (init on 1), on 8, 9 (tracked, cannot fail) and on 15 (re-init moves to 16)
    seq = write_sequence(tmp_path, "sq", n=30, nan_frames=(0, 8, 9, 15))
    calls: list[str] = []
    created = []

    def factory():
        created.append(1)
        return FarAway(calls)

    record = run_vot(factory, seq, skip=5)
    # init 1, fail 2 -> 7; init 7, 8-9 no gt, fail 10 -> 15 (no gt) -> 16; fail 17 -> 22; fail 23 -> 28; fail 29
    assert record.run.init_frames == (1, 7, 16, 22, 28)
    assert record.run.failure_frames == (2, 10, 17, 23, 29)
    assert len(created) == 5 and calls.count("update") == 1 + 3 + 1 + 1 + 1
    expected = np.full(30, np.nan)
    expected[[2, 10, 17, 23, 29]] = 0.0
    np.testing.assert_array_equal(record.run.overlaps, expected)
    assert np.isfinite(record.latency_s).sum() == 7
    assert np.isnan(record.accuracy())  # no frame survives the burn-in


def test_max_frames_truncates(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=20)
    record = run_vot(lambda: FarAway([]), seq, max_frames=9)
    assert record.run.length == 9 and record.run.failure_frames == (1, 7)


def test_csrt_tracks_the_square_and_is_deterministic(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=20)
    factory = make_tracker("csrt")
    first, second = run_ope(factory, seq), run_ope(factory, seq)
    np.testing.assert_array_equal(first.boxes, second.boxes)
    assert first.result().auc > 0.5 and first.result().precision20 == 1.0
    assert run_vot(factory, seq).failures == 0


def test_record_json_round_trip(tmp_path):
    seq = write_sequence(tmp_path, "sq", n=12, nan_frames=(0, 5), masks=True)
    for record in (run_ope(lambda: Oracle(seq, []), seq), run_vot(lambda: FarAway([]), seq)):
        text = json.dumps(record.to_json(), allow_nan=False)  # strict JSON: NaN stored as null
        back = type(record).from_json(json.loads(text))
        np.testing.assert_array_equal(back.boxes, record.boxes)
        np.testing.assert_array_equal(back.latency_s, record.latency_s)
        if record.protocol == "vot":
            np.testing.assert_array_equal(back.run.overlaps, record.run.overlaps)
            assert back.run.init_frames == record.run.init_frames
        else:
            np.testing.assert_array_equal(back.j, record.j)


def test_evaluate_resumes_from_saved_runs(tmp_path):
    seqs = [write_sequence(tmp_path / "data", name, n=10) for name in ("a", "b")]
    calls: list[str] = []
    factory = TrackerFactory(spec="far", create=lambda: FarAway(calls), options={"v": 1})
    out = tmp_path / "out"
    first = evaluate([factory], seqs, out, EvalOptions(), progress=False)
    assert first.ran == 4 and first.cached == 0 and calls
    files = sorted((out / "runs").rglob("*.json"))
    assert len(files) == 4 and {f.parent.name for f in files} == {"a", "b"}
    calls.clear()
    second = evaluate([factory], seqs, out, EvalOptions(), progress=False)
    assert second.ran == 0 and second.cached == 4 and calls == []
    assert second.vot["far"]["a"].run.failure_frames == first.vot["far"]["a"].run.failure_frames
    # other options (a new key) run again; so does --no-resume
    third = evaluate([factory], seqs, out, EvalOptions(protocols=("vot",), skip=3), progress=False)
    assert third.ran == 2 and calls
    other = TrackerFactory(spec="far", create=lambda: FarAway(calls), options={"v": 2})
    assert evaluate([other], seqs, out, EvalOptions(protocols=("ope",)), progress=False).ran == 2
    assert evaluate([factory], seqs, out, EvalOptions(protocols=("ope",)), resume=False, progress=False).ran == 2


def test_corrupt_saved_run_is_run_again(tmp_path):
    seq = write_sequence(tmp_path / "data", "a", n=8)
    factory = TrackerFactory(spec="far", create=lambda: FarAway([]))
    options = EvalOptions(protocols=("ope",))
    _, cached = runner.run_cached(factory, seq, "ope", tmp_path / "runs", options)
    path = runner.record_path(tmp_path / "runs", runner.run_key(factory, seq, "ope", options))
    assert not cached and path.is_file()
    path.write_text("{not json")
    assert runner.run_cached(factory, seq, "ope", tmp_path / "runs", options)[1] is False


def test_options_and_inputs_validated(tmp_path):
    with pytest.raises(ValueError, match="protocols"):
        EvalOptions(protocols=("otb",))
    with pytest.raises(ValueError, match="skip"):
        EvalOptions(skip=0)
    seq = write_sequence(tmp_path, "empty", n=4, nan_frames=(0, 1, 2, 3))
    assert run_ope(lambda: FarAway([]), seq).result() is None
    with pytest.raises(ValueError, match="no frame with ground truth"):
        run_vot(lambda: FarAway([]), seq)
    factory = TrackerFactory(spec="far", create=lambda: FarAway([]))
    with pytest.raises(ValueError, match="repeat"):
        evaluate([factory, factory], [seq], tmp_path / "out", progress=False)

"""The long-term generator: the camera's rule checked frame by frame on a synthetic wandering target (absent means
wholly outside the window, stays 15-90 frames, bounded pan speed, off-centre returns, determinism), the format
it writes, and tools/data/make_longterm.py end to end on a tiny source folder (identical files on a rerun)."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from longterm_source import wandering_boxes, write_source

from attsiammask_core.eval import longterm_data as ltd
from attsiammask_core.eval.sequences import discover, read_any

REPO = Path(__file__).resolve().parents[3]
FRAME = (640, 480)
PARAMS = ltd.LongTermParams()


def _plan(boxes: np.ndarray, seed: int = 0, key: str = "synth") -> ltd.CameraPlan:
    plan, why = ltd.plan_longterm(boxes, FRAME, dataclasses.replace(PARAMS, seed=seed), key)
    assert plan is not None, why
    return plan


@pytest.fixture(scope="module")
def boxes() -> np.ndarray:
    return wandering_boxes(600, FRAME, 24)


@pytest.fixture(scope="module")
def plan(boxes) -> ltd.CameraPlan:
    return _plan(boxes)


def test_geometry_helpers():
    assert ltd.box_visibility(np.array([10, 10, 5, 5]), (0, 0), (20, 20)) == "in"
    assert ltd.box_visibility(np.array([18, 10, 5, 5]), (0, 0), (20, 20)) == "partial"
    assert ltd.box_visibility(np.array([20, 10, 5, 5]), (0, 0), (20, 20)) == "out"  # touching edge: no area
    assert ltd.box_visibility(np.full(4, np.nan), (0, 0), (20, 20)) == "out"
    assert [ltd.third_of(c, 30, 30) for c in (30, 39.9, 40, 59.9, 60, 75)] == [0, 0, 1, 2, 2, 2]
    clipped = ltd.clip_boxes(np.array([[-5, 2, 10, 4], [50, 0, 3, 3], [np.nan] * 4]), (40, 30))
    np.testing.assert_array_equal(clipped[0], [0, 2, 5, 4])
    assert np.isnan(clipped[1:]).all()
    gt = ltd.window_groundtruth(np.array([[15, 5, 10, 10], [40, 5, 5, 5]]), np.array([[10, 0], [10, 0]]), (12, 12),
                                (60, 40))
    np.testing.assert_array_equal(gt[0], [5, 5, 7, 7])  # clipped to the window, window coordinates
    assert np.isnan(gt[1]).all()


def test_several_events_and_absent_exactly_when_wholly_outside(boxes, plan):
    assert len(plan.events) >= 2 and plan.window_frac in PARAMS.window_fracs
    size = np.array(plan.size)
    assert (size >= PARAMS.min_window_to_target * 24).all()
    assert (plan.windows >= 0).all() and (plan.windows + size <= np.array(FRAME)).all()  # window inside the frame
    gt = ltd.window_groundtruth(boxes, plan.windows, plan.size, FRAME)
    absent = ~np.isfinite(gt).all(axis=1)
    states = [ltd.box_visibility(b, w, plan.size) for b, w in zip(boxes, plan.windows, strict=True)]
    assert [s == "out" for s in states] == list(absent)  # absent <=> wholly outside (no NaN in this source)
    expected = np.zeros(len(boxes), bool)
    for e in plan.events:
        expected[e.out:e.enter] = True
        assert all(s != "in" for s in states[e.exit:e.back]) and states[e.exit - 1] == "in"
        assert all(s == "partial" for s in states[e.enter:e.back]) and states[e.back] == "in"
    np.testing.assert_array_equal(absent, expected)  # absent on the events' frames and nowhere else
    visible = gt[~absent]
    assert (visible[:, :2] >= 0).all() and (visible[:, :2] + visible[:, 2:] <= size + 1e-9).all()


def test_stays_speeds_and_the_frames_around_each_event(plan):
    bound = np.array(plan.speed_bound_px)
    assert (bound == np.floor(PARAMS.pan_speed * np.array(plan.size))).all()
    for e in plan.events:
        assert PARAMS.stay[0] <= e.absent_frames <= PARAMS.stay[1]
        steps = np.abs(np.diff(plan.windows[e.leave - 1:e.arrived + 1], axis=0))
        assert (steps <= bound).all() and (steps[:, e.axis] <= e.speed_px).all() and steps.any()
        assert e.out - PARAMS.before >= 0 and e.back + PARAMS.after < len(plan.windows)
    firsts = [e.leave for e in plan.events[1:]]
    assert all(f > prev.arrived + PARAMS.gap[0] for f, prev in zip(firsts, plan.events, strict=False))


def test_the_target_comes_back_off_centre(boxes, plan):
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    for e in plan.events:
        a = e.axis
        start = ltd.third_of(centres[0, a], plan.windows[0, a], plan.size[a])
        assert start == plan.start_third[a] == 1  # the window starts centred on the target
        back = ltd.third_of(centres[e.back, a], plan.windows[e.back, a], plan.size[a])
        end = ltd.third_of(centres[e.arrived, a], plan.windows[e.arrived, a], plan.size[a])
        assert back == e.back_third != 1 and end == e.return_third != start


def test_same_seed_same_plan_other_seed_other_plan(boxes, plan):
    again = _plan(boxes.copy())
    np.testing.assert_array_equal(again.windows, plan.windows)
    assert again.events == plan.events
    other = _plan(boxes, seed=1)
    assert other.events != plan.events
    assert _plan(boxes, key="another name").events != plan.events


def test_annotated_absences_stay_absent_and_are_listed():
    boxes = wandering_boxes(600, FRAME, 24, nan_frames=tuple(range(300, 310)))
    plan = _plan(boxes)
    gt = ltd.window_groundtruth(boxes, plan.windows, plan.size, FRAME)
    assert np.isnan(gt[300:310]).all()
    assert all(e.back + PARAMS.after < 300 or e.out - PARAMS.before > 309 for e in plan.events)
    info = ltd.longterm_json("s-lt", "s", "validation", FRAME, plan, gt, boxes, PARAMS)
    assert info["occlusions"] == [{"kind": "annotated", "start": 300, "end": 310, "absent_frames": 10}]
    assert info["absent_frames"] == int(np.isnan(gt).any(axis=1).sum())
    assert [(e["out"], e["back"]) for e in info["events"]] == [(e.out, e.back) for e in plan.events]
    assert info["params"]["seed"] == 0 and info["params"]["stay"] == [15, 90] and len(info["windows"]) == 600
    assert info["events"][0]["between"] == [plan.events[0].out, plan.events[0].back - 1]


def test_sources_that_cannot_give_a_long_term_sequence():
    short = wandering_boxes(120, FRAME, 24)
    assert "present on 120 frames" in ltd.source_problem(short, FRAME, PARAMS, 0.6)
    big = wandering_boxes(400, FRAME, 24)
    big[:, 2:] = 200
    assert "window is only" in ltd.source_problem(big, FRAME, PARAMS, 0.6)
    plan, why = ltd.plan_longterm(big, FRAME, PARAMS, "big")
    assert plan is None and why.count("window is only") == 3
    with pytest.raises(ValueError):
        ltd.LongTermParams(stay=(20, 10))


def test_read_events(tmp_path):
    assert ltd.read_events(tmp_path) == [] and ltd.read_events(None) == []
    (tmp_path / "longterm.json").write_text(json.dumps({"format": 1, "events": [{"exit": 3, "out": 5, "back": 9}]}))
    assert ltd.read_events(tmp_path) == [(3, 5, 9)]
    (tmp_path / "longterm.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="not a long-term events file"):
        ltd.read_events(tmp_path)
    assert ltd.sequence_folder([tmp_path / "seq" / "img" / "0.jpg"]) == tmp_path / "seq"


# ---------------------------------------------------------------- tools/data/make_longterm.py


def _tool():
    spec = importlib.util.spec_from_file_location("make_longterm", REPO / "tools" / "data" / "make_longterm.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    write_source(root / "data", "synth", 230, nan_frames=(200, 201, 202, 203, 204, 205))
    write_source(root / "data", "short", 60)
    (root / "split.json").write_text(json.dumps({"validation": ["synth", "short", "missing"], "test": []}))
    return root


def test_tool_writes_readable_identical_output(source, tmp_path, capsys):
    tool = _tool()
    argv = ["--data", str(source / "data"), "--split", "validation", "--split-file", str(source / "split.json")]
    assert tool.main([*argv, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr()
    assert "short skipped: window 0.6: target present on 60 frames" in printed.out
    assert "missing not in" in printed.err
    out = tmp_path / "a" / "validation"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "synth-lt"]
    seq = read_any(out / "synth-lt")
    info = json.loads((out / "synth-lt" / "longterm.json").read_text())
    assert len(seq) == 230 and info["events"] and info["params"]["jpeg_quality"] == 95
    assert seq.frame(0).shape[:2] == (info["window_size"][1], info["window_size"][0])
    absent = ~np.isfinite(seq.boxes).all(axis=1)
    assert absent[200:206].all() and info["occlusions"][0]["start"] == 200
    for e in info["events"]:
        assert absent[e["out"]:e["enter"]].all() and not absent[e["enter"]:e["out"] + e["absent_frames"] + 40].all()
    manifest = json.loads((out / "manifest.json").read_text())["sequences"]["synth-lt"]
    assert manifest["frames"] == 230 and manifest["source_sequence"] == "synth" and "OV" in manifest["attributes"]
    assert [s.name for s in discover(out)] == ["synth-lt"]
    assert "validation: 1 sequences, 230 frames" in printed.out

    assert tool.main([*argv, "--out", str(tmp_path / "b")]) == 0  # same seed: byte-identical files
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert tool.main([*argv, "--out", str(tmp_path / "a"), "--seed", "5"]) == 0  # rerun in place, other seed
    assert _digests(tmp_path / "a") != _digests(tmp_path / "b")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "synth-lt"]


def test_tool_refuses_reserved_names_and_missing_data(source, tmp_path, capsys):
    tool = _tool()
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"validation": ["bolt1"], "test": []}))
    assert tool.main(["--data", str(source / "data"), "--out", str(tmp_path / "o"), "--split", "validation",
                      "--split-file", str(split)]) == 2
    assert "reserved" in capsys.readouterr().err
    assert tool.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2

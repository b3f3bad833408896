"""`attsiammask track`: frames folder or video in, results.jsonl and an annotated video out."""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest
from fake_siammask import PlantedModel

import attsiammask_core.commands.track as track_cmd
from attsiammask_core.tracker import Tracker


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attsiammask")
    track_cmd.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(["track", *argv])
    return args.func(args)


class _FakeFactory:
    """Stands in for Tracker: create() wraps a PlantedModel with a live score peak, and records its arguments."""

    calls: list[dict] = []

    @classmethod
    def create(cls, **kwargs) -> Tracker:
        cls.calls.append(kwargs)
        model = PlantedModel()
        model.set_score(2, 12, 12, 0.9)
        model.mask[40:90, 40:90] = 10.0
        return Tracker(model, config=kwargs["config"], attention=bool(kwargs["attention"]), device=kwargs["device"])


def _frames(count: int = 4, hw: tuple[int, int] = (120, 160)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, hw + (3,), dtype=np.uint8) for _ in range(count)]


@pytest.fixture
def fake_tracker(monkeypatch):
    _FakeFactory.calls = []
    monkeypatch.setattr(track_cmd, "Tracker", _FakeFactory)
    return _FakeFactory


def test_parse_box():
    assert track_cmd.parse_box("1,2.5, 3,4") == (1.0, 2.5, 3.0, 4.0)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5"):
        with pytest.raises(argparse.ArgumentTypeError):
            track_cmd.parse_box(bad)
    with pytest.raises(SystemExit):
        _parser().parse_args(["track", "--frames", "x", "--box", "1,2", "--out", "o"])
    with pytest.raises(SystemExit):  # exactly one source
        _parser().parse_args(["track", "--box", "1,2,3,4", "--out", "o"])


def test_frames_folder_to_results_and_annotated_video(tmp_path, fake_tracker, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_frames()):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    (folder / "notes.txt").write_text("not a frame")
    out, video = tmp_path / "out", tmp_path / "annotated.mp4"
    code = _run(["--frames", str(folder), "--box", "50,40,40,30", "--out", str(out), "--annotated-video", str(video),
                 "--preset", "vot", "--no-attention"])
    assert code == 0
    assert fake_tracker.calls == [{"variant": "lite", "weights": None, "device": "cpu", "attention": False,
                                   "config": "vot", "random_init": False, "backend": "auto"}]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == [0, 1, 2, 3]
    assert records[0] == {"frame": 0, "box": [50, 40, 40, 30], "polygon": [[50, 40], [90, 40], [90, 70], [50, 70]],
                          "score": 1.0, "state": "init"}
    for record in records[1:]:
        assert set(record) == {"frame", "box", "polygon", "score", "state"}
        assert record["state"] == "tracking" and record["score"] == pytest.approx(0.9, abs=1e-4)
        assert len(record["box"]) == 4 and np.asarray(record["polygon"]).shape == (4, 2)
    capture = cv2.VideoCapture(str(video))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, first = capture.read()
    assert ok and first.shape == (120, 160, 3)
    capture.release()
    assert "results.jsonl" in capsys.readouterr().out


def test_video_input_with_max_frames(tmp_path, fake_tracker):
    path = tmp_path / "in.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for frame in _frames(5):
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    assert _run(["--video", str(path), "--box", "50,40,40,30", "--out", str(out), "--max-frames", "3"]) == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1, 2]
    assert fake_tracker.calls[0]["attention"] is None and fake_tracker.calls[0]["config"] is None  # the weights' own
    assert _run(["--video", str(path), "--box", "50,40,40,30", "--out", str(out), "--max-frames", "2", "--attention",
                 "--backend", "torch"]) == 0
    assert fake_tracker.calls[1]["attention"] is True and fake_tracker.calls[1]["backend"] == "torch"


def test_user_errors_return_2_with_a_message(tmp_path, fake_tracker, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(["--frames", str(empty), "--box", "1,1,10,10", "--out", str(tmp_path / "o")]) == 2
    assert "no image files" in capsys.readouterr().err
    assert _run(["--video", str(tmp_path / "missing.mp4"), "--box", "1,1,10,10", "--out", str(tmp_path / "o")]) == 2
    assert "video not found" in capsys.readouterr().err
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), _frames(1)[0])
    assert _run(["--frames", str(folder), "--box", "500,500,10,10", "--out", str(tmp_path / "o")]) == 2
    assert "outside" in capsys.readouterr().err
    (folder / "1.png").write_bytes(b"not a png")
    assert _run(["--frames", str(folder), "--box", "5,5,10,10", "--out", str(tmp_path / "o")]) == 2
    assert "cannot read image" in capsys.readouterr().err


def test_r50_needs_weights(tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), _frames(1)[0])
    assert _run(["--frames", str(folder), "--box", "5,5,10,10", "--variant", "r50", "--out", str(tmp_path / "o")]) == 2
    assert "no embedded weights" in capsys.readouterr().err


@pytest.mark.slow
def test_random_init_r50_end_to_end(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_frames(3)):
        cv2.imwrite(str(folder / f"{i}.jpg"), frame)
    out = tmp_path / "out"
    assert _run(["--frames", str(folder), "--box", "50,40,40,30", "--out", str(out), "--random-init"]) == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 3

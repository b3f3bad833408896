"""Tracker specs and adapters: grammar, OpenCV peers (ok=False holds the box), ONNX peers, ours."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_siammask import PlantedModel

import attsiammask_core.tracker as tracker_module
from attsiammask_core.eval import trackers
from attsiammask_core.eval.trackers import (
    EvalTracker,
    OpenCVTracker,
    OursSpec,
    Prediction,
    box_to_int_xywh,
    make_tracker,
    parse_spec,
)
from attsiammask_core.tracker import Tracker

PEERS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "peers"


def _frames(n: int = 8, hw: tuple[int, int] = (96, 128)) -> tuple[list[np.ndarray], list[tuple[int, int, int, int]]]:
    """A patterned square moving (2, 1) px per frame over a blurred-noise background, and its boxes."""
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(0, 256, hw + (3,), dtype=np.uint8), (5, 5), 0)
    frames, boxes = [], []
    for i in range(n):
        frame = background.copy()
        x, y = 30 + 2 * i, 30 + i
        frame[y:y + 24, x:x + 24] = 230
        frame[y + 10:y + 14, x:x + 24] = (20, 20, 200)
        frames.append(frame)
        boxes.append((x, y, 24, 24))
    return frames, boxes


def test_parse_spec_grammar():
    assert parse_spec("csrt") == "csrt" and parse_spec(" KCF ") == "kcf"
    assert parse_spec("ours") == OursSpec("lite", None, None)  # the default variant, the weights' attention choice
    assert parse_spec("ours:r50:noatt") == OursSpec("r50", False, None)
    assert parse_spec("OURS:noatt:vot:r50") == OursSpec("r50", False, "vot")  # any order, case-insensitive
    assert parse_spec("ours:att").canonical == "ours:lite:att"
    assert parse_spec("ours:davis").canonical == "ours:lite:davis"
    assert parse_spec("ours:int8:lfc") == OursSpec("lfc", None, None, precision="int8")
    assert parse_spec("ours:lfc:int8").canonical == "ours:lfc:int8"


@pytest.mark.parametrize("spec, message", [
    ("mosse",
     "unknown tracker spec 'mosse'; valid: csrt, kcf, nanotrack, vit, nanotrackv3, lightfc, ours, ours:r50:att"),
    ("ours:r50:r50", "repeated option 'r50'"),
    ("ours:att:noatt", "repeated option 'noatt'"),
    ("ours:lfc:int8:int8", "repeated option 'int8'"),
    ("ours:tiny", "unknown option 'tiny'.*VARIANT in r50"),
    ("csrt:noatt", "unknown tracker spec"),
])
def test_bad_specs_list_the_valid_ones(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_new_variants_appear_in_the_grammar(monkeypatch):
    from attsiammask_core import models

    monkeypatch.setitem(models.MODELS, "lite", models.build_r50)
    monkeypatch.setattr(models, "DEFAULT_VARIANT", "lite", raising=False)
    assert parse_spec("ours") == OursSpec("lite", None, None)
    assert parse_spec("ours:lite:noatt").canonical == "ours:lite:noatt"
    assert "ours:lite:att" in trackers.valid_specs()


def test_box_to_int_xywh_rounds_and_clips_without_touching_input():
    box = np.array([10.4, 5.6, 20.2, 9.8])
    assert box_to_int_xywh(box, (100, 100)) == (10, 6, 21, 9)
    assert box.tolist() == [10.4, 5.6, 20.2, 9.8]
    assert box_to_int_xywh((-5, -5, 10, 10), (100, 100)) == (0, 0, 5, 5)
    assert box_to_int_xywh((98, 98, 10, 10), (100, 100)) == (98, 98, 2, 2)
    assert box_to_int_xywh((50, 50, 0.1, 0.1), (100, 100)) == (50, 50, 1, 1)


@pytest.mark.parametrize("spec", ["csrt", "kcf"])
def test_opencv_peers_track_a_moving_square(spec):
    frames, boxes = _frames()
    factory = make_tracker(spec)
    assert factory.spec == spec and "opencv" in factory.options
    tracker = factory()
    assert isinstance(tracker, EvalTracker) and tracker is not factory()  # fresh per call
    tracker.init(frames[0], boxes[0])
    for frame, box in zip(frames[1:], boxes[1:], strict=True):
        pred = tracker.update(frame)
        assert pred.box.shape == (4,) and pred.polygon is None and pred.mask is None
        assert np.abs(pred.box[:2] - box[:2]).max() <= 3


class _Failing:
    """A cv2-style tracker whose update succeeds once, then reports ok=False with a garbage box."""

    def __init__(self) -> None:
        self.calls = 0

    def init(self, frame, box):
        self.box = box

    def update(self, frame):
        self.calls += 1
        return (True, (12, 13, 14, 15)) if self.calls == 1 else (False, (0, 0, 0, 0))


def test_ok_false_keeps_the_last_box_and_flags_it():
    tracker = OpenCVTracker("fake", _Failing)
    frame = np.zeros((50, 60, 3), np.uint8)
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(frame)
    tracker.init(frame, (1.2, 2.7, 10.0, 10.0))
    first, second, third = (tracker.update(frame) for _ in range(3))
    assert first.box.tolist() == [12, 13, 14, 15] and not first.held
    assert second.box.tolist() == [12, 13, 14, 15] and second.held and third.held


def test_onnx_peers_need_their_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass --peers DIR.*nanotrack_backbone_sim.onnx"):
        make_tracker("nanotrack")
    with pytest.raises(FileNotFoundError, match="object_tracking_vittrack_2023sep.onnx"):
        make_tracker("vit", peers_dir=None)
    (tmp_path / "nanotrackv2").mkdir()
    (tmp_path / "nanotrackv2" / "nanotrack_backbone_sim.onnx").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"missing ONNX file\(s\) .*nanotrack_head_sim.onnx"):
        make_tracker("nanotrack", peers_dir=tmp_path)
    (tmp_path / "nanotrackv2" / "nanotrack_head_sim.onnx").write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="tracker 'nanotrack': OpenCV cannot create it"):
        make_tracker("nanotrack", peers_dir=tmp_path)


@pytest.mark.skipif(not PEERS.is_dir(), reason=f"peers' ONNX files not present ({PEERS}; shared data is local only)")
@pytest.mark.parametrize("spec", ["nanotrack", "vit"])
def test_onnx_peers_run_with_the_shared_files(spec):
    frames, boxes = _frames()
    factory = make_tracker(spec, peers_dir=PEERS)
    assert factory.options["files"] and all(len(v) == 64 for v in factory.options["files"].values())
    tracker = factory()
    tracker.init(frames[0], boxes[0])
    for frame in frames[1:]:
        pred = tracker.update(frame)
        assert pred.box.shape == (4,) and np.all(np.isfinite(pred.box))


class _PlantedTracker(Tracker):
    """Tracker.create stand-in: the same arguments, a planted model (fast, known output)."""

    calls: list[dict] = []

    @classmethod
    def create(cls, **kwargs):
        cls.calls.append(kwargs)
        if kwargs["weights"] is None and not kwargs["random_init"]:
            raise ValueError("no embedded weights: pass weights")
        model = PlantedModel()
        model.set_score(2, 12, 12, 0.9)
        model.mask[40:90, 40:90] = 10.0
        return cls(model, config=kwargs["config"], attention=kwargs["attention"], device=kwargs["device"])


def test_ours_adapter_gives_box_polygon_mask_and_fresh_trackers(monkeypatch, tmp_path):
    _PlantedTracker.calls = []
    monkeypatch.setattr(tracker_module, "Tracker", _PlantedTracker)
    with pytest.raises(ValueError, match="weights"):
        make_tracker("ours:r50")  # r50 has no embedded weights
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    factory = make_tracker("ours:noatt:vot", weights=weights, backend="torch")
    assert _PlantedTracker.calls[-1] == {"variant": "lite", "weights": weights, "device": "cpu", "attention": False,
                                         "config": "vot", "random_init": False, "backend": "torch"}
    assert factory.options["backend"] == "torch"
    assert factory.spec == "ours:lite:noatt:vot" and factory.options["weights"] == str(weights)
    assert len(factory.options["model_sha256"]) == 64
    assert factory.options["config"]["penalty_k"] == 0.04 and factory.options["attention"]["enabled"] is False
    first, second = factory(), factory()
    assert first._tracker is not second._tracker and first._tracker.model is second._tracker.model
    frames, boxes = _frames(3, (160, 200))
    first.init(frames[0], boxes[0])
    pred = first.update(frames[1])
    assert isinstance(pred, Prediction) and pred.box.shape == (4,) and pred.polygon.shape == (4, 2)
    assert pred.mask.shape == (160, 200) and pred.mask.dtype == bool and not pred.held


def test_model_digest_follows_the_weights():
    model = PlantedModel()
    before = trackers.model_sha256(model)
    assert trackers.model_sha256(PlantedModel()) == before
    model.set_score(0, 1, 1, 0.7)
    assert trackers.model_sha256(model) != before


def test_ours_r50_random_weights_runs():
    factory = make_tracker("ours:r50:att", random_init=True)
    assert factory.options["weights"] == "random"
    frames, boxes = _frames(2, (120, 160))
    tracker = factory()
    tracker.init(frames[0], boxes[0])
    pred = tracker.update(frames[1])
    assert pred.box.shape == (4,) and pred.mask.shape == (120, 160)

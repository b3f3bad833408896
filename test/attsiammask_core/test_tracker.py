"""The tracker: the tracking step on planted score maps, mask output, loss/recovery, validation, devices, create()."""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch
from fake_siammask import ConvFeatureModel, PlantedModel

import attsiammask_core.models as models_module
import attsiammask_core.weights as weights_module
from attsiammask_core import geometry as geo
from attsiammask_core.config import AttentionConfig, TrackerConfig, preset
from attsiammask_core.tracker import Tracker, TrackResult, resolve_device

SHAPES = [(104, 32), (88, 40), (64, 64), (40, 80), (32, 96)]
FRAME_HW = (480, 640)


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, FRAME_HW + (3,), dtype=np.uint8)


def _tracker(model: PlantedModel | None = None, **config) -> Tracker:
    config.setdefault("lost_threshold", 0.0)
    return Tracker(model or PlantedModel(), config=TrackerConfig(**config), attention=False)


def _context(a: float, b: float) -> float:
    p = (a + b) / 2
    return math.sqrt((a + p) * (b + p))


def _candidate(state, anchor, y, x, deltas, cfg: TrackerConfig):
    """Scale, decoded crop box and penalty of one candidate, by hand from the spec."""
    cx, cy, w, h = state
    scale = 127 / _context(w, h)
    aw, ah = SHAPES[anchor]
    box = (deltas[0] * aw + (-96 + 8 * x), deltas[1] * ah + (-96 + 8 * y), aw * math.exp(deltas[2]),
           ah * math.exp(deltas[3]))
    s_c = _context(box[2], box[3]) / _context(w * scale, h * scale)
    r_c = (w / h) / (box[2] / box[3])
    penalty = math.exp(-(max(r_c, 1 / r_c) * max(s_c, 1 / s_c) - 1) * cfg.penalty_k)
    return scale, box, penalty


def _expected_step(state, anchor, y, x, deltas, cfg: TrackerConfig, prob: float):
    """The spec's state update for one winning candidate, written out by hand."""
    cx, cy, w, h = state
    scale, (px, py, pw, ph), penalty = _candidate(state, anchor, y, x, deltas, cfg)
    lr = penalty * prob * cfg.lr
    new = (cx + px / scale, cy + py / scale, w * (1 - lr) + pw / scale * lr, h * (1 - lr) + ph / scale * lr)
    return geo.clip_state_cxcywh(new, FRAME_HW)


@pytest.mark.parametrize(("anchor", "y", "x", "deltas"), [
    (2, 12, 12, (0.0, 0.0, 0.0, 0.0)),
    (1, 15, 9, (0.1, -0.2, 0.05, 0.1)),
    (4, 3, 20, (-0.3, 0.2, -0.1, 0.2)),
])
def test_planted_peak_gives_the_expected_box(anchor, y, x, deltas):
    model = PlantedModel()
    tracker = _tracker(model)
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    state = np.array([300 + 31.5, 200 + 31.5, 64, 64])
    model.set_score(anchor, y, x, 0.95, deltas)
    result = tracker.track(frame)
    expected = _expected_step(state, anchor, y, x, deltas, tracker.config, 0.95)
    np.testing.assert_allclose(result.box, geo.cxcywh_to_xywh(expected), rtol=1e-9, atol=1e-6)
    assert result.score == pytest.approx(0.95, abs=1e-6) and result.state == "tracking"
    assert model.refine_calls == [(y, x)]


def test_box_only_decoding_with_penalty_and_window_off():
    model = PlantedModel()
    tracker = _tracker(model, penalty_k=0.0, window_influence=0.0, lr=1.0)
    frame = _frame()
    tracker.init(frame, (100, 100, 80, 40))
    state = geo.xywh_to_cxcywh((100, 100, 80, 40))
    scale_z, _ = geo.search_scale(state[2:], 0.5, 127, 255)
    model.set_score(3, 20, 4, 0.99, (0.5, -0.25, 0.3, -0.2))
    result = tracker.track(frame)
    lr = 0.99  # penalty 1, lr 1
    cx = state[0] + (0.5 * 40 + (-96 + 32)) / scale_z
    cy = state[1] + (-0.25 * 80 + (-96 + 160)) / scale_z
    w = state[2] * (1 - lr) + 40 * math.exp(0.3) / scale_z * lr
    h = state[3] * (1 - lr) + 80 * math.exp(-0.2) / scale_z * lr
    np.testing.assert_allclose(result.box, [cx - w / 2, cy - h / 2, w, h], rtol=1e-6)


def test_scale_ratio_penalty_prefers_the_unchanged_shape():
    model = PlantedModel()
    frame = _frame()
    for k, winner in [(0.1, (2, 12, 10)), (0.0, (0, 12, 14))]:
        model.clear()
        model.refine_calls.clear()
        model.set_score(2, 12, 10, 0.90)  # square anchor on a square target: no penalty
        model.set_score(0, 12, 14, 0.92)  # 104x32: ratio change, penalised when k > 0
        tracker = _tracker(model, penalty_k=k)
        tracker.init(frame, (300, 200, 64, 64))
        tracker.track(frame)
        assert model.refine_calls == [winner[1:]]


def test_a_near_tie_gives_nearly_the_same_box_whichever_cell_is_ahead():
    """Two cells mirrored about the centre, 1e-6 apart: with argmax (tie_temperature 0) the box jumps by a cell
    when the tie tips the other way; with the default temperature by under a hundredth of that."""
    model, frame = PlantedModel(), _frame()

    def box_when_ahead(x_ahead: int, temperature: float) -> np.ndarray:
        model.clear()
        for x in (10, 14):
            model.set_score(2, 12, x, 0.9 + (1e-6 if x == x_ahead else 0.0))
        tracker = _tracker(model, tie_temperature=temperature)
        tracker.init(frame, (300, 200, 64, 64))
        return np.asarray(tracker.track(frame).box)

    assert TrackerConfig().tie_temperature == 0.0 and preset("nanotrack").tie_temperature == 1e-4
    jump = np.abs(box_when_ahead(10, 0.0) - box_when_ahead(14, 0.0)).max()
    assert jump > 10.0  # 4 cells of 8 px apart
    assert np.abs(box_when_ahead(10, 1e-4) - box_when_ahead(14, 1e-4)).max() < 0.01 * jump


def test_cosine_window_prefers_the_centre():
    model = PlantedModel()
    frame = _frame()
    for influence, winner in [(0.41, (12, 13)), (0.0, (2, 2))]:
        model.clear()
        model.refine_calls.clear()
        model.set_score(2, 12, 13, 0.80)
        model.set_score(2, 2, 2, 0.99)  # stronger but near the border
        tracker = _tracker(model, window_influence=influence)
        tracker.init(frame, (300, 200, 64, 64))
        tracker.track(frame)
        assert model.refine_calls == [winner]


def test_window_power_multiplies_the_scores_by_the_window():
    """window_power 1 with window_influence 0 picks argmax(score * window) (LightFC's multiplicative window):
    a border cell that wins on raw score loses to a weaker central one; power 0 keeps the raw argmax."""
    model = PlantedModel()
    frame = _frame()
    window = np.outer(np.hanning(25), np.hanning(25))
    assert 0.99 * window[3, 3] < 0.80 * window[12, 13]
    for power, winner in [(1.0, (12, 13)), (0.0, (3, 3))]:
        model.clear()
        model.refine_calls.clear()
        model.set_score(2, 12, 13, 0.80)
        model.set_score(2, 3, 3, 0.99)
        tracker = _tracker(model, window_influence=0.0, penalty_k=0.0, window_power=power)
        tracker.init(frame, (300, 200, 64, 64))
        tracker.track(frame)
        assert model.refine_calls == [winner]
    with pytest.raises(ValueError, match="window_power"):
        TrackerConfig(window_power=-1.0)


def test_score_lr_power_zero_replaces_the_size():
    """score_lr_power 0 with lr 1: the new size is the prediction whatever the score (LightFC's update); 1 keeps
    pysot's score-weighted smoothing."""
    model, frame = PlantedModel(), _frame()
    sizes = {}
    for power in (0.0, 1.0):
        model.clear()
        model.set_score(2, 12, 12, 0.6, (0.0, 0.0, math.log(1.5), math.log(1.5)))  # 1.5x the square anchor
        tracker = _tracker(model, lr=1.0, penalty_k=0.0, window_influence=0.0, score_lr_power=power)
        tracker.init(frame, (300, 200, 64, 64))
        sizes[power] = tracker.track(frame).box[2]
    scale_z = 127 / _context(64, 64)
    predicted = 1.5 * 64 / scale_z  # the square anchor is 64x64 crop pixels
    assert sizes[0.0] == pytest.approx(predicted)
    assert sizes[1.0] == pytest.approx(64 * 0.4 + predicted * 0.6)


@pytest.mark.parametrize(("pad", "fill"), [("mean", 120), ("zero", 0)])
def test_crops_beyond_the_frame_are_filled_as_configured(pad: str, fill: int, monkeypatch: pytest.MonkeyPatch):
    """A target at the frame's corner: the template crop's outside part is the frame's mean colour (pysot) or
    black (pad="zero", what LightFC was trained on); "area" context sizes the crop from sqrt(w h)."""
    model, frame = PlantedModel(), np.full((480, 640, 3), 120, dtype=np.uint8)
    seen = []
    original = model.template_features
    monkeypatch.setattr(model, "template_features", lambda z: seen.append(z.clone()) or original(z))
    tracker = _tracker(model, pad=pad, context="area")
    tracker.init(frame, (0, 0, 20, 80))
    crop = seen[0][0].numpy()
    assert crop[:, 0, 0].tolist() == [fill] * 3 and crop[:, -1, -1].tolist() == [120] * 3


@pytest.mark.parametrize(("coordinates", "shift"), [("pysot", -0.5), ("exact", 0.0)])
def test_coordinates_convention_of_the_reported_box(coordinates: str, shift: float):
    """A prediction of no motion and no size change: pysot reports the box half a pixel up and left of the
    initial one; coordinates="exact" reports it where it was."""
    model, frame = PlantedModel(), _frame()
    model.set_score(2, 12, 12, 0.99)
    tracker = _tracker(model, lr=1e-9, window_influence=0.0, penalty_k=0.0, coordinates=coordinates)
    tracker.init(frame, (300, 200, 64, 64))
    np.testing.assert_allclose(tracker.track(frame).box, (300 + shift, 200 + shift, 64, 64), atol=1e-6)


def test_state_is_clipped_to_the_frame():
    model = PlantedModel()
    tracker = _tracker(model, lr=1.0, window_influence=0.0, penalty_k=0.0)
    frame = _frame()
    tracker.init(frame, (600, 440, 30, 30))
    model.set_score(0, 24, 24, 0.99, (3.0, 3.0, -3.0, -3.0))  # far outside, tiny
    result = tracker.track(frame)
    x, y, w, h = result.box
    assert (x + w / 2, y + h / 2) == (640, 480) and w >= 10 and h >= 10


def test_mask_is_warped_back_and_gives_the_polygon():
    model = PlantedModel()
    model.mask[43:84, 43:84] = 10.0  # a centred square in the 127 mask
    tracker = _tracker(model)
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    state = geo.xywh_to_cxcywh((300, 200, 64, 64))
    _, s_x = geo.search_scale(state[2:], 0.5, 127, 255)
    model.set_score(2, 12, 12, 0.95)
    result = tracker.track(frame)
    crop_box = geo.search_crop_box_xywh(state[:2], s_x)
    source = geo.mask_source_box_xywh(crop_box, (12, 12), 8, 8, 127, 255)
    prob = 1 / (1 + np.exp(-model.mask.numpy()))
    expected = geo.mask_to_frame(prob, source, FRAME_HW) > tracker.config.mask_threshold
    assert result.mask.dtype == bool and result.mask.shape == FRAME_HW
    np.testing.assert_array_equal(result.mask, expected)
    ys, xs = np.nonzero(result.mask)
    assert abs((xs.min() + xs.max()) / 2 - state[0]) < 2 and abs((ys.min() + ys.max()) / 2 - state[1]) < 2
    assert result.polygon.shape == (4, 2)
    np.testing.assert_allclose(np.sort(result.polygon[:, 0])[[0, -1]], [xs.min(), xs.max()], atol=1.01)


def test_empty_mask_falls_back_to_the_state_box():
    model = PlantedModel()
    tracker = _tracker(model)
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    model.set_score(2, 12, 12, 0.95)
    result = tracker.track(frame)
    assert not result.mask.any()
    x, y, w, h = result.box
    np.testing.assert_allclose(result.polygon, [[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def test_matches_a_hand_written_reference_over_random_maps():
    """Random cls/loc maps each frame: the tracker equals the spec's step, candidate by candidate."""
    model = PlantedModel()
    cfg = TrackerConfig(lost_threshold=0.0)
    tracker = Tracker(model, config=cfg, attention=False)
    frame = _frame()
    tracker.init(frame, (250, 180, 90, 50))
    state = geo.xywh_to_cxcywh((250, 180, 90, 50))
    rng = np.random.default_rng(3)
    hann = np.hanning(25)
    for _ in range(4):
        model.fg.copy_(torch.from_numpy(rng.normal(0, 2, (5, 25, 25))))
        model.deltas.copy_(torch.from_numpy(rng.normal(0, 0.2, (4, 5, 25, 25))))
        fg, d = model.fg.numpy().astype(np.float64), model.deltas.numpy().astype(np.float64)
        best, best_value = None, -1.0
        for a in range(5):
            for y in range(25):
                for x in range(25):
                    prob = 1 / (1 + math.exp(-float(fg[a, y, x])))
                    _, _, pen = _candidate(state, a, y, x, d[:, a, y, x], cfg)
                    value = pen * prob * (1 - cfg.window_influence) + hann[y] * hann[x] * cfg.window_influence
                    if value > best_value:
                        best, best_value, best_prob = (a, y, x), value, prob
        a, y, x = best
        state = _expected_step(state, a, y, x, d[:, a, y, x], cfg, best_prob)
        result = tracker.track(frame)
        np.testing.assert_allclose(result.box, geo.cxcywh_to_xywh(state), rtol=1e-6, atol=1e-6)
        assert model.refine_calls[-1] == (y, x)
        assert result.score == pytest.approx(best_prob, rel=1e-5)


def test_loss_widens_the_search_and_recovers(monkeypatch):
    model = PlantedModel()
    cfg = TrackerConfig(lost_threshold=0.3, lost_frames=3, recover_threshold=0.5, lost_search_factor=2.0,
                        lost_window_factor=0.5)
    tracker = Tracker(model, config=cfg, attention=False)
    sides, influences = [], []
    crop, blend = geo.crop_square, geo.blend_window
    monkeypatch.setattr(geo, "crop_square", lambda f, c, side, out, pad: sides.append(side) or crop(f, c, side, out,
                                                                                                       pad))
    monkeypatch.setattr(geo, "blend_window", lambda p, w, inf: influences.append(inf) or blend(p, w, inf))
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    normal_side = geo.search_scale((64, 64), 0.5, 127, 255)[1]
    states = []
    model.set_score(2, 12, 12, 0.1)  # low score, no movement
    for _ in range(4):
        states.append(tracker.track(frame))
    assert [r.state for r in states] == ["tracking", "tracking", "lost", "lost"]
    assert not states[2].mask.any() and not states[3].mask.any()
    assert states[3].box == states[2].box  # held while lost
    assert sides[:4] == [128, normal_side, normal_side, normal_side]  # template crop, then three normal searches
    assert sides[4] == round(geo.context_side(states[2].box[2:], 0.5) * 255 / 127 * 2)  # widened
    assert influences[:3] == [0.41] * 3 and influences[3] == pytest.approx(0.205)
    model.clear()
    model.set_score(2, 13, 12, 0.4)  # above lost_threshold but below recover_threshold: still lost
    assert tracker.track(frame).state == "lost"
    model.clear()
    model.set_score(2, 13, 12, 0.9)
    recovered = tracker.track(frame)
    assert recovered.state == "tracking" and tracker.state == "tracking"
    assert recovered.box[1] > states[3].box[1]  # moved down with the widened scale
    assert tracker.track(frame).state == "tracking"


def test_lost_threshold_zero_disables_loss():
    model = PlantedModel()
    tracker = _tracker(model)
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    model.set_score(2, 12, 12, 0.01)
    assert all(tracker.track(frame).state == "tracking" for _ in range(8))


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros((48, 64, 3), np.float32), "uint8"),
    (np.zeros((48, 64), np.uint8), "H x W x 3"),
    (np.zeros((48, 64, 4), np.uint8), "H x W x 3"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_frames_are_refused(frame, message):
    tracker = _tracker()
    with pytest.raises(ValueError, match=message):
        tracker.init(frame, (1, 1, 10, 10))


@pytest.mark.parametrize(("box", "message"), [
    ((1, 1, float("nan"), 10), "finite"),
    ((1, 1, 0, 10), "> 0"),
    ((1, 1, 10, -3), "> 0"),
    ((1, 1, 10), "4 numbers"),
    (("a", 1, 2, 3), "4 numbers"),
    ((100, 10, 10, 10), "outside"),
    ((-20, -20, 10, 10), "outside"),
])
def test_bad_boxes_are_refused(box, message):
    tracker = _tracker()
    with pytest.raises(ValueError, match=message):
        tracker.init(np.zeros((48, 64, 3), np.uint8), box)


def test_partly_outside_box_is_clipped_and_track_needs_init():
    tracker = _tracker()
    frame = _frame()
    with pytest.raises(RuntimeError, match="init"):
        tracker.track(frame)
    tracker.init(frame, (-20, 470, 60, 40))  # clipped to (0, 470, 40, 10)
    np.testing.assert_allclose(tracker._state, geo.xywh_to_cxcywh((0, 470, 40, 10)))
    with pytest.raises(ValueError, match="uint8"):
        tracker.track(frame.astype(np.float32))


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:1", "CUDA:0"):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert resolve_device(name) == torch.device("cpu")


def test_cuda_request_falls_back_to_cpu_with_a_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = PlantedModel()
    with pytest.warns(UserWarning, match="CUDA is not available"):
        tracker = Tracker(model, device="cuda", attention=False)
    assert tracker.device == torch.device("cpu") and model.fg.device == torch.device("cpu")
    frame = _frame()
    tracker.init(frame, (300, 200, 64, 64))
    model.set_score(2, 12, 12, 0.9)
    tracker.track(frame)
    assert model.search_devices == [torch.device("cpu")]


def test_attention_runs_once_at_init_and_changes_the_kernels():
    frame = np.full(FRAME_HW + (3,), 128, np.uint8)
    rng = np.random.default_rng(0)
    frame[200:232, 300:332] = rng.integers(0, 256, (32, 32, 3))  # texture in the target's top-left quarter
    plain = Tracker(ConvFeatureModel(), attention=False)
    plain.init(frame, (300, 200, 64, 64))
    assert plain.attention is None
    att = Tracker(ConvFeatureModel(), attention=True)
    att.init(frame, (300, 200, 64, 64))
    assert att.attention is not None and att.attention.part.index == 0
    assert not torch.allclose(att._kernels.cls, plain._kernels.cls)
    same = Tracker(ConvFeatureModel(), attention=AttentionConfig(strength=0.0))
    same.init(frame, (300, 200, 64, 64))
    torch.testing.assert_close(same._kernels.cls, plain._kernels.cls)


@pytest.mark.slow
def test_real_model_shapes_and_determinism():
    """The r50 network with random weights: result types and shapes, and two runs that agree exactly."""
    frames = [_frame(i) for i in range(3)]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        tracker = Tracker.create(random_init=True)
        tracker.init(frames[0], (300, 200, 60, 80))
        runs.append([tracker.track(f) for f in frames[1:]])
    for a, b in zip(*runs, strict=True):
        assert isinstance(a, TrackResult) and a.state in ("tracking", "lost")
        assert a.mask.shape == FRAME_HW and a.mask.dtype == bool and a.polygon.shape == (4, 2)
        assert 0.0 <= a.score <= 1.0 and len(a.box) == 4
        assert a.box == b.box and a.score == b.score
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.polygon, b.polygon)
    assert set(tracker.last_timings) == {"crop", "backbone", "heads", "presence", "refine", "post"}


def test_create_requires_weights_for_r50(monkeypatch):
    with pytest.raises(ValueError, match="no embedded weights.*weights="):
        Tracker.create(variant="r50")
    with pytest.raises(ValueError, match="not both"):
        Tracker.create(weights="x.pth", random_init=True)
    with pytest.raises(ValueError, match="unknown tracker preset"):
        Tracker.create(random_init=True, config="nope")
    with pytest.raises(TypeError, match="config must be"):
        Tracker(PlantedModel(), config=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attention must be"):
        Tracker(PlantedModel(), attention="yes")  # type: ignore[arg-type]


def test_create_loads_weights_through_the_weights_package(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(models_module, "build_model", lambda variant: PlantedModel())
    monkeypatch.setattr(weights_module, "load_any", lambda path, model, variant=None: calls.append((path, variant)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker = Tracker.create(weights=tmp_path / "w.pt", config="vot", attention=False, backend="torch")
    assert calls == [(tmp_path / "w.pt", "lite")]  # the default variant
    assert tracker.config.penalty_k == 0.04 and not tracker.attention_config.enabled


def test_default_tracker_is_the_embedded_lite_model():
    from attsiammask_core.eval.metrics import iou_xywh
    from attsiammask_core.weights import embedded_weights_path

    if embedded_weights_path("lite") is None:
        pytest.skip("the embedded lite weights file is not in this checkout")
    import cv2
    from skimage import data

    frame = cv2.cvtColor(cv2.resize(data.astronaut(), (640, 480)), cv2.COLOR_RGB2BGR)
    tracker = Tracker.create()
    box = (195.0, 15.0, 180.0, 160.0)  # the astronaut's head
    tracker.init(frame, box)
    result = tracker.track(frame)
    # The same frame again: a trained model finds the target where it was, with confidence.
    assert result.state == "tracking" and result.score > 0.5
    assert iou_xywh(np.array([result.box]), np.array([box]))[0] > 0.6


def test_config_must_read_the_model_s_head():
    from attsiammask_core.models import build_model

    with pytest.raises(ValueError, match="box head is 'point'"):
        Tracker(build_model("lite"), config="r50_l3")


def test_create_uses_the_weights_stored_config_then_overrides(tmp_path):
    from attsiammask_core.config import preset, tracker_config_to_json
    from attsiammask_core.models import build_model
    from attsiammask_core.presence import with_shipped_presence
    from attsiammask_core.tracker import stored_tracker_config
    from attsiammask_core.weights import save_weights

    stored = dataclasses.replace(preset("nanotrack"), lr=0.42, penalty_k=0.07)
    path = tmp_path / "tuned.pt"
    save_weights(build_model("lite"), path, {"variant": "lite", "tracker_config": tracker_config_to_json(stored)})
    assert stored_tracker_config(path) == stored
    # presence "auto": the variant's shipped presence calibration and its loss thresholds fill in, then overrides
    calibrated = with_shipped_presence(stored, "lite")
    assert calibrated.presence == "verifier"
    assert Tracker.create(weights=path).config == calibrated
    assert Tracker.create(weights=path, overrides={"lr": 0.2}).config == dataclasses.replace(calibrated, lr=0.2)
    assert Tracker.create(weights=path, config="nanotrack").config == with_shipped_presence(preset("nanotrack"),
                                                                                            "lite")
    with pytest.raises(ValueError, match="unknown tracker configuration fields"):
        Tracker.create(weights=path, overrides={"speed": 1})
    plain = tmp_path / "plain.pt"
    save_weights(build_model("lite"), plain, {"variant": "lite"})
    assert Tracker.create(weights=plain).config == with_shipped_presence(preset("nanotrack"), "lite")  # its preset


def test_lite_inference_paths_are_traced_on_cpu_with_the_same_outputs():
    from attsiammask_core.models import build_model

    torch.manual_seed(0)
    model = build_model("lite")
    frame = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    eager = Tracker(model, config="nanotrack", attention=False)
    eager.init(frame, (100, 80, 60, 50))
    first = eager.track(frame)
    model.optimize_for_inference()
    traced = Tracker(model, config="nanotrack", attention=False)
    assert "_traced" in model.__dict__  # Tracker's .to(cpu) keeps the traces
    traced.init(frame, (100, 80, 60, 50))
    second = traced.track(frame)
    np.testing.assert_allclose(first.box, second.box, atol=1e-3)
    assert np.mean(first.mask != second.mask) < 1e-3
    model.train()
    assert "_traced" not in model.__dict__


def test_box_only_mode_skips_the_mask():
    from attsiammask_core.models import build_model

    frame = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    tracker = Tracker(build_model("lite"), config="nanotrack", attention=False, masks=False)
    tracker.init(frame, (100, 80, 60, 50))
    result = tracker.track(frame)
    assert not result.mask.any() and result.polygon.shape == (4, 2) and tracker.last_timings["refine"] == 0.0


def test_create_takes_the_attention_default_stored_with_the_weights(tmp_path):
    from attsiammask_core.models import build_model
    from attsiammask_core.weights import save_weights

    off = tmp_path / "off.pt"
    save_weights(build_model("lite"), off, {"variant": "lite", "attention": "false"})
    plain = tmp_path / "plain.pt"
    save_weights(build_model("lite"), plain, {"variant": "lite"})
    assert not Tracker.create(weights=off).attention_config.enabled
    assert Tracker.create(weights=off, attention=True).attention_config.enabled
    assert Tracker.create(weights=plain).attention_config.enabled  # no stored choice: the paper's attention on


def test_box_polygon_reports_the_tracked_box():
    from attsiammask_core.config import preset
    from attsiammask_core.models import build_model

    frame = (np.random.default_rng(1).random((240, 320, 3)) * 255).astype(np.uint8)
    config = dataclasses.replace(preset("nanotrack"), polygon="box")
    tracker = Tracker(build_model("lite"), config=config, attention=False)
    tracker.init(frame, (100, 80, 60, 50))
    result = tracker.track(frame)
    x, y, w, h = result.box
    np.testing.assert_allclose(result.polygon.min(axis=0), [x, y], atol=1e-6)
    np.testing.assert_allclose(result.polygon.max(axis=0), [x + w, y + h], atol=1e-6)
    with pytest.raises(ValueError, match="polygon must be one of"):
        dataclasses.replace(config, polygon="hull")

"""The onnxruntime backend: same results as torch on real frames, the export folder, and the backend switch."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed: make setup installs it")

from attsiammask_core import Tracker  # noqa: E402
from attsiammask_core.config import AttentionConfig  # noqa: E402
from attsiammask_core.deploy.graphs import GRAPHS  # noqa: E402
from attsiammask_core.deploy.ort_model import MANIFEST, OrtModel, cut_window  # noqa: E402
from attsiammask_core.eval.parity import backend_pair, compare_on_frames  # noqa: E402
from attsiammask_core.models.refine import WINDOWS, WINDOWS_STRIDE16, crop_window  # noqa: E402
from attsiammask_core.tracker import resolve_backend  # noqa: E402
from attsiammask_core.weights import WeightsError  # noqa: E402

BOX_PX, SCORE = 0.5, 1e-4


@pytest.fixture(scope="module")
def crossing(shared_sequences):
    """The first 12 frames of a real sequence of ../shared/data and its first box."""
    from attsiammask_core.eval.sequences import discover

    (sequence,) = discover(shared_sequences, names=["Crossing"])
    return [sequence.frame(i) for i in range(12)], tuple(sequence.boxes[0])


@pytest.fixture(scope="module")
def shared_sequences():
    from conftest import SHARED_DATA

    folder = SHARED_DATA / "sequences"
    if not (folder / "Crossing").is_dir():
        pytest.skip("../shared/data/sequences/Crossing not present")
    return folder


@pytest.mark.parametrize("attention", [True, False])
def test_lite_backends_agree_on_real_frames(crossing, attention):
    frames, box = crossing
    result = compare_on_frames("Crossing", backend_pair("lite", attention), frames, box)
    assert result.frames == 12
    assert result.max_box_px <= BOX_PX and result.max_score <= SCORE, result
    assert result.mask_pixels_differing < 0.001, result


@pytest.mark.slow
@pytest.mark.parametrize("attention", [True, False])
def test_r50_backends_agree_on_real_frames(crossing, attention):
    torch.manual_seed(0)
    frames, box = crossing
    result = compare_on_frames("Crossing", backend_pair("r50", attention, random_init=True), frames[:5], box)
    assert result.max_box_px <= BOX_PX and result.max_score <= SCORE, result


@pytest.mark.parametrize("windows", [WINDOWS, WINDOWS_STRIDE16])
def test_cut_window_equals_the_padded_crop(windows):
    rng = np.random.default_rng(0)
    for window, side in zip(windows, (128, 64, 32), strict=True):
        feature = rng.standard_normal((1, 3, side, side)).astype(np.float32)
        for pos in [(0, 0), (0, 15), (7, 3), (15, 15), (24, 24)]:
            expected = crop_window(torch.from_numpy(feature), window, pos).numpy()
            got = cut_window(feature, window, pos)
            if expected.shape[-2:] != (window.size, window.size):
                continue  # beyond this map's cells (r50 windows on a stride-16 map): not a position the tracker asks
            np.testing.assert_array_equal(got, expected)


def test_tracker_create_switches_backend_and_checks_arguments():
    tracker = Tracker.create(variant="lite", backend="onnxruntime", attention=False)
    assert isinstance(tracker.model, OrtModel) and tracker.model.providers == ["CPUExecutionProvider"]
    assert set(tracker.model.sessions) == set(GRAPHS)
    with pytest.raises(ValueError, match="backend must be one of"):
        Tracker.create(variant="lite", backend="tensorrt")
    with pytest.raises(ValueError, match="providers apply to backend='onnxruntime' only"):
        Tracker.create(variant="lite", backend="torch", providers=["cuda"])
    with pytest.raises(ValueError, match="keep device='cpu'"):
        Tracker.create(variant="lite", backend="onnxruntime", device="cuda")


def test_auto_backend_is_onnxruntime_on_a_cpu_and_torch_where_onnxruntime_cannot_run(monkeypatch):
    assert isinstance(Tracker.create(variant="lite", attention=False).model, OrtModel)  # the default: auto
    assert isinstance(Tracker.create(variant="lite", providers=["cpu"]).model, OrtModel)
    backbone_parts = AttentionConfig(enabled=True, part_features="backbone")
    assert not isinstance(Tracker.create(variant="lite", attention=backbone_parts).model, OrtModel)
    assert resolve_backend("auto", torch.device("cuda"), AttentionConfig()) == "torch"
    assert resolve_backend("torch", torch.device("cpu"), AttentionConfig()) == "torch"
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    assert resolve_backend("auto", torch.device("cpu"), AttentionConfig()) == "torch"
    assert not isinstance(Tracker.create(variant="lite", attention=False).model, OrtModel)


def test_unavailable_gpu_providers_fall_back_to_cpu_with_a_warning():
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider is not available"):
        tracker = Tracker.create(variant="lite", backend="onnxruntime", providers=["cuda", "cpu"])
    assert tracker.model.providers == ["CPUExecutionProvider"]


def test_a_provider_onnxruntime_lists_but_cannot_start_is_reported(monkeypatch):
    """onnxruntime-gpu without the CUDA libraries lists CUDA, then runs on the CPU: said, not hidden."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = Tracker.create(variant="lite", backend="onnxruntime", providers=["cuda"])
    assert tracker.model.providers == ["CPUExecutionProvider"]
    assert any("could not start CUDAExecutionProvider" in str(w.message) for w in caught), [str(w.message)
                                                                                           for w in caught]


def test_attention_from_backbone_parts_needs_torch(crossing):
    frames, box = crossing
    tracker = Tracker.create(variant="lite", backend="onnxruntime",
                             attention=AttentionConfig(enabled=True, part_features="backbone"))
    with pytest.raises(NotImplementedError, match="needs backend='torch'"):
        tracker.init(frames[0], box)


def test_export_folder_runs_with_the_stored_values(tmp_path, crossing, capsys):
    onnx = pytest.importorskip("onnx", reason="the export needs the onnx package (extra 'onnx')")
    from attsiammask_core.cli import main

    assert main(["export", "--variant", "lite", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "search.onnx" in printed and "x (1, 3, 255, 255)" in printed and "logits (1, 1, 127, 127)" in printed
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert set(manifest["graphs"]) == set(GRAPHS) and manifest["opset"] >= 17
    for name, entry in manifest["graphs"].items():
        proto = onnx.load(str(tmp_path / entry["file"]))
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["variant"] == "lite" and meta["attsiammask_graph"] == name
        assert json.loads(meta["tracker_config"])["window_influence"] == 0.455  # the embedded weights' values
        assert [i.name for i in proto.graph.input] == list(GRAPHS[name].inputs)
        assert [o.name for o in proto.graph.output] == list(GRAPHS[name].outputs)
    from_folder = Tracker.create(variant="lite", backend="onnxruntime", weights=tmp_path)
    reference = Tracker.create(variant="lite", backend="torch")
    assert from_folder.config == reference.config
    assert from_folder.attention_config.enabled is reference.attention_config.enabled is False
    frames, box = crossing
    result = compare_on_frames("Crossing", (reference, from_folder), frames[:6], box)
    assert result.max_box_px <= BOX_PX and result.max_score <= SCORE
    with pytest.raises(WeightsError, match="holds graphs of variant 'lite', not 'r50'"):
        Tracker.create(variant="r50", backend="onnxruntime", weights=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="weights file not found: a folder, and no `attsiammask export` folder"):
        Tracker.create(variant="lite", backend="onnxruntime", weights=tmp_path / "empty")


def test_parity_command_prints_both_measures(shared_sequences, capsys):
    from attsiammask_core.cli import main

    code = main(["parity", "--data", str(shared_sequences), "--sequences", "Crossing", "--variants", "lite",
                 "--max-frames", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "per frame, same state" in out and "closed loops" in out
    assert "lite            on  Crossing                          4" in out
    assert "within the tolerances; closed loops parted (> 0.5 px) in 0 of 2 runs" in out


def test_lite_graphs_take_several_targets_and_match_one_at_a_time():
    from attsiammask_core.models import build_model

    torch.manual_seed(0)
    model = build_model("lite").eval()
    ort_model = OrtModel.from_torch(model, threads=1)
    assert all(ort_model.takes_batches(name) for name in ("template_features", "search", "refine"))
    z = torch.rand(3, 3, 127, 127) * 255
    x = torch.rand(3, 3, 255, 255) * 255
    many = ort_model.template_features_many(z)
    one_by_one = torch.cat([ort_model.template_features(z[k:k + 1]) for k in range(3)])
    np.testing.assert_allclose(many.numpy(), one_by_one.numpy(), atol=1e-4)
    kernels = [ort_model.template_kernels(one_by_one[k:k + 1]) for k in range(3)]
    outs = [ort_model.search_heads(ort_model.search_features(x[k:k + 1]), kernels[k]) for k in range(3)]
    cells = [(3, 4), (8, 8), (12, 1)]
    batched = ort_model.refine_many(outs, cells)
    single = torch.cat([ort_model.refine(out, cell) for out, cell in zip(outs, cells, strict=True)])
    assert batched.shape == (3, 127, 127)
    np.testing.assert_allclose(batched.numpy(), single.numpy(), atol=1e-4)

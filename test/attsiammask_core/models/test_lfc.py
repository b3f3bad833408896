"""The lfc model: shapes of every entry point, LightFC's centre-head box expressed exactly in point-head terms, the
tracker and both backends on it, and (when the files are fetched) the trunk loaded from LightFC's ncnn files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from attsiammask_core import geometry
from attsiammask_core.config import preset
from attsiammask_core.models import build_model
from attsiammask_core.models.lfc import SEARCH_SIZE, LfcSiamMask
from attsiammask_core.tracker import Tracker

LIGHTFC_FILES = Path(__file__).resolve().parents[3] / "data" / "weights" / "lightfc"


@pytest.fixture(scope="module")
def model() -> LfcSiamMask:
    torch.manual_seed(0)
    return build_model("lfc").eval()


def test_entry_point_shapes(model: LfcSiamMask) -> None:
    with torch.no_grad():
        zf = model.template_features(torch.rand(1, 3, 127, 127) * 255)
        kernels = model.template_kernels(zf)
        out = model.search(torch.rand(1, 3, 255, 255) * 255, kernels)
        mask = model.refine(out, (3, 12))
    assert zf.shape == (1, 96, 8, 8)
    assert out.cls.shape == (1, 2, 16, 16) and out.loc.shape == (1, 4, 16, 16)
    assert out.mask_corr.shape == (1, 96, 16, 16)
    assert (out.f0.shape[1:], out.f1.shape[1:], out.f2.shape[1:]) == ((16, 128, 128), (24, 64, 64), (32, 32, 32))
    assert mask.shape == (1, 127, 127)


def test_centre_heads_decode_to_lightfcs_box(model: LfcSiamMask, monkeypatch: pytest.MonkeyPatch) -> None:
    """softmax(cls)[1] is LightFC's score, and the tracker's ltrb decoding gives LightFC's box (cell + offset)/16,
    size map, in crop pixels relative to the crop centre."""
    generator = torch.Generator().manual_seed(1)
    score = torch.rand(1, 1, 16, 16, generator=generator) * 0.98 + 0.01
    size = torch.rand(1, 2, 16, 16, generator=generator) * 0.5 + 0.05
    offset = torch.rand(1, 2, 16, 16, generator=generator)
    monkeypatch.setattr(model.score_head, "forward", lambda fused: score)
    monkeypatch.setattr(model.size_head, "forward", lambda fused: size)
    monkeypatch.setattr(model.offset_head, "forward", lambda fused: offset)
    with torch.no_grad():
        kernels = model.template_kernels(model.template_features(torch.zeros(1, 3, 127, 127)))
        out = model.search(torch.zeros(1, 3, 255, 255), kernels)
    probability = torch.softmax(out.cls[0].reshape(2, -1), dim=0)[1].numpy()
    np.testing.assert_allclose(probability, score.flatten().numpy(), rtol=1e-5)
    cfg = preset("lightfc")
    points = geometry.anchors_cxcywh(cfg.stride, (1.0,), (1.0,), cfg.score_size)
    boxes = geometry.decode_ltrb_cxcywh(out.loc[0].reshape(4, -1).numpy(), points)
    rows, cols = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    expected_cx = (cols.ravel() + offset[0, 0].flatten().numpy()) / 16 * SEARCH_SIZE - SEARCH_SIZE / 2
    expected_cy = (rows.ravel() + offset[0, 1].flatten().numpy()) / 16 * SEARCH_SIZE - SEARCH_SIZE / 2
    np.testing.assert_allclose(boxes[:, 0], expected_cx, atol=1e-3)
    np.testing.assert_allclose(boxes[:, 1], expected_cy, atol=1e-3)
    np.testing.assert_allclose(boxes[:, 2], size[0, 0].flatten().numpy() * SEARCH_SIZE, atol=1e-3)
    np.testing.assert_allclose(boxes[:, 3], size[0, 1].flatten().numpy() * SEARCH_SIZE, atol=1e-3)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_tracker_runs_on_both_backends(backend: str) -> None:
    tracker = Tracker.create(variant="lfc", random_init=True, backend=backend, attention=True)
    frame = np.full((120, 160, 3), 90, dtype=np.uint8)
    frame[40:80, 60:100] = (20, 200, 40)
    tracker.init(frame, (60, 40, 40, 40))
    result = tracker.track(frame)
    assert np.all(np.isfinite(result.box)) and result.mask.shape == frame.shape[:2]


def test_onnxruntime_matches_torch() -> None:
    from attsiammask_core.deploy.ort_model import OrtModel

    torch.manual_seed(3)
    model = build_model("lfc").eval()
    ort_model = OrtModel.from_torch(model)
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        kernels = model.template_kernels(model.template_features(z))
        expected = model.search(x, kernels)
    kernels_ort = ort_model.template_kernels(ort_model.template_features(z))
    got = ort_model.search_heads(ort_model.search_features(x), kernels_ort)
    np.testing.assert_allclose(np.asarray(got.cls), expected.cls.numpy(), atol=1e-3)
    np.testing.assert_allclose(np.asarray(got.loc), expected.loc.numpy(), atol=1e-2)


@pytest.mark.skipif(not (LIGHTFC_FILES / "lightfc_search.ncnn.bin").is_file(),
                    reason="data/weights/lightfc not fetched (tools/peers/build_peers.py --weights-out)")
def test_trunk_loads_from_lightfc_ncnn_files() -> None:
    model = build_model("lfc")
    model.load_lightfc(str(LIGHTFC_FILES))  # raises when the modules differ from the ncnn graphs
    assert model.backbone.stem.weight.abs().sum() > 0


def test_missing_ncnn_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="lightfc_search.ncnn"):
        build_model("lfc").load_lightfc(str(tmp_path))


def test_shipped_weights_load_with_their_tuned_configuration() -> None:
    from attsiammask_core.weights import embedded_weights_path, read_metadata

    path = embedded_weights_path("lfc")
    assert path.is_file() and path.stat().st_size < 20_000_000
    tracker = Tracker.create(variant="lfc", backend="torch")
    cfg = tracker.config
    assert (cfg.context, cfg.pad, cfg.coordinates, cfg.window_power, cfg.polygon) == ("area", "zero", "exact", 1.0,
                                                                                        "box")
    assert tracker.attention_config.enabled is False and read_metadata(path)["variant"] == "lfc"
    if (LIGHTFC_FILES / "lightfc_search.ncnn.bin").is_file():  # the trunk is LightFC's, unchanged
        reference = build_model("lfc")
        reference.load_lightfc(str(LIGHTFC_FILES))
        for name, tensor in reference.state_dict().items():
            if name.split(".")[0] in ("backbone", "fusion", "score_head", "size_head", "offset_head"):
                assert torch.equal(tensor, tracker.model.state_dict()[name]), name

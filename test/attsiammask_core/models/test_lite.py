"""The lite variant: NanoTrack V2's MobileNetV3 trunk and point box head (stride 16), mask branch and refine."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from attsiammask_core.models import LiteSiamMask, build_model
from attsiammask_core.models.pixelwise import xcorr_pixelwise
from attsiammask_core.weights import WeightsError
from attsiammask_core.weights.nanotrack import load_nanotrack_into, read_nanotrack_state

PEERS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "peers" / "nanotrackv2"
NANOTRACK_PTH = Path(__file__).resolve().parents[3] / "data" / "weights" / "nanotrackv2.pth"


@pytest.fixture(scope="module")
def lite() -> LiteSiamMask:
    torch.manual_seed(0)
    return build_model("lite")


def test_trunk_gives_stride_16_features_and_refine_levels(lite):
    with torch.inference_mode():
        template = lite.backbone(torch.rand(1, 3, 127, 127) * 255)
        search = lite.backbone(torch.rand(1, 3, 255, 255) * 255)
    assert [tuple(f.shape[1:]) for f in template] == [(16, 64, 64), (16, 32, 32), (24, 16, 16), (48, 8, 8)]
    assert [tuple(f.shape[1:]) for f in search] == [(16, 128, 128), (16, 64, 64), (24, 32, 32), (48, 16, 16)]


def test_outputs_match_the_tracker_interface(lite):
    with torch.inference_mode():
        zf = lite.template_features(torch.rand(1, 3, 127, 127) * 255)
        out = lite.search(torch.rand(1, 3, 255, 255) * 255, lite.template_kernels(zf))
        corner = lite.refine(out, (0, 15))
        centre = lite.refine(out, (8, 8))
    assert zf.shape == (1, 48, 8, 8)
    assert out.cls.shape == (1, 2, 16, 16) and out.loc.shape == (1, 4, 16, 16)
    assert bool((out.loc > 0).all())  # edge distances are exp() of the regression
    assert out.mask_corr.shape == (1, 96, 16, 16)
    assert corner.shape == centre.shape == (1, 127, 127)
    assert LiteSiamMask.box_head == "point"


def test_pixelwise_correlation_is_one_channel_per_template_cell():
    search, kernel = torch.randn(2, 5, 4, 6), torch.randn(2, 5, 3, 3)
    out = xcorr_pixelwise(search, kernel)
    assert out.shape == (2, 9, 4, 6)
    # channel j at (y, x) = <kernel cell j, search cell (y, x)>
    assert torch.allclose(out[1, 4, 2, 5], (kernel[1, :, 1, 1] * search[1, :, 2, 5]).sum(), atol=1e-5)


def test_lite_is_small(lite):
    assert sum(p.numel() for p in lite.parameters()) * 4 < 8e6


def _nanotrack_like_checkpoint(path: Path, model: LiteSiamMask) -> None:
    """A file shaped like NanoTrack's: numpy scalar epoch, state_dict with backbone, ban_head and an unused neck."""
    state = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("backbone.", "ban_head."))}
    state["neck.downsample.0.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save({"epoch": np.float64(34.0), "state_dict": state, "optimizer": None}, path)


def test_nanotrack_layout_reads_with_a_numpy_allow_list(tmp_path, lite):
    source = build_model("lite")
    torch.manual_seed(1)
    for p in source.parameters():
        p.data.normal_()
    path = tmp_path / "nanotrack_like.pth"
    _nanotrack_like_checkpoint(path, source)
    with pytest.raises(Exception, match="(?i)weights only|unsupported global"):
        torch.load(path, weights_only=True)  # the numpy scalar needs the allow-list
    target = build_model("lite")
    before = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("refine_head.")}
    assert load_nanotrack_into(path, target) == len(read_nanotrack_state(path))
    for key, value in source.state_dict().items():
        if key.startswith(("backbone.", "ban_head.")):
            assert torch.equal(target.state_dict()[key], value), key
    for key, value in before.items():  # the mask side keeps its own values
        assert torch.equal(target.state_dict()[key], value), key


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1, "state_dict": {"backbone.x": torch.zeros(1)}, "payload": Evil()}, path)
    with pytest.raises(WeightsError, match="not a readable NanoTrack checkpoint"):
        read_nanotrack_state(path)
    assert not marker.exists()


def test_other_layouts_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"rpn_head.cls.weight": torch.zeros(2)}}, path)
    with pytest.raises(WeightsError, match="not a NanoTrack V2 layout"):
        read_nanotrack_state(path)


def test_mask_branch_starts_from_the_classification_correlation(lite):
    model = build_model("lite")
    model.init_mask_branch_from_box_head()
    for key, value in model.mask_branch.corr.state_dict().items():
        assert torch.equal(value, model.ban_head.corr_pw_cls.state_dict()[key])
    for key, value in model.mask_branch.tower.state_dict().items():
        assert torch.equal(value, model.ban_head.cls_pw_tower.state_dict()[key])


@pytest.mark.skipif(not PEERS.is_dir(), reason="needs ../shared/data/peers (NanoTrack V2's ONNX files)")
@pytest.mark.parametrize("source", ["embedded", "nanotrack_pth"])
def test_port_matches_nanotrack_onnx_outputs(source):
    """Our modules with NanoTrack's weights give the outputs of its published ONNX files (OpenCV dnn). The shipped
    lite weights keep NanoTrack's trunk and box head unchanged (frozen in training), so they match too."""
    import cv2

    from attsiammask_core.weights import embedded_weights_path, load_any

    model = build_model("lite")
    if source == "embedded":
        load_any(embedded_weights_path("lite"), model, variant="lite")
    elif NANOTRACK_PTH.is_file():
        load_nanotrack_into(NANOTRACK_PTH, model)
    else:
        pytest.skip("data/weights/nanotrackv2.pth not fetched (tools/data/README.md)")
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 255, (127, 127, 3)).astype(np.float32)
    x = rng.uniform(0, 255, (255, 255, 3)).astype(np.float32)
    backbone = cv2.dnn.readNet(str(PEERS / "nanotrack_backbone_sim.onnx"))
    head = cv2.dnn.readNet(str(PEERS / "nanotrack_head_sim.onnx"))

    def features(image: np.ndarray) -> np.ndarray:
        backbone.setInput(cv2.dnn.blobFromImage(image, 1.0, swapRB=False))
        return backbone.forward()

    zf_ref, xf_ref = features(z), features(x)
    head.setInput(zf_ref, "input1")
    head.setInput(xf_ref, "input2")
    cls_ref, loc_ref = head.forward(["output1", "output2"])
    with torch.inference_mode():
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a.transpose(2, 0, 1)[None].copy())

        zf = model.template_features(tensor(z))
        out = model.search(tensor(x), model.template_kernels(zf))
    assert np.allclose(zf.numpy(), zf_ref, atol=1e-3)
    assert np.allclose(out.cls.numpy(), cls_ref, atol=1e-3)
    assert np.allclose(out.loc.numpy(), loc_ref, rtol=1e-4, atol=1e-2)


def test_refine_deconvolution_as_a_matrix_product_is_the_same():
    from attsiammask_core.models.refine import Refine

    torch.manual_seed(0)
    refine = Refine(16, 16, 24, 96)
    windows = (torch.randn(2, 16, 61, 61), torch.randn(2, 16, 31, 31), torch.randn(2, 24, 15, 15),
               torch.randn(2, 96, 1, 1))
    with torch.no_grad():
        reference = refine.fuse(*windows)
        refine.deconv_as_matmul = True
        assert torch.allclose(refine.fuse(*windows), reference, atol=1e-5)
    assert build_model("lite").refine_head.deconv_as_matmul and not build_model("r50").refine_head.deconv_as_matmul

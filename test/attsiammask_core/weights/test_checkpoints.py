"""Official checkpoint import: both key layouts, every wrapper form, strict errors, corrupt and malicious files."""
from __future__ import annotations

import itertools
import json
import pickle
import pickletools
from pathlib import Path

import pytest
import torch

from attsiammask_core.models import build_model
from attsiammask_core.models.siammask import SiamMask
from attsiammask_core.weights import WeightsError, detect_layout, load_any, load_checkpoint, normalise_keys

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
SCHEMAS = {"pysot": REFERENCE / "pysot_siammask_r50_l3_keys.json",
           "foolwood": REFERENCE / "siammask_sharp_keys.json"}
NBT = "num_batches_tracked"


def _schema(layout: str) -> dict[str, list[int]]:
    path = SCHEMAS[layout]
    if not path.is_file():
        pytest.skip(f"reference key schema not available (needs ../shared/reference): {path}")
    return json.loads(path.read_text())


def _random_state(schema: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: (torch.randint(0, 10**6, shape, generator=gen, dtype=torch.int64) if k.endswith(NBT)
                else torch.randn(shape, generator=gen)) for k, shape in schema.items()}


@pytest.fixture(scope="module")
def states() -> dict[str, dict[str, torch.Tensor]]:
    """The same random tensors under pysot names and under foolwood names (the schemas share one order)."""
    pysot, foolwood = _schema("pysot"), _schema("foolwood")
    assert list(pysot.values()) == list(foolwood.values())
    ours = _random_state(pysot)
    return {"pysot": ours, "foolwood": dict(zip(foolwood, ours.values(), strict=True))}


@pytest.fixture(scope="module")
def model() -> SiamMask:
    return build_model("r50")


def _wrap(state: dict[str, torch.Tensor], wrapper: str, module: bool, nbt: bool) -> dict:
    flat = {("module." if module else "") + k: v for k, v in state.items() if nbt or not k.endswith(NBT)}
    if wrapper == "flat":
        return flat
    return {"epoch": 20, "arch": "Custom", "state_dict": flat, "best_acc": 0.5, "anchor_cfg": {"stride": 8}}


def test_schemas_map_one_to_one_onto_our_names(model):
    pysot, foolwood = _schema("pysot"), _schema("foolwood")
    assert list(normalise_keys(dict.fromkeys(foolwood, torch.zeros(0)))) == list(pysot)
    assert list(model.state_dict()) == list(pysot)


@pytest.mark.parametrize(("layout", "wrapper", "module", "nbt"),
                         list(itertools.product(["pysot", "foolwood"], ["flat", "state_dict"], [False, True],
                                                [True, False])))
def test_round_trip_every_wrapper_form(tmp_path, states, model, layout, wrapper, module, nbt):
    path = tmp_path / "model.pth"
    torch.save(_wrap(states[layout], wrapper, module, nbt), path)
    before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith(NBT)}
    assert load_any(path, model) == layout
    loaded = model.state_dict()
    expected = states["pysot"]
    assert list(loaded) == list(expected)
    for key, value in expected.items():
        if key.endswith(NBT) and not nbt:
            assert torch.equal(loaded[key], before[key])  # optional: the model keeps its own counter
        else:
            assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value), key


@pytest.mark.parametrize("layout", ["pysot", "foolwood"])
def test_legacy_non_zip_serialisation(tmp_path, states, model, layout):
    """Files saved by old PyTorch (0.4-1.5, as the released SiamMask .pth) use the legacy non-zip format."""
    path = tmp_path / "old.pth"
    torch.save(_wrap(states[layout], "state_dict", True, True), path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] == b"\x80\x02"  # a plain pickle stream, not a zip archive
    assert load_any(path, model) == layout
    for key, value in states["pysot"].items():
        assert torch.equal(model.state_dict()[key], value), key


def test_detect_layout(states):
    assert detect_layout(states["pysot"]) == "pysot"
    assert detect_layout(states["foolwood"]) == "foolwood"
    assert detect_layout({"module." + k: v for k, v in states["foolwood"].items()}) == "foolwood"


def _error(tmp_path: Path, obj: object, model: SiamMask) -> str:
    path = tmp_path / "bad.pth"
    torch.save(obj, path)
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path, model)
    return str(info.value)


def test_strict_errors_name_missing_unexpected_and_shapes(tmp_path, states, model):
    state = dict(states["pysot"])
    state.pop("refine_head.deconv.weight")
    state["rpn_head.cls.extra.weight"] = torch.zeros(3)
    state["neck.downsample.downsample.0.weight"] = torch.zeros(256, 1024, 3, 3)
    message = _error(tmp_path, state, model)
    assert "1 missing keys (refine_head.deconv.weight)" in message
    assert "1 unexpected keys (rpn_head.cls.extra.weight)" in message
    assert "neck.downsample.downsample.0.weight: file [256, 1024, 3, 3] vs model [256, 1024, 1, 1]" in message
    assert issubclass(WeightsError, ValueError)


def test_base_model_without_refine_is_rejected_with_counts(tmp_path, states, model):
    state = {k: v for k, v in states["foolwood"].items() if not k.startswith("refine_model.")}
    message = _error(tmp_path, state, model)
    assert "32 missing keys (refine_head.v0.0.weight" in message and "27 more" in message
    assert "foolwood layout" in message


def test_foreign_layout_is_rejected(tmp_path, model):
    message = _error(tmp_path, {"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}, model)
    assert "unexpected keys (fc.weight, fc.bias)" in message and "missing keys" in message


@pytest.mark.parametrize(("obj", "needle"), [
    ([torch.zeros(2)], "expected a dict of tensors, found list"),
    ({"a": torch.zeros(2), "b": 3, "c": "text"}, "2 entries are not tensors"),
    ({"state_dict": {"x": [1, 2]}}, "1 entries are not tensors"),
    ({}, "empty"),
])
def test_not_a_dict_of_tensors(tmp_path, model, obj, needle):
    assert needle in _error(tmp_path, obj, model)


@pytest.mark.parametrize("cut", ["half", "header", "empty", "text"])
def test_truncated_corrupt_or_foreign_file(tmp_path, states, model, cut):
    good = tmp_path / "good.pth"
    torch.save({k: v for k, v in list(states["pysot"].items())[:10]}, good)
    data = good.read_bytes()
    content = {"half": data[:len(data) // 2], "header": data[:64], "empty": b"",
               "text": b"this is not a checkpoint\n"}[cut]
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    with pytest.raises(WeightsError, match="not a readable torch checkpoint"):
        load_any(bad, model)


def test_missing_file(tmp_path, model):
    with pytest.raises(FileNotFoundError):
        load_any(tmp_path / "nope.pth", model)


class _Exploit:
    """Unpickling this would call open(marker, 'w'), creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("form", ["torch_zip", "wrapped", "raw_pickle"])
def test_malicious_pickle_is_refused_without_running(tmp_path, model, form):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if form == "torch_zip":
        torch.save(_Exploit(marker), path)
    elif form == "wrapped":
        torch.save({"state_dict": {"backbone.conv1.weight": torch.zeros(1)}, "x": _Exploit(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
        ops = [op.name for op, _, _ in pickletools.genops(path.read_bytes())]
        assert "REDUCE" in ops  # the payload really is a call
    assert not marker.exists()
    with pytest.raises(WeightsError, match="refused"):
        load_any(path, model)
    assert not marker.exists()

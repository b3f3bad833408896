"""Our weights format (a torch file read with weights_only=True), format detection in load_any, and the
`attsiammask convert` command."""
from __future__ import annotations

import argparse

import pytest
import torch

from attsiammask_core.commands.convert import register
from attsiammask_core.models import build_model
from attsiammask_core.models.siammask import SiamMask
from attsiammask_core.weights import (
    WeightsError,
    is_ours,
    is_safetensors,
    load_any,
    load_weights,
    read_metadata,
    read_weights,
    save_weights,
)


@pytest.fixture(scope="module")
def source() -> SiamMask:
    """A model with non-default weights and BN statistics, to tell a load from a fresh build."""
    torch.manual_seed(3)
    model = build_model("r50")
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(torch.randn_like(value))
            else:
                value.fill_(7)
    return model


def _assert_same(a: SiamMask, b: SiamMask) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


def test_save_and_load_weights_round_trip(tmp_path, source):
    path = tmp_path / "r50.pt"
    assert save_weights(source, path, {"variant": "r50", "note": "test"}) == 356
    assert is_ours(torch.load(path, weights_only=True)) and not is_safetensors(path)
    tensors, metadata = read_weights(path)
    assert len(tensors) == 356
    assert metadata == {"variant": "r50", "note": "test"} == read_metadata(path)
    model = load_weights(path, "r50")
    assert not model.training
    _assert_same(model, source)
    fresh = build_model("r50")
    assert load_any(path, fresh, variant="r50") == "attsiammask"
    _assert_same(fresh, source)


def test_variant_metadata_is_checked(tmp_path, source):
    path = tmp_path / "lite.pt"
    save_weights(source, path, {"variant": "lite"})
    with pytest.raises(WeightsError, match="variant 'lite', not 'r50'"):
        load_weights(path, "r50")
    with pytest.raises(WeightsError, match="variant 'lite', not 'r50'"):
        load_any(path, build_model("r50"), variant="r50")
    with pytest.raises(WeightsError, match="'variant'"):
        save_weights(source, tmp_path / "x.pt", {"note": "no variant"})
    with pytest.raises(WeightsError, match="must be strings"):
        save_weights(source, tmp_path / "x.pt", {"variant": "r50", "steps": 3})
    assert not (tmp_path / "x.pt").exists()


def test_safetensors_files_of_format_1_are_refused_with_the_way_out(tmp_path, source):
    header = b'{"__metadata__": {"variant": "r50"}}'
    path = tmp_path / "old.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    assert is_safetensors(path)
    for call in (lambda: read_weights(path), lambda: read_metadata(path),
                 lambda: load_any(path, build_model("r50"))):
        with pytest.raises(WeightsError, match=r"weights format 1.*attsiammask convert"):
            call()


def test_detection_is_by_content_not_suffix(tmp_path, source):
    """A plain state dict named .pt is an official-style checkpoint: load_any maps it, read_weights refuses it."""
    pth = tmp_path / "plain_state_dict.pt"
    torch.save(source.state_dict(), pth)
    assert not is_safetensors(pth) and read_metadata(pth) == {}
    model = build_model("r50")
    assert load_any(pth, model) == "pysot"
    _assert_same(model, source)
    with pytest.raises(WeightsError, match="not an attsiammask weights file"):
        read_weights(pth)


@pytest.mark.parametrize("payload, words", [
    ({"format_version": "1", "metadata": {"variant": "r50"}, "state_dict": {"w": torch.zeros(1)}}, "version '1'"),
    ({"format_version": "2", "metadata": {"variant": 5}, "state_dict": {"w": torch.zeros(1)}}, "dict of strings"),
    ({"format_version": "2", "metadata": {"variant": "r50"}}, "no 'state_dict'"),
    ({"format_version": "2", "metadata": {"variant": "r50"}, "state_dict": {"w": [1.0]}}, "not tensors"),
])
def test_malformed_files_of_our_format(tmp_path, payload, words):
    path = tmp_path / "bad.pt"
    torch.save({"format": "attsiammask-weights", **payload}, path)
    with pytest.raises(WeightsError, match=words):
        read_weights(path)
    with pytest.raises(WeightsError, match=words):
        load_any(path, build_model("r50"))


def test_corrupt_weights_file(tmp_path, source):
    path = tmp_path / "r50.pt"
    save_weights(source, path, {"variant": "r50"})
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_weights(path, "r50")


def _run_convert(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="attsiammask")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


def test_convert_command(tmp_path, source, capsys):
    src = tmp_path / "SiamMask_VOT.pth"
    state = {"module." + k.replace("rpn_head.", "rpn_model.", 1): v for k, v in source.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 1}, src)
    dst = tmp_path / "out.pt"
    assert _run_convert(str(src), str(dst), "--variant", "r50") == 0
    printed = capsys.readouterr().out
    assert "356 keys" in printed and "foolwood" in printed
    _assert_same(load_weights(dst, "r50"), source)
    assert read_weights(dst)[1]["source"] == "SiamMask_VOT.pth"


def test_convert_reports_errors(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    assert _run_convert(str(bad), str(tmp_path / "out.pt")) == 1
    assert "not a readable torch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out.pt").exists()
    assert _run_convert(str(bad), str(tmp_path / "out.pt"), "--variant", "nope") == 1
    assert "unknown model variant" in capsys.readouterr().err


def test_tracker_create_uses_the_embedded_weights_of_a_variant(tmp_path, monkeypatch):
    import attsiammask_core.weights.store as store
    from attsiammask_core import Tracker

    assert store.embedded_weights_path("no-such-variant") is None
    torch.manual_seed(3)
    shipped = build_model("lite")
    save_weights(shipped, tmp_path / "lite.pt", {"variant": "lite"})
    monkeypatch.setattr(store, "EMBEDDED_DIR", tmp_path)
    assert store.embedded_weights_path("lite") == tmp_path / "lite.pt"
    tracker = Tracker.create(variant="lite", attention=False, backend="torch")
    for key, tensor in shipped.state_dict().items():
        assert torch.equal(tracker.model.state_dict()[key], tensor), key

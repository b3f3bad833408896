"""int8 precision: which variants and backends take it, the shipped graphs' provenance checks, and tracking with
them (the accuracy cost is measured by tools/deploy/int8_check.py, not here)."""
from __future__ import annotations

import numpy as np
import pytest

from attsiammask_core.bench import synthetic_sequence
from attsiammask_core.deploy.precision import (
    INT8_GRAPHS,
    check_precision,
    int8_variants,
    read_int8_graphs,
    write_int8_graphs,
)
from attsiammask_core.tracker import Tracker


def test_int8_ships_for_lfc_only_and_on_onnxruntime_only():
    assert int8_variants() == ["lfc"]  # lite's int8 failed the bar (its model card has the numbers)
    assert check_precision(" FP32 ", "torch", "lite") == "fp32"
    assert check_precision("int8", "onnxruntime", "lfc") == "int8"
    with pytest.raises(ValueError, match="one of fp32, int8"):
        check_precision("fp16", "onnxruntime", "lfc")
    with pytest.raises(ValueError, match="onnxruntime backend only"):
        check_precision("int8", "torch", "lfc")
    with pytest.raises(ValueError, match="no int8 graphs ship for variant 'lite'.*for: lfc"):
        check_precision("int8", "onnxruntime", "lite")


def test_graphs_made_from_other_weights_or_altered_are_refused(tmp_path):
    graphs = {name: f"graph {name}".encode() for name in INT8_GRAPHS}
    write_int8_graphs("lfc", graphs, "a" * 64, {"tool": "test"}, root=tmp_path)
    assert int8_variants(root=tmp_path) == ["lfc"]
    assert read_int8_graphs("lfc", "a" * 64, root=tmp_path) == graphs
    with pytest.raises(ValueError, match="made from the embedded weights"):
        read_int8_graphs("lfc", "b" * 64, root=tmp_path)
    (tmp_path / "lfc_int8_search.onnx").write_bytes(b"something else")
    with pytest.raises(ValueError, match="does not match its recorded digest"):
        read_int8_graphs("lfc", "a" * 64, root=tmp_path)


def test_shipped_lfc_int8_graphs_match_the_embedded_weights():
    """The int8 files were made from today's lfc.pt (else Tracker.create refuses them): remake them with
    tools/deploy/int8_check.py --variant lfc --write after changing the weights."""
    from attsiammask_core.deploy.precision import model_sha256
    from attsiammask_core.models import build_model
    from attsiammask_core.weights import embedded_weights_path, load_any

    model = build_model("lfc")
    load_any(embedded_weights_path("lfc"), model, variant="lfc")
    assert set(read_int8_graphs("lfc", model_sha256(model))) == set(INT8_GRAPHS)


def test_lfc_int8_tracks_like_fp32():
    frames, box = synthetic_sequence(12, (320, 240))
    fp32 = Tracker.create("lfc", backend="onnxruntime")
    int8 = Tracker.create("lfc", backend="onnxruntime", precision="int8")
    for tracker in (fp32, int8):
        tracker.init(frames[0], box)
    for frame in frames[1:]:
        a, b = fp32.track(frame), int8.track(frame)
        assert np.abs(np.subtract(a.box, b.box)).max() < 0.1 * box[2]


def test_int8_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="no int8 graphs ship for variant 'lite'"):
        Tracker.create("lite", backend="onnxruntime", precision="int8")
    with pytest.raises(ValueError, match="onnxruntime backend only"):
        Tracker.create("lfc", backend="torch", precision="int8")

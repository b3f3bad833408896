"""Hyperparameter search: axes and grid, ranking by OPE AUC, resumable runs, and the test split refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from attsiammask_core.cli import main as cli_main
from attsiammask_core.eval import tune as tune_module
from attsiammask_core.eval.tune import FrameCache, grid, parse_axis, rank, tune
from attsiammask_core.tracker import Tracker

from .test_runner import write_sequence


def test_parse_axis_and_grid():
    assert parse_axis("lr=0.3, 0.4") == ("lr", [0.3, 0.4])
    for bad in ("lr", "=0.3", "lr=", "lr=a,b"):
        with pytest.raises(ValueError):
            parse_axis(bad)
    assert grid({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
    assert grid({}) == [{}]


def _row(key: str, seq: str, auc: float) -> dict:
    curve = np.full(21, auc)  # a flat success curve has AUC = its value
    return {"candidate": key, "sequence": seq, "auc": auc, "success": curve.tolist(), "frames": 10}


def test_rank_orders_by_overall_auc_over_the_sequences():
    a, b = {"lr": 0.3}, {"lr": 0.4}
    done = {}
    for overrides, aucs in ((a, (0.5, 0.9)), (b, (0.7, 0.6))):
        key = json.dumps(overrides)
        for seq, auc in zip(("s1", "s2"), aucs, strict=True):
            done[(key, seq)] = _row(key, seq, auc)
    ranking = rank(done, [b, a], ["s1", "s2"])
    assert [r.overrides for r in ranking] == [a, b]
    assert ranking[0].auc == pytest.approx(0.7) and ranking[0].per_sequence == {"s1": 0.5, "s2": 0.9}


def test_tune_runs_every_candidate_once_and_resumes(tmp_path, monkeypatch):
    seq = write_sequence(tmp_path, "square", n=12)
    base = Tracker.create(variant="lite", random_init=True, attention=False)
    calls = []
    original = tune_module.run_ope
    monkeypatch.setattr(tune_module, "run_ope", lambda factory, s: calls.append(s.name) or original(factory, s))
    candidates = [{"lr": 0.3}, {"lr": 0.5, "penalty_k": 0.1}]
    results = tmp_path / "out" / "ope.jsonl"
    ranking = tune(base, [seq], candidates, results)
    assert len(calls) == 2 and len(results.read_text().splitlines()) == 2
    assert sorted(json.dumps(r.overrides, sort_keys=True) for r in ranking) == sorted(
        json.dumps(c, sort_keys=True) for c in candidates)
    assert all(0.0 <= r.auc <= 1.0 for r in ranking)
    again = tune(base, [seq], candidates, results)  # everything reused
    assert len(calls) == 2 and [r.auc for r in again] == [r.auc for r in ranking]


def test_frame_cache_serves_decoded_frames(tmp_path):
    seq = write_sequence(tmp_path, "square", n=4)
    cached = FrameCache(seq)
    assert len(cached) == 4 and cached.mask_paths is None
    assert np.array_equal(cached.frame(3), seq.frame(3))


def test_command_refuses_the_test_split(tmp_path, capsys):
    assert cli_main(["tune", "--data", str(tmp_path), "--split", "test", "--grid", "lr=0.3",
                     "--out", str(tmp_path / "o")]) == 2
    assert "refusing to tune on the 'test' split" in capsys.readouterr().err


def test_command_rejects_an_unknown_field(tmp_path, capsys):
    write_sequence(tmp_path, "square", n=4)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"validation": ["square"]}))
    assert cli_main(["tune", "--data", str(tmp_path), "--split-file", str(split), "--grid", "speed=1",
                     "--out", str(tmp_path / "o")]) == 2
    assert "speed" in capsys.readouterr().err


def test_command_writes_the_winner_into_a_copy_of_the_weights(tmp_path, capsys):
    """With the default backend (onnxruntime where installed) the copy is still written from a torch module."""
    import torch

    from attsiammask_core.weights import embedded_weights_path, read_weights

    if embedded_weights_path("lite") is None:
        pytest.skip("the embedded lite weights file is not in this checkout")
    write_sequence(tmp_path, "square", n=4)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"validation": ["square"]}))
    out = tmp_path / "tuned.pt"
    assert cli_main(["tune", "--data", str(tmp_path), "--split-file", str(split), "--grid", "lr=0.2,0.4",
                     "--out", str(tmp_path / "o"), "--write", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    tensors, metadata = read_weights(out)
    original, _ = read_weights(embedded_weights_path("lite"))
    assert set(tensors) == set(original) and all(torch.equal(tensors[k], original[k]) for k in original)
    assert json.loads(metadata["tracker_config"])["lr"] in (0.2, 0.4)

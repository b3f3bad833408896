"""`attsiammask train` end to end on synthetic folders with a tiny registered variant, then --resume."""
import json

import pytest

from attsiammask_core import models
from attsiammask_core.cli import main
from attsiammask_core.train.trainer import CHECKPOINT, load_checkpoint


@pytest.fixture
def tiny_variant(monkeypatch, make_tiny):
    monkeypatch.setitem(models.MODELS, "tiny", make_tiny)


def _write_config(path, data_dir):
    path.write_text(f"""
model: {{variant: tiny, init: null, freeze: [backbone.conv1]}}
data: {{data_dir: {data_dir}, sequences: [boxes_b, masked], neg_pair_prob: 0.2}}
optim: {{epochs: 2, warmup_epochs: 1, samples_per_epoch: 6, batch_size: 2}}
run: {{num_workers: 0, log_every: 1, checkpoint_every: 0}}
""")
    return path


def test_train_then_resume_from_the_command_line(sequences, tmp_path, tiny_variant, capsys):
    config = _write_config(tmp_path / "tiny.yaml", tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out), "--max-iterations", "2"]) == 0
    assert load_checkpoint(out / CHECKPOINT)["step"] == 2 and not (out / "tiny.pt").exists()
    assert main(["train", "--config", str(config), "--out", str(out), "--resume"]) == 0
    state = load_checkpoint(out / CHECKPOINT)
    assert (state["epoch"], state["batch"], state["step"]) == (2, 0, 6)
    assert (out / "tiny.pt").is_file()
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {epocs: 3}\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "unknown key(s) epocs" in capsys.readouterr().out
    good = _write_config(tmp_path / "good.yaml", tmp_path)
    assert main(["train", "--config", str(good), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2

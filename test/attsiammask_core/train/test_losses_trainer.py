import dataclasses
import json

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from attsiammask_core.train.config import LossConfig, OptimConfig, TrainConfig, config_from_dict
from attsiammask_core.train.data import PairDataset
from attsiammask_core.train.losses import SiamMaskLoss, TrainingForward
from attsiammask_core.train.pairs import FramePool
from attsiammask_core.train.trainer import (
    CHECKPOINT,
    apply_freeze,
    learning_rate,
    load_checkpoint,
    set_train_mode,
    train,
)


def test_classification_loss_known_values():
    logits = torch.zeros(1, 10, 25, 25)
    labels = torch.full((1, 5, 25, 25), -1)
    labels[0, 0, 0, 0], labels[0, 1, 3, 3] = 1, 0
    logits[0, 5, 0, 0] = 2.0  # foreground logit of anchor 0 at (0, 0)
    loss, parts = SiamMaskLoss.classification(logits, labels)
    expected = 0.5 * -torch.log_softmax(torch.tensor([0.0, 2.0]), 0)[1] + 0.5 * np.log(2)
    assert torch.isclose(loss, expected) and parts["pos_acc"] == 1.0


def test_localisation_loss_weights_positives():
    loss_fn = SiamMaskLoss(LossConfig(loc_beta=1.0))
    deltas = torch.zeros(2, 20, 25, 25)
    target = torch.zeros(2, 4, 5, 25, 25)
    weight = torch.zeros(2, 5, 25, 25)
    target[0, 2, 3, 4, 5] = 2.0  # dw of anchor 3 at (4, 5): smooth-L1 = 1.5
    weight[0, 3, 4, 5] = 1.0
    deltas[0, 2 * 5 + 3, 4, 5] = 0.0
    assert torch.isclose(loss_fn.localisation(deltas, target, weight), torch.tensor(1.5 / 2))


def _batch(sequences, n=4, seed=0):
    config = dataclasses.replace(TrainConfig(), labels=dataclasses.replace(TrainConfig().labels, mask_positions=2))
    ds = PairDataset(FramePool(sequences), config, 64)
    items = [ds[i] for i in range(64)]
    with_mask = [it for it in items if it["mask_weight"].sum() > 0][:n // 2]
    rest = [it for it in items if it["mask_weight"].sum() == 0 and (it["cls"] == 1).any()][:n - len(with_mask)]
    return default_collate(with_mask + rest)


def test_loss_decreases_when_overfitting_a_fixed_batch(sequences, make_tiny):
    model = make_tiny(1)
    model.train()
    net = TrainingForward(model)
    batch = _batch(sequences)
    assert batch["mask_weight"].sum() > 0
    loss_fn = SiamMaskLoss(LossConfig())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(20):
        result = loss_fn(net, batch)
        optimizer.zero_grad()
        result.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        losses.append(result.parts)
    first, last = losses[0], losses[-1]
    assert last["loss"] < 0.7 * first["loss"], [round(p["loss"], 3) for p in losses]
    assert last["cls"] < first["cls"] and last["mask"] < first["mask"]
    assert first["mask_windows"] == int(batch["mask_weight"].sum())


def test_schedule_values_at_epoch_boundaries():
    optim = OptimConfig()  # 20 epochs, warm-up 5
    assert learning_rate(0, optim) == pytest.approx(1e-3)
    assert learning_rate(1, optim) == pytest.approx(1.8e-3)
    assert learning_rate(5, optim) == pytest.approx(5e-3)
    assert learning_rate(19, optim) == pytest.approx(5e-4)
    mid = learning_rate(12, optim)
    assert mid == pytest.approx(5e-3 * 0.1 ** (7 / 14))
    values = [learning_rate(e, optim) for e in range(20)]
    assert all(a < b for a, b in zip(values[:5], values[1:6], strict=True))
    assert all(a > b for a, b in zip(values[5:-1], values[6:], strict=True))


def test_freeze_and_bn_eval(tiny):
    assert apply_freeze(tiny, ["backbone.conv1", "backbone.bn1"]) == 4
    assert not tiny.backbone.conv1.weight.requires_grad and tiny.backbone.layer1.weight.requires_grad
    set_train_mode(tiny, ["backbone.bn1"])
    assert not tiny.backbone.bn1.training and tiny.backbone.layer1.training and tiny.rpn_head.training


def _config(**optim):
    data = {"optim": {"epochs": 3, "warmup_epochs": 1, "samples_per_epoch": 8, "batch_size": 2, **optim},
            "model": {"variant": "tiny", "init": None, "freeze": ["backbone.conv1"], "bn_eval": ["backbone.bn1"]},
            "run": {"num_workers": 0, "log_every": 1, "checkpoint_every": 3}}
    return config_from_dict(data)


def test_checkpoint_and_resume_continue_exactly(sequences, tmp_path, make_tiny):
    config = _config()
    # uninterrupted: 6 iterations (epoch 0 and half of epoch 1)
    full = train(config, tmp_path / "full", model=make_tiny(), sequences=sequences, max_iterations=6,
                 progress=False)
    # interrupted after 3 iterations (mid epoch 0... epoch 0 has 4), then resumed for 3 more
    train(config, tmp_path / "cut", model=make_tiny(), sequences=sequences, max_iterations=3, progress=False)
    state = load_checkpoint(tmp_path / "cut" / CHECKPOINT)
    assert (state["epoch"], state["batch"], state["step"]) == (0, 3, 3)
    train(config, tmp_path / "cut", model=make_tiny(5), sequences=sequences, resume=True, max_iterations=3,
          progress=False)
    a, b = load_checkpoint(full / CHECKPOINT), load_checkpoint(tmp_path / "cut" / CHECKPOINT)
    assert (a["epoch"], a["batch"], a["step"]) == (b["epoch"], b["batch"], b["step"]) == (1, 2, 6)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 1
    log_full = [json.loads(line) for line in (full / "log.jsonl").read_text().splitlines()]
    log_cut = [json.loads(line) for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in log_full] == [r["loss"] for r in log_cut]
    assert log_full[4]["lr"] == pytest.approx(5e-3)  # epoch 1: end of warm-up
    assert (full / "epoch_001.pt").is_file() and not list(full.glob("*.part"))


def test_full_run_writes_weights(sequences, tmp_path, make_tiny):
    out = train(_config(epochs=2, samples_per_epoch=4), tmp_path / "run", model=make_tiny(), sequences=sequences,
                progress=False)
    assert (out / "tiny.pt").is_file() and (out / "epoch_002.pt").is_file()
    assert load_checkpoint(out / CHECKPOINT)["epoch"] == 2


def test_training_forward_matches_the_model_forward(make_tiny):
    model = make_tiny(2).eval()
    z, x = torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    index, ys, xs = torch.tensor([1, 0]), torch.tensor([3, 20]), torch.tensor([7, 11])
    with torch.no_grad():
        out, refined = TrainingForward(model)(z, x, index, ys, xs)
        reference = model(z, x)
        torch.testing.assert_close(out.cls, reference.cls)
        torch.testing.assert_close(out.loc, reference.loc)
        torch.testing.assert_close(out.mask_corr, reference.mask_corr)
        single = model.refine_head(reference.f0[1:], reference.f1[1:], reference.f2[1:], reference.mask_corr[1:],
                                   (3, 7))
        torch.testing.assert_close(refined[0], single[0, 0])


def test_training_checkpoints_hold_only_safe_types(tmp_path):
    import random

    import numpy as np
    import torch

    from attsiammask_core.train import trainer

    np.random.seed(5)
    random.seed(5)
    torch.manual_seed(5)
    state = trainer._rng_state()
    torch.save({"rng": state}, tmp_path / "rng.pt")
    loaded = torch.load(tmp_path / "rng.pt", weights_only=True)["rng"]
    expected = (np.random.rand(), random.random(), torch.rand(1).item())
    np.random.seed(0)
    random.seed(0)
    torch.manual_seed(0)
    trainer._set_rng_state(loaded)
    assert (np.random.rand(), random.random(), torch.rand(1).item()) == expected

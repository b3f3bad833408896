from pathlib import Path

import pytest

import attsiammask_core.train as train_pkg
from attsiammask_core.models import build_model
from attsiammask_core.train.config import TrainConfig, config_from_dict, config_to_dict, load_config
from attsiammask_core.train.trainer import apply_freeze

CONFIGS = Path(train_pkg.__file__).parent / "configs"


def test_yaml_round_trip_and_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  variant: r50\n  freeze: [backbone.conv1]\noptim:\n  epochs: 3\n  warmup_epochs: 1\n")
    config = load_config(path)
    assert config.model.freeze == ("backbone.conv1",) and config.optim.epochs == 3
    assert config.loss.mask_weight == 36.0 and config.optim.base_lr == 5e-3
    assert config_from_dict(config_to_dict(config)) == config
    assert config_from_dict({}) == TrainConfig()


@pytest.mark.parametrize("data, message", [
    ({"modle": {}}, "unknown key"),
    ({"model": {"varient": "lite"}}, "config.model: unknown key"),
    ({"optim": {"epochs": "ten"}}, "expected an integer"),
    ({"augment": {"flip_prob": 1.5}}, "flip_prob must be in"),
    ({"model": {"freeze": "backbone"}}, "expected a list"),
    ({"labels": {"pos_iou": 0.2, "neg_iou": 0.3}}, "neg_iou <= pos_iou"),
])
def test_bad_configs_name_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(data)


@pytest.mark.parametrize("name", ["effnet", "r50"])
def test_example_configs_load_and_freeze_real_parameters(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.model.variant == name
    model = build_model(name)
    assert apply_freeze(model, config.model.freeze) > 0
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(n.startswith("refine_head.") for n in trainable) and any(n.startswith("rpn_head.") for n in trainable)


def test_lite_recipe_trains_only_the_mask_branch_and_refine():
    config = load_config(CONFIGS / "lite.yaml")
    assert config.model.variant == "lite" and config.model.init.startswith("nanotrack:")
    model = build_model("lite")
    apply_freeze(model, config.model.freeze)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"mask_branch", "refine_head"}
    assert config.data.mask_pairs_only and config.optim.optimizer == "adamw"


def test_freeze_prefix_typo_is_an_error(tiny):
    with pytest.raises(ValueError, match="match no parameter"):
        apply_freeze(tiny, ["backbone.layer9"])

"""The launch file, config/tracker.yaml and the node's parameter schema agree."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from attsiammask_ros import parameters as params

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "tracker.launch.py"
CONFIG = REPO / "config" / "tracker.yaml"


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def test_yaml_lists_exactly_the_schema_parameters_with_equal_defaults():
    document = yaml.safe_load(CONFIG.read_text())
    assert list(document) == ["/**"]
    values = _flatten(document["/**"]["ros__parameters"])
    assert list(values) == [spec.name for spec in params.SPECS]
    for spec in params.SPECS:
        assert values[spec.name] == spec.default and type(values[spec.name]) is spec.type, spec.name


def test_every_yaml_parameter_has_a_comment_and_read_only_ones_say_so():
    lines = {line.split(":")[0].strip(): line for line in CONFIG.read_text().splitlines() if "  # " in line}
    for spec in params.SPECS:
        line = lines[spec.name.split(".", 1)[1]]
        comment = line.split("  # ", 1)[1]
        assert comment.strip(), spec.name
        assert ("read-only" in comment) == spec.read_only, spec.name


def test_ros_parses_the_yaml_with_the_schema_types():
    rclpy_parameter = pytest.importorskip("rclpy.parameter", reason="rclpy not installed: run `make setup`")
    parsed = rclpy_parameter.parameter_dict_from_yaml_file(str(CONFIG), use_wildcard=True)
    values = {name: rclpy_parameter.parameter_value_to_python(p.value) for name, p in parsed.items()}
    assert values == params.DEFAULTS
    for name, value in values.items():
        assert type(value) is params.SPEC_BY_NAME[name].type, name


def _launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def _constants(tree: ast.Module) -> dict:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant)}


def test_launch_file_without_launch_ros_declares_the_arguments_and_names_the_node():
    tree = _launch_tree()
    names = [call.args[0].value for call in _calls(tree, "DeclareLaunchArgument")]
    assert {"image", "params_file", "namespace", "weights", "device", "lifecycle"} <= set(names)
    assert len(names) == len(set(names))
    constants = _constants(tree)
    assert constants["PACKAGE"] == "attsiammask_ros"
    assert constants["EXECUTABLE"] == "tracker_node"
    assert constants["LIFECYCLE_EXECUTABLE"] == "tracker_lifecycle_node"
    assert constants["NODE_NAME"] == params.NODE_NAME
    (node,) = _calls(tree, "kind")  # launch_ros Node, or LifecycleNode with lifecycle:=true
    keywords = {kw.arg for kw in node.keywords}
    assert {"package", "executable", "name", "namespace", "parameters", "remappings"} <= keywords
    # the default params file is the installed config/tracker.yaml of this package
    (share,) = _calls(tree, "get_package_share_directory")
    assert ast.unparse(share.args[0]) == "PACKAGE"
    (join,) = [c for c in _calls(tree, "join") if any(getattr(a, "value", None) == "tracker.yaml" for a in c.args)]
    assert [getattr(a, "value", None) for a in join.args[1:]] == ["config", "tracker.yaml"]
    # the console script the launch file runs exists
    assert "tracker_node = attsiammask_ros.tracker_node:main" in (REPO / "setup.py").read_text()
    assert "tracker_lifecycle_node = attsiammask_ros.lifecycle_node:main" in (REPO / "setup.py").read_text()
    # image is remapped to the argument
    remaps = next(kw.value for kw in node.keywords if kw.arg == "remappings")
    assert "'image'" in ast.unparse(remaps) and "'image/compressed'" in ast.unparse(remaps)


def _parameter_overrides(name: str = "parameter_overrides"):
    """One of the launch file's pure helpers, compiled on its own (launch_ros is not needed for it)."""
    tree = _launch_tree()
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    namespace: dict = {}
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(LAUNCH), "exec"), namespace)
    return namespace[name]


def test_launch_lifecycle_flag():
    flag = _parameter_overrides("lifecycle_flag")
    assert flag("true") is True and flag(" False ") is False
    with pytest.raises(ValueError, match="lifecycle must be true or false"):
        flag("yes")


def test_launch_overrides_only_given_arguments_and_they_are_schema_parameters():
    overrides = _parameter_overrides()
    assert overrides("", "", "", "") == {}
    given = overrides("/w/SiamMask_VOT.pth", "cuda:0", "r50", "False")
    assert given == {"model.weights": "/w/SiamMask_VOT.pth", "model.device": "cuda:0", "model.variant": "r50",
                     "attention.enabled": False}
    for name, value in given.items():
        assert params.validate(name, value) is None
    with pytest.raises(ValueError, match="attention must be true or false"):
        overrides("", "", "", "maybe")
    backend = overrides("", "", "", "", "onnxruntime", "tensorrt,cuda,cpu")
    assert backend == {"model.backend": "onnxruntime", "model.providers": "tensorrt,cuda,cpu"}
    for name, value in backend.items():
        assert params.validate(name, value) is None


def test_launch_file_with_launch_ros():
    if importlib.util.find_spec("launch_ros") is None or importlib.util.find_spec("launch") is None:
        pytest.skip("launch/launch_ros are not on PyPI (ROS 2 distribution only); checked above with ast instead")
    spec = importlib.util.spec_from_file_location("tracker_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    from launch.actions import DeclareLaunchArgument

    names = {a.name for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    assert {"image", "params_file", "namespace", "weights", "device"} <= names


def test_follow_target_launch_file_runs_the_tracker_with_depth_and_the_controller():
    tree = ast.parse((REPO / "launch" / "follow_target.launch.py").read_text())
    names = [call.args[0].value for call in _calls(tree, "DeclareLaunchArgument")]
    assert {"image", "camera_info", "depth", "cmd_vel", "target_distance"} <= set(names)
    executables = {kw.value.value for call in _calls(tree, "Node") for kw in call.keywords if kw.arg == "executable"}
    assert executables == {"tracker_node", "follow_target"}
    setup = (REPO / "setup.py").read_text()
    assert "follow_target = attsiammask_ros.follow_target:main" in setup
    text = ast.unparse(tree)
    assert "'input.camera_info': True" in text and "'input.depth': True" in text
    for name in ("target_distance", "max_linear", "max_angular"):
        assert f"'{name}': arg('{name}')" in text

"""Model safety of tracker_node (issue 7 part 4): weights come only from the model.weights parameter at start-up.

- No request the node serves can carry a path: SetTarget and Trigger requests hold only numbers.
- No callback of the node (services, subscriptions, timer, parameter callbacks, the inference thread) reaches
  the tracker factory, Tracker.create, a weights loader, open() or torch: checked on the source (a call graph
  of TrackerNodeBase from the callbacks its set-up steps register; only the start-up step, or the managed node's
  configure transition, builds the model) and at run time (an audit hook records every file the
  process opens during a session of calls, hand-offs, parameter changes and frames on the real lite model).
- model.weights (and the other model parameters) are read-only after start-up.
- No deserialiser that can run code is used anywhere (torch.load's weights_only=True is test_safe_loading.py's
  scan); the core's own refusal of code-running pickles through the node is in test_bad_input_matrix.py.
"""
from __future__ import annotations

import ast
import shutil
import sys
import threading
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
srv = pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup`")
from node_harness import TARGET, Harness, keep_publishing, request, wait_for  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from vision_msgs.msg import Detection2D  # noqa: E402

from attsiammask_core.weights import embedded_weights_path  # noqa: E402
from attsiammask_ros import parameters as params  # noqa: E402
from attsiammask_ros import tracker_node  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("attsiammask_core", "attsiammask_ros", "tools", "launch")
# Names that load a model or read a file; none may be reachable from a callback.
LOADING = {"build_tracker", "create", "load_any", "load_checkpoint", "load_weights", "read_weights", "read_torch_file",
           "embedded_weights_path", "open", "Path", "torch", "pickle", "model_weights"}
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".pkl", ".ckpt", ".bin")


# ---- requests carry no path ---------------------------------------------------------------------------------
def scalar_fields(msg_class, prefix: str = "") -> dict[str, str]:
    """Every leaf field of a message class (nested messages expanded) -> its ROS type."""
    leaves = {}
    instance = msg_class()
    for name, kind in msg_class.get_fields_and_field_types().items():
        value = getattr(instance, name)
        if hasattr(value, "get_fields_and_field_types"):
            leaves.update(scalar_fields(type(value), f"{prefix}{name}."))
        else:
            leaves[prefix + name] = kind
    return leaves


def test_service_requests_hold_only_numbers():
    fields = scalar_fields(srv.SetTarget.Request)
    assert fields == {"bbox.center.position.x": "double", "bbox.center.position.y": "double",
                      "bbox.center.theta": "double", "bbox.size_x": "double", "bbox.size_y": "double",
                      "stamp.sec": "int32", "stamp.nanosec": "uint32", "target_id": "string"}  # id: a key, no path
    assert scalar_fields(Trigger.Request) == {}


# ---- no callback reaches a loader: the source ---------------------------------------------------------------
def _node_classes() -> list[ast.ClassDef]:
    """TrackerNodeBase and the mixins it is made of (attsiammask_ros/node_mixins.py)."""
    tree = ast.parse(Path(tracker_node.__file__).read_text())
    mixins = ast.parse((Path(tracker_node.__file__).parent / "node_mixins.py").read_text())
    base = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TrackerNodeBase")
    return [base] + [n for n in mixins.body if isinstance(n, ast.ClassDef)]


def _session_sources() -> list[ast.AST]:
    """The core session package and the node's outputs module, which the callbacks call into."""
    folder = Path(tracker_node.__file__).parents[1] / "attsiammask_core" / "session"
    files = sorted(folder.glob("*.py")) + [Path(tracker_node.__file__).parent / "node_outputs.py"]
    return [ast.parse(path.read_text()) for path in files]


# The base's set-up steps: they register the callbacks (TrackerNode.__init__ and the lifecycle transitions run them).
SETUP = ("_declare_settings", "_open_interfaces")


def _self_references(node: ast.AST, methods: set[str]) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == "self" and n.attr in methods}


def _names(node: ast.AST) -> set[str]:
    return ({n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            | {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)})


def registered_callbacks(methods: dict[str, ast.FunctionDef]) -> set[str]:
    """Methods the set-up steps hand over (as callbacks, thread targets, or inside lambdas) instead of calling."""
    handed: set[str] = set()
    for name in SETUP:
        init = methods[name]
        called_now = {n.func.attr for n in ast.walk(init) if isinstance(n, ast.Call)
                      and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                      and n.func.value.id == "self"}
        in_lambdas = set().union(*(_self_references(n, set(methods)) for n in ast.walk(init)
                                   if isinstance(n, ast.Lambda)))
        handed |= (_self_references(init, set(methods)) - called_now) | in_lambdas
    return handed


def reachable(start: set[str], methods: dict[str, ast.FunctionDef]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_self_references(methods[name], set(methods)) - seen)
    return seen


def test_no_callback_reaches_a_weights_loader_or_a_file():
    methods = {f.name: f for c in _node_classes() for f in c.body if isinstance(f, ast.FunctionDef)}
    callbacks = registered_callbacks(methods)
    assert callbacks >= {"image_callback", "target_callback", "set_target_callback", "clear_target_callback",
                         "diagnostics_callback", "_log_rejected_parameters", "_check_parameters",
                         "_apply_parameters", "_inference_loop", "_image_incompatible_qos", "_output_incompatible_qos"}
    run_time = reachable(callbacks, methods)
    assert {"_set_target", "_process", "_publish"} <= run_time, "the call graph is incomplete"
    offending = {name: sorted(_names(methods[name]) & LOADING) for name in run_time if _names(methods[name]) & LOADING}
    assert not offending, f"callbacks that reach loading or files: {offending}"
    # the session (targets, re-initialisation on a new image size, stepping) and the outputs name no loader either
    for tree in _session_sources():
        assert not _names(tree) & (LOADING - {"create"}), sorted(_names(tree) & LOADING)
    # the model is built only by the start-up step (TrackerNode.__init__, or the managed node's configure)
    assert [name for name, f in methods.items() if "build_tracker" in _names(f)] == ["_load_model"]
    assert "_load_model" not in run_time


def test_tracker_create_only_in_the_start_up_factory():
    tree = ast.parse((Path(tracker_node.__file__).parent / "tracker_setup.py").read_text())
    creating = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                and any(isinstance(n, ast.Attribute) and n.attr == "create" and isinstance(n.value, ast.Name)
                        and n.value.id == "Tracker" for n in ast.walk(f))]
    assert creating == ["build_tracker"]


def test_model_parameters_are_read_only():
    for name in ("model.variant", "model.weights", "model.device", "model.half", "attention.enabled"):
        assert params.SPEC_BY_NAME[name].read_only, name
        assert params.descriptor(params.SPEC_BY_NAME[name]).read_only, name


def test_no_deserialiser_that_runs_code():
    risky = []
    for folder in SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
                allow_pickle = any(kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant)
                                                                     and kw.value.value is False)
                                   for kw in node.keywords)
                if (owner in ("pickle", "dill", "joblib", "marshal", "shelve") and node.func.attr.startswith("load")
                        or node.func.attr == "load" and owner in ("np", "numpy") and allow_pickle
                        or owner == "jit" and node.func.attr == "load"):
                    risky.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not risky, f"deserialisers that can run code: {risky}"


# ---- no callback reads a file: at run time, on the real lite model --------------------------------------------
class OpenedFiles:
    """Every path the process opens while recording (a process-wide audit hook, installed once)."""

    hook_installed = False
    recording: list[str] | None = None
    lock = threading.Lock()

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if event == "open" and cls.recording is not None and isinstance(args[0], (str, bytes, Path)):
            with cls.lock:
                cls.recording.append(str(args[0]))

    def __enter__(self) -> list[str]:
        if not OpenedFiles.hook_installed:
            sys.addaudithook(OpenedFiles.hook)
            OpenedFiles.hook_installed = True
        OpenedFiles.recording = []
        return OpenedFiles.recording

    def __exit__(self, *exc) -> None:
        OpenedFiles.recording = None


def test_a_session_of_calls_reads_no_file_and_builds_the_model_once(context, tmp_path):
    weights, other = tmp_path / "mine.pt", tmp_path / "other.pt"
    shutil.copy(embedded_weights_path("lite"), weights)
    shutil.copy(weights, other)
    with OpenedFiles() as probe:  # the hook sees opens from any thread
        reader = threading.Thread(target=other.read_bytes)
        reader.start()
        reader.join()
    assert str(other) in probe
    h = Harness(context, "/safety", overrides={"model.weights": str(weights)}, build=tracker_node.build_tracker)
    try:
        node = h.node
        assert h.builds == 1 and node.settings.model_weights == str(weights)
        assert not isinstance(node.tracker.model, type(h.model)), "the real lite model, loaded from model.weights"
        parameters = h.client.create_client(SetParameters, node.get_fully_qualified_name() + "/set_parameters")
        assert wait_for(lambda: parameters.service_is_ready() and h.target_pub.get_subscription_count() > 0)
        with OpenedFiles() as opened:
            h.streaming = True
            assert h.processed_after(2)
            first = h.call(h.set_target, request(*TARGET))
            assert first.success, first.message
            hand_off = Detection2D()
            hand_off.bbox.center.position.x, hand_off.bbox.center.position.y = 80.0, 60.0
            hand_off.bbox.size_x, hand_off.bbox.size_y = 30.0, 30.0
            # again until it shows: the subscription may not know the publisher yet and drop a first message
            assert keep_publishing(lambda: h.target_pub.publish(hand_off),
                                   lambda: node.target.track_id != first.track_id, timeout=30.0)
            for name, value in (("model.weights", str(other)), ("model.variant", "r50"), ("tracking.lr", 0.5)):
                req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
                (result,) = h.call(parameters, req).results
                assert result.successful == (name == "tracking.lr"), (name, result.reason)
            assert not h.call(h.set_target, request(float("nan"), 60.0, 40.0, 30.0)).success
            assert h.call(h.clear_target, Trigger.Request()).success
            assert h.call(h.set_target, request(*TARGET)).success
            assert h.processed_after(2)
            h.streaming = False
        assert h.builds == 1, "the model was built again after start-up"
        assert node.get_parameter("model.weights").value == str(weights) == node.settings.model_weights
        weight_files = [path for path in opened if path.endswith(WEIGHT_SUFFIXES) or Path(path).name in
                        (weights.name, other.name)]
        assert not weight_files, f"opened during the session: {weight_files}"
    finally:
        h.close()

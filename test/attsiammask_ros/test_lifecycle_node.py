"""The managed tracker node through real rclpy, driven over its lifecycle services (change_state, get_state) as
a lifecycle manager does: configure loads the model, activate starts processing, deactivate stops publishing,
cleanup frees the model and closes the interfaces, configure again reloads."""
from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
import threading  # noqa: E402

import numpy as np  # noqa: E402
from attsiammask_interfaces.srv import SetTarget  # noqa: E402
from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from node_harness import TARGET, RecordingModel, array_message, request, wait_for  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2D  # noqa: E402

from attsiammask_core import Tracker  # noqa: E402
from attsiammask_core.config import TrackerConfig  # noqa: E402
from attsiammask_ros.lifecycle_node import LifecycleTrackerNode  # noqa: E402

NS = "/lc_main"
NAME = "attsiammask_tracker"


class Rig:
    def __init__(self, context) -> None:
        self.builds = 0
        self.node = LifecycleTrackerNode(build_tracker=self._build, context=context, namespace=NS)
        self.client = rclpy.create_node("lc_client", namespace=NS, context=context)
        c = self.client
        self.change = c.create_client(ChangeState, f"{NAME}/change_state")
        self.get = c.create_client(GetState, f"{NAME}/get_state")
        self.set_target = c.create_client(SetTarget, "set_target")
        self.image_pub = c.create_publisher(Image, "image", 10)
        self.detections: list[Detection2D] = []
        c.create_subscription(Detection2D, "detection", self.detections.append, 50)
        self.stamp = 10**11
        self.streaming = True
        c.create_timer(0.03, self._camera)
        # One thread, as the shipped executable spins the node: with a MultiThreadedExecutor, cleanup destroying the
        # publishers (and their QoS event handlers) while another executor thread builds its wait set makes rclpy
        # raise InvalidHandle in that thread and stop spinning (seen under load: the transition never answered)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(c)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        assert wait_for(lambda: self.change.service_is_ready() and self.get.service_is_ready(), 15.0)

    def _build(self, settings):  # type: ignore[no-untyped-def]
        self.builds += 1
        return Tracker(RecordingModel(), config=TrackerConfig(), attention=False)

    def _camera(self) -> None:
        if self.streaming:
            self.stamp += 33_000_000
            self.image_pub.publish(array_message(np.full((120, 160, 3), 100, np.uint8), self.stamp))

    def call(self, client, req, timeout: float = 15.0):  # type: ignore[no-untyped-def]
        future = client.call_async(req)
        assert wait_for(future.done, timeout), "no response"
        return future.result()

    def transition(self, transition_id: int) -> bool:
        return self.call(self.change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def state(self) -> int:
        return self.call(self.get, GetState.Request()).current_state.id

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(10)
        self.node.destroy_node()
        self.client.destroy_node()


@pytest.fixture
def rig(context):
    r = Rig(context)
    yield r
    r.close()


def test_transitions_load_start_stop_and_free_the_model(rig):
    assert rig.state() == State.PRIMARY_STATE_UNCONFIGURED and rig.builds == 0
    threading.Event().wait(0.5)
    assert not rig.set_target.service_is_ready()  # no service before configure

    assert rig.transition(Transition.TRANSITION_CONFIGURE)
    assert rig.state() == State.PRIMARY_STATE_INACTIVE and rig.builds == 1
    assert wait_for(rig.set_target.service_is_ready, 10.0)
    assert wait_for(lambda: rig.node._image_sub.get_publisher_count() > 0, 10.0)
    threading.Event().wait(0.3)
    assert rig.node.stats.processed == 0  # inactive: images are not taken
    answer = rig.call(rig.set_target, request(*TARGET))
    assert not answer.success and "not active" in answer.message

    assert rig.transition(Transition.TRANSITION_ACTIVATE)
    assert rig.state() == State.PRIMARY_STATE_ACTIVE
    assert wait_for(lambda: rig.node.stats.processed > 0, 10.0)
    assert wait_for(lambda: rig.call(rig.set_target, request(*TARGET)).success, 10.0)
    assert wait_for(lambda: len(rig.detections) >= 3, 10.0)

    assert rig.transition(Transition.TRANSITION_DEACTIVATE)
    assert rig.state() == State.PRIMARY_STATE_INACTIVE
    threading.Event().wait(0.3)  # a frame in flight at the transition may still finish
    seen, processed = len(rig.detections), rig.node.stats.processed
    threading.Event().wait(0.6)
    assert len(rig.detections) == seen and rig.node.stats.processed == processed  # nothing while inactive
    assert rig.node.target is not None  # the target is kept for a later activate

    assert rig.transition(Transition.TRANSITION_CLEANUP)
    assert rig.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert rig.node._tracker is None  # the model is freed
    assert wait_for(lambda: rig.image_pub.get_subscription_count() == 0, 10.0)  # the image subscription is closed

    assert rig.transition(Transition.TRANSITION_CONFIGURE) and rig.builds == 2  # loaded again
    assert rig.transition(Transition.TRANSITION_ACTIVATE)
    assert wait_for(lambda: rig.node.stats.processed > 0, 10.0)
    assert rig.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
    assert rig.state() == State.PRIMARY_STATE_FINALIZED and rig.node._tracker is None


def test_configure_fails_cleanly_when_the_model_cannot_load(context):
    def broken(settings):  # type: ignore[no-untyped-def]
        raise FileNotFoundError("weights file not found: /nowhere.pt")

    node = LifecycleTrackerNode(build_tracker=broken, context=context, namespace="/lc_broken")
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE  # reported, not raised
        assert getattr(node, "_tracker", None) is None and not node._open
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE  # and it can be tried again
    finally:
        node.destroy_node()


def test_installed_executable_starts_unconfigured_and_stops_cleanly_on_sigint():
    import signal
    import subprocess
    import sys
    from pathlib import Path

    ament_index = pytest.importorskip("ament_index_python.packages", reason="run `make setup`")
    exe = Path(ament_index.get_package_prefix("attsiammask_ros")) / "lib" / "attsiammask_ros" / "tracker_lifecycle_node"
    assert exe.is_file(), f"{exe} missing: run `make setup`"
    process = subprocess.Popen([sys.executable, str(exe), "--ros-args", "-r", "__ns:=/lc_exe"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "unconfigured" in line:
                break
        process.send_signal(signal.SIGINT)
        output = "".join(lines) + process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "unconfigured: configure loads the model" in output and "Traceback" not in output

"""The tracker node under test through real rclpy: a Harness (node + client on one executor thread) and helpers.

Shared by test/attsiammask_ros/test_tracker_node.py, test_bad_input_matrix.py, test_faults.py and
test_model_safety.py. It lives in test/ (on the pytest pythonpath, like fake_siammask.py): with
--import-mode=importlib a module inside test/attsiammask_ros/ is not importable by name.

Import it only after ``pytest.importorskip("rclpy")``; it imports rclpy and the built interfaces.
"""
from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import rclpy
from attsiammask_interfaces.srv import SetTarget
from diagnostic_msgs.msg import DiagnosticArray
from fake_siammask import PlantedModel
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32, Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D

from attsiammask_core import Tracker
from attsiammask_core.config import TrackerConfig
from attsiammask_ros import parameters as params
from attsiammask_ros.image_conversion import bgr_to_image
from attsiammask_ros.tracker_node import TrackerNode

FRAME_ID = "camera_optical"
HW = (120, 160)
TARGET = (80.0, 60.0, 40.0, 30.0)  # centre x, y, size x, y: the planted model keeps the centre
SEC = 1_000_000_000


class RecordingModel(PlantedModel):
    """PlantedModel (best candidate: the centre cell, p = 0.9; mask: all target) that records each template
    crop's mean, so a test can tell which (uniform) image the tracker was initialised on."""

    def __init__(self) -> None:
        super().__init__()
        self.set_score(2, 12, 12, 0.9)
        self.mask.fill_(10.0)
        self.template_means: list[float] = []

    def template_features(self, z):
        self.template_means.append(float(z.mean()))
        return super().template_features(z)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def keep_publishing(publish: Callable[[], None], condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Publish, give the condition 0.2 s, repeat until it holds or `timeout` passes; whether it held.

    The one way these tests send a message whose effect they expect (a log line, a counter, a detection): a
    message published once can be lost, even on a reliable topic whose publisher already counts the subscription
    (discovery is not symmetric: the subscription may not know the publisher yet and drop it), and a best-effort
    one may be dropped or replaced by a newer one. So publish a message with an idempotent effect again until the
    effect is observed, never once after a subscription count check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish()
        if wait_for(condition, 0.2):
            return True
    return condition()


def stamp_ns_of(msg) -> int:
    return msg.header.stamp.sec * SEC + msg.header.stamp.nanosec


def array_message(frame: np.ndarray, stamp_ns: int) -> Image:
    header = Header(frame_id=FRAME_ID)
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, SEC)
    return bgr_to_image(frame, header)


def compressed_message(data: bytes, stamp_ns: int, fmt: str = "jpeg") -> CompressedImage:
    msg = CompressedImage(format=fmt, data=data)
    msg.header.frame_id = FRAME_ID
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SEC)
    return msg


def jpeg(frame: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", frame)
    assert ok
    return data.tobytes()


def frame_message(value: int, stamp_ns: int, hw: tuple[int, int] = HW) -> Image:
    return array_message(np.full((*hw, 3), value, np.uint8), stamp_ns)


def request(cx: float, cy: float, w: float, h: float, stamp_ns: int = 0) -> SetTarget.Request:
    req = SetTarget.Request()
    req.bbox.center.position.x, req.bbox.center.position.y = cx, cy
    req.bbox.size_x, req.bbox.size_y = w, h
    req.stamp.sec, req.stamp.nanosec = divmod(stamp_ns, SEC)
    return req


class Harness:
    """The node under test in `namespace` plus a client node with a streaming camera and output recorders.

    The camera (a 30 ms timer, on while ``streaming``) publishes ``scene()`` when set, else a uniform frame of
    ``value`` and size ``hw``, on ``image`` (JPEG on ``image/compressed`` when the node's input.transport is
    compressed). The node's tracker wraps ``model`` (default: a RecordingModel), or comes from ``build`` when
    given (e.g. the production build_tracker); ``builds`` counts the calls.
    """

    def __init__(self, context, namespace: str, overrides: dict | None = None,
                 image_qos: QoSProfile | int = 10, model: PlantedModel | None = None,
                 build: Callable[[params.TrackerNodeParameters], Tracker] | None = None) -> None:
        self.model = model if model is not None else RecordingModel()
        self.build = build
        self.builds = 0
        self.node = TrackerNode(build_tracker=self._build, context=context, namespace=namespace,
                                parameter_overrides=[Parameter(k, value=v) for k, v in (overrides or {}).items()])
        self.client = rclpy.create_node("tracker_test_client", namespace=namespace, context=context)
        c = self.client
        self.image_qos = image_qos
        self.image_pub = c.create_publisher(Image, "image", image_qos)
        self.compressed_pub = c.create_publisher(CompressedImage, "image/compressed", 10)
        self.detections: list[Detection2D] = []
        self.masks: list[Image] = []
        self.confidences: list[float] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.subs = [c.create_subscription(Detection2D, "detection", self.detections.append, 50),
                     c.create_subscription(Image, "mask", self.masks.append, 50),
                     c.create_subscription(Float32, "confidence", lambda m: self.confidences.append(m.data), 50),
                     c.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics, 50)]
        self.target_pub = c.create_publisher(Detection2D, "target", 10)
        calls = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)  # bursts of calls keep every answer
        self.set_target = c.create_client(SetTarget, "set_target", qos_profile=calls)
        self.clear_target = c.create_client(Trigger, "clear_target", qos_profile=calls)
        self.streaming = False
        self.value, self.hw = 100, HW
        self.scene: Callable[[], np.ndarray] | None = None
        self.stamp_ns = 100 * SEC
        c.create_timer(0.03, self._camera)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(c)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        assert wait_for(lambda: self.set_target.service_is_ready() and self.clear_target.service_is_ready()
                        and self.node.outputs.detection.get_subscription_count() > 0
                        and self.node.outputs.confidence.get_subscription_count() > 0
                        and self.node._image_sub.get_publisher_count() > 0, 15.0), "discovery timed out"

    def _build(self, settings: params.TrackerNodeParameters) -> Tracker:
        self.builds += 1
        if self.build is not None:
            return self.build(settings)
        return Tracker(self.model, config=TrackerConfig(), attention=False)

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        # /diagnostics is global: keep only this node's statuses (nodes of other tests may publish too)
        name = self.node.get_fully_qualified_name()
        if any(kv.key == "node" and kv.value == name for s in msg.status for kv in s.values):
            self.diagnostics.append(msg)

    def _camera(self) -> None:
        if not self.streaming:
            return
        if self.node.settings.input_transport == "compressed":
            self.compressed_pub.publish(compressed_message(jpeg(self.current_frame()), self.next_stamp()))
        else:
            self.publish_array(self.current_frame())

    def current_frame(self) -> np.ndarray:
        return self.scene() if self.scene is not None else np.full((*self.hw, 3), self.value, np.uint8)

    def next_stamp(self) -> int:
        self.stamp_ns += SEC // 30
        return self.stamp_ns

    def publish_array(self, frame: np.ndarray, stamp_ns: int | None = None) -> int:
        stamp_ns = self.next_stamp() if stamp_ns is None else stamp_ns
        self.image_pub.publish(array_message(frame, stamp_ns))
        return stamp_ns

    def publish(self, value: int, stamp_ns: int | None = None, hw: tuple[int, int] | None = None) -> int:
        return self.publish_array(np.full((*(hw or self.hw), 3), value, np.uint8), stamp_ns)

    def call(self, client, req, timeout: float = 10.0):
        future = client.call_async(req)
        assert wait_for(future.done, timeout), "no response"
        return future.result()

    def processed_after(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until `count` more frames have been processed."""
        target = self.node.stats.processed + count
        return wait_for(lambda: self.node.stats.processed >= target, timeout)

    def statuses(self) -> list:
        """This node's diagnostic statuses received so far, oldest first."""
        return [s for array in list(self.diagnostics) for s in array.status]

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(10)
        self.node.destroy_node()
        self.client.destroy_node()


def call_until_answered(client, make_request: Callable[[], Any], timeout: float = 30.0, every: float = 5.0):
    """The first answer to an idempotent request, sent again every ``every`` seconds until one is answered.
    service_is_ready() says the server reads requests, not that its reply can reach this client yet: a reply sent
    before the server's response writer has matched the client's reader is dropped (DDS discovery), so one call
    may never be answered."""
    futures = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        futures.append(client.call_async(make_request()))
        if wait_for(lambda: any(f.done() for f in futures), min(every, max(0.0, deadline - time.monotonic()))):
            return next(f for f in futures if f.done()).result()
    raise AssertionError(f"no answer within {timeout} s ({len(futures)} calls)")


@contextlib.contextmanager
def first_answer_of(context, process: subprocess.Popen, namespace: str, startup_timeout: float = 60.0
                    ) -> Iterator[SetTarget.Response]:
    """Wait until the node `process` serves {namespace}/set_target, call it once (no image has been sent, so the
    answer is success=false) and yield the answer; afterwards the client is gone and the process is ended."""
    client = rclpy.create_node("process_client", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(client)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        set_target = client.create_client(SetTarget, f"{namespace}/set_target")
        assert wait_for(lambda: set_target.service_is_ready() or process.poll() is not None, startup_timeout)
        assert process.poll() is None, process.communicate()
        yield call_until_answered(set_target, lambda: request(*TARGET))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        executor.shutdown()
        thread.join(10)
        client.destroy_node()

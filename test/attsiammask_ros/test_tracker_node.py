"""tracker_node through real rclpy over localhost DDS, with a planted fake model (deterministic and fast).

The node under test and a client node (camera publisher, output subscribers, service clients) spin on one
SingleThreadedExecutor in a background thread (as in the node's main); the test thread waits on
conditions, never blindly.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
SetTarget = pytest.importorskip("attsiammask_interfaces.srv",
                                reason="interfaces not built: run `make setup` and source env.sh").SetTarget
from node_harness import (  # noqa: E402
    FRAME_ID,
    HW,
    SEC,
    TARGET,
    Harness,
    RecordingModel,
    first_answer_of,
    frame_message,
    keep_publishing,
    request,
    wait_for,
)
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from vision_msgs.msg import Detection2D  # noqa: E402

from attsiammask_core import Tracker  # noqa: E402
from attsiammask_core.config import TrackerConfig  # noqa: E402
from attsiammask_ros import parameters as params  # noqa: E402
from attsiammask_ros.tracker_node import (  # noqa: E402
    StartupError,
    TrackerNode,
    WarningThrottle,
    build_tracker,
    tracker_config,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def harness(context):
    h = Harness(context, "/tn_main")
    h.streaming = True
    assert wait_for(lambda: h.node.stats.processed > 0), "no image processed"
    yield h
    h.close()


def test_set_target_then_detection_mask_and_confidence(harness):
    response = harness.call(harness.set_target, request(*TARGET))
    assert response.success, response.message
    assert len(response.track_id) == 8 and response.track_id in response.message
    assert harness.node.target.track_id == response.track_id
    assert wait_for(lambda: any(d.id == response.track_id for d in harness.detections))
    sent_stamps = set()
    assert harness.processed_after(3)
    det = [d for d in harness.detections if d.id == response.track_id][-1]
    assert det.header.frame_id == FRAME_ID
    stamp_ns = det.header.stamp.sec * SEC + det.header.stamp.nanosec
    assert 100 * SEC < stamp_ns <= harness.stamp_ns and stamp_ns % (SEC // 30) == (100 * SEC) % (SEC // 30)
    sent_stamps.add(stamp_ns)
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == pytest.approx((80.0, 60.0), abs=1.0)
    assert 5 < det.bbox.size_x < 160 and 5 < det.bbox.size_y < 120
    assert det.results[0].hypothesis.class_id == "target"
    assert det.results[0].hypothesis.score == pytest.approx(0.9, abs=1e-6)
    assert wait_for(lambda: any(m.header.frame_id == FRAME_ID for m in harness.masks))
    mask = harness.masks[-1]
    assert (mask.encoding, mask.height, mask.width, mask.step) == ("mono8", 120, 160, 160)
    values = np.frombuffer(mask.data, np.uint8)
    assert set(np.unique(values)) <= {0, 255} and values.max() == 255
    assert wait_for(lambda: harness.confidences and harness.confidences[-1] == pytest.approx(0.9, abs=1e-6))
    assert harness.node.state == "tracking"


def test_new_set_target_gets_a_new_track_id(harness):
    first = harness.call(harness.set_target, request(*TARGET))
    second = harness.call(harness.set_target, request(70.0, 50.0, 30.0, 30.0))
    assert first.success and second.success and first.track_id != second.track_id
    assert wait_for(lambda: harness.detections and harness.detections[-1].id == second.track_id)


def test_clear_target_goes_idle(harness):
    assert harness.call(harness.set_target, request(*TARGET)).success
    assert wait_for(lambda: bool(harness.detections))
    response = harness.call(harness.clear_target, Trigger.Request())
    assert response.success and "cleared" in response.message
    assert harness.node.state == "idle" and harness.node.target is None
    n_conf = len(harness.confidences)
    assert wait_for(lambda: len(harness.confidences) > n_conf + 2 and harness.confidences[-1] == 0.0)
    n_det, n_mask = len(harness.detections), len(harness.masks)
    assert harness.processed_after(5)
    assert wait_for(lambda: len(harness.confidences) > n_conf + 6)
    assert len(harness.detections) == n_det and len(harness.masks) == n_mask
    assert all(c == 0.0 for c in harness.confidences[-4:])
    again = harness.call(harness.clear_target, Trigger.Request())
    assert again.success and again.message == "no target was set"


def test_set_target_initialises_on_the_buffered_image_with_that_stamp(harness):
    harness.streaming = False
    stamps = {}
    for value in (10, 20, 30, 40, 50):  # each one until the node has it (a message sent once can be lost)
        stamp = stamps[value] = harness.next_stamp()
        assert keep_publishing(lambda: harness.publish(value, stamp),  # noqa: B023
                               lambda: stamp in harness.node._frames.stamps(), 30.0)  # noqa: B023
    assert wait_for(lambda: set(stamps.values()) <= set(harness.node._frames.stamps())), "frames not buffered"
    harness.model.template_means.clear()
    response = harness.call(harness.set_target, request(*TARGET, stamp_ns=stamps[20]))
    assert response.success, response.message
    assert harness.model.template_means == [pytest.approx(20.0)]
    assert harness.node.target.stamp_ns == stamps[20]
    assert f"{stamps[20] // SEC}.{stamps[20] % SEC:09d}" in response.message
    # within the tolerance (1 ms default) also matches; zero stamp = the latest image
    harness.model.template_means.clear()
    assert harness.call(harness.set_target, request(*TARGET, stamp_ns=stamps[40] + 500_000)).success
    assert harness.call(harness.set_target, request(*TARGET, stamp_ns=0)).success
    assert harness.model.template_means == [pytest.approx(40.0), pytest.approx(50.0)]
    # tracking continues on newer frames
    harness.streaming = True
    n = len(harness.detections)
    assert wait_for(lambda: len(harness.detections) > n + 2)


def test_parameter_validation_rejects_bad_values_and_keeps_old_ones(harness):
    node = harness.node
    before = node.get_parameter("tracking.lr").value
    for name, value, words in [("tracking.lr", 0.0, "tracking.lr must be in (0.0, 1.0]"),
                               ("tracking.lr", 3.0, ""),
                               ("tracking.lr", "fast", "type"),
                               ("tracking.lost_frames", 0, ""),
                               ("target.frame_buffer", 1000, ""),
                               ("model.variant", "r50", "read-only"),
                               ("input.reliability", "reliable", "read-only")]:
        (result,) = node.set_parameters([Parameter(name, value=value)])
        assert not result.successful, (name, value)
        assert result.reason and words.lower() in result.reason.lower(), result.reason
    assert node.get_parameter("tracking.lr").value == before == node.tracker.config.lr
    assert node.get_parameter("model.variant").value == "lite"
    # through the ROS parameter service as another process would: bad choice rejected, good value applied
    client = harness.client.create_client(SetParameters, node.get_fully_qualified_name() + "/set_parameters")
    assert wait_for(client.service_is_ready)
    req = SetParameters.Request(parameters=[Parameter("tracking.mask_threshold", value=1.5).to_parameter_msg()])
    (result,) = harness.call(client, req).results
    assert not result.successful and "mask_threshold" in result.reason
    req = SetParameters.Request(parameters=[Parameter("tracking.mask_threshold", value=0.25).to_parameter_msg()])
    (result,) = harness.call(client, req).results
    assert result.successful
    assert node.tracker.config.mask_threshold == 0.25 and node.settings.tracking_mask_threshold == 0.25
    (result,) = node.set_parameters([Parameter("tracking.mask_threshold", value=0.15)])
    assert result.successful


def test_run_time_threshold_change_is_applied(harness):
    node = harness.node
    assert harness.call(harness.set_target, request(*TARGET)).success
    assert wait_for(lambda: node.state == "tracking")
    results = node.set_parameters([Parameter("tracking.lost_threshold", value=0.95),
                                   Parameter("tracking.lost_frames", value=1),
                                   Parameter("target.class_id", value="cup")])
    assert all(r.successful for r in results)
    config = node.tracker.config
    assert (config.lost_threshold, config.lost_frames, config.recover_threshold) == (0.95, 1, 0.95)
    assert wait_for(lambda: node.state == "lost"), "planted score 0.9 < 0.95 must be lost"
    assert harness.processed_after(2)
    n_det = len(harness.detections)
    assert harness.processed_after(4)
    assert wait_for(lambda: len(harness.masks) > 3 and not np.frombuffer(harness.masks[-1].data, np.uint8).any())
    assert len(harness.detections) == n_det, "no detection while lost"
    assert harness.confidences[-1] == pytest.approx(0.9, abs=1e-6)
    results = node.set_parameters([Parameter("tracking.lost_threshold", value=0.3),
                                   Parameter("tracking.lost_frames", value=5)])
    assert all(r.successful for r in results)
    assert node.tracker.config.recover_threshold == params.DEFAULTS["tracking.recover_threshold"]
    assert wait_for(lambda: len(harness.detections) > n_det and node.state == "tracking"), "recovers"
    assert wait_for(lambda: harness.detections[-1].results[0].hypothesis.class_id == "cup")
    assert node.set_parameters([Parameter("target.class_id", value="target")])[0].successful


def test_bad_raw_images_are_logged_and_dropped_not_fatal(harness, capfd):
    harness.streaming = False  # a newer frame would replace a bad one before it is decoded
    bad_before = harness.node.stats.bad_images
    unknown = frame_message(10, harness.stamp_ns + 1)
    unknown.encoding = "32FC1"
    truncated = frame_message(10, harness.stamp_ns + 2)
    truncated.data = bytes(100)
    for msg in (unknown, truncated):
        assert keep_publishing(lambda: harness.image_pub.publish(msg),  # noqa: B023
                               lambda: harness.node.stats.bad_images > bad_before)  # noqa: B023
        bad_before = harness.node.stats.bad_images
    harness.streaming = True
    assert harness.processed_after(3), "the node keeps processing good images"
    assert "unsupported image encoding '32FC1'" in capfd.readouterr().err


def test_image_size_change_mid_track_reinitialises_on_the_scaled_box(harness):
    node = harness.node
    assert harness.call(harness.set_target, request(*TARGET)).success
    before = node.stats.reinitialised
    harness.hw = (240, 320)
    try:
        assert wait_for(lambda: node.stats.reinitialised > before)
        assert wait_for(lambda: harness.masks and harness.masks[-1].width == 320 and harness.detections
                        and harness.detections[-1].bbox.center.position.x == pytest.approx(160.0, abs=2.0))
        assert node.state == "tracking" and node.target.image_hw == (240, 320)
    finally:
        harness.hw = HW
    assert wait_for(lambda: harness.masks[-1].width == 160)


def test_diagnostics_about_1hz(harness):
    response = harness.call(harness.set_target, request(*TARGET))

    def ours() -> list:
        return [s for a in harness.diagnostics for s in a.status
                if any(kv.key == "track id" and kv.value == response.track_id for kv in s.values)]

    def processing() -> list:  # a status issued after frames of this target were processed
        return [s for s in ours() if float({kv.key: kv.value for kv in s.values}["processed fps"]) > 0]

    assert wait_for(lambda: len(processing()) >= 1, 10.0)
    status = processing()[-1]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "attsiammask_tracker: tracking" and status.level == b"\x00"
    assert values["state"] == "tracking" and values["model variant"] == "lite" and values["device"] == "cpu"
    for key in ("processed fps", "latency p50 ms", "latency p95 ms", "dropped frames", "last bad image",
                "discarded frames"):
        assert key in values
    assert values["node"] == "/tn_main/attsiammask_tracker"  # names this node among all on /diagnostics
    assert float(values["processed fps"]) > 0 and float(values["latency p95 ms"]) >= float(values["latency p50 ms"])
    assert int(values["last image stamp ns"]) > 0  # the stamp of an image the node received


def test_inference_never_queues_frames_and_services_answer_meanwhile(harness):
    """While one track() is blocked, frames keep arriving: each replaces the pending one (dropped, counted, never
    queued), and set_target is answered meanwhile."""
    node = harness.node
    assert harness.call(harness.set_target, request(*TARGET)).success
    original = harness.model.search_heads
    entered, release = threading.Event(), threading.Event()

    def blocked_heads(*args, **kwargs):
        entered.set()
        release.wait(15.0)
        return original(*args, **kwargs)

    harness.model.search_heads = blocked_heads
    try:
        assert wait_for(entered.is_set)
        received, dropped, processed = node.stats.received, node.stats.dropped, node.stats.processed
        response = harness.call(harness.set_target, request(math.nan, 60.0, 40.0, 30.0))
        assert not response.success and "not finite" in response.message
        assert not release.is_set()
        assert wait_for(lambda: node.stats.received >= received + 10)
        assert node.stats.dropped >= dropped + 9 and node.stats.processed == processed
    finally:
        harness.model.search_heads = original
        release.set()
    assert harness.processed_after(2)


def test_target_topic_hand_off(harness):
    detection = Detection2D()
    detection.header.stamp.sec = 0
    detection.bbox.center.position.x, detection.bbox.center.position.y = 80.0, 60.0
    detection.bbox.size_x, detection.bbox.size_y = 30.0, 30.0
    before = harness.node.target.track_id if harness.node.target else None
    assert wait_for(lambda: harness.target_pub.get_subscription_count() > 0)
    # again until the hand-off shows: the subscription may not know the publisher yet and drop a first message
    assert keep_publishing(lambda: harness.target_pub.publish(detection),
                           lambda: harness.node.target is not None and harness.node.target.track_id != before,
                           30.0)


def test_every_set_target_failure_answers_false_and_the_node_keeps_running(context):
    h = Harness(context, "/tn_fail")
    try:
        response = h.call(h.set_target, request(*TARGET))
        assert not response.success and response.track_id == ""
        assert "no image received yet on /tn_fail/image" in response.message
        stamp = h.next_stamp()
        assert keep_publishing(lambda: h.publish(30, stamp), lambda: len(h.node._frames) > 0, 30.0)
        cases = [
            (request(*TARGET, stamp_ns=stamp + 5 * SEC), "no buffered image has stamp"),
            (request(*TARGET, stamp_ns=stamp + 2_000_000), "tolerance 1 ms"),
            (request(math.nan, 60.0, 40.0, 30.0), "not finite"),
            (request(80.0, 60.0, math.inf, 30.0), "not finite"),
            (request(80.0, 60.0, 2.0, 30.0), "below the minimum of 4 px"),
            (request(500.0, 60.0, 40.0, 30.0), "does not overlap the 160x120 image"),
            (request(80.0, -100.0, 40.0, 30.0), "does not overlap"),
        ]
        for req, words in cases:
            response = h.call(h.set_target, req)
            assert not response.success and words in response.message, response.message
            assert response.track_id == ""
        assert h.node.target is None
        # a box partly outside is clipped; then a good call succeeds
        response = h.call(h.set_target, request(5.0, 5.0, 30.0, 20.0, stamp_ns=stamp))
        assert response.success and "x=0.0 y=0.0 w=20.0 h=15.0" in response.message
        assert h.call(h.set_target, request(*TARGET, stamp_ns=stamp)).success
        h.streaming = True
        assert wait_for(lambda: bool(h.detections))
    finally:
        h.close()


def test_compressed_input_and_corrupt_compressed_images(context, capfd):
    h = Harness(context, "/tn_comp", overrides={"input.transport": "compressed"})
    try:
        assert h.node._image_sub.topic_name == "/tn_comp/image/compressed"
        assert wait_for(lambda: h.node._image_sub.get_publisher_count() > 0)

        def compressed(data: bytes, stamp_ns: int) -> CompressedImage:
            msg = CompressedImage(format="jpeg", data=data)
            msg.header.frame_id = FRAME_ID
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SEC)
            return msg

        ok, jpeg = cv2.imencode(".jpg", np.full((*HW, 3), 90, np.uint8))
        corrupt = compressed(b"\xff\xd8 this is not a jpeg", 5 * SEC)
        assert keep_publishing(lambda: h.compressed_pub.publish(corrupt), lambda: h.node.stats.bad_images >= 1)
        for k in range(1, 4):  # each one until the node has it
            good = compressed(jpeg.tobytes(), 5 * SEC + k)
            assert keep_publishing(lambda: h.compressed_pub.publish(good),  # noqa: B023
                                   lambda: 5 * SEC + k in h.node._frames.stamps(), 30.0)  # noqa: B023
        assert wait_for(lambda: h.node.stats.processed >= 1)
        response = h.call(h.set_target, request(*TARGET, stamp_ns=5 * SEC + 1))
        assert response.success, response.message
        # again until its detection shows: not any detection (a frame of 5 s still pending when the target was
        # set is tracked too), and the detection publisher may not be matched yet on the client's side
        newer = compressed(jpeg.tobytes(), 6 * SEC)
        assert keep_publishing(lambda: h.compressed_pub.publish(newer),
                               lambda: any(d.header.stamp.sec == 6 for d in h.detections), 30.0)
        assert h.detections[-1].header.stamp.sec == 6
        assert "cannot decode compressed image" in capfd.readouterr().err
    finally:
        h.close()


def test_reliable_subscription_reports_an_incompatible_best_effort_publisher(context, capfd):
    best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    node = TrackerNode(build_tracker=lambda s: Tracker(RecordingModel(), config=TrackerConfig(), attention=False),
                       context=context, namespace="/tn_qos", parameter_overrides=[
                           Parameter("input.reliability", value="reliable")])
    client = rclpy.create_node("qos_client", namespace="/tn_qos", context=context)
    client.create_publisher(Image, "image", best_effort)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: node.stats.qos_incompatible > 0, 15.0)
    finally:
        executor.shutdown()
        thread.join(10)
        node.destroy_node()
        client.destroy_node()
    assert "incompatible QoS on /tn_qos/image" in capfd.readouterr().err


def test_start_up_with_the_yaml_and_bad_values(context, tmp_path):
    def build(settings):
        return Tracker(RecordingModel(), config=TrackerConfig(), attention=False)

    node = TrackerNode(build_tracker=build, context=context, namespace="/tn_yaml",
                       cli_args=["--ros-args", "--params-file", str(REPO / "config" / "tracker.yaml")])
    try:
        assert node.settings == params.TrackerNodeParameters()
        descriptor = node.describe_parameter("model.variant")
        assert descriptor.read_only and "lite" in descriptor.additional_constraints
    finally:
        node.destroy_node()
    custom = tmp_path / "custom.yaml"
    custom.write_text("/**:\n  ros__parameters:\n    tracking:\n      lost_frames: 9\n      lr: 0.5\n")
    node = TrackerNode(build_tracker=build, context=context, namespace="/tn_yaml",
                       cli_args=["--ros-args", "--params-file", str(custom)])
    try:
        assert node.settings.tracking_lost_frames == 9 and node.tracker.config.lost_frames == 9
        assert node.tracker.config.lr == 0.5
    finally:
        node.destroy_node()
    for override, words in [(Parameter("tracking.lr", value=2.0), "tracking.lr"),
                            (Parameter("model.variant", value="r18"), "model.variant must be one of"),
                            (Parameter("model.device", value="gpu"), "model.device must match")]:
        with pytest.raises(StartupError, match=words):
            TrackerNode(build_tracker=build, context=context, namespace="/tn_yaml", parameter_overrides=[override])

    def no_weights(settings):
        raise ValueError("variant 'lite' has no embedded weights: pass weights=<path>")

    with pytest.raises(StartupError, match="cannot build the tracker .*no embedded weights"):
        TrackerNode(build_tracker=no_weights, context=context, namespace="/tn_yaml")


def test_warning_throttle_logs_each_kind_once_per_period():
    throttle = WarningThrottle(period=5.0, burst=3)
    assert throttle.allow("image data truncated: 100 bytes", now=0.0)
    assert not throttle.allow("image data truncated: 200 bytes", now=1.0)  # the same kind, other numbers
    assert throttle.allow("unsupported image encoding 'x'", now=1.0)  # a new kind shows at once
    assert throttle.allow("c", now=2.0)
    assert not throttle.allow("d", now=2.0)  # at most 3 lines per period in all
    assert throttle.allow("image data truncated: 300 bytes", now=5.5)  # its period is over


def test_build_tracker_with_the_onnxruntime_backend():
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed: make setup installs it")
    settings = params.TrackerNodeParameters(model_backend="onnxruntime", model_providers="cuda, cpu")
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider is not available"):
        tracker = build_tracker(settings)
    assert type(tracker.model).__name__ == "OrtModel" and tracker.model.providers == ["CPUExecutionProvider"]
    assert tracker.config.window_influence == 0.455  # the embedded weights' tuned values, as with torch
    with pytest.raises(ValueError, match="choose the hardware with model.providers"):
        build_tracker(params.TrackerNodeParameters(model_backend="onnxruntime", model_device="cuda"))
    # the default backend "auto": onnxruntime on this CPU; providers beyond cpu also ask for onnxruntime
    assert type(build_tracker(params.TrackerNodeParameters()).model).__name__ == "OrtModel"
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider is not available"):
        assert type(build_tracker(params.TrackerNodeParameters(model_providers="cuda,cpu")).model).__name__ == \
            "OrtModel"
    assert type(build_tracker(params.TrackerNodeParameters(model_backend="torch")).model).__name__ != "OrtModel"


def test_default_parameters_keep_the_shipped_presence_calibration():
    """The node's default parameters applied to what Tracker.create gives change nothing: the lite calibration
    (verifier weights, thresholds, re-detection) is not replaced by stale values."""
    settings = params.TrackerNodeParameters(model_backend="torch")
    created = build_tracker(settings).config
    assert created.presence == "verifier" and created.presence_weights
    assert tracker_config(created, settings) == created
    assert (created.lost_threshold, created.lost_frames, created.recover_threshold, created.recover_frames) == tuple(
        params.DEFAULTS[f"tracking.{name}"] for name in ("lost_threshold", "lost_frames", "recover_threshold",
                                                         "recover_frames"))


def test_tracker_config_keeps_recovery_above_loss():
    base = TrackerConfig()
    settings = params.TrackerNodeParameters(tracking_lost_threshold=0.8, tracking_penalty_k=0.2, tracking_lr=1.0)
    config = tracker_config(base, settings)
    assert (config.lost_threshold, config.recover_threshold, config.penalty_k, config.lr) == (0.8, 0.8, 0.2, 1.0)
    assert (config.stride, config.score_size, config.ratios) == (base.stride, base.score_size, base.ratios)
    defaults = tracker_config(base, params.TrackerNodeParameters())
    assert defaults.recover_threshold == params.DEFAULTS["tracking.recover_threshold"]
    assert (defaults.redetect_tiles, defaults.redetect_reach) == (2, 0.0)
    lowered = params.TrackerNodeParameters(tracking_recover_threshold=0.2, tracking_redetect_tiles=0,
                                           tracking_redetect_reach=3.0)
    config = tracker_config(base, lowered)
    # recovery never below loss: the default loss threshold
    assert (config.recover_threshold, config.redetect_tiles, config.redetect_reach) == (
        params.DEFAULTS["tracking.lost_threshold"], 0, 3.0)


# ---- the executable: start-up failure and clean shutdown on signals ------------------------------------------
RUNNER = """
import sys
import attsiammask_core.models.siammask  # the package first: test/ holds a folder of the same name
sys.path.append({test_dir!r})
from fake_siammask import PlantedModel
from attsiammask_core import Tracker
from attsiammask_core.config import TrackerConfig
from attsiammask_ros.tracker_node import TrackerNode, main
if {slow_stop}:  # stop() waits for a slow frame in flight, so that later signals land inside the shutdown
    import time
    _stop = TrackerNode.stop
    TrackerNode.stop = lambda self, timeout=10.0: (time.sleep(0.6), _stop(self, timeout))[1]
sys.exit(main(build_tracker=lambda s: Tracker(PlantedModel(), config=TrackerConfig(), attention=False)))
"""


def _installed_tracker_node() -> Path:
    ament_index = pytest.importorskip("ament_index_python.packages", reason="run `make setup`")
    return Path(ament_index.get_package_prefix("attsiammask_ros")) / "lib" / "attsiammask_ros" / "tracker_node"


def test_executable_without_weights_exits_non_zero_with_a_clear_error(tmp_path):
    exe = _installed_tracker_node()
    assert exe.is_file(), f"{exe} missing: run `make setup`"
    missing = tmp_path / "missing.pth"
    done = subprocess.run([sys.executable, str(exe), "--ros-args", "-r", "__ns:=/tn_exe", "-p",
                           f"model.weights:={missing}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot start: cannot build the tracker" in done.stderr and str(missing) in done.stderr
    assert "Traceback" not in done.stderr


def _signal_node(context, tmp_path, namespace: str, signals: list[tuple[int, float]], slow_stop: bool
                 ) -> tuple[int, str]:
    """Start the node executable, wait until it answers set_target, send `signals` (signal, delay before it);
    return its exit code and stderr."""
    script = tmp_path / "run_node.py"
    script.write_text(RUNNER.format(test_dir=str(REPO / "test"), slow_stop=slow_stop))
    process = subprocess.Popen([sys.executable, str(script), "--ros-args", "-r", f"__ns:={namespace}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    with first_answer_of(context, process, namespace) as answer:  # answered (no image yet) once the node spins
        assert not answer.success
        for signum, delay in signals:
            threading.Event().wait(delay)
            if process.poll() is None:
                process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_main_shuts_down_cleanly_on_signals(context, tmp_path, signum):
    code, stderr = _signal_node(context, tmp_path, f"/tn_sig{int(signum)}", [(signum, 0.0)], slow_stop=False)
    assert code == 0, stderr
    assert "Traceback" not in stderr


REPEATED = {
    "sigint-twice-at-once": [(signal.SIGINT, 0.0), (signal.SIGINT, 0.0)],
    "sigint-again-during-stop": [(signal.SIGINT, 0.0), (signal.SIGINT, 0.2)],
    "sigint-three-times": [(signal.SIGINT, 0.0), (signal.SIGINT, 0.05), (signal.SIGINT, 0.3)],
    "sigint-then-sigterm": [(signal.SIGINT, 0.0), (signal.SIGTERM, 0.2)],
}


@pytest.mark.parametrize("name", sorted(REPEATED))
def test_repeated_signals_during_shutdown_exit_0_without_traceback(context, tmp_path, name):
    """What launch does on a second Ctrl-C: the signal lands while stop() waits for a frame (issue 12)."""
    code, stderr = _signal_node(context, tmp_path, f"/tn_rep_{name.replace('-', '_')}", REPEATED[name],
                                slow_stop=True)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_debug_image_only_when_enabled_and_subscribed(harness):
    node = harness.node
    assert harness.call(harness.set_target, request(*TARGET)).success
    received: list[Image] = []
    sub = harness.client.create_subscription(Image, "debug_image", received.append, 10)
    try:
        assert wait_for(lambda: node.outputs.debug.get_subscription_count() > 0)
        assert harness.processed_after(3) and received == []  # disabled by default
        assert node.set_parameters([Parameter("output.publish_debug_image", value=True)])[0].successful
        assert wait_for(lambda: bool(received))
        image = received[-1]
        assert (image.encoding, image.height, image.width, image.header.frame_id) == ("bgr8", 120, 160, FRAME_ID)
    finally:
        harness.client.destroy_subscription(sub)
        node.set_parameters([Parameter("output.publish_debug_image", value=False)])

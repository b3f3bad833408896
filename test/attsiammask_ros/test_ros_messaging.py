"""The platform works for real: SetTarget and Detection2D travel between rclpy nodes over localhost DDS."""
from __future__ import annotations

import pytest
from ros_helpers import spin_until

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

SetTarget = pytest.importorskip("attsiammask_interfaces.srv",
                                reason="interfaces not built: run `make setup` and source env.sh").SetTarget
vision_msgs = pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: run `make setup`")


def test_set_target_request_and_response_cross_nodes(ros_context):
    server_node = rclpy.create_node("test_set_target_server", context=ros_context)
    client_node = rclpy.create_node("test_set_target_client", context=ros_context)
    received = []

    def handle(request, response):
        received.append(request)
        response.success = True
        response.message = "initialised"
        response.track_id = "track-7"
        return response

    server_node.create_service(SetTarget, "set_target", handle)
    client = client_node.create_client(SetTarget, "set_target")
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(server_node)
    executor.add_node(client_node)
    try:
        assert spin_until(executor, client.service_is_ready, timeout=15.0), "service never discovered"
        request = SetTarget.Request()
        request.bbox.center.position.x = 320.5
        request.bbox.center.position.y = 240.25
        request.bbox.center.theta = 0.125
        request.bbox.size_x = 64.0
        request.bbox.size_y = 48.5
        request.stamp.sec = 1_700_000_123
        request.stamp.nanosec = 456_789_000
        future = client.call_async(request)
        assert spin_until(executor, future.done, timeout=10.0), "no response"
        response = future.result()
    finally:
        executor.shutdown()
        server_node.destroy_node()
        client_node.destroy_node()

    assert (response.success, response.message, response.track_id) == (True, "initialised", "track-7")
    assert len(received) == 1
    got = received[0]
    assert (got.bbox.center.position.x, got.bbox.center.position.y, got.bbox.center.theta) == (320.5, 240.25, 0.125)
    assert (got.bbox.size_x, got.bbox.size_y) == (64.0, 48.5)
    assert (got.stamp.sec, got.stamp.nanosec) == (1_700_000_123, 456_789_000)


def _detection() -> object:
    det = vision_msgs.Detection2D()
    det.header.frame_id = "camera_optical"
    det.header.stamp.sec = 42
    det.header.stamp.nanosec = 7
    det.bbox.center.position.x = 100.5
    det.bbox.center.position.y = 80.25
    det.bbox.size_x = 30.0
    det.bbox.size_y = 20.0
    hypothesis = vision_msgs.ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = "target"
    hypothesis.hypothesis.score = 0.875
    det.results.append(hypothesis)
    det.id = "track-1"
    return det


def test_detection2d_publish_subscribe(ros_context):
    pub_node = rclpy.create_node("test_detection_pub", context=ros_context)
    sub_node = rclpy.create_node("test_detection_sub", context=ros_context)
    received = []
    publisher = pub_node.create_publisher(vision_msgs.Detection2D, "detection", 10)
    sub_node.create_subscription(vision_msgs.Detection2D, "detection", received.append, 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(pub_node)
    executor.add_node(sub_node)
    try:
        assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, timeout=15.0)
        sent = _detection()

        def got_one() -> bool:
            if not received:
                publisher.publish(sent)
            return bool(received)

        assert spin_until(executor, got_one, timeout=10.0), "no Detection2D received"
        topic_info = pub_node.get_publishers_info_by_topic("/detection")
    finally:
        executor.shutdown()
        pub_node.destroy_node()
        sub_node.destroy_node()

    got = received[0]
    assert got == sent
    assert got.results[0].hypothesis.class_id == "target" and got.results[0].hypothesis.score == 0.875
    # The hash DDS advertises for the topic is the upstream vision_msgs 4.1.1 one.
    assert len(topic_info) == 1
    assert str(topic_info[0].topic_type_hash) == (
        "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea")

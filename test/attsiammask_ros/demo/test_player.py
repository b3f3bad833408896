"""The clip player publishes bgr8 images with strictly increasing stamps and frame_id "camera" (rclpy, localhost)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from attsiammask_ros.demo.clip import Clip  # noqa: E402
from attsiammask_ros.demo.player import ClipPlayer  # noqa: E402
from attsiammask_ros.image_conversion import image_to_bgr  # noqa: E402
from attsiammask_ros.messages import stamp_to_ns  # noqa: E402

N = 12


def test_player_publishes_every_frame_in_order(ros_context):
    frames = [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(N)]
    clip = Clip("t", frames, np.vstack([[1, 1, 10, 10], np.full((N - 1, 4), np.nan)]), fps=100.0)
    reliable = QoSProfile(depth=N, reliability=ReliabilityPolicy.RELIABLE)
    player = ClipPlayer(clip, qos=reliable, namespace="demo_player_test", context=ros_context)
    listener = rclpy.create_node("listener", namespace="demo_player_test", context=ros_context)
    received: list[Image] = []
    listener.create_subscription(Image, "image", received.append, reliable)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(player)
    executor.add_node(listener)
    try:
        assert spin_until(executor, lambda: player.publisher.get_subscription_count() > 0, 10.0)
        thread = threading.Thread(target=player.play)
        thread.start()
        assert spin_until(executor, lambda: len(received) == N, 15.0), len(received)
        thread.join(5.0)
    finally:
        executor.shutdown()
        player.destroy_node()
        listener.destroy_node()
    stamps = [stamp_to_ns(m.header.stamp) for m in received]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert [s for _, s in player.published] == stamps
    assert [i for i, _ in player.published] == list(range(N))
    for i, msg in enumerate(received):
        assert msg.header.frame_id == "camera" and msg.encoding == "bgr8" and (msg.width, msg.height) == (64, 48)
        assert np.array_equal(image_to_bgr(msg), frames[i])
    # paced at the clip's rate: 12 frames at 100 fps take about 0.11 s, not 0
    assert (stamps[-1] - stamps[0]) / 1e9 >= 0.9 * (N - 1) / clip.fps

"""A node that publishes a clip as ``sensor_msgs/Image`` (bgr8, frame_id "camera") at the clip's frame rate.

Stamps are the node clock's time at publication, strictly increasing, so a subscriber on this host can measure
latency as (receipt time - stamp). Used by the demo and the node benchmark in-process (:class:`ClipPlayer`), and
on its own: ``python -m attsiammask_ros.demo.player [--video FILE --box x,y,w,h | --seq DIR] [--fps N] [--loop]``
(the embedded clip by default).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence

from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from attsiammask_ros.demo.clip import Clip
from attsiammask_ros.image_conversion import bgr_to_image

__all__ = ["ClipPlayer", "FRAME_ID", "main"]

FRAME_ID = "camera"


class ClipPlayer(Node):
    """Publishes frames of ``clip`` on ``topic``; :meth:`play` paces them at ``fps`` on an absolute schedule."""

    def __init__(self, clip: Clip, topic: str = "image", frame_id: str = FRAME_ID,
                 qos: QoSProfile = qos_profile_sensor_data, node_name: str = "clip_player", **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        self.clip = clip
        self.frame_id = frame_id
        self.publisher = self.create_publisher(Image, topic, qos)
        self.published: list[tuple[int, int]] = []   # (frame index, stamp ns) in publication order
        self._last_stamp_ns = 0
        self._lock = threading.Lock()

    def next_stamp_ns(self) -> int:
        """The clock's time now, but always later than the previous stamp."""
        now = self.get_clock().now().nanoseconds
        with self._lock:
            self._last_stamp_ns = max(now, self._last_stamp_ns + 1)
            return self._last_stamp_ns

    def publish_frame(self, index: int, stamp_ns: int | None = None) -> int:
        """Publish frame ``index``, stamped now (or with ``stamp_ns`` to repeat an earlier frame); its stamp."""
        stamp = self.next_stamp_ns() if stamp_ns is None else int(stamp_ns)
        header = Header(frame_id=self.frame_id)
        header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        self.publisher.publish(bgr_to_image(self.clip.frames[index], header))
        if stamp_ns is None:
            self.published.append((index, stamp))
        return stamp

    def play(self, start: int = 0, stop: int | None = None, fps: float | None = None,
             keep_going: Callable[[], bool] = lambda: True) -> int:
        """Publish frames ``start``..``stop - 1`` at ``fps`` (the clip's by default); how many were published.

        The schedule is absolute (frame k at t0 + k / fps), so a slow publication does not shift later frames;
        a frame whose slot has fully passed is still published (a camera does not skip), then the pace resumes.
        ``keep_going`` is checked before each frame (e.g. the tracker process is alive).
        """
        stop = len(self.clip) if stop is None else min(stop, len(self.clip))
        period = 1.0 / (fps or self.clip.fps)
        t0 = time.monotonic()
        count = 0
        for k, index in enumerate(range(start, stop)):
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not keep_going():
                break
            self.publish_frame(index)
            count += 1
        return count


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m attsiammask_ros.demo.player", description=__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", help="video file (with --box)")
    source.add_argument("--seq", help="sequence folder (img/ + groundtruth.txt)")
    parser.add_argument("--box", help="x,y,w,h of the target on the video's first frame (ignored by the player)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate (default: the clip's)")
    parser.add_argument("--topic", default="image", help="image topic (default: %(default)s)")
    parser.add_argument("--loop", action="store_true", help="start again at the end until Ctrl-C")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from attsiammask_ros.demo.clip import clip_from_sequence, clip_from_video, make_clip

    args, ros_args = _build_parser().parse_known_args(argv)
    if args.video:
        clip = clip_from_video(args.video, (0.0, 0.0, 1.0, 1.0))
    elif args.seq:
        clip = clip_from_sequence(args.seq)
    else:
        clip = make_clip()
    rclpy.init(args=[sys.argv[0], *ros_args])
    player = ClipPlayer(clip, topic=args.topic)
    rate = args.fps or clip.fps
    player.get_logger().info(f"publishing {clip.name} ({len(clip)} frames) on {player.publisher.topic_name} at "
                             f"{rate:g} fps{' in a loop' if args.loop else ''}")
    try:
        while rclpy.ok():
            player.play(fps=rate, keep_going=rclpy.ok)
            if not args.loop:
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        player.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

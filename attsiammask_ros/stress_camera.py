"""A camera-like publisher process for transport measurements, the transport test and the churn soak:
``python -m attsiammask_ros.stress_camera``.

It publishes, best effort like a camera driver, a ``bgr8`` image, a registered ``32FC1`` depth image (metres) and a
``camera_info`` with one stamp per frame, at ``--rate`` Hz for ``--seconds`` (0: until SIGINT/SIGTERM). The picture
is a textured square on a plain background moving along a slow loop (with ``--leave-every`` it leaves the view for
a while and comes back); the depth is 2 m on the square and 4 m elsewhere. Frames are built once per scene position
(a cycle of ``CYCLE_FRAMES``), so a publication costs its stamp and the DDS copy.

With ``--truth`` it also publishes ``stress/truth`` (vision_msgs/Detection2D, reliable, small): per frame the
target's box (size 0 while away), the frame's stamp, and in ``id`` the wall-clock publish time in ns, so a client
can set the target on a given frame and time the node's results.

Stamps are the capture times (the wall clock at the start plus whole periods, as a camera driver stamps them;
late publications do not bunch them), or, with ``--loop-seconds``, they jump back to the first stamp every that
many seconds (a bag played with ``--loop``). At exit it writes the stamps it published to ``--report`` (JSON),
for a receiver to count what arrived.
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CameraScene", "SceneFrame", "target_box", "main", "CYCLE_FRAMES", "TARGET_DEPTH_M", "FRAME_ID"]

CYCLE_FRAMES = 90           # positions of the target per loop of its path (3 s at 30 Hz)
TARGET_SIDE = 0.2           # the square's side as a share of the image height
TARGET_DEPTH_M = 2.0
BACKGROUND_DEPTH_M = 4.0
FRAME_ID = "stress_camera_optical"
_NS = 1_000_000_000


def target_box(index: int, size_wh: tuple[int, int], away: bool = False) -> tuple[float, float, float, float]:
    """The square's box (x, y, w, h) at cycle position ``index``: a slow ellipse around the centre, or, ``away``,
    beyond the right edge (out of view)."""
    width, height = size_wh
    side = max(8.0, TARGET_SIDE * height)
    angle = 2.0 * math.pi * (index % CYCLE_FRAMES) / CYCLE_FRAMES
    cx = width / 2 + 0.2 * width * math.cos(angle)
    cy = height / 2 + 0.15 * height * math.sin(angle)
    if away:
        cx = width + 2 * side
    return cx - side / 2, cy - side / 2, side, side


@dataclass(frozen=True)
class SceneFrame:
    """One position of the scene: the colour image and its registered depth."""

    bgr: np.ndarray
    depth_m: np.ndarray


class CameraScene:
    """The frames of one image size, made once: CYCLE_FRAMES positions in view and one with the target away."""

    def __init__(self, size_wh: tuple[int, int]) -> None:
        self.size_wh = size_wh
        width, height = size_wh
        rng = np.random.default_rng(7)
        side = int(max(8.0, TARGET_SIDE * height))
        self._texture = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
        self._texture[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = (0, 0, 255)
        self._background = np.full((height, width, 3), 90, np.uint8)
        self._background[:, :, 1] = np.linspace(60, 140, width, dtype=np.uint8)[None, :]
        self.frames = [self._render(target_box(i, size_wh)) for i in range(CYCLE_FRAMES)]
        self.away = self._render(target_box(0, size_wh, away=True))

    def _render(self, box: tuple[float, float, float, float]) -> SceneFrame:
        width, height = self.size_wh
        bgr = self._background.copy()
        depth = np.full((height, width), BACKGROUND_DEPTH_M, np.float32)
        x0, y0 = int(round(box[0])), int(round(box[1]))
        side = self._texture.shape[0]
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
        if xa < xb and ya < yb:
            bgr[ya:yb, xa:xb] = self._texture[ya - y0: yb - y0, xa - x0: xb - x0]
            depth[ya:yb, xa:xb] = TARGET_DEPTH_M
        return SceneFrame(bgr, depth)

    def frame(self, index: int, away: bool = False) -> SceneFrame:
        return self.away if away else self.frames[index % CYCLE_FRAMES]


def camera_info_message(size_wh: tuple[int, int], header: object) -> object:
    """A plain pinhole camera_info (fx = fy = the width, principal point at the centre, no distortion)."""
    from sensor_msgs.msg import CameraInfo

    width, height = size_wh
    f = float(width)
    msg = CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob")
    msg.d = [0.0] * 5
    msg.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def truth_message(box: tuple[float, float, float, float], size_wh: tuple[int, int], stamp_ns: int,
                  published_ns: int) -> object:
    """stress/truth: the target's box in pixels (size 0 when out of view), ``id`` = the publish time in ns."""
    from vision_msgs.msg import Detection2D

    x, y, w, h = box
    msg = Detection2D(id=str(published_ns))
    msg.header.frame_id = FRAME_ID
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, _NS)
    if x + w > 0 and y + h > 0 and x < size_wh[0] and y < size_wh[1]:
        msg.bbox.center.position.x, msg.bbox.center.position.y = x + w / 2, y + h / 2
        msg.bbox.size_x, msg.bbox.size_y = w, h
    return msg


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m attsiammask_ros.stress_camera", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--sizes", default="",
                        help="image sizes to cycle through, e.g. 640x480,320x240 (camera_info follows)")
    parser.add_argument("--size-every", type=float, default=0.0, help="seconds per size of --sizes (0: first only)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds to publish (0: until a signal)")
    parser.add_argument("--no-depth", action="store_true", help="publish no depth image")
    parser.add_argument("--history", type=int, default=5, help="publisher history depth (keep last; default 5)")
    parser.add_argument("--namespace", default="", help="namespace of the topics")
    parser.add_argument("--leave-every", type=float, default=0.0,
                        help="every that many seconds the target leaves the view for --away s (0: never)")
    parser.add_argument("--away", type=float, default=2.0, help="seconds the target stays out of view")
    parser.add_argument("--loop-seconds", type=float, default=0.0,
                        help="stamps jump back to the first every that many seconds (bag --loop; 0: never)")
    parser.add_argument("--wait-subscribers", type=float, default=10.0,
                        help="wait up to that many seconds for a subscriber of image before publishing")
    parser.add_argument("--truth", action="store_true", help="publish stress/truth (box, stamp, publish time)")
    parser.add_argument("--report", default="", help="write the published stamps here (JSON) at exit")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.width < 16 or args.height < 16 or args.history < 1:
        parser.error("--rate must be positive, --width/--height at least 16, --history at least 1")
    return args


def _sizes(args: argparse.Namespace) -> list[tuple[int, int]]:
    if not args.sizes:
        return [(args.width, args.height)]
    sizes = []
    for item in args.sizes.split(","):
        w, _, h = item.strip().partition("x")
        sizes.append((int(w), int(h)))
    return sizes


class _Stop:
    def __init__(self) -> None:
        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._set)

    def _set(self, *_: object) -> None:
        self.requested = True


def main(argv: Sequence[str] | None = None) -> int:
    """Publish until --seconds pass or a signal; write --report; 0."""
    args = _parse(argv)
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection2D

    from attsiammask_ros.image_conversion import _image

    rclpy.init(args=None, signal_handler_options=SignalHandlerOptions.NO)  # ours: finish the report, then exit
    stop = _Stop()
    node = rclpy.create_node("stress_camera", namespace=args.namespace or None)
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=args.history, reliability=ReliabilityPolicy.BEST_EFFORT,
                     durability=DurabilityPolicy.VOLATILE)
    image_pub = node.create_publisher(Image, "image", qos)
    depth_pub = None if args.no_depth else node.create_publisher(Image, "depth", qos)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos)
    truth_pub = node.create_publisher(Detection2D, "stress/truth", 50) if args.truth else None
    sizes = _sizes(args)
    scenes = {size: CameraScene(size) for size in dict.fromkeys(sizes)}
    messages: dict[tuple, tuple] = {}

    def built(size: tuple[int, int], index: int, away: bool) -> tuple:
        key = (size, -1 if away else index % CYCLE_FRAMES)
        if key not in messages:
            frame = scenes[size].frame(index, away)
            header = Header(frame_id=FRAME_ID)
            depth = _image(frame.depth_m, "32FC1", Header(frame_id=FRAME_ID))
            depth.step = int(frame.depth_m.shape[1] * 4)  # bytes per row: 4 per float
            messages[key] = (_image(frame.bgr, "bgr8", header), depth,
                             camera_info_message(size, Header(frame_id=FRAME_ID)))
        return messages[key]

    deadline = time.monotonic() + args.wait_subscribers
    while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline and not stop.requested:
        time.sleep(0.05)
    stamps: list[int] = []
    period = 1.0 / args.rate
    t0, first_stamp = time.monotonic(), time.time_ns()
    k = 0
    try:
        while not stop.requested:
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic() - t0
            if args.seconds and now >= args.seconds:
                break
            size = sizes[int(now / args.size_every) % len(sizes)] if args.size_every > 0 else sizes[0]
            away = args.leave_every > 0 and (now % args.leave_every) >= max(args.leave_every - args.away, 0.0)
            stamp = first_stamp + int(k * period * _NS)  # the capture time: even, even when publishing is late
            if args.loop_seconds > 0:
                stamp = first_stamp + int((now % args.loop_seconds) * _NS)
            image, depth, info = built(size, k, away)
            for msg in (image, depth, info):
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, _NS)
            info_pub.publish(info)
            if depth_pub is not None:
                depth_pub.publish(depth)
            image_pub.publish(image)
            if truth_pub is not None:
                truth_pub.publish(truth_message(target_box(k, size, away), size, stamp, time.time_ns()))
            stamps.append(stamp)
            k += 1
    finally:
        if args.report:
            Path(args.report).write_text(json.dumps({"stamps": stamps, "rate": args.rate,
                                                     "seconds": time.monotonic() - t0}))
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

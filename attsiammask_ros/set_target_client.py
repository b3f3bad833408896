"""`set_target`: call the tracker's set_target service from a shell (there is no ros2cli here).

Gives the tracker a new target: a box on the latest image (or on the buffered image stamped --stamp); prints the
node's answer (success, track_id, message) and exits 0 on success, 1 otherwise."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import rclpy
from attsiammask_interfaces.srv import SetTarget
from builtin_interfaces.msg import Time

from attsiammask_core import stamps
from attsiammask_ros.node_help import DOCS

EPILOG = f"""example:
  set_target 280,210,80,60 --stamp 1700000000.033000000

docs: {DOCS}
"""


def request_from_xywh(x: float, y: float, w: float, h: float, stamp: Time | None = None) -> SetTarget.Request:
    """Build a SetTarget request from a top-left (x, y, w, h) pixel box."""
    request = SetTarget.Request()
    request.bbox.center.position.x = float(x) + float(w) / 2.0
    request.bbox.center.position.y = float(y) + float(h) / 2.0
    request.bbox.size_x = float(w)
    request.bbox.size_y = float(h)
    if stamp is not None:
        request.stamp = stamp
    return request


def parse_stamp(text: str) -> Time:
    """Parse 'SEC' or 'SEC.NANOSEC' into a builtin_interfaces/Time (argparse error when malformed)."""
    try:
        sec, nanosec = divmod(stamps.parse_stamp(text), stamps.NS_PER_S)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Time(sec=sec, nanosec=nanosec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="set_target", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("box", help="x,y,w,h of the target, top-left corner and size in pixels")
    parser.add_argument("--stamp", type=parse_stamp, default=None,
                        help="stamp of the image the box was drawn on (SEC[.NANOSEC]); default: latest image")
    parser.add_argument("--service", default="set_target", help="service name (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        x, y, w, h = (float(v) for v in args.box.split(","))
    except ValueError:
        print(f"set_target: box must be x,y,w,h (four numbers), got {args.box!r}", file=sys.stderr)
        return 2
    rclpy.init()
    node = rclpy.create_node("set_target_client")
    try:
        client = node.create_client(SetTarget, args.service)
        if not client.wait_for_service(timeout_sec=args.timeout):
            print(f"set_target: service {client.srv_name} not available after {args.timeout} s", file=sys.stderr)
            return 1
        future = client.call_async(request_from_xywh(x, y, w, h, args.stamp))
        rclpy.spin_until_future_complete(node, future, timeout_sec=args.timeout)
        if not future.done():
            print(f"set_target: no response within {args.timeout} s", file=sys.stderr)
            return 1
        response = future.result()
        print(f"success={response.success} track_id={response.track_id!r} message={response.message!r}")
        return 0 if response.success else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())

"""`follow_target`: an example controller on the tracker's outputs. It turns toward the target and keeps a set
distance: subscribes target/point (geometry_msgs/PointStamped, from input.depth) and, for turning alone,
target/ray (geometry_msgs/Vector3Stamped), plus confidence, detection and detections; publishes cmd_vel
(geometry_msgs/Twist) at a fixed rate.

Assumes the camera looks along the robot's forward axis, level, near its turning axis (optical frame: x right,
z forward). Speeds are bounded; it stops (publishes zero) while the target is lost: the tracker's latest
processed frame (``detections``, one per processed frame) holds no detection of the followed target (the first
target, whose id ``detection`` carries), or the presence confidence is below min_confidence; when its data is
older than timeout_s; and on shutdown. It resumes with the first fresh point (or ray) after the target is found
again: the data from before the loss is dropped.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, fields
from typing import Any

import rclpy
from geometry_msgs.msg import PointStamped, Twist, Vector3Stamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import Float32
from vision_msgs.msg import Detection2D, Detection2DArray

from attsiammask_ros.node_help import DOCS, print_help_if_requested

NODE_NAME = "follow_target"


@dataclass(frozen=True)
class FollowParameters:
    """The controller's parameters (ROS names: the field names) with their ranges."""

    target_distance: float = 1.5  # metres to keep from the target
    k_linear: float = 0.8  # m/s per metre of distance error
    k_angular: float = 1.5  # rad/s per radian of heading error
    max_linear: float = 0.5  # m/s, forwards and backwards
    max_angular: float = 1.0  # rad/s
    timeout_s: float = 0.5  # older data stops the robot
    min_confidence: float = 0.5  # presence confidence below it counts as lost (the tracker's lost_threshold)
    rate_hz: float = 20.0  # cmd_vel rate

    RANGES = {"target_distance": (0.1, 20.0), "k_linear": (0.0, 10.0), "k_angular": (0.0, 20.0),
              "max_linear": (0.0, 5.0), "max_angular": (0.0, 10.0), "timeout_s": (0.05, 10.0),
              "min_confidence": (0.0, 1.0), "rate_hz": (1.0, 200.0)}

    def __post_init__(self) -> None:
        problems = [problem for f in fields(self) if (problem := check(f.name, getattr(self, f.name)))]
        if problems:
            raise ValueError("; ".join(problems))


def check(name: str, value: Any) -> str | None:
    """None when `value` is allowed for parameter `name`, else why not."""
    if name not in FollowParameters.RANGES:
        return f"unknown parameter {name!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{name} must be a finite number, got {value!r}"
    low, high = FollowParameters.RANGES[name]
    return None if low <= value <= high else f"{name} must be in [{low}, {high}], got {value}"


@dataclass(frozen=True)
class Command:
    linear: float
    angular: float
    reason: str  # "following", "turning" (ray only), "lost", "stale", "no data"


def command(p: FollowParameters, point: tuple[float, float, float] | None, point_age: float,
            ray: tuple[float, float, float] | None, ray_age: float, confidence: float | None,
            present: bool | None = None) -> Command:
    """The bounded velocity command for the latest data (pure: ages in seconds, confidence None = none yet;
    ``present``: whether the tracker's latest processed frame has a detection of the target, None = unknown)."""
    if present is False or (confidence is not None and confidence < p.min_confidence):
        return Command(0.0, 0.0, "lost")
    fresh_point = point is not None and point_age <= p.timeout_s
    fresh_ray = ray is not None and ray_age <= p.timeout_s
    if not fresh_point and not fresh_ray:
        return Command(0.0, 0.0, "stale" if point is not None or ray is not None else "no data")
    x, _, z = point if fresh_point else ray
    heading = math.atan2(x, z)  # positive: the target is to the right
    angular = _clamp(-p.k_angular * heading, p.max_angular)  # turning right is negative about z (REP-103)
    if not fresh_point:
        return Command(0.0, angular, "turning")
    error = math.hypot(x, z) - p.target_distance
    linear = _clamp(p.k_linear * error * max(math.cos(heading), 0.0), p.max_linear)
    return Command(linear, angular, "following")


def _clamp(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def target_present(detected_ids: set[str], followed_id: str | None) -> bool | None:
    """Whether one processed frame's detections hold the followed target: False when it holds none, None when
    the followed id is not known yet (no ``detection`` received) and some target is detected."""
    if not detected_ids:
        return False
    return None if followed_id is None else followed_id in detected_ids


class FollowTargetNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        defaults = FollowParameters()
        for f in fields(defaults):
            self.declare_parameter(f.name, float(getattr(defaults, f.name)))
        self.settings = FollowParameters(**{f.name: self.get_parameter(f.name).value for f in fields(defaults)})
        self.add_on_set_parameters_callback(self._check)
        self._point: tuple[tuple[float, float, float], float] | None = None
        self._ray: tuple[tuple[float, float, float], float] | None = None
        self._confidence: float | None = None
        self._present: bool | None = None
        self._followed_id: str | None = None
        self.last = Command(0.0, 0.0, "no data")
        self.create_subscription(PointStamped, "target/point", self._on_point, 10)
        self.create_subscription(Vector3Stamped, "target/ray", self._on_ray, 10)
        self.create_subscription(Float32, "confidence", self._on_confidence, 10)
        self.create_subscription(Detection2D, "detection", self._on_detection, 10)
        self.create_subscription(Detection2DArray, "detections", self._on_detections, 10)
        self._cmd_pub = self.create_publisher(Twist, "cmd_vel", 10)
        self._timer = self.create_timer(1.0 / self.settings.rate_hz, self._tick)

    def _check(self, parameters: list[Any]) -> SetParametersResult:
        values = {f.name: getattr(self.settings, f.name) for f in fields(self.settings)}
        for parameter in parameters:
            values[parameter.name] = parameter.value
        try:
            settings = FollowParameters(**values)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.settings = settings
        return SetParametersResult(successful=True)

    def _on_point(self, msg: PointStamped) -> None:
        self._point = ((msg.point.x, msg.point.y, msg.point.z), time.monotonic())

    def _on_ray(self, msg: Vector3Stamped) -> None:
        self._ray = ((msg.vector.x, msg.vector.y, msg.vector.z), time.monotonic())

    def _on_confidence(self, msg: Float32) -> None:
        self._confidence = float(msg.data)

    def _on_detection(self, msg: Detection2D) -> None:
        self._followed_id = msg.id  # the first target's id: the one whose point and ray the tracker publishes

    def _on_detections(self, msg: Detection2DArray) -> None:
        self._present = target_present({d.id for d in msg.detections}, self._followed_id)
        if self._present is False:  # lost: what was seen before must not steer the robot once it is found again
            self._point = self._ray = None

    def _tick(self) -> None:
        now = time.monotonic()
        point, point_at = self._point or (None, 0.0)
        ray, ray_at = self._ray or (None, 0.0)
        cmd = command(self.settings, point, now - point_at, ray, now - ray_at, self._confidence, self._present)
        if cmd.reason != self.last.reason and "lost" in (cmd.reason, self.last.reason):
            self.get_logger().info(f"target {'lost: stopping' if cmd.reason == 'lost' else 'found: ' + cmd.reason}")
        self.last = cmd
        self.publish(cmd)

    def publish(self, cmd: Command) -> None:
        twist = Twist()
        twist.linear.x, twist.angular.z = float(cmd.linear), float(cmd.angular)
        self._cmd_pub.publish(twist)


HELP = f"""usage: follow_target [--ros-args -p NAME:=VALUE ...]

An example controller on the tracker's outputs: turns toward the target and keeps target_distance. Subscribes
target/point (geometry_msgs/PointStamped, from the tracker's input.depth), target/ray (geometry_msgs/Vector3Stamped),
confidence (std_msgs/Float32), detection and detections (vision_msgs); publishes cmd_vel (geometry_msgs/Twist) at
rate_hz. It stops while the target is lost (the tracker's latest frame has no detection of it, or the confidence
is below min_confidence), when its data is older than timeout_s, and on shutdown; it resumes once the target is
found again.

parameters (default, range):
{chr(10).join(f"  {name} ({getattr(FollowParameters(), name)}, {low}-{high})"
              for name, (low, high) in FollowParameters.RANGES.items())}

example:
  ros2 launch attsiammask_ros follow_target.launch.py image:=/camera/color/image_raw \\
      camera_info:=/camera/color/camera_info depth:=/camera/aligned_depth_to_color/image_raw cmd_vel:=/cmd_vel

docs: {DOCS} (section follow_target)
"""


def main(args: list[str] | None = None) -> int:
    if print_help_if_requested(args, HELP):
        return 0
    rclpy.init(args=args)
    node = None
    try:
        node = FollowTargetNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as exc:  # invalid parameters at start-up
        rclpy.logging.get_logger(NODE_NAME).error(f"cannot start: {exc}")
        return 1
    finally:
        if node is not None:
            if rclpy.ok():
                node.publish(Command(0.0, 0.0, "shutdown"))  # leave the robot standing
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The target's bearing and 3D position for control nodes: camera_info and depth messages matched to the tracked
image by stamp, turned into target/ray (geometry_msgs/Vector3Stamped), target/point (geometry_msgs/PointStamped)
and target/detection3d (vision_msgs/Detection3D), all in the image's optical frame with the image's header.

The geometry is attsiammask_core.camera (pure functions); this module holds the buffers and the messages.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attsiammask_core import camera as cam
from attsiammask_core.image_messages import pixel_rows
from attsiammask_core.stamps import stamp_to_ns

_DEPTH_DTYPES = {"16UC1": np.dtype(np.uint16), "32FC1": np.dtype(np.float32)}


class StampedBuffer:
    """The last few messages of a topic by stamp; `nearest` finds the one closest to a stamp within a tolerance."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def push(self, msg: Any) -> None:
        with self._lock:
            self._items.append((stamp_to_ns(msg.header.stamp), msg))

    def nearest(self, stamp_ns: int, tolerance_ns: int) -> Any | None:
        with self._lock:
            items = list(self._items)
        if not items:
            return None
        stamp, msg = min(items, key=lambda item: abs(item[0] - stamp_ns))
        return msg if abs(stamp - stamp_ns) <= tolerance_ns else None

    def __len__(self) -> int:
        return len(self._items)


def camera_from_info(msg: Any) -> cam.PinholeCamera:
    """sensor_msgs/CameraInfo -> PinholeCamera (ValueError for an uncalibrated or unsupported camera)."""
    return cam.PinholeCamera(k=np.asarray(msg.k, dtype=np.float64), d=np.asarray(msg.d, dtype=np.float64),
                             distortion_model=msg.distortion_model or cam.PLUMB_BOB, width=int(msg.width),
                             height=int(msg.height))


def depth_to_metres(msg: Any) -> np.ndarray:
    """sensor_msgs/Image depth (16UC1 millimetres or 32FC1 metres, any row padding or byte order) -> metres,
    invalid (0, NaN, inf) as NaN. ValueError names what is wrong."""
    dtype = _DEPTH_DTYPES.get(msg.encoding)
    if dtype is None:
        raise ValueError(f"depth encoding {msg.encoding!r} is not supported (16UC1 millimetres or 32FC1 metres)")
    rows = pixel_rows(msg, dtype.itemsize)
    values = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
    return cam.depth_in_metres(values.reshape(rows.shape[0], -1), msg.encoding)


@dataclass
class SpatialStats:
    """Counts for /diagnostics: what was published and why a frame got no ray or no point."""

    rays: int = 0
    points: int = 0
    no_camera_info: int = 0
    no_depth: int = 0
    invalid_depth: int = 0
    last_problem: str = ""

    def values(self, depth: bool) -> dict[str, Any]:
        out = {"rays published": self.rays, "frames without camera_info": self.no_camera_info}
        if depth:
            out.update({"points published": self.points, "frames without depth": self.no_depth,
                        "frames with invalid depth": self.invalid_depth})
        out["last spatial problem"] = self.last_problem
        return out


@dataclass
class SpatialResult:
    """What one tracked frame gives: the ray, and with depth the point and size (None where not available)."""

    ray: np.ndarray | None = None
    point: np.ndarray | None = None
    size: np.ndarray | None = None
    problem: str = ""


@dataclass
class SpatialOutputs:
    """camera_info and depth buffers of the node, and the computation for a tracked frame."""

    use_depth: bool
    camera_infos: StampedBuffer = field(default_factory=lambda: StampedBuffer(30))
    depths: StampedBuffer = field(default_factory=lambda: StampedBuffer(10))
    stats: SpatialStats = field(default_factory=SpatialStats)

    def compute(self, result: Any, stamp_ns: int, image_hw: tuple[int, int], tolerance_ns: int) -> SpatialResult:
        info = self.camera_infos.nearest(stamp_ns, tolerance_ns)
        if info is None:
            return self._fail("no_camera_info", f"no camera_info within {tolerance_ns / 1e6:g} ms of the image")
        try:
            camera = camera_from_info(info)
        except ValueError as exc:
            return self._fail("no_camera_info", f"camera_info unusable: {exc}")
        if (camera.height, camera.width) != tuple(image_hw) and camera.width > 0:
            return self._fail("no_camera_info", f"camera_info is for {camera.width}x{camera.height}, the image is "
                                                f"{image_hw[1]}x{image_hw[0]}")
        mask = result.mask if result.mask is not None and result.mask.any() else None
        u, v = cam.target_pixel(mask, result.box)
        try:
            ray = cam.pixel_ray(camera, u, v)
        except ValueError as exc:  # a camera_info whose K and D give no finite ray: counted, never fatal
            return self._fail("no_camera_info", f"camera_info unusable: {exc}")
        self.stats.rays += 1
        if not self.use_depth:
            return SpatialResult(ray=ray)
        depth_msg = self.depths.nearest(stamp_ns, tolerance_ns)
        if depth_msg is None:
            return self._fail("no_depth", f"no depth image within {tolerance_ns / 1e6:g} ms of the image", ray)
        try:
            depth = depth_to_metres(depth_msg)
            region = mask if mask is not None else _box_mask(result.box, image_hw)
            target = cam.robust_depth(depth, region)
        except ValueError as exc:
            return self._fail("invalid_depth", str(exc), ray)
        if target is None:
            return self._fail("invalid_depth", "fewer than 10 valid depth values on the target", ray)
        try:
            point = cam.point_at_depth(ray, target.median_m)
            size = cam.metric_extent(camera, result.box, target.median_m, target.spread_m)
        except ValueError as exc:
            return self._fail("invalid_depth", str(exc), ray)
        self.stats.points += 1
        return SpatialResult(ray=ray, point=point, size=size)

    def _fail(self, counter: str, problem: str, ray: np.ndarray | None = None) -> SpatialResult:
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.stats.last_problem = problem
        return SpatialResult(ray=ray, problem=problem)


def _box_mask(box: tuple[float, float, float, float], image_hw: tuple[int, int]) -> np.ndarray:
    h, w = image_hw
    x, y, bw, bh = box
    mask = np.zeros((h, w), dtype=bool)
    mask[max(int(y), 0):min(int(np.ceil(y + bh)), h), max(int(x), 0):min(int(np.ceil(x + bw)), w)] = True
    return mask


def ray_message(ray: np.ndarray, header: Any) -> Any:
    from geometry_msgs.msg import Vector3Stamped

    msg = Vector3Stamped()
    msg.header = header
    msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in ray)
    return msg


def point_message(point: np.ndarray, header: Any) -> Any:
    from geometry_msgs.msg import PointStamped

    msg = PointStamped()
    msg.header = header
    msg.point.x, msg.point.y, msg.point.z = (float(v) for v in point)
    return msg


def detection3d_message(point: np.ndarray, size: np.ndarray, header: Any, track_id: str, class_id: str,
                        score: float) -> Any:
    """vision_msgs/Detection3D: box centred on the point (identity orientation), one hypothesis with its pose."""
    from vision_msgs.msg import Detection3D, ObjectHypothesisWithPose

    msg = Detection3D()
    msg.header = header
    msg.id = track_id
    msg.bbox.center.position.x, msg.bbox.center.position.y, msg.bbox.center.position.z = (float(v) for v in point)
    msg.bbox.size.x, msg.bbox.size.y, msg.bbox.size.z = (float(v) for v in size)
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = class_id
    hypothesis.hypothesis.score = float(score)
    hypothesis.pose.pose = msg.bbox.center
    msg.results.append(hypothesis)
    return msg

"""Pinhole camera geometry for the target's bearing and 3D position: pixel -> unit ray (lens distortion undone
with OpenCV), robust depth over the mask, and the 3D point and extent in the camera's optical frame
(x right, y down, z forward). Pure functions; ROS-free (the node converts sensor_msgs/CameraInfo)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# distortion_model names of sensor_msgs/CameraInfo (sensor_msgs/distortion_models.hpp)
PLUMB_BOB, RATIONAL_POLYNOMIAL, EQUIDISTANT = "plumb_bob", "rational_polynomial", "equidistant"


# Bounds on K (pixels) that keep every ray finite: far beyond any real camera (a 100 Mpx sensor behind a 2000 mm
# lens has fx ~ 5e5), far inside the float range (fx, cx ~ 1e308 turn (u - cx) / fx into NaN or 0).
MAX_FOCAL_PX = 1e7
MIN_FOCAL_PX = 1e-3
MAX_PRINCIPAL_PX = 1e7
K_TOLERANCE = 1e-9  # how far K's fixed entries (K[1,0], the third row 0 0 1) may be from their values
# How many distortion coefficients OpenCV's undistortPoints takes; a shorter D is padded with zeros (the missing
# terms have no effect), a longer one is refused.
OPENCV_D_COUNTS = (4, 5, 8, 12, 14)


def _check_k(k: np.ndarray) -> None:
    """ValueError unless K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with all finite, fx and fy in [MIN_FOCAL_PX,
    MAX_FOCAL_PX] (an uncalibrated camera's K is all zeros), |s|, |cx|, |cy| at most MAX_PRINCIPAL_PX, and the fixed
    entries within K_TOLERANCE of their values."""
    values = k.tolist()
    if not np.all(np.isfinite(k)):
        raise ValueError(f"camera matrix K must be finite, got {values}")
    if not (MIN_FOCAL_PX <= k[0, 0] <= MAX_FOCAL_PX and MIN_FOCAL_PX <= k[1, 1] <= MAX_FOCAL_PX):
        raise ValueError(f"camera matrix K needs positive fx and fy in [{MIN_FOCAL_PX:g}, {MAX_FOCAL_PX:g}] px, got "
                         f"fx={k[0, 0]:g}, fy={k[1, 1]:g}")
    if np.any(np.abs(k[2] - (0.0, 0.0, 1.0)) > K_TOLERANCE) or abs(k[1, 0]) > K_TOLERANCE:
        raise ValueError(f"camera matrix K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {values}")
    if max(abs(k[0, 1]), abs(k[0, 2]), abs(k[1, 2])) > MAX_PRINCIPAL_PX:
        raise ValueError(f"camera matrix K needs skew, cx and cy within +-{MAX_PRINCIPAL_PX:g} px, got "
                         f"s={k[0, 1]:g}, cx={k[0, 2]:g}, cy={k[1, 2]:g}")


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} is not finite ({np.asarray(values).tolist()}): camera_info or input out of range")
    return values


@dataclass(frozen=True)
class PinholeCamera:
    """The intrinsics of one camera: K (3x3), distortion coefficients D and their model, image size."""

    k: np.ndarray
    d: np.ndarray
    distortion_model: str
    width: int
    height: int

    def __post_init__(self) -> None:
        k = np.asarray(self.k, dtype=np.float64)
        if k.size != 9:
            raise ValueError(f"camera matrix K needs 9 values, got {k.size}")
        k = k.reshape(3, 3)
        _check_k(k)
        d = np.asarray(self.d, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(d)):
            raise ValueError(f"distortion coefficients must be finite, got {d.tolist()}")
        if self.distortion_model == EQUIDISTANT and d.size != 4:
            raise ValueError(f"equidistant distortion has 4 coefficients, got {d.size}")
        if self.distortion_model not in (PLUMB_BOB, RATIONAL_POLYNOMIAL, EQUIDISTANT) and np.any(d != 0):
            raise ValueError(f"unsupported distortion model {self.distortion_model!r} (plumb_bob, "
                             f"rational_polynomial, equidistant)")
        if d.size > OPENCV_D_COUNTS[-1]:
            raise ValueError(f"{d.size} distortion coefficients, more than the {OPENCV_D_COUNTS[-1]} OpenCV takes")
        if d.size and d.size not in OPENCV_D_COUNTS:
            d = np.pad(d, (0, next(n for n in OPENCV_D_COUNTS if n > d.size) - d.size))
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "d", d)

    @property
    def fx(self) -> float:
        return float(self.k[0, 0])

    @property
    def fy(self) -> float:
        return float(self.k[1, 1])


def normalised_coordinates(camera: PinholeCamera, pixels_uv: np.ndarray) -> np.ndarray:
    """(N,2) pixel coordinates -> (N,2) undistorted normalised coordinates (x/z, y/z)."""
    points = np.asarray(pixels_uv, dtype=np.float64).reshape(-1, 1, 2)
    try:  # OpenCV's own refusals of K or D become the ValueError callers handle
        if camera.distortion_model == EQUIDISTANT:
            out = cv2.fisheye.undistortPoints(points, camera.k, camera.d)
        elif camera.d.size == 0 or not np.any(camera.d):
            out = cv2.undistortPoints(points, camera.k, None)
        else:
            out = cv2.undistortPoints(points, camera.k, camera.d)
    except cv2.error as exc:
        raise ValueError(f"OpenCV cannot undistort with this camera_info: {str(exc).strip()[:200]}") from None
    return out.reshape(-1, 2)


def pixel_ray(camera: PinholeCamera, u: float, v: float) -> np.ndarray:
    """Unit vector (3,) from the optical centre through pixel (u, v), in the optical frame, z > 0.
    ValueError when (u, v) or the undistorted point is not finite (never a NaN, infinite or zero vector)."""
    _finite(np.array([u, v], dtype=np.float64), "pixel (u, v)")
    x, y = _finite(normalised_coordinates(camera, np.array([[u, v]]))[0], "undistorted pixel")
    scale = max(abs(x), abs(y), 1.0)  # normalise in two steps: x^2 + y^2 must not overflow
    ray = np.array([x / scale, y / scale, 1.0 / scale])
    ray = _finite(ray / np.linalg.norm(ray), "ray")
    if not (ray[2] > 0 and abs(np.linalg.norm(ray) - 1.0) < 1e-9):
        raise ValueError(f"ray {ray.tolist()} through pixel ({u}, {v}) is not a unit vector in front of the camera")
    return ray


def target_pixel(mask: np.ndarray | None, box_xywh: tuple[float, float, float, float]) -> tuple[float, float]:
    """The mask's centroid (pixel centres) when it has pixels, else the box centre."""
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        return float(xs.mean()), float(ys.mean())
    x, y, w, h = box_xywh
    return x + w / 2.0 - 0.5, y + h / 2.0 - 0.5  # pixel-centre convention, as the centroid above


def depth_in_metres(depth: np.ndarray, encoding: str) -> np.ndarray:
    """A depth image as float metres: 16UC1 millimetres or 32FC1 metres; 0 and non-finite become NaN."""
    if encoding == "16UC1":
        metres = depth.astype(np.float64) / 1000.0
    elif encoding == "32FC1":
        metres = depth.astype(np.float64)
    else:
        raise ValueError(f"depth encoding {encoding!r} is not supported (16UC1 millimetres or 32FC1 metres)")
    metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
    return metres


@dataclass(frozen=True)
class TargetDepth:
    """Robust depth over the target's pixels: the median, the 10th-90th percentile spread, how many were valid."""

    median_m: float
    spread_m: float
    valid_pixels: int


def robust_depth(depth_m: np.ndarray, mask: np.ndarray, min_valid: int = 10) -> TargetDepth | None:
    """Median of the valid depths under the mask (NaN ignored); None when fewer than `min_valid` are valid."""
    if depth_m.shape != mask.shape:
        raise ValueError(f"depth {depth_m.shape} and mask {mask.shape} differ in size: the depth image must be "
                         f"registered to the colour image")
    values = depth_m[mask]
    values = values[np.isfinite(values)]
    if values.size < min_valid:
        return None
    low, mid, high = np.percentile(values, [10, 50, 90])
    return TargetDepth(float(mid), float(high - low), int(values.size))


def point_at_depth(ray: np.ndarray, depth_z_m: float) -> np.ndarray:
    """The 3D point on `ray` whose z (distance along the optical axis, what depth images hold) is depth_z_m.
    ValueError unless the ray points forward (z > 0) and the point is finite."""
    ray = np.asarray(ray, dtype=np.float64)
    if not (np.all(np.isfinite(ray)) and ray[2] > 0):
        raise ValueError(f"ray {ray.tolist()} does not point in front of the camera")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below, not warned about
        point = ray * (depth_z_m / ray[2])
    return _finite(point, "3D point")


def metric_extent(camera: PinholeCamera, box_xywh: tuple[float, float, float, float], depth_z_m: float,
                  spread_m: float) -> np.ndarray:
    """Size (x, y, z) in metres: the box's pixel extent at the target's depth, and the depth spread for z."""
    _, _, w, h = box_xywh
    with np.errstate(over="ignore", invalid="ignore"):
        extent = np.array([w * depth_z_m / camera.fx, h * depth_z_m / camera.fy, spread_m])
    return _finite(extent, "metric extent")

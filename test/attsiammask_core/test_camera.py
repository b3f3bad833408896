"""Camera geometry: rays through pixels (with distortion), robust depth over a mask, the 3D point and extent."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from attsiammask_core import camera as cam

K = np.array([[500.0, 0.0, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])


def _camera(d=(0.0, 0.0, 0.0, 0.0, 0.0), model=cam.PLUMB_BOB) -> cam.PinholeCamera:
    return cam.PinholeCamera(k=K, d=np.array(d), distortion_model=model, width=640, height=480)


def test_ray_through_the_principal_point_is_the_optical_axis():
    np.testing.assert_allclose(cam.pixel_ray(_camera(), 320.0, 240.0), [0.0, 0.0, 1.0])


def test_ray_reprojects_to_its_pixel_with_distortion():
    for model, d in [(cam.PLUMB_BOB, (-0.3, 0.1, 0.001, -0.002, 0.0)),
                     (cam.RATIONAL_POLYNOMIAL, (-0.3, 0.1, 0.001, -0.002, 0.0, 0.01, 0.0, 0.0)),
                     (cam.EQUIDISTANT, (-0.05, 0.01, 0.0, 0.0))]:
        camera = _camera(d, model)
        for u, v in [(100.0, 50.0), (600.0, 400.0), (320.0, 100.0)]:
            ray = cam.pixel_ray(camera, u, v)
            assert abs(np.linalg.norm(ray) - 1.0) < 1e-12
            points = (ray / ray[2]).reshape(1, 1, 3)
            if model == cam.EQUIDISTANT:
                back = cv2.fisheye.projectPoints(points, np.zeros(3), np.zeros(3), K, camera.d)[0]
            else:
                back = cv2.projectPoints(points, np.zeros(3), np.zeros(3), K, camera.d)[0]
            np.testing.assert_allclose(back.reshape(2), [u, v], atol=0.05), (model, u, v)


def test_camera_rejects_uncalibrated_and_unknown_models():
    with pytest.raises(ValueError, match="positive fx"):
        cam.PinholeCamera(k=np.zeros((3, 3)), d=np.zeros(5), distortion_model=cam.PLUMB_BOB, width=1, height=1)
    with pytest.raises(ValueError, match="unsupported distortion model"):
        _camera((0.1,), "fisheye_of_my_own")
    with pytest.raises(ValueError, match="4 coefficients"):
        _camera((0.1, 0.0), cam.EQUIDISTANT)


def test_target_pixel_is_the_mask_centroid_else_the_box_centre():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 6:8] = True
    assert cam.target_pixel(mask, (0, 0, 10, 10)) == (6.5, 2.5)
    assert cam.target_pixel(np.zeros((10, 10), bool), (2.0, 4.0, 4.0, 2.0)) == (3.5, 4.5)


def test_depth_units_and_invalid_values():
    mm = np.array([[0, 1500], [2000, 65535]], dtype=np.uint16)
    np.testing.assert_allclose(cam.depth_in_metres(mm, "16UC1"), [[np.nan, 1.5], [2.0, 65.535]])
    metres = np.array([[np.nan, np.inf], [-1.0, 2.5]], dtype=np.float32)
    np.testing.assert_allclose(cam.depth_in_metres(metres, "32FC1"), [[np.nan, np.nan], [np.nan, 2.5]])
    with pytest.raises(ValueError, match="not supported"):
        cam.depth_in_metres(mm, "mono16")


def test_robust_depth_ignores_background_holes_and_outliers():
    depth = np.full((20, 20), 5.0)  # background at 5 m
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    depth[5:15, 5:15] = 2.0
    depth[5:7, 5:15] = np.nan  # holes
    depth[14, 5:8] = 9.0  # a few outliers
    result = cam.robust_depth(depth, mask)
    assert result.median_m == 2.0 and result.valid_pixels == 80
    assert cam.robust_depth(np.full((20, 20), np.nan), mask) is None
    with pytest.raises(ValueError, match="registered"):
        cam.robust_depth(depth[:10], mask)


def test_point_and_extent():
    camera = _camera()
    ray = cam.pixel_ray(camera, 420.0, 240.0)
    point = cam.point_at_depth(ray, 2.0)
    np.testing.assert_allclose(point, [0.4, 0.0, 2.0])  # (420 - 320) / 500 * 2 m
    np.testing.assert_allclose(cam.metric_extent(camera, (0, 0, 100, 48), 2.0, 0.3), [0.4, 0.2, 0.3])

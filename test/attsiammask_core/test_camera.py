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


def _k(**entries: float) -> np.ndarray:
    """K with some entries replaced, by name: fx s cx k10 fy cy k20 k21 k22."""
    names = ["fx", "s", "cx", "k10", "fy", "cy", "k20", "k21", "k22"]
    values = K.reshape(-1).copy()
    for name, value in entries.items():
        values[names.index(name)] = value
    return values.reshape(3, 3)


@pytest.mark.parametrize("k, words", [
    (_k(k22=0.0), "must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]]"),      # third row 0 0 0: rays of NaN
    (_k(k22=2.0), "must be [[fx, s, cx]"),
    (_k(k20=1e-3), "must be [[fx, s, cx]"),
    (_k(k21=-5.0), "must be [[fx, s, cx]"),
    (_k(k10=0.5), "must be [[fx, s, cx]"),
    (_k(s=np.nan), "must be finite"),
    (_k(cx=np.inf), "must be finite"),
    (_k(cy=-np.inf), "must be finite"),
    (_k(cx=1e308), "skew, cx and cy within +-1e+07 px"),               # (u - cx) / fx near the float range
    (_k(cy=-1e308), "skew, cx and cy within"),
    (_k(s=1e308), "skew, cx and cy within"),
    (_k(fx=1e308), "positive fx and fy in [0.001, 1e+07] px"),          # a ray of (0, 0, 1) for every pixel
    (_k(fy=1e308, fx=1e308), "positive fx and fy"),
    (_k(fx=1e-300), "positive fx and fy"),                              # (u - cx) / fx overflows
    (_k(fx=-500.0), "positive fx and fy"),
    (_k(fy=0.0), "positive fx and fy"),
    (np.arange(8.0), "K needs 9 values"),
])
def test_camera_rejects_bad_k(k, words):
    with pytest.raises(ValueError) as info:
        cam.PinholeCamera(k=k, d=np.zeros(5), distortion_model=cam.PLUMB_BOB, width=640, height=480)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("d", [(np.nan, 0, 0, 0, 0), (0, np.inf, 0, 0, 0)])
def test_camera_rejects_non_finite_distortion(d):
    with pytest.raises(ValueError, match="distortion coefficients must be finite"):
        _camera(d)


def test_k_within_tolerance_and_at_the_bounds_is_accepted():
    for k in (_k(k22=1.0 + 1e-12, k10=-1e-12), _k(fx=1e7, fy=1e-3, cx=-1e7, cy=1e7, s=1e7)):
        camera = cam.PinholeCamera(k=k, d=np.zeros(5), distortion_model=cam.PLUMB_BOB, width=640, height=480)
        ray = cam.pixel_ray(camera, 320.0, 240.0)
        assert np.all(np.isfinite(ray)) and abs(np.linalg.norm(ray) - 1.0) < 1e-12 and ray[2] > 0


@pytest.mark.parametrize("u, v", [(np.nan, 1.0), (1.0, np.inf), (1e308, 1e308)])
def test_pixel_ray_refuses_pixels_that_give_no_finite_ray(u, v):
    camera = cam.PinholeCamera(k=_k(fx=1e-3, fy=1e-3), d=np.zeros(5), distortion_model=cam.PLUMB_BOB, width=640,
                               height=480)
    with pytest.raises(ValueError, match="not finite"):
        cam.pixel_ray(camera, u, v)


def test_point_at_depth_refuses_rays_that_give_no_finite_point():
    with pytest.raises(ValueError, match="in front of the camera"):
        cam.point_at_depth(np.array([1.0, 0.0, 0.0]), 2.0)
    with pytest.raises(ValueError, match="in front of the camera"):
        cam.point_at_depth(np.array([np.nan, 0.0, 1.0]), 2.0)
    with pytest.raises(ValueError, match="3D point is not finite"):
        cam.point_at_depth(np.array([1.0, 0.0, 1e-308]), 1e10)


def _random_value(rng: np.random.Generator) -> float:
    """A K or D entry as a fuzzer would pick it: ordinary, tiny, huge, signed, special."""
    kind = rng.integers(0, 6)
    if kind == 0:
        return float(rng.normal(0, 500))
    if kind == 1:
        return float(rng.choice([0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 1e-300]))
    if kind == 2:
        return float(np.sign(rng.normal()) * 10.0 ** rng.uniform(-320, 308))
    return float(K.reshape(-1)[rng.integers(0, 9)])


def test_fuzzed_cameras_give_a_value_error_or_a_finite_unit_ray():
    rng = np.random.default_rng(11)
    outcomes = {"refused": 0, "rays": 0}
    models = [(cam.PLUMB_BOB, 5), (cam.RATIONAL_POLYNOMIAL, 8), (cam.EQUIDISTANT, 4)]
    for trial in range(3000):
        k = K.reshape(-1).copy()
        for index in rng.choice(9, size=int(rng.integers(1, 4)), replace=False):
            k[index] = _random_value(rng)
        model, n = models[trial % 3]
        d = np.zeros(n)
        if rng.random() < 0.5:
            d[rng.integers(0, n)] = _random_value(rng)
        u, v = (float(rng.uniform(-1000, 2000)), float(rng.uniform(-1000, 2000))) if rng.random() < 0.9 else \
            (_random_value(rng), _random_value(rng))
        try:
            camera = cam.PinholeCamera(k=k.reshape(3, 3), d=d, distortion_model=model, width=640, height=480)
            ray = cam.pixel_ray(camera, u, v)
        except ValueError:
            outcomes["refused"] += 1
            continue
        outcomes["rays"] += 1
        assert np.all(np.isfinite(ray)) and abs(np.linalg.norm(ray) - 1.0) < 1e-9 and ray[2] > 0, (k, d, u, v, ray)
    assert outcomes["refused"] > 100 and outcomes["rays"] > 100, outcomes


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 9, 10, 11, 13])
def test_distortion_of_any_length_up_to_14_gives_a_ray(count):
    # issue 25 fuzzing: a camera_info with 3, 6, 7, ... coefficients made cv2.undistortPoints raise cv2.error (not
    # a ValueError) in the node's spatial step; missing terms are zeros, so D is padded to a length OpenCV takes
    k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
    d = [0.01 * (i + 1) for i in range(count)]
    camera = cam.PinholeCamera(k=k, d=d, distortion_model="plumb_bob", width=640, height=480)
    assert camera.d.size in (4, 5, 8, 12, 14) and camera.d[:count].tolist() == d and not camera.d[count:].any()
    padded = cam.PinholeCamera(k=k, d=camera.d, distortion_model="plumb_bob", width=640, height=480)
    ray = cam.pixel_ray(camera, 100.0, 400.0)
    np.testing.assert_allclose(ray, cam.pixel_ray(padded, 100.0, 400.0))
    assert abs(np.linalg.norm(ray) - 1.0) < 1e-12 and ray[2] > 0


def test_more_than_14_distortion_coefficients_are_refused():
    with pytest.raises(ValueError, match="15 distortion coefficients, more than the 14 OpenCV takes"):
        cam.PinholeCamera(k=[500.0, 0, 320, 0, 500, 240, 0, 0, 1], d=[0.0] * 15, distortion_model="plumb_bob",
                      width=640, height=480)


def test_opencv_refusals_become_value_errors(monkeypatch):
    camera = cam.PinholeCamera(k=[500.0, 0, 320, 0, 500, 240, 0, 0, 1], d=[0.1, 0, 0, 0, 0],
                               distortion_model="plumb_bob", width=640, height=480)

    def refuse(*args):
        raise cv2.error("(-215:Assertion failed) in function 'undistortPointsInternal'")

    monkeypatch.setattr(cam.cv2, "undistortPoints", refuse)
    with pytest.raises(ValueError, match="OpenCV cannot undistort with this camera_info: .*Assertion failed"):
        cam.pixel_ray(camera, 10.0, 20.0)

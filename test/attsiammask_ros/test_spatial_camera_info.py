"""A camera_info whose K gives no finite ray: the node's spatial step counts and reports it, never raises, and
publishes nothing for that frame (no ROS needed: SpatialOutputs takes any message-like objects)."""
from __future__ import annotations

import types

import numpy as np
import pytest

from attsiammask_ros.spatial import SpatialOutputs

GOOD_K = [100.0, 0.0, 79.5, 0.0, 100.0, 59.5, 0.0, 0.0, 1.0]


def camera_info(k: list[float], stamp_ns: int = 5) -> types.SimpleNamespace:
    stamp = types.SimpleNamespace(sec=0, nanosec=stamp_ns)
    return types.SimpleNamespace(header=types.SimpleNamespace(stamp=stamp), k=k, d=[0.0] * 5,
                                 distortion_model="plumb_bob", width=160, height=120)


RESULT = types.SimpleNamespace(mask=None, box=(60.0, 45.0, 40.0, 30.0))


@pytest.mark.parametrize("k, words", [
    (GOOD_K[:8] + [0.0], "must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]]"),
    (GOOD_K[:2] + [1e308] + GOOD_K[3:], "skew, cx and cy within"),
    ([1e308] + GOOD_K[1:], "positive fx and fy"),
    (GOOD_K[:1] + [float("nan")] + GOOD_K[2:], "must be finite"),
])
def test_a_camera_info_with_a_bad_k_is_counted_not_fatal(k, words):
    spatial = SpatialOutputs(use_depth=False)
    spatial.camera_infos.push(camera_info(k))
    out = spatial.compute(RESULT, 5, (120, 160), 1_000_000)
    assert out.ray is None and out.point is None
    assert out.problem.startswith("camera_info unusable: ") and words in out.problem, out.problem
    assert spatial.stats.no_camera_info == 1 and spatial.stats.rays == 0
    assert words in spatial.stats.values(depth=False)["last spatial problem"]


def test_a_good_camera_info_gives_a_unit_ray():
    spatial = SpatialOutputs(use_depth=False)
    spatial.camera_infos.push(camera_info(GOOD_K))
    out = spatial.compute(RESULT, 5, (120, 160), 1_000_000)
    assert out.problem == "" and spatial.stats.rays == 1
    np.testing.assert_allclose(out.ray, [0.0, 0.0, 1.0], atol=1e-12)

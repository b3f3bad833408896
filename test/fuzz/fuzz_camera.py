"""atheris target: camera_info and registered depth through the node's spatial step (attsiammask_ros.spatial:
camera_from_info -> camera.PinholeCamera, pixel_ray, depth_to_metres, robust_depth, point_at_depth,
metric_extent), which must never raise and never give a non-finite or non-unit ray or a non-finite point.
Input layout (make_seeds.py writes seeds in it): HEADER below, then the depth image's data."""
from __future__ import annotations

import struct
import sys
from types import SimpleNamespace

import atheris
import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core", "attsiammask_ros"]):
    from attsiammask_ros.spatial import SpatialOutputs

NAME = "camera"
# K (9 doubles), number of D values, D (14 doubles), model index, camera width, height, image height, width,
# box x y w h (doubles), mask kind, depth encoding index, depth width, height, step, big-endian flag
HEADER = struct.Struct("<9dB14dBHHBB4dBBHHIB")
MODELS = ("plumb_bob", "rational_polynomial", "equidistant", "", "kannala_brandt")
DEPTH_ENCODINGS = ("16UC1", "32FC1", "mono8", "32FC2")


class Refused(Exception):
    """The frame got no ray or no point, with a reason (a clean refusal)."""


def stamped(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=0)), **fields)


def one_input(data: bytes) -> None:
    if len(data) < HEADER.size:
        return
    values = HEADER.unpack_from(data)
    k, n_d, d = values[0:9], values[9], values[10:24]
    model, cam_w, cam_h, img_h, img_w = values[24:29]
    box, mask_kind, depth_enc, depth_w, depth_h, step, big = values[29:33], *values[33:39]
    image_hw = (max(img_h, 1), max(img_w, 1))
    # The tracker's boxes are finite and near the frame: keep the fuzzed box so, its extent is fuzzed freely.
    box = tuple(float(np.clip(np.nan_to_num(v), -4 * max(image_hw), 4 * max(image_hw))) for v in box)
    mask = None
    if mask_kind & 1:
        mask = np.zeros(image_hw, dtype=bool)
        mask[mask_kind % image_hw[0]::3, mask_kind % image_hw[1]::2] = True
    info = stamped(k=list(k), d=list(d[:min(n_d, 14)]), distortion_model=MODELS[model % len(MODELS)],
                   width=cam_w, height=cam_h)
    depth = stamped(encoding=DEPTH_ENCODINGS[depth_enc % len(DEPTH_ENCODINGS)], width=depth_w, height=depth_h,
                    step=step, is_bigendian=big & 1, data=data[HEADER.size:])
    outputs = SpatialOutputs(use_depth=True)
    outputs.camera_infos.push(info)
    outputs.depths.push(depth)
    result = outputs.compute(SimpleNamespace(box=box, mask=mask), 1_000_000_000, image_hw, 0)
    for name in ("ray", "point", "size"):
        value = getattr(result, name)
        assert value is None or (value.shape == (3,) and np.all(np.isfinite(value))), (name, value)
    if result.ray is not None:
        assert abs(np.linalg.norm(result.ray) - 1.0) < 1e-9 and result.ray[2] > 0, result.ray
    if result.point is not None:
        assert result.point[2] > 0, result.point
    if result.problem:
        raise Refused(result.problem)


if __name__ == "__main__":
    harness.main(NAME, harness.checked(one_input, (Refused,)))

"""target/ray, target/point and target/detection3d: the message helpers, and the node through real rclpy with
camera_info and depth published beside the images (matched by stamp)."""
from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
from geometry_msgs.msg import PointStamped, Vector3Stamped  # noqa: E402
from node_harness import (  # noqa: E402
    FRAME_ID,
    HW,
    SEC,
    TARGET,
    Harness,
    keep_publishing,
    request,
    stamp_ns_of,
    wait_for,
)
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from vision_msgs.msg import Detection3D  # noqa: E402

from attsiammask_ros import parameters as params  # noqa: E402
from attsiammask_ros.spatial import StampedBuffer, depth_to_metres  # noqa: E402

FX = FY = 100.0
CX, CY = 79.5, 59.5


def _header(stamp_ns: int) -> Header:
    header = Header(frame_id=FRAME_ID)
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, SEC)
    return header


def camera_info(stamp_ns: int) -> CameraInfo:
    msg = CameraInfo(header=_header(stamp_ns), height=HW[0], width=HW[1], distortion_model="plumb_bob")
    msg.k = [FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0]
    msg.d = [0.0] * 5
    return msg


def depth_image(depth_m: np.ndarray, stamp_ns: int, encoding: str = "32FC1", pad: int = 0,
                big_endian: bool = False) -> Image:
    values = (depth_m * 1000).astype(np.uint16) if encoding == "16UC1" else depth_m.astype(np.float32)
    values = values.astype(values.dtype.newbyteorder(">" if big_endian else "<"))
    rows = values.view(np.uint8).reshape(values.shape[0], -1)
    rows = np.hstack([rows, np.zeros((rows.shape[0], pad), np.uint8)])
    return Image(header=_header(stamp_ns), height=depth_m.shape[0], width=depth_m.shape[1], encoding=encoding,
                 is_bigendian=int(big_endian), step=rows.shape[1], data=rows.tobytes())


@pytest.mark.parametrize("encoding, pad, big_endian", [("32FC1", 0, False), ("16UC1", 6, False),
                                                       ("16UC1", 0, True), ("32FC1", 4, True)])
def test_depth_images_decode_with_padding_and_byte_order(encoding, pad, big_endian):
    depth = np.array([[1.5, 0.0], [2.25, 3.0]])
    got = depth_to_metres(depth_image(depth, 0, encoding, pad, big_endian))
    np.testing.assert_allclose(got, [[1.5, np.nan], [2.25, 3.0]])


@pytest.mark.parametrize("change, words", [
    (dict(encoding="mono8"), "not supported"), (dict(step=3), "smaller than width"),
    (dict(data=b"\x00" * 7), "truncated"), (dict(width=0), "zero size"),
])
def test_bad_depth_images_say_what_is_wrong(change, words):
    msg = depth_image(np.ones((2, 2)), 0)
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ValueError, match=words):
        depth_to_metres(msg)


def test_stamped_buffer_matches_within_the_tolerance():
    buffer = StampedBuffer(3)
    for stamp in (10, 20, 30, 40):
        buffer.push(camera_info(stamp * 1_000_000))
    assert len(buffer) == 3  # the oldest went
    assert buffer.nearest(21_000_000, 2_000_000).header.stamp.nanosec == 20_000_000
    assert buffer.nearest(25_000_000, 2_000_000) is None
    assert buffer.nearest(10_000_000, 1_000_000) is None  # evicted


def test_depth_needs_camera_info():
    with pytest.raises(params.ParameterError, match="input.depth needs input.camera_info"):
        params.TrackerNodeParameters(input_depth=True)


@pytest.fixture
def spatial(context):
    h = Harness(context, "/sp_main", overrides={"input.camera_info": True, "input.depth": True,
                                                 "input.sync_tolerance_ms": 5.0})
    c = h.client
    h.info_pub = c.create_publisher(CameraInfo, "camera_info", 10)
    h.depth_pub = c.create_publisher(Image, "depth", 10)
    h.rays, h.points, h.boxes = [], [], []
    c.create_subscription(Vector3Stamped, "target/ray", h.rays.append, 50)
    c.create_subscription(PointStamped, "target/point", h.points.append, 50)
    c.create_subscription(Detection3D, "target/detection3d", h.boxes.append, 50)
    assert wait_for(lambda: h.node.outputs.ray.get_subscription_count() > 0
                    and h.node.outputs.point.get_subscription_count() > 0), "discovery timed out"
    yield h
    h.close()


def _publish_frame(h, depth_m: np.ndarray | None, info: bool = True) -> int:
    """A frame with a new stamp: its camera_info (when `info`) and depth (when given), each published again until
    the node holds it, then the image, published again until it has been processed (with a target: until its mask
    shows, which has the image's stamp); returns the stamp. A message published once can be lost (the subscription
    may not know the publisher yet), and the frame must not be replaced by the next one before it is processed."""
    stamp = h.next_stamp()
    spatial = h.node._spatial
    if info:
        info_msg = camera_info(stamp)
        assert keep_publishing(lambda: h.info_pub.publish(info_msg),
                               lambda: spatial.camera_infos.nearest(stamp, 0) is not None, 30.0), "no camera_info"
    if depth_m is not None:
        depth_msg = depth_image(depth_m, stamp)
        assert keep_publishing(lambda: h.depth_pub.publish(depth_msg),
                               lambda: spatial.depths.nearest(stamp, 0) is not None, 30.0), "no depth"
    if h.node.target is None:  # no mask without a target; no other image is sent: a processed one is this one
        processed = h.node.stats.processed
        done = lambda: h.node.stats.processed > processed  # noqa: E731
    else:
        done = lambda: any(stamp_ns_of(m) == stamp for m in h.masks)  # noqa: E731
    assert keep_publishing(lambda: h.publish(100, stamp), done, 30.0), "the image was not processed"
    return stamp


def test_node_publishes_ray_point_and_detection3d_in_the_image_frame(spatial):
    h = spatial
    depth = np.full(HW, 6.0)
    # The test model's mask is its whole 127-px window (70 x 70 px here, around the target's centre 80, 60): most
    # of it at 2 m, its border on the 6 m background, with holes.
    depth[30:90, 50:110] = 2.0
    depth[40:42, 50:110] = np.nan
    _publish_frame(h, depth)  # processed
    assert h.call(h.set_target, request(*TARGET)).success
    stamps = []
    for _ in range(5):
        stamps.append(_publish_frame(h, depth))  # processed
    assert wait_for(lambda: len(h.points) >= 3 and len(h.boxes) >= 3 and len(h.rays) >= 3, 10.0)
    point, ray, box = h.points[-1], h.rays[-1], h.boxes[-1]
    assert point.header.frame_id == ray.header.frame_id == box.header.frame_id == FRAME_ID
    assert point.header.stamp == ray.header.stamp
    r = np.array([ray.vector.x, ray.vector.y, ray.vector.z])
    assert abs(np.linalg.norm(r) - 1.0) < 1e-9 and r[2] > 0.99  # the target sits near the image centre
    p = np.array([point.point.x, point.point.y, point.point.z])
    assert p[2] == pytest.approx(2.0, abs=1e-6)  # the median over the target: not the 6 m background
    np.testing.assert_allclose(p, r * 2.0 / r[2], atol=1e-9)
    assert (box.bbox.center.position.z, box.results[0].hypothesis.class_id) == (pytest.approx(2.0), "target")
    assert box.bbox.size.x > 0 and box.bbox.size.y > 0 and box.id == h.node.target.track_id


def test_missing_or_invalid_depth_publishes_no_point_and_is_counted(spatial):
    h = spatial
    _publish_frame(h, None)  # each _publish_frame returns once its image has been processed
    assert h.call(h.set_target, request(*TARGET)).success
    _publish_frame(h, None)  # no depth at all
    _publish_frame(h, np.zeros(HW))  # depth all invalid (0)
    _publish_frame(h, np.full(HW, 2.0), info=False)  # no camera_info for this stamp
    stats = h.node._spatial.stats
    assert wait_for(lambda: stats.no_depth >= 1 and stats.invalid_depth >= 1 and stats.no_camera_info >= 1, 5.0)
    assert h.points == [] and len(h.rays) >= 2
    assert wait_for(lambda: any(kv.key == "frames with invalid depth" and int(kv.value) >= 1
                                for d in h.diagnostics for s in d.status for kv in s.values), 5.0)

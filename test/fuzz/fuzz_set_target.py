"""atheris target: the set_target request's checks, as the node runs them: the stamp (builtin_interfaces/Time ->
ns, matched in the FrameBuffer within the tolerance, and `set_target --stamp` text through stamps.parse_stamp),
then the box (attsiammask_ros.messages.target_xywh_from_bbox against the image, then tracker._check_box, which
Tracker.init runs on it). A clean refusal is a ValueError; an accepted box is finite, inside the image, at least
MIN_TARGET_SIZE a side, and accepted unchanged by the tracker. Input layout (make_seeds.py writes seeds in it):
HEADER below, then the stamp text."""
from __future__ import annotations

import math
import struct
import sys
from types import SimpleNamespace

import atheris

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core.stamps", "attsiammask_core.geometry",
                                         "attsiammask_core.session", "attsiammask_ros.messages",
                                         "attsiammask_ros.frame_buffer"]):
    from attsiammask_core.stamps import NS_PER_S, format_stamp, parse_stamp, stamp_to_ns
    from attsiammask_core.tracker import _check_box
    try:  # the node's stamp buffer, moving from the ROS package to the core (issue 24)
        from attsiammask_core.session.frames import FrameBuffer
    except ImportError:
        from attsiammask_ros.frame_buffer import FrameBuffer
    from attsiammask_ros.messages import target_xywh_from_bbox
    from attsiammask_ros.parameters import MIN_TARGET_SIZE

NAME = "set_target"
# box centre x, y, size x, y (doubles), image height, width, stamp sec (int32), nanosec (uint32),
# tolerance (ns), buffered stamps: first (ns), period (ns), count
HEADER = struct.Struct("<4dHHiIIqIB")


def one_input(data: bytes) -> None:
    if len(data) < HEADER.size:
        return
    cx, cy, sx, sy, height, width, sec, nanosec, tolerance, first, period, count = HEADER.unpack_from(data)
    text = data[HEADER.size:].decode("latin-1")
    refusal = None
    try:  # the client's --stamp text
        stamp = parse_stamp(text)
        assert stamp >= 0 and parse_stamp(format_stamp(stamp)) == stamp, (text, stamp)
    except ValueError as exc:
        refusal = exc
    buffer: FrameBuffer[int] = FrameBuffer(max(1, min(count, 30)))
    for i in range(max(1, min(count, 30))):
        buffer.push(first + i * period, i)
    stamp_ns = stamp_to_ns(SimpleNamespace(sec=sec, nanosec=nanosec))
    assert stamp_ns == sec * NS_PER_S + nanosec
    found = buffer.find(stamp_ns, tolerance)
    assert found is None or abs(found[0] - stamp_ns) <= tolerance, (found, stamp_ns, tolerance)
    image_hw = (max(height, 1), max(width, 1))
    bbox = SimpleNamespace(center=SimpleNamespace(position=SimpleNamespace(x=cx, y=cy)), size_x=sx, size_y=sy)
    try:
        x, y, w, h = target_xywh_from_bbox(bbox, image_hw)
    except ValueError as exc:
        raise refusal or exc from None
    assert all(math.isfinite(v) for v in (x, y, w, h)), (x, y, w, h)
    slack = 1e-9 * max(image_hw)  # x + (x1 - x) may differ from x1 in the last bit
    assert x >= 0 and y >= 0 and x + w <= image_hw[1] + slack and y + h <= image_hw[0] + slack, ((x, y, w, h),
                                                                                                  image_hw)
    assert w >= MIN_TARGET_SIZE and h >= MIN_TARGET_SIZE, (w, h)
    tracked = _check_box((x, y, w, h), image_hw)  # what Tracker.init does with the node's box
    assert all(abs(a - b) <= slack for a, b in zip(tracked.tolist(), (x, y, w, h), strict=True)), (tracked, x, y, w, h)
    if refusal is not None:
        raise refusal


if __name__ == "__main__":
    harness.main(NAME, harness.checked(one_input, (ValueError,)))

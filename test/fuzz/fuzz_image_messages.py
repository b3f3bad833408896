"""atheris target: raw sensor_msgs/Image fields (encoding, width, height, step, byte order, data) through
image_messages.image_to_bgr. A clean refusal is a ValueError; an accepted image is H x W x 3 uint8 of the declared
size, sharing no memory with the message. Input layout (make_seeds.py writes seeds in it):
byte 0 encoding index (past the table: the following 8 bytes as the encoding's name), u16 width, u16 height,
u32 step, byte is_bigendian, then the data."""
from __future__ import annotations

import struct
import sys
from types import SimpleNamespace

import atheris

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core"]):
    from attsiammask_core.image_messages import SUPPORTED_ENCODINGS, image_to_bgr

NAME = "image_messages"
HEADER = struct.Struct("<BHHIB")


def message(data: bytes) -> SimpleNamespace | None:
    """The Image message an input encodes (None when it is too short for the header)."""
    if len(data) < HEADER.size:
        return None
    index, width, height, step, big = HEADER.unpack_from(data)
    rest = data[HEADER.size:]
    if index < len(SUPPORTED_ENCODINGS):
        encoding = SUPPORTED_ENCODINGS[index]
    else:
        encoding, rest = rest[:8].decode("latin-1"), rest[8:]
    return SimpleNamespace(encoding=encoding, width=width, height=height, step=step, is_bigendian=big & 1,
                           data=rest)


def one_input(data: bytes) -> None:
    msg = message(data)
    if msg is None:
        return
    frame = image_to_bgr(msg)
    assert frame.dtype.name == "uint8" and frame.shape == (msg.height, msg.width, 3), (frame.dtype, frame.shape)
    assert frame.flags.c_contiguous
    assert not (frame.base is not None and frame.base is msg.data), "the frame shares the message's memory"


if __name__ == "__main__":
    harness.main(NAME, harness.checked(one_input, (ValueError,)))

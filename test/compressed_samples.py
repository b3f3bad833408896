"""Hand-made compressed images for tests (no ROS needed)."""
from __future__ import annotations

import struct
import zlib


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height grey pixels, with a few bytes of data: a decompression bomb's
    header (the data would fail to decode, which must never be tried)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")

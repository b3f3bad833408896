"""The sizes a compressed image's container declares (chunk, segment, strip and RIFF lengths, offsets, dimensions,
and for JPEG and TIFF the least data that many pixels can be coded in), checked against the bytes actually there
before any decoder sees them: a 489-byte PNG whose IDAT chunk claims 3.9 GB made OpenCV 5.0's imdecode spend
seconds and gigabytes before refusing it. Each check reads headers only, costs at most one pass over the data, and
raises ContainerError (a ValueError) naming the first declared size that does not fit.

Hand-written because no library validates declared container sizes without decoding (Pillow reads one header).

Only the containers checked here are let through: PNG, JPEG, WebP, TIFF, BMP and PNM/PAM. Anything else OpenCV
might read (GIF, JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PFM, AVIF, ...) is refused as unchecked.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

__all__ = ["ContainerError", "check_container", "container_kind", "png_size", "jpeg_size", "webp_size", "tiff_size",
           "bmp_size", "pnm_size", "CHECKED_FORMATS"]

Buffer = bytes | bytearray | memoryview

# PNG's limit on widths, heights and chunk lengths (2^31 - 1); TIFF, WebP and BMP declare less or are held to it too.
MAX_DIMENSION = (1 << 31) - 1


class ContainerError(ValueError):
    """The container declares a size its data cannot hold, or is not one of the checked formats."""


def _need(data: Buffer, at: int, size: int, what: str) -> None:
    if at < 0 or size < 0 or at + size > len(data):
        raise ContainerError(f"{what} at byte {at} needs {size} bytes, the data ends at byte {len(data)}")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _dimensions(kind: str, width: int, height: int) -> tuple[int, int]:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise ContainerError(f"{kind} declares an image of {width}x{height} pixels")
    return width, height


# ---- PNG ------------------------------------------------------------------------------------------------------
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # colour type -> depths


def png_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a PNG whose every chunk, up to IEND, fits in the data (declared length + 12 bytes of
    length, type and CRC), whose first chunk is a valid IHDR and which has image data (IDAT)."""
    if bytes(data[:8]) != PNG_SIGNATURE:
        raise ContainerError("not a PNG signature")
    at, size, seen_idat = 8, None, False
    while True:
        _need(data, at, 8, "PNG chunk header")
        length, kind = struct.unpack_from(">I4s", data, at)
        name = kind.decode("latin-1")
        if not kind.isalpha():  # ASCII letters only
            raise ContainerError(f"PNG chunk at byte {at} has an invalid type {kind!r}")
        if length > MAX_DIMENSION or at + 12 + length > len(data):
            raise ContainerError(f"PNG chunk {name} at byte {at} declares {length} bytes of data, only "
                                 f"{max(len(data) - at - 12, 0)} follow its header")
        if size is None:
            if kind != b"IHDR" or length != 13:
                raise ContainerError(f"PNG starts with chunk {name} of {length} bytes, not the 13-byte IHDR")
            width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", data,
                                                                                                  at + 8)
            size = _dimensions("PNG", width, height)
            if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
                raise ContainerError(f"PNG IHDR is invalid (bit depth {depth}, colour type {colour}, compression "
                                     f"{compression}, filter {filtering}, interlace {interlace})")
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            if not seen_idat:
                raise ContainerError("PNG has no image data (no IDAT chunk before IEND)")
            return size
        at += 12 + length


# ---- JPEG -----------------------------------------------------------------------------------------------------
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length


_JPEG_ARITHMETIC = {0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Arithmetic-coded scans: at most this many pixels per byte of scan data (real frames compress ~1-10 pixels a byte; a
# 782-byte file declaring 8000x8000 pixels took 3.8 s and 600 MB to decode into garbage).
ARITHMETIC_JPEG_PIXELS_PER_BYTE = 1024


def _jpeg_min_scan_bytes(data: Buffer, at: int, width: int, height: int, components: int) -> int:
    """The fewest bytes of scan data a Huffman-coded JPEG of this frame (SOF at byte `at`) can have: every 8x8
    block of every component is coded with at least one bit (a Huffman code is never shorter), so at least the
    blocks of the component with the most of them."""
    factors = [(data[at + 11 + 3 * c] >> 4, data[at + 11 + 3 * c] & 15) for c in range(components)]
    if not all(1 <= h <= 4 and 1 <= v <= 4 for h, v in factors):
        raise ContainerError(f"JPEG frame header at byte {at} declares sampling factors {factors} (1 to 4)")
    h_max, v_max = max(h for h, _ in factors), max(v for _, v in factors)
    blocks = max(_ceil_div(_ceil_div(width * h, h_max), 8) * _ceil_div(_ceil_div(height * v, v_max), 8)
                 for h, v in factors)
    return _ceil_div(blocks, 8)


def jpeg_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a JPEG whose marker segments, from SOI to the first scan (SOS), each fit in the data,
    with one frame header (SOF) before the scan declaring a non-empty image and a length that fits its components;
    Huffman-coded, the data from the first scan on must hold at least one bit per 8x8 block; arithmetic-coded, at
    least a byte per ARITHMETIC_JPEG_PIXELS_PER_BYTE pixels."""
    if bytes(data[:3]) != b"\xff\xd8\xff":
        raise ContainerError("not a JPEG signature")
    at, size, min_scan_bytes = 2, None, 0
    while True:
        _need(data, at, 2, "JPEG marker")
        if data[at] != 0xFF:
            raise ContainerError(f"JPEG has byte 0x{data[at]:02x} at byte {at} where a marker should start")
        while at + 1 < len(data) and data[at + 1] == 0xFF:  # fill bytes
            at += 1
        _need(data, at, 2, "JPEG marker")
        marker = data[at + 1]
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0x00, 0xD8, 0xD9):
            raise ContainerError(f"JPEG has marker 0xff{marker:02x} at byte {at} before its first scan")
        _need(data, at + 2, 2, f"JPEG segment 0xff{marker:02x} length")
        (length,) = struct.unpack_from(">H", data, at + 2)
        if length < 2 or at + 2 + length > len(data):
            raise ContainerError(f"JPEG segment 0xff{marker:02x} at byte {at} declares {length} bytes, only "
                                 f"{len(data) - at - 2} remain")
        if marker in _JPEG_SOF:
            if size is not None:
                raise ContainerError(f"JPEG has a second frame header at byte {at}")
            if length < 8:
                raise ContainerError(f"JPEG frame header at byte {at} declares {length} bytes, less than 8")
            _precision, height, width, components = struct.unpack_from(">BHHB", data, at + 4)
            if not 1 <= components <= 10 or length != 8 + 3 * components:
                raise ContainerError(f"JPEG frame header at byte {at} declares {components} components in "
                                     f"{length} bytes")
            size = _dimensions("JPEG", width, height)  # height 0 (defined later by DNL) is not supported
            if marker not in _JPEG_ARITHMETIC:
                min_scan_bytes = _jpeg_min_scan_bytes(data, at, width, height, components)
            else:  # arithmetic coding has no per-block floor: bound the ratio instead (a photo needs far more)
                min_scan_bytes = _ceil_div(width * height, ARITHMETIC_JPEG_PIXELS_PER_BYTE)
        elif marker == 0xDA:
            if size is None:
                raise ContainerError(f"JPEG scan at byte {at} comes before any frame header")
            scan_bytes = len(data) - at - 2 - length
            if scan_bytes <= 0 or scan_bytes < min_scan_bytes:
                raise ContainerError(f"JPEG declares {size[0]}x{size[1]} pixels, whose scans need at least "
                                     f"{max(min_scan_bytes, 1)} bytes (Huffman: a bit per 8x8 block; arithmetic: a "
                                     f"byte per {ARITHMETIC_JPEG_PIXELS_PER_BYTE} pixels); {scan_bytes} follow its "
                                     f"first scan header")
            return size
        at += 2 + length


# ---- WebP -----------------------------------------------------------------------------------------------------
def _webp_frame(kind: bytes, data: Buffer, at: int, length: int) -> tuple[int, int]:
    """(width, height) of a VP8 or VP8L bitstream chunk whose data starts at byte `at`."""
    if kind == b"VP8 ":
        if length < 10:
            raise ContainerError(f"WebP VP8 chunk at byte {at} has {length} bytes, less than its 10-byte header")
        tag = data[at] | data[at + 1] << 8 | data[at + 2] << 16
        if tag & 1 or (tag >> 1) & 7 > 3 or bytes(data[at + 3:at + 6]) != b"\x9d\x01\x2a":
            raise ContainerError(f"WebP VP8 chunk at byte {at} is not a key frame")
        if tag >> 5 > length - 10:
            raise ContainerError(f"WebP VP8 chunk at byte {at} declares a first partition of {tag >> 5} bytes, "
                                 f"only {length - 10} follow")
        width, height = struct.unpack_from("<HH", data, at + 6)
        return _dimensions("WebP VP8", width & 0x3FFF, height & 0x3FFF)
    if length < 5 or data[at] != 0x2F:
        raise ContainerError(f"WebP VP8L chunk at byte {at} has no VP8L header")
    (bits,) = struct.unpack_from("<I", data, at + 1)
    if bits >> 29:
        raise ContainerError(f"WebP VP8L chunk at byte {at} has version {bits >> 29}")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def _u24(data: Buffer, at: int) -> int:
    return data[at] | data[at + 1] << 8 | data[at + 2] << 16


def webp_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a WebP whose RIFF size fits in the data and whose chunks each fit in the RIFF size: a
    VP8 or VP8L image, or a VP8X canvas with a still image (VP8/VP8L) of the canvas's size or, animated, a first
    frame (ANMF) inside the canvas."""
    if bytes(data[:4]) != b"RIFF" or bytes(data[8:12]) != b"WEBP":
        raise ContainerError("not a WebP signature")
    (riff,) = struct.unpack_from("<I", data, 4)
    if riff < 12 or 8 + riff > len(data):
        raise ContainerError(f"WebP RIFF header declares {riff} bytes, {len(data) - 8} follow it")
    end, at, canvas, animated = 8 + riff, 12, None, False
    while at + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, at)
        body = at + 8
        if body + length > end:
            raise ContainerError(f"WebP chunk {kind!r} at byte {at} declares {length} bytes, only {end - body} "
                                 f"remain in the RIFF")
        if canvas is None:  # the first chunk
            if kind in (b"VP8 ", b"VP8L"):
                return _webp_frame(kind, data, body, length)
            if kind != b"VP8X":
                raise ContainerError(f"WebP starts with chunk {kind!r}, not VP8, VP8L or VP8X")
            if length < 10:
                raise ContainerError(f"WebP VP8X chunk at byte {at} has {length} bytes, less than 10")
            animated = bool(data[body] & 0x02)
            canvas = (1 + _u24(data, body + 4), 1 + _u24(data, body + 7))
            if canvas[0] * canvas[1] >= 1 << 32:
                raise ContainerError(f"WebP VP8X canvas of {canvas[0]}x{canvas[1]} pixels is too large")
        elif kind in (b"VP8 ", b"VP8L") and not animated:
            frame = _webp_frame(kind, data, body, length)
            if frame != canvas:
                raise ContainerError(f"WebP image of {frame[0]}x{frame[1]} pixels differs from its VP8X canvas of "
                                     f"{canvas[0]}x{canvas[1]}")
            return canvas
        elif kind == b"ANMF" and animated:
            if length < 16:
                raise ContainerError(f"WebP ANMF chunk at byte {at} has {length} bytes, less than 16")
            x, y = 2 * _u24(data, body), 2 * _u24(data, body + 3)
            width, height = 1 + _u24(data, body + 6), 1 + _u24(data, body + 9)
            if x + width > canvas[0] or y + height > canvas[1]:
                raise ContainerError(f"WebP frame of {width}x{height} pixels at ({x}, {y}) exceeds its canvas of "
                                     f"{canvas[0]}x{canvas[1]}")
            return canvas
        at = body + length + (length & 1)
    raise ContainerError("WebP has no image chunk (VP8, VP8L or, animated, ANMF)")


# ---- TIFF -----------------------------------------------------------------------------------------------------
# field type -> bytes per value (TIFF 6.0 and BigTIFF); other types are skipped by libtiff, and here
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8,
                    18: 8}
_TIFF_UNSIGNED = {1: "u1", 3: "u2", 4: "u4", 13: "u4", 16: "u8", 18: "u8"}
_TIFF_WIDTH, _TIFF_LENGTH, _TIFF_BITS_PER_SAMPLE, _TIFF_COMPRESSION, _TIFF_SAMPLES_PER_PIXEL = 256, 257, 258, 259, 277
# compression -> the most it expands its data: none 1, PackBits 64 (2 bytes give 128), LZW 3640 (a code of at least
# 9 bits gives at most 4094 bytes), Deflate 1032 (2 bits give 258 bytes); others (JPEG, ZSTD, ...) unbounded here
_TIFF_MAX_RATIO = {1: 1, 32773: 64, 5: 3640, 8: 1032, 32946: 1032}
_TIFF_PAIRS = ((273, 279, "strip"), (324, 325, "tile"))  # (offsets tag, byte counts tag, what)


def tiff_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a TIFF (or BigTIFF) whose first image directory lies in the data, whose fields' values
    (those stored out of line) each lie in the data, and whose strips or tiles (offset + byte count) each lie in
    the data; the next directory's offset is 0 or inside the data."""
    order = bytes(data[:2])
    if order not in (b"II", b"MM") or len(data) < 8:
        raise ContainerError("not a TIFF signature")
    e = "<" if order == b"II" else ">"
    (version,) = struct.unpack_from(e + "H", data, 2)
    if version == 42:
        (ifd,) = struct.unpack_from(e + "I", data, 4)
        header, count_fmt, entry_size, word = 8, "H", 12, 4
    elif version == 43:
        offset_bytes, zero, ifd = struct.unpack_from(e + "HHQ", data, 4)
        if offset_bytes != 8 or zero:
            raise ContainerError("BigTIFF header is invalid")
        header, count_fmt, entry_size, word = 16, "Q", 20, 8
    else:
        raise ContainerError(f"not a TIFF signature (version {version})")
    word_fmt = "I" if word == 4 else "Q"
    count_bytes = struct.calcsize(count_fmt)
    if not header <= ifd <= len(data) - count_bytes:
        raise ContainerError(f"TIFF image directory offset {ifd} lies outside the {len(data)} bytes of data")
    (entries,) = struct.unpack_from(e + count_fmt, data, ifd)
    first = ifd + count_bytes
    if not 0 < entries <= (len(data) - first - word) // entry_size:
        raise ContainerError(f"TIFF image directory at byte {ifd} declares {entries} fields, the data holds at most "
                             f"{max((len(data) - first - word) // entry_size, 0)}")
    (next_ifd,) = struct.unpack_from(e + word_fmt, data, first + entries * entry_size)
    if next_ifd and not header <= next_ifd < len(data):
        raise ContainerError(f"TIFF next image directory offset {next_ifd} lies outside the data")
    values: dict[int, tuple[int, int, int]] = {}  # tag -> (type, count, byte offset of the values)
    for at in range(first, first + entries * entry_size, entry_size):
        tag, kind, count = struct.unpack_from(e + "HH" + word_fmt, data, at)
        total = count * _TIFF_TYPE_SIZES.get(kind, 0)
        where = at + 4 + word
        if total > word:
            (where,) = struct.unpack_from(e + word_fmt, data, where)
            if where + total > len(data):
                raise ContainerError(f"TIFF field {tag} declares {count} values ({total} bytes) at byte {where}, "
                                     f"beyond the {len(data)} bytes of data")
        if total:  # types libtiff does not know are skipped, as it does
            values[tag] = (kind, count, where)

    def read(tag: int) -> np.ndarray | None:
        if tag not in values:
            return None
        kind, count, where = values[tag]
        dtype = _TIFF_UNSIGNED.get(kind)
        if dtype is None:
            raise ContainerError(f"TIFF field {tag} has type {kind}, not an unsigned integer")
        return np.frombuffer(data, dtype=e + dtype, count=count, offset=where).astype(np.uint64)

    width, height = read(_TIFF_WIDTH), read(_TIFF_LENGTH)
    if width is None or height is None or width.size != 1 or height.size != 1:
        raise ContainerError("TIFF image directory lacks a single ImageWidth and ImageLength")
    size = _dimensions("TIFF", int(width[0]), int(height[0]))
    for offsets_tag, counts_tag, what in _TIFF_PAIRS:
        offsets, counts = read(offsets_tag), read(counts_tag)
        if offsets is None or counts is None:
            continue
        if offsets.size != counts.size:
            raise ContainerError(f"TIFF declares {offsets.size} {what} offsets and {counts.size} {what} byte counts")
        # both at most the data's length before they are added: no uint64 overflow
        outside = (offsets > len(data)) | (counts > len(data))
        outside |= np.where(outside, 0, offsets + counts) > len(data)
        if outside.any():
            k = int(np.argmax(outside))
            raise ContainerError(f"TIFF {what} {k} declares {int(counts[k])} bytes at byte {int(offsets[k])}, beyond "
                                 f"the {len(data)} bytes of data")
    # whatever the strip byte counts say (libtiff recomputes some it finds bogus), the image's bytes come from the
    # data, expanded by the compression's most
    compression = read(_TIFF_COMPRESSION)
    method = 1 if compression is None else int(compression[0])
    bits, samples = read(_TIFF_BITS_PER_SAMPLE), read(_TIFF_SAMPLES_PER_PIXEL)
    spp = 1 if samples is None else int(samples[0])
    pixel_bits = spp if bits is None else int(bits.sum()) if bits.size > 1 else int(bits[0]) * spp
    raw = size[1] * (size[0] * pixel_bits // 8)
    ratio = _TIFF_MAX_RATIO.get(method)
    if ratio is not None and len(data) * ratio < raw:
        raise ContainerError(f"TIFF declares {size[0]}x{size[1]} pixels of {pixel_bits} bits ({raw} bytes), more than "
                             f"its {len(data)} bytes hold with compression {method} (which expands {ratio} times at "
                             f"most)")
    return size


# ---- BMP ------------------------------------------------------------------------------------------------------
def bmp_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a BMP whose info header lies in the data and, when uncompressed (BI_RGB, BI_BITFIELDS),
    whose pixel rows (from the declared pixel offset, the last row's padding excused) do too."""
    if bytes(data[:2]) != b"BM":
        raise ContainerError("not a BMP signature")
    _need(data, 0, 18, "BMP header")
    (pixels_at, info) = struct.unpack_from("<II", data, 10)
    _need(data, 14, info, "BMP info header")
    if info == 12:
        width, height, _planes, bpp = struct.unpack_from("<HHHH", data, 18)
        compression = 0
    elif info >= 40:
        width, height, _planes, bpp, compression = struct.unpack_from("<iiHHI", data, 18)
    else:
        raise ContainerError(f"BMP info header of {info} bytes is not one OpenCV reads")
    if not 14 + info <= pixels_at < len(data):
        raise ContainerError(f"BMP pixel data offset {pixels_at} lies outside the {len(data)} bytes of data")
    if bpp not in (1, 4, 8, 16, 24, 32):
        raise ContainerError(f"BMP declares {bpp} bits per pixel")
    size = _dimensions("BMP", width, abs(height))
    if compression in (0, 3, 6):
        row = (width * bpp + 31) // 32 * 4
        needed = row * (abs(height) - 1) + (width * bpp + 7) // 8
        if pixels_at + needed > len(data):
            raise ContainerError(f"BMP declares {width}x{abs(height)} pixels of {bpp} bits ({needed} bytes) at byte "
                                 f"{pixels_at}, the data ends at byte {len(data)}")
    return size


# ---- PNM (PBM, PGM, PPM) and PAM ------------------------------------------------------------------------------
def _pnm_tokens(data: Buffer, at: int, count: int) -> tuple[list[int], int]:
    """`count` decimal numbers from byte `at` (whitespace and # comments between them), and the byte after the
    single whitespace that must follow the last one."""
    numbers = []
    n = len(data)
    while len(numbers) < count:
        while at < n and (data[at] in b" \t\r\n\v\f" or data[at] == 0x23):
            if data[at] == 0x23:  # a comment runs to the end of the line
                while at < n and data[at] not in b"\r\n":
                    at += 1
            else:
                at += 1
        start = at
        while at < n and 0x30 <= data[at] <= 0x39 and at - start < 10:
            at += 1
        if at == start or (at < n and 0x30 <= data[at] <= 0x39):
            raise ContainerError(f"PNM header has no number of at most 10 digits at byte {start}")
        numbers.append(int(bytes(data[start:at])))
    if at >= n or data[at] not in b" \t\r\n\v\f":
        raise ContainerError(f"PNM header does not end with whitespace at byte {at}")
    return numbers, at + 1


def _pam_header(data: Buffer) -> tuple[int, int, int, int, int]:
    """(width, height, depth, maxval, first data byte) of a PAM (P7) header."""
    fields: dict[str, int] = {}
    at, n = 3, len(data)
    while True:
        end = bytes(data[at:at + 256]).find(b"\n")
        if end < 0:
            raise ContainerError(f"PAM header line at byte {at} does not end within 256 bytes")
        words = bytes(data[at:at + end]).split()
        at += end + 1
        if not words or words[0].startswith(b"#"):
            continue
        if words[0] == b"ENDHDR":
            break
        if words[0] in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"):
            if len(words) != 2 or not words[1].isdigit() or len(words[1]) > 10:
                raise ContainerError(f"PAM header line {bytes(words[0])!r} has no number")
            fields[words[0].decode()] = int(words[1])
        if at >= n:
            raise ContainerError("PAM header has no ENDHDR")
    if set(fields) != {"WIDTH", "HEIGHT", "DEPTH", "MAXVAL"}:
        raise ContainerError(f"PAM header lacks {sorted({'WIDTH', 'HEIGHT', 'DEPTH', 'MAXVAL'} - set(fields))}")
    return fields["WIDTH"], fields["HEIGHT"], fields["DEPTH"], fields["MAXVAL"], at


def pnm_size(data: Buffer) -> tuple[int, int]:
    """(width, height) of a PBM/PGM/PPM (P1-P6) or PAM (P7) whose pixel data, as long as the header declares
    (binary: exactly; ASCII: at least one character per bit, two per number), is in the data."""
    if len(data) < 3 or data[0] != 0x50 or not 0x31 <= data[1] <= 0x37:
        raise ContainerError("not a PNM signature")
    kind = data[1] - 0x30
    if kind == 7:
        width, height, channels, maxval, at = _pam_header(data)
        if not 1 <= channels <= 4:
            raise ContainerError(f"PAM declares depth {channels}")
    elif kind in (1, 4):
        (width, height), at = _pnm_tokens(data, 2, 2)
        channels, maxval = 1, 1
    else:
        (width, height, maxval), at = _pnm_tokens(data, 2, 3)
        channels = 3 if kind in (3, 6) else 1
    size = _dimensions(f"P{kind}", width, height)
    if not 1 <= maxval <= 65535:
        raise ContainerError(f"P{kind} declares maximum value {maxval}")
    values = width * height * channels
    if kind == 4:
        needed = (width + 7) // 8 * height
    elif kind in (5, 6, 7):
        needed = values * (1 if maxval < 256 else 2)
    elif kind == 1:
        needed = values
    else:
        needed = 2 * values - 1
    if at + needed > len(data):
        raise ContainerError(f"P{kind} declares {width}x{height} pixels ({needed} bytes at least) at byte {at}, the "
                             f"data ends at byte {len(data)}")
    return size


# ---- dispatch -------------------------------------------------------------------------------------------------
_CHECKS: dict[str, Callable[[Buffer], tuple[int, int]]] = {
    "png": png_size, "jpeg": jpeg_size, "webp": webp_size, "tiff": tiff_size, "bmp": bmp_size, "pnm": pnm_size}
CHECKED_FORMATS: tuple[str, ...] = tuple(_CHECKS)


def container_kind(data: Buffer) -> str | None:
    """Which checked container the data's signature names (as OpenCV picks a decoder: by signature, never by the
    message's format field); None for anything else."""
    head = bytes(data[:12])
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if len(head) >= 3 and head[0] == 0x50 and 0x31 <= head[1] <= 0x37 and head[2] in b" \t\r\n\v\f#":
        return "pnm"
    return None


def check_container(data: Buffer) -> tuple[int, int]:
    """(width, height) the container declares, once every size it declares fits the data; ContainerError when one
    does not, or when the data is not a PNG, JPEG, WebP, TIFF, BMP or PNM/PAM image."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes | bytearray) else data
    kind = container_kind(view)
    if kind is None:
        raise ContainerError(f"not a {', '.join(f.upper() for f in CHECKED_FORMATS)} image (by its first bytes); "
                             "only these containers are checked before decoding")
    try:
        return _CHECKS[kind](view)
    except (struct.error, IndexError) as exc:  # a fixed-size header cut short
        raise ContainerError(f"{kind.upper()} header is cut short ({exc})") from None

"""Compressed images whose containers declare more than their bytes hold are refused before decoding, fast and
as the corrupt ones are (ValueError "cannot decode compressed image"); valid images of every checked format decode.
"""
from __future__ import annotations

import struct
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from attsiammask_core import compressed_headers as ch
from attsiammask_core.image_messages import compressed_to_bgr

FUZZ = Path(__file__).resolve().parents[3] / "shared" / "fuzz"
FAST_S = 0.2
RNG = np.random.default_rng(7)
PIXELS = RNG.integers(0, 256, (37, 53, 3), np.uint8)


def message(data: bytes, fmt: str = "png") -> types.SimpleNamespace:
    return types.SimpleNamespace(format=fmt, data=data)


def encode(ext: str, pixels: np.ndarray = PIXELS, params: tuple[int, ...] = ()) -> bytes:
    ok, buf = cv2.imencode(ext, pixels, list(params))
    assert ok
    return buf.tobytes()


def png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, type) of each chunk of a valid PNG."""
    at, out = 8, []
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        out.append((at, kind))
        at += 12 + length
    return out


def idat_bomb() -> bytes:
    """A valid tiny PNG whose IDAT length field says 0xE7FFFFFF (CRC left as it was), like the fuzzer's file."""
    data = bytearray(encode(".png", PIXELS[:4, :4]))
    (at,) = [at for at, kind in png_chunks(bytes(data)) if kind == b"IDAT"]
    struct.pack_into(">I", data, at, 0xE7FFFFFF)
    return bytes(data)


def refused_fast(data: bytes, words: str, monkeypatch) -> str:
    """compressed_to_bgr refuses `data` as corrupt within FAST_S, never calling OpenCV's decoder."""
    def no_decoding(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        compressed_to_bgr(message(data))
    elapsed = time.perf_counter() - start
    assert elapsed < FAST_S, f"refusal took {elapsed:.3f} s"
    assert words in str(info.value), str(info.value)
    return str(info.value)


# ---- the PNG bomb ---------------------------------------------------------------------------------------------
def test_png_idat_length_bomb_is_refused_fast(monkeypatch):
    text = refused_fast(idat_bomb(), "cannot decode compressed image (format 'png', ", monkeypatch)
    assert "PNG chunk IDAT at byte 33 declares 3892314111 bytes of data" in text


def test_the_fuzzers_png_bomb_is_refused_fast(monkeypatch):
    path = FUZZ / "png_idat_length_3892314915.png"
    if not path.exists():
        pytest.skip(f"{path} is not there (../shared/fuzz missing)")
    data = path.read_bytes()
    assert len(data) == 489
    refused_fast(data, "cannot decode compressed image (format 'png', 489 bytes): PNG ", monkeypatch)


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d[:-12], "PNG chunk header at byte"),                           # IEND cut off
    (lambda d: d[:45], "PNG chunk IDAT at byte 33 declares"),                  # cut inside IDAT
    (lambda d: d[:8] + struct.pack(">I", 14) + d[12:], "not the 13-byte IHDR"),
    (lambda d: d[:16] + struct.pack(">I", 0) + d[20:], "declares an image of 0x4 pixels"),
    (lambda d: d[:16] + struct.pack(">I", 1 << 31) + d[20:], "declares an image of 2147483648x4 pixels"),
    (lambda d: d[:24] + b"\x07" + d[25:], "PNG IHDR is invalid (bit depth 7"),
    (lambda d: d[:37] + b"ID4T" + d[41:], "invalid type"),
])
def test_png_declared_sizes_must_fit(mutate, words, monkeypatch):
    data = encode(".png", PIXELS[:4, :4])
    assert [kind for _, kind in png_chunks(data)] == [b"IHDR", b"IDAT", b"IEND"]
    refused_fast(mutate(data), words, monkeypatch)


# ---- JPEG -----------------------------------------------------------------------------------------------------
def jpeg_segment(data: bytes, marker: int) -> int:
    at = data.find(bytes([0xFF, marker]))
    assert at > 0
    return at


def jpeg_oversized_dht(data: bytes) -> bytes:
    at = jpeg_segment(data, 0xC4)
    return data[:at + 2] + b"\xff\xff" + data[at + 4:]


def jpeg_declaring(width: int, height: int, arithmetic: bool = False) -> bytes:
    """A valid 16x16 JPEG whose frame header says width x height: far too little scan data for that many blocks;
    ``arithmetic``: its frame header switched to arithmetic coding (SOF9), as a fuzzer found."""
    data = bytearray(encode(".jpg", PIXELS[:16, :16]))
    at = jpeg_segment(bytes(data), 0xC0)
    struct.pack_into(">HH", data, at + 5, height, width)
    if arithmetic:
        data[at + 1] = 0xC9
    return bytes(data)


@pytest.mark.parametrize("make, words", [
    (lambda d: d[:jpeg_segment(d, 0xC4) + 20], "JPEG segment 0xffc4 at byte"),  # cut inside a Huffman table
    (lambda d: d[:jpeg_segment(d, 0xDA) + 14], "follow its first scan header"),  # truncated right after SOS
    (jpeg_oversized_dht, "JPEG segment 0xffc4 at byte"),                       # a table claiming 65535 bytes
    (lambda d: jpeg_declaring(8000, 8000), "JPEG declares 8000x8000 pixels, whose scans need at least "
                                           "125000 bytes"),                    # 631 bytes, 0.4 s and 370 MB to decode
    (lambda d: jpeg_declaring(8000, 8000, arithmetic=True), "JPEG declares 8000x8000 pixels, whose scans need at "
                                                            "least 62500 bytes"),  # fuzzing: 3.8 s, 600 MB
    (lambda d: jpeg_declaring(0, 16), "JPEG declares an image of 0x16 pixels"),
    (lambda d: d[:2] + d[jpeg_segment(d, 0xDA):], "JPEG scan at byte 2 comes before any frame header"),
    (lambda d: b"\xff\xd8\xff\xe0garbage" * 10, "JPEG segment 0xffe0 at byte 2 declares 26465 bytes"),
])
def test_jpeg_declared_sizes_must_fit(make, words, monkeypatch):
    data = encode(".jpg")
    text = refused_fast(make(data), "cannot decode compressed image (format 'png', ", monkeypatch)
    assert words in text, text


# ---- WebP -----------------------------------------------------------------------------------------------------
def webp_with(data: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


LOSSY = (cv2.IMWRITE_WEBP_QUALITY, 80)
LOSSLESS = (cv2.IMWRITE_WEBP_QUALITY, 101)


@pytest.mark.parametrize("params, mutate, words", [
    (LOSSY, lambda d: webp_with(d, 4, "<I", 0xFFFFFFF0), "WebP RIFF header declares 4294967280 bytes"),
    (LOSSY, lambda d: d[:len(d) // 2], "WebP RIFF header declares"),                     # truncated
    (LOSSY, lambda d: webp_with(d, 16, "<I", 0x7FFFFFFF), "WebP chunk b'VP8 ' at byte 12 declares 2147483647"),
    (LOSSY, lambda d: webp_with(d, 20, "<I", (0x7FFFF << 5) | (d[20] & 31) | d[23] << 24), "first partition"),
    (LOSSY, lambda d: webp_with(d, 26, "<H", 0), "WebP VP8 declares an image of 0x37 pixels"),
    (LOSSLESS, lambda d: webp_with(d, 16, "<I", 0x10000), "WebP chunk b'VP8L' at byte 12 declares 65536 bytes"),
    (LOSSLESS, lambda d: webp_with(d, 20, "<B", 0x2E), "no VP8L header"),
    (LOSSLESS, lambda d: d[:4] + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(10)
     + d[12:], "WebP has no image chunk"),                                               # VP8X and its image cut off
])
def test_webp_declared_sizes_must_fit(params, mutate, words, monkeypatch):
    data = encode(".webp", params=params)
    refused_fast(mutate(data), words, monkeypatch)


def test_webp_vp8x_canvas_must_match_its_image(monkeypatch):
    vp8l = encode(".webp", params=LOSSLESS)[12:]
    canvas = struct.pack("<I", 0x00) + (52).to_bytes(3, "little") + (36).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", 10) + canvas + vp8l
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    assert ch.check_container(data) == (53, 37)
    assert compressed_to_bgr(message(data)).shape == (37, 53, 3)
    wrong = data[:24] + (99).to_bytes(3, "little") + data[27:]
    refused_fast(wrong, "WebP image of 53x37 pixels differs from its VP8X canvas of 100x37", monkeypatch)


# ---- TIFF, BMP, PNM and the rest ------------------------------------------------------------------------------
def tiff_fields(data: bytes) -> dict[int, int]:
    """tag -> byte offset of the field's entry in the first directory of a little-endian TIFF."""
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    return {struct.unpack_from("<H", data, ifd + 2 + 12 * k)[0]: ifd + 2 + 12 * k for k in range(count)}


def tiff_with(tag: int, value: int, pixels: np.ndarray = PIXELS, params: tuple[int, ...] = ()) -> bytes:
    data = bytearray(encode(".tiff", pixels, params))
    at = tiff_fields(bytes(data))[tag]
    (kind,) = struct.unpack_from("<H", data, at + 2)
    struct.pack_into("<H" if kind == 3 else "<I", data, at + 8, value)
    return bytes(data)


@pytest.mark.parametrize("make, words", [
    (lambda: encode(".tiff")[:4] + struct.pack("<I", 1 << 30) + encode(".tiff")[8:],
     "TIFF image directory offset 1073741824 lies outside"),
    (lambda: tiff_with(279, 1 << 30, PIXELS[:1]), "TIFF strip 0 declares 1073741824 bytes"),   # StripByteCounts
    (lambda: tiff_with(273, 1 << 30, PIXELS[:1]), "TIFF strip 0 declares"),                    # StripOffsets
    (lambda: tiff_with(256, 8000, params=(cv2.IMWRITE_TIFF_COMPRESSION, 1)),
     "TIFF declares 8000x37 pixels of 24 bits (888000 bytes), more than its"),                # uncompressed
    (lambda: tiff_with(256, 0), "TIFF declares an image of 0x37 pixels"),
    (lambda: encode(".tiff")[:200], "TIFF"),
])
def test_tiff_declared_sizes_must_fit(make, words, monkeypatch):
    refused_fast(make(), words, monkeypatch)


def test_tiff_lzw_bomb_under_the_pixel_limit_is_refused(monkeypatch):
    """218 bytes of LZW TIFF declaring 8000x8000: OpenCV 5.0 took 1 s and 430 MB to 'decode' it (with errors)."""
    data = bytearray(encode(".tiff", np.zeros((16, 16, 3), np.uint8)))
    for tag in (256, 257, 278):
        at = tiff_fields(bytes(data))[tag]
        struct.pack_into("<H" if struct.unpack_from("<H", data, at + 2)[0] == 3 else "<I", data, at + 8, 8000)
    refused_fast(bytes(data), "TIFF declares 8000x8000 pixels of 24 bits (192000000 bytes)", monkeypatch)


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode(".bmp"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def pnm_declaring(magic: bytes, width: int, height: int, maxval: int | None = 255) -> bytes:
    header = magic + b"\n%d %d\n" % (width, height) + (b"%d\n" % maxval if maxval is not None else b"")
    return header + bytes(64)


@pytest.mark.parametrize("data, words", [
    (bmp_declaring(8000, 8000), "BMP declares 8000x8000 pixels of 24 bits (192000000 bytes)"),
    (bmp_declaring(53, 0), "BMP declares an image of 53x0 pixels"),
    (encode(".bmp")[:30], "BMP"),
    (pnm_declaring(b"P6", 8000, 8000), "P6 declares 8000x8000 pixels (192000000 bytes at least)"),
    (pnm_declaring(b"P5", 100, 100, 65535), "P5 declares 100x100 pixels (20000 bytes at least)"),
    (pnm_declaring(b"P4", 8000, 8000, None), "P4 declares 8000x8000 pixels (8000000 bytes at least)"),
    (pnm_declaring(b"P2", 100, 100), "P2 declares 100x100 pixels (19999 bytes at least)"),
    (pnm_declaring(b"P5", 10, 10, 70000), "P5 declares maximum value 70000"),
    (b"P6\n99999999999 1\n255\n", "no number of at most 10 digits"),
    (b"P7\nWIDTH 8000\nHEIGHT 8000\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + bytes(64), "P7 declares 8000x8000 pixels"),
    (b"P7\nWIDTH 8000\n" + b"x" * 300, "does not end within 256 bytes"),
    (b"GIF89a" + bytes(64), "not a PNG, JPEG, WEBP, TIFF, BMP, PNM image"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(64), "only these containers are checked before decoding"),
    (b"hello", "cannot decode compressed image (format 'png', 5 bytes): not a PNG"),
])
def test_other_containers_declared_sizes_must_fit(data, words, monkeypatch):
    refused_fast(data, words, monkeypatch)


# ---- valid images still decode --------------------------------------------------------------------------------
GREY = PIXELS[..., 0]
VALID = [
    (".png", PIXELS, ()), (".png", GREY, ()), (".png", PIXELS.astype(np.uint16) * 257, ()),
    (".png", np.dstack([PIXELS, GREY]), ()), (".png", PIXELS, (cv2.IMWRITE_PNG_COMPRESSION, 0)),
    (".jpg", PIXELS, ()), (".jpg", GREY, ()), (".jpg", PIXELS, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
    (".jpg", PIXELS, (cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 2)),
    (".jpg", PIXELS, (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)),
    (".webp", PIXELS, LOSSY), (".webp", PIXELS, LOSSLESS), (".webp", np.dstack([PIXELS, GREY]), ()),
    (".tiff", PIXELS, ()), (".tiff", GREY, ()), (".tiff", PIXELS.astype(np.uint16), ()),
    (".tiff", PIXELS, (cv2.IMWRITE_TIFF_COMPRESSION, 1)), (".tiff", PIXELS, (cv2.IMWRITE_TIFF_COMPRESSION, 32946)),
    (".bmp", PIXELS, ()), (".bmp", GREY, ()), (".bmp", PIXELS[:, :51], ()),
    (".ppm", PIXELS, ()), (".pgm", GREY, ()), (".pbm", GREY, ()), (".pam", PIXELS, ()),
    (".pgm", GREY.astype(np.uint16) * 200, ()), (".ppm", PIXELS, (cv2.IMWRITE_PXM_BINARY, 0)),
    (".pbm", GREY, (cv2.IMWRITE_PXM_BINARY, 0)),
]


@pytest.mark.parametrize("ext, pixels, params", VALID, ids=[f"{e}-{p.dtype}-{p.shape}-{q}" for e, p, q in VALID])
def test_valid_images_of_every_checked_format_still_decode(ext, pixels, params):
    data = encode(ext, pixels, params)
    height, width = pixels.shape[:2]
    assert ch.check_container(data) == (width, height)
    np.testing.assert_array_equal(compressed_to_bgr(message(data, ext[1:])),
                                  cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


@pytest.mark.parametrize("ext, params", [(".jpg", (cv2.IMWRITE_JPEG_OPTIMIZE, 1)), (".png", ()), (".webp", LOSSLESS),
                                         (".tiff", ()), (".tiff", (cv2.IMWRITE_TIFF_COMPRESSION, 32946))])
def test_large_uniform_images_compress_within_the_bounds(ext, params):
    """The least-data floors (a bit per JPEG block, TIFF's Deflate/LZW expansion) leave room for the best real
    compression: a uniform 2000x2000 image."""
    data = encode(ext, np.zeros((2000, 2000), np.uint8), params)
    assert ch.check_container(data) == (2000, 2000)


def test_mutated_valid_images_are_checked_without_surprises():
    """Flipped bytes, cut data and random 32-bit fields: nothing but ContainerError comes out, and fast."""
    rng = np.random.default_rng(3)
    samples = [encode(e, pixels, p) for e, pixels, p in VALID[::2]]
    worst = 0.0
    for i in range(3000):
        data = bytearray(samples[i % len(samples)])
        choice = rng.random()
        if choice < 0.3:
            data = data[:int(rng.integers(0, len(data)))]
        elif choice < 0.7:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(0, min(len(data), 64)))] = int(rng.integers(0, 256))
        else:
            at = int(rng.integers(0, len(data) - 4))
            data[at:at + 4] = int(rng.integers(0, 1 << 32)).to_bytes(4, "big")
        start = time.perf_counter()
        try:
            ch.check_container(bytes(data))
        except ch.ContainerError:
            pass
        worst = max(worst, time.perf_counter() - start)
    assert worst < FAST_S


def test_buffers_of_every_kind_are_read():
    data = encode(".png")
    for buffer in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        assert ch.check_container(buffer) == (53, 37)

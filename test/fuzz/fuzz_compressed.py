"""atheris target: sensor_msgs/CompressedImage data through image_messages.compressed_to_bgr (container checks,
Pillow's header read, OpenCV's decoders). Seeds are real small JPEG, PNG, WebP, TIFF, BMP, PPM/PGM/PAM files:
the decoders are not instrumented, so mutations of valid files are what reach them. A clean refusal is a
ValueError, cheap in time and memory; an accepted image is H x W x 3 uint8 within MAX_COMPRESSED_PIXELS."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import atheris

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core"]):
    from attsiammask_core.image_messages import MAX_COMPRESSED_PIXELS, compressed_to_bgr

NAME = "compressed"


def one_input(data: bytes) -> None:
    frame = compressed_to_bgr(SimpleNamespace(format="fuzz", data=data))
    assert frame.dtype.name == "uint8" and frame.ndim == 3 and frame.shape[2] == 3, (frame.dtype, frame.shape)
    assert frame.shape[0] * frame.shape[1] <= MAX_COMPRESSED_PIXELS, frame.shape


if __name__ == "__main__":
    harness.main(NAME, harness.checked(one_input, (ValueError,)))

"""atheris target: rosbag2 (MCAP, sqlite3) and ROS 1 bag input through attsiammask_core.bag's reading API
(ImageBag(path, topic).images(), what `attsiammask track --bag` runs). An input starting with '#ROSBAG' is a
ROS 1 bag file; any other is a rosbag2 folder: its metadata.yaml, SEPARATOR, then the storage file (written as
both bag_0.mcap and bag_0.db3, whichever the metadata names). A clean refusal is a BagError; decoded frames are
H x W x 3 uint8."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core"]):
    from attsiammask_core.bag import BagError, ImageBag

NAME = "bag"
SEPARATOR = b"\n--STORAGE--\n"
TOPIC = "/camera/image"
MAX_MESSAGES = 20
TMP = Path(tempfile.mkdtemp(prefix="fuzz_bag_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


def write_input(data: bytes) -> Path:
    """The bag an input encodes, written under TMP (replacing the last one)."""
    shutil.rmtree(TMP / "bag", ignore_errors=True)
    (TMP / "in.bag").unlink(missing_ok=True)
    if data.startswith(b"#ROSBAG"):
        (TMP / "in.bag").write_bytes(data)
        return TMP / "in.bag"
    metadata, _, storage = data.partition(SEPARATOR)
    folder = TMP / "bag"
    folder.mkdir()
    (folder / "metadata.yaml").write_bytes(metadata)
    for name in ("bag_0.mcap", "bag_0.db3"):
        (folder / name).write_bytes(storage)
    return folder


def one_input(data: bytes) -> None:
    path = write_input(data)
    bag = ImageBag(path, TOPIC)
    try:
        for n, image in enumerate(bag.images()):
            assert image.frame.dtype.name == "uint8" and image.frame.ndim == 3 and image.frame.shape[2] == 3
            if n + 1 >= MAX_MESSAGES:
                break
    finally:
        bag.close()


# A bag is opened once per `attsiammask track --bag` run, not once per message: opening one whose embedded message
# definitions are new costs ~120 ms of CPU (rosbags generates the types), whatever its length. The budget bounds what
# matters here: no refusal may cost seconds or hundreds of MB for a few KB of file.
BUDGET = harness.Budget(base_ms=2000.0, ms_per_kib=2.0, base_mb=256.0, mb_per_kib=0.25)

if __name__ == "__main__":
    harness.main(NAME, harness.checked(one_input, (BagError,), BUDGET))

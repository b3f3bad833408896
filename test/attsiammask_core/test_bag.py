"""Reading bags: corrupt rosbag2 files are refused with a BagError (regressions found by test/fuzz/fuzz_bag.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from attsiammask_core.bag import BagError, ImageBag

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "regressions" / "bag"
SEPARATOR = b"\n--STORAGE--\n"  # fuzz_bag's input layout: metadata.yaml, SEPARATOR, the storage file


@pytest.mark.parametrize("name", ["mcap_record_size_memoryerror.bin", "mcap_record_size_overflowerror.bin"])
def test_mcap_record_declaring_more_bytes_than_exist_is_refused(tmp_path, name):
    # issue 25 fuzzing: an MCAP index record declaring ~2^60 or more bytes made rosbags raise MemoryError or
    # OverflowError, which escaped ImageBag instead of its BagError
    metadata, _, storage = (REGRESSIONS / name).read_bytes().partition(SEPARATOR)
    folder = tmp_path / "bag"
    folder.mkdir()
    (folder / "metadata.yaml").write_bytes(metadata)
    (folder / "bag_0.mcap").write_bytes(storage)
    with pytest.raises(BagError, match="bag"):
        bag = ImageBag(folder, "/camera/image")
        try:
            list(bag.images())
        finally:
            bag.close()

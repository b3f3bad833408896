"""NanoTrack checkpoint reading: refusals of files that are not NanoTrack checkpoints (fuzzing findings)."""
from __future__ import annotations

import pytest

from attsiammask_core.weights import WeightsError
from attsiammask_core.weights.nanotrack import read_nanotrack_state


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04", b"\x80\x02}q\x00."])
def test_unreadable_files_are_refused_with_a_weights_error(tmp_path, content):
    # issue 25 fuzzing: an empty file made torch raise an error without a message, and reading its first line
    # raised IndexError instead of the refusal
    path = tmp_path / "nanotrack.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="nanotrack.pth"):
        read_nanotrack_state(path)

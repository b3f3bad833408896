"""tools/presence/calibrate.py: the threshold grid's axes replaced from the command line."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[3] / "tools" / "presence" / "calibrate.py"
spec = importlib.util.spec_from_file_location("presence_calibrate", TOOL)
calibrate = sys.modules.setdefault("presence_calibrate", importlib.util.module_from_spec(spec))
spec.loader.exec_module(calibrate)


def test_grid_axes_are_replaced_with_typed_values():
    grid = calibrate.grid_with(calibrate.GRID, ["recover_frames=2,4,6", "lost_threshold=0.45"])
    assert grid["recover_frames"] == (2, 4, 6) and grid["lost_threshold"] == (0.45,)
    assert grid["recover_threshold"] == calibrate.GRID["recover_threshold"]
    assert calibrate.GRID["recover_frames"] == (2,)  # the default grid itself is unchanged


@pytest.mark.parametrize("change", ["colour=1", "recover_frames=", "recover_frames=two", "lost_threshold"])
def test_a_bad_grid_change_is_refused(change):
    with pytest.raises(ValueError, match="--grid"):
        calibrate.grid_with(calibrate.GRID, [change])

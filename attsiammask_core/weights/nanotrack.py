"""Safe reading of NanoTrack V2's PyTorch checkpoint (HonglinChu/SiamTrackers, Apache-2.0) into the `lite` model.

The file is a torch zip whose pickle holds {"epoch", "state_dict", "optimizer"}; besides tensors it names numpy's
scalar reconstructor and dtype classes. It is read with ``weights_only=True`` and exactly those numpy names added
to the allow-list (no other callable can run). The backbone and box head map onto `LiteSiamMask` by name; the
unused neck (NanoTrack builds a 64->64 adjust layer its forward never calls) is dropped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoints import WeightsError, _first_line, load_state_strict

__all__ = ["NANOTRACK_PREFIXES", "read_nanotrack_state", "load_nanotrack_into"]

NANOTRACK_PREFIXES = ("backbone.", "ban_head.")
_DROPPED_PREFIXES = ("neck.",)


def _numpy_allow_list() -> list[object]:
    """The numpy globals the checkpoint's pickle names (its epoch counter was saved as a numpy scalar)."""
    scalar = np._core.multiarray.scalar  # type: ignore[attr-defined]
    return [(scalar, "numpy.core.multiarray.scalar"), scalar, np.dtype, *{type(np.dtype(t)) for t in "fdilqbB?"}]


def read_nanotrack_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The backbone and box-head tensors of a NanoTrack V2 .pth (weights_only, explicit numpy allow-list)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NanoTrack checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_allow_list()):
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler's refusals and corrupt zips alike
        raise WeightsError(f"{path}: not a readable NanoTrack checkpoint ({type(err).__name__}: "
                           f"{_first_line(err)[:200]})") from None
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: no state_dict of tensors inside")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    kept = {k: v for k, v in state.items() if k.startswith(NANOTRACK_PREFIXES)}
    other = sorted(k for k in state if not k.startswith(NANOTRACK_PREFIXES + _DROPPED_PREFIXES))
    if other or not kept:
        raise WeightsError(f"{path}: not a NanoTrack V2 layout (unexpected keys {other[:3]})")
    return kept


def load_nanotrack_into(path: str | Path, model: nn.Module) -> int:
    """Copy the NanoTrack backbone and box head into ``model`` (a LiteSiamMask); other modules keep their values.
    Every NanoTrack tensor must fit by name and shape; returns how many were copied."""
    state = read_nanotrack_state(path)
    full = dict(model.state_dict())
    wanted = {k for k in full if k.startswith(NANOTRACK_PREFIXES)}
    if set(state) != wanted:
        missing, unexpected = sorted(wanted - set(state)), sorted(set(state) - wanted)
        raise WeightsError(f"{path}: does not fit the lite model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    full.update(state)
    load_state_strict(model, full, source=str(path))
    return len(state)

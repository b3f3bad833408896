"""atheris target: weights files through attsiammask_core.weights (read_weights, read_metadata, load_any into a
tiny model, read_nanotrack_state). Seeded with tiny files of our format (2, a torch file), the refused format 1
(safetensors), official .pth layouts, a NanoTrack-style checkpoint with numpy scalars, and a pickle that would
call harness.tripwire if anything unpickled code. A clean refusal is a WeightsError (or ValueError); never a
crash, never code run (the tripwire), never a load that leaves the model with values of another shape."""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import atheris
import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core.weights"]):
    from attsiammask_core.weights import WeightsError, load_any, read_metadata, read_weights
    from attsiammask_core.weights.nanotrack import read_nanotrack_state

NAME = "weights"
TMP = Path(tempfile.mkdtemp(prefix="fuzz_weights_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


def tiny_model() -> nn.Module:
    """The model the seeds' state dicts fit: backbone.0 (Conv2d 1->2, 1x1) and rpn_head.0 (Linear 2->1)."""
    return nn.ModuleDict({"backbone": nn.Sequential(nn.Conv2d(1, 2, 1)), "rpn_head": nn.Sequential(nn.Linear(2, 1))})


MODEL = tiny_model()
SHAPES = {k: v.shape for k, v in MODEL.state_dict().items()}


def one_input(data: bytes) -> None:
    path = TMP / "weights.pt"
    path.write_bytes(data)
    refusal = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for read in (read_weights, read_metadata, lambda p: load_any(p, MODEL), read_nanotrack_state):
            try:
                read(path)
            except WeightsError as exc:
                refusal = refusal or exc
    assert not harness.TRIPPED, f"unpickling ran code: harness.tripwire{harness.TRIPPED}"
    assert {k: v.shape for k, v in MODEL.state_dict().items()} == SHAPES, "a load changed the model's shapes"
    assert all(torch.is_tensor(v) and v.layout == torch.strided for v in MODEL.state_dict().values())
    if refusal is not None:
        raise refusal


if __name__ == "__main__":
    torch.set_num_threads(1)
    harness.main(NAME, harness.checked(one_input, (WeightsError,)))

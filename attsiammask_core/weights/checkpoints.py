"""Safe reading of official SiamMask checkpoints (pysot and foolwood layouts) and strict mapping onto our model."""
from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# Original foolwood/SiamMask prefixes -> pysot prefixes, which are our module names (spec section 9).
FOOLWOOD_PREFIXES: tuple[tuple[str, str], ...] = (
    ("features.features.", "backbone."),
    ("features.downsample.", "neck.downsample."),
    ("rpn_model.", "rpn_head."),
    ("mask_model.mask.", "mask_head."),
    ("refine_model.", "refine_head."),
)
OPTIONAL_SUFFIX = "num_batches_tracked"
_SHOWN = 5
# Reasons the weights-only unpickler gives when a file asks for a callable or a non-allowed class.
_REFUSED = re.compile(r"global|reduce|can only (create|build)", re.IGNORECASE)


class WeightsError(ValueError):
    """A weights file that cannot be read safely or does not fit the model."""


@dataclass(frozen=True)
class Mismatch:
    """Keys that keep a state dict from fitting a model strictly."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # (key, file shape, model shape)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def describe(self) -> str:
        """One readable line: counts plus the first few keys of each kind."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing keys ({_few(self.missing)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected keys ({_few(self.unexpected)})")
        if self.shapes:
            shown = ", ".join(f"{k}: file {list(a)} vs model {list(b)}" for k, a, b in self.shapes[:_SHOWN])
            more = f", ... {len(self.shapes) - _SHOWN} more" if len(self.shapes) > _SHOWN else ""
            parts.append(f"{len(self.shapes)} shape mismatches ({shown}{more})")
        return "; ".join(parts)


def _few(keys: tuple[str, ...]) -> str:
    more = f", ... {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def read_torch_file(path: str | Path) -> object:
    """torch.load on the CPU with weights_only=True; any failure becomes a WeightsError (code is never run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        # A file object, not the path: torch.load would route any '*.safetensors' name to safetensors by suffix.
        with path.open("rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(err)
        if _REFUSED.search(detail):
            raise WeightsError(f"{path}: refused, the file holds pickled objects other than tensors and plain "
                               f"containers (loading it could execute code); nothing was run ({detail})") from None
        raise WeightsError(f"{path}: not a readable torch checkpoint, truncated or corrupt? ({detail})") from None
    except Exception as err:  # torch raises RuntimeError, EOFError, ValueError, ... for truncated or foreign files
        raise WeightsError(f"{path}: not a readable torch checkpoint, truncated or corrupt? "
                           f"({type(err).__name__}: {_first_line(err)})") from None


def _unpickler_detail(err: pickle.UnpicklingError) -> str:
    """The weights-only unpickler's own reason (the line after 'WeightsUnpickler error:'), else the first line."""
    match = re.search(r"WeightsUnpickler error:\s*(.+)", str(err))
    return match.group(1).strip() if match else _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def unwrap_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Take the 'state_dict' entry if present and check the result is a {str: Tensor} dict."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{source}: expected a dict of tensors, found {type(obj).__name__}")
    if not obj:
        raise WeightsError(f"{source}: the dict of tensors is empty")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        shown = ", ".join(f"{k!r} ({type(obj[k]).__name__})" for k in bad[:_SHOWN])
        raise WeightsError(f"{source}: expected a dict of tensors, {len(bad)} entries are not tensors: {shown}")
    return dict(obj)


def strip_module_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a leading 'module.' (DataParallel) from every key that has one."""
    return {k.removeprefix("module."): v for k, v in state.items()}


def rename_foolwood_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map original SiamMask (foolwood) prefixes onto pysot/our names; other keys are kept as they are."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for old, new in FOOLWOOD_PREFIXES:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """'foolwood' if any key carries an original SiamMask prefix, else 'pysot' (our names)."""
    names = (k.removeprefix("module.") for k in state)
    return "foolwood" if any(k.startswith(old) for k in names for old, _ in FOOLWOOD_PREFIXES) else "pysot"


def normalise_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip 'module.' and rename foolwood prefixes, giving our module names."""
    return rename_foolwood_keys(strip_module_prefix(state))


def find_mismatch(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> Mismatch:
    """Compare key sets and shapes; a missing num_batches_tracked is not counted."""
    missing = tuple(k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIX))
    unexpected = tuple(k for k in state if k not in expected)
    shapes = tuple((k, tuple(v.shape), tuple(expected[k].shape)) for k, v in state.items()
                   if k in expected and v.shape != expected[k].shape)
    return Mismatch(missing, unexpected, shapes)


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load `state` (our names) into model: exact keys and shapes, num_batches_tracked optional, dtypes cast."""
    expected = model.state_dict()
    mismatch = find_mismatch(state, expected)
    if mismatch:
        raise WeightsError(f"{source} does not fit the model ({len(state)} tensors in the file, "
                           f"{len(expected)} in the model): {mismatch.describe()}")
    full = {k: (state[k] if k in state else v).to(dtype=v.dtype) for k, v in expected.items()}
    model.load_state_dict(full, strict=True)


def load_state_dict_object(obj: object, model: nn.Module, source: str = "checkpoint") -> str:
    """Load what torch.load returned from an official .pth (pysot or foolwood layout, any wrapper) into model;
    returns the layout name."""
    raw = unwrap_state_dict(obj, source=source)
    layout = detect_layout(raw)
    load_state_strict(model, normalise_keys(raw), source=f"{source} ({layout} layout)")
    return layout


def load_checkpoint(path: str | Path, model: nn.Module) -> str:
    """Load an official .pth (pysot or foolwood layout, any wrapper) into model; returns the layout name."""
    return load_state_dict_object(read_torch_file(path), model, source=str(path))

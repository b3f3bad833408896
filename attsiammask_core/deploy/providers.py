"""onnxruntime execution providers: names users write -> what onnxruntime has, with a CPU fallback."""
from __future__ import annotations

import warnings
from collections.abc import Sequence

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
CPU = PROVIDER_ALIASES["cpu"]


def canonical_provider(name: str) -> str:
    """'cuda' -> 'CUDAExecutionProvider'; a full onnxruntime name is kept; anything else is a ValueError."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"provider names are non-empty strings, got {name!r}")
    key = name.strip()
    if key.lower() in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[key.lower()]
    if key.lower().endswith("executionprovider"):
        return key
    raise ValueError(f"unknown onnxruntime provider {name!r}: use {', '.join(PROVIDER_ALIASES)} or a full "
                     f"onnxruntime name such as 'CUDAExecutionProvider'")


def resolve_providers(requested: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """The providers to open a session with: the requested ones onnxruntime has, in order, then the CPU.

    A requested provider this onnxruntime lacks (CUDA/TensorRT without onnxruntime-gpu, or without the
    libraries they load) is dropped with a warning that says what runs instead.
    """
    wanted = [canonical_provider(n) for n in (requested or ["cpu"])]
    chosen = []
    for name in wanted:
        if name in available:
            if name not in chosen:
                chosen.append(name)
        else:
            warnings.warn(f"onnxruntime provider {name} is not available in this onnxruntime (it has "
                          f"{', '.join(available) or 'none'}); running on {CPU} instead. For CUDA/TensorRT "
                          f"install onnxruntime-gpu (README: GPU users)", RuntimeWarning, stacklevel=3)
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen

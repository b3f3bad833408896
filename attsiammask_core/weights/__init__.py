"""Weights: safe reading of official SiamMask checkpoints (both key layouts) and our own format (a torch file)."""
from .checkpoints import (
    FOOLWOOD_PREFIXES,
    Mismatch,
    WeightsError,
    detect_layout,
    load_checkpoint,
    load_state_dict_object,
    load_state_strict,
    normalise_keys,
    read_torch_file,
    unwrap_state_dict,
)
from .store import (
    embedded_weights_path,
    is_ours,
    is_safetensors,
    load_any,
    load_weights,
    read_metadata,
    read_weights,
    save_weights,
)

__all__ = ["FOOLWOOD_PREFIXES", "Mismatch", "WeightsError", "detect_layout", "embedded_weights_path", "is_ours",
           "is_safetensors", "load_any", "load_checkpoint", "load_state_dict_object", "load_state_strict",
           "load_weights", "normalise_keys", "read_metadata", "read_torch_file", "read_weights", "save_weights",
           "unwrap_state_dict"]

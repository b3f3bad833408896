"""onnxruntime provider names and the CPU fallback (no GPU here: the selection logic is what is tested)."""
from __future__ import annotations

import pytest

from attsiammask_core.deploy.providers import canonical_provider, resolve_providers

CPU = "CPUExecutionProvider"


@pytest.mark.parametrize("name, canonical", [
    ("cpu", CPU), ("CUDA", "CUDAExecutionProvider"), (" tensorrt ", "TensorrtExecutionProvider"),
    ("OpenVINOExecutionProvider", "OpenVINOExecutionProvider"),
])
def test_canonical_names(name, canonical):
    assert canonical_provider(name) == canonical


@pytest.mark.parametrize("name", ["gpu", "", "  ", 3, None])
def test_unknown_names_are_refused(name):
    with pytest.raises(ValueError):
        canonical_provider(name)


def test_available_providers_keep_their_order_and_cpu_comes_last():
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]
    assert resolve_providers(["tensorrt", "cuda"], available) == [*available]
    assert resolve_providers(["cuda", "cuda", "cpu"], available) == ["CUDAExecutionProvider", CPU]
    assert resolve_providers(None, available) == [CPU]


def test_missing_providers_fall_back_to_cpu_with_a_warning():
    with pytest.warns(RuntimeWarning, match=r"TensorrtExecutionProvider is not available.*running on "
                                            r"CPUExecutionProvider instead.*onnxruntime-gpu"):
        chosen = resolve_providers(["tensorrt", "cpu"], [CPU])
    assert chosen == [CPU]

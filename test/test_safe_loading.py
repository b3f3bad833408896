"""Every torch.load in the project passes weights_only=True: no checkpoint can run code when loaded."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("attsiammask_core", "attsiammask_ros", "tools", "launch")


def torch_load_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for folder in SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                    calls.append((path, node))
    return calls


def test_every_torch_load_is_weights_only():
    calls = torch_load_calls()
    assert calls, "no torch.load call found: the scan is broken"
    unsafe = []
    for path, call in calls:
        flag = next((kw.value for kw in call.keywords if kw.arg == "weights_only"), None)
        if not (isinstance(flag, ast.Constant) and flag.value is True):
            unsafe.append(f"{path.relative_to(REPO)}:{call.lineno}")
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"

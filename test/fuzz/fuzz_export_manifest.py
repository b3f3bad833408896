"""atheris target: an `attsiammask export` folder's manifest (attsiammask_onnx.json) through
OrtModel.from_directory, with four tiny valid graphs beside it (and one outside the folder, which a manifest
must not reach). A clean refusal is a ValueError or OSError (FileNotFoundError), never a KeyError, TypeError or
AttributeError from a field of the wrong type; an accepted folder gives a model whose files lie in the folder and
whose box head and refine windows are well formed. The input is the manifest's text."""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import atheris

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import harness  # noqa: E402

with atheris.instrument_imports(include=["attsiammask_core.deploy"]):
    from attsiammask_core.deploy.graphs import GRAPHS
    from attsiammask_core.deploy.ort_model import MANIFEST, OrtModel

NAME = "export_manifest"
TMP = Path(tempfile.mkdtemp(prefix="fuzz_manifest_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
FOLDER = TMP / "export"
OUTSIDE = TMP / "outside.onnx"


def identity_graph(doc: str = "") -> bytes:
    """A valid ONNX graph of one Identity node (what the graph files hold here; their contents are not fuzzed)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model.SerializeToString()


def setup_folder() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    graph = identity_graph()
    for name in GRAPHS:
        (FOLDER / f"{name}.onnx").write_bytes(graph)
    OUTSIDE.write_bytes(identity_graph(doc="outside"))


def one_input(data: bytes) -> None:
    (FOLDER / MANIFEST).write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = OrtModel.from_directory(FOLDER, providers=["cpu"], threads=1)
    assert set(model.sessions) == set(GRAPHS)
    outside = [n for n, s in model.sessions.items() if s.get_modelmeta().description == "outside"]
    assert not outside, f"the manifest made {outside} read a file outside the export folder"
    assert model.box_head in ("anchor", "point"), model.box_head
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in model.metadata.items()), model.metadata
    assert len(model.windows) == 3 and all(
        isinstance(v, int) and v >= 0 for w in model.windows for v in (w.pad, w.size, w.step)), model.windows


if __name__ == "__main__":
    setup_folder()
    harness.main(NAME, harness.checked(one_input, (ValueError, OSError)))

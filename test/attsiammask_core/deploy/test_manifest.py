"""The export folder's manifest: checked before any graph is opened (regressions found by
test/fuzz/fuzz_export_manifest.py)."""
from __future__ import annotations

import json

import pytest

from attsiammask_core.deploy.graphs import GRAPHS
from attsiammask_core.deploy.manifest import MANIFEST, read_manifest
from attsiammask_core.models.refine import WINDOWS


def good_manifest() -> dict:
    return {"format": "attsiammask-onnx", "format_version": "1", "box_head": "point",
            "refine_windows": [{"pad": w.pad, "size": w.size, "step": w.step} for w in WINDOWS],
            "metadata": {"variant": "lite"}, "graphs": {name: {"file": f"{name}.onnx"} for name in GRAPHS}}


@pytest.fixture
def folder(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    for name in GRAPHS:
        (export / f"{name}.onnx").write_bytes(b"graph")
    (tmp_path / "outside.onnx").write_bytes(b"graph")
    return export


def write(folder, manifest) -> None:
    (folder / MANIFEST).write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))


def test_a_good_manifest_reads(folder):
    write(folder, good_manifest())
    manifest = read_manifest(folder)
    assert manifest.graph_files == {name: folder / f"{name}.onnx" for name in GRAPHS}
    assert manifest.box_head == "point" and manifest.windows == WINDOWS and manifest.metadata == {"variant": "lite"}


@pytest.mark.parametrize("file", ["../outside.onnx", "/etc/hostname", "sub/search.onnx", "..", "", "a\\b.onnx"])
def test_graph_files_outside_the_folder_are_refused(folder, file):
    # issue 25 fuzzing: "../outside.onnx" in the manifest made from_directory open a graph outside the folder
    manifest = good_manifest()
    manifest["graphs"]["refine"]["file"] = file
    write(folder, manifest)
    with pytest.raises(ValueError, match="not a file name inside the folder"):
        read_manifest(folder)


def _set(manifest: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    node = manifest
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return manifest


@pytest.mark.parametrize(("path", "value", "words"), [
    ("graphs", [], "'graphs' must be a dict"),
    ("graphs.search", "search.onnx", "'file' must be a str"),
    ("graphs.search", {"file": 3}, "'file' must be a str"),
    ("box_head", None, "'box_head' must be a str"),
    ("box_head", "rpn", "'box_head' must be one of"),
    ("refine_windows", {"pad": 1}, "'refine_windows' must be a list"),
    ("refine_windows.0", {"pad": 1, "size": 2}, "each refine window"),
    ("refine_windows.0", {"pad": 1.5, "size": 2, "step": 1}, "'pad' must be a int"),
    ("refine_windows.0", {"pad": True, "size": 2, "step": 1}, "'pad' must be a int"),
    ("refine_windows.0", {"pad": 0, "size": 0, "step": 1}, "out of range"),
    ("metadata", {"variant": 2}, "'metadata' must map names to strings"),
])
def test_fields_of_the_wrong_type_are_refused_with_a_value_error(folder, path, value, words):
    # issue 25 fuzzing: such fields raised KeyError, TypeError or AttributeError from deep in from_directory
    write(folder, _set(good_manifest(), path, value))
    with pytest.raises(ValueError, match=words):
        read_manifest(folder)


@pytest.mark.parametrize("text", ["", "[]", "{", "\"text\"", "[" * 100000, "{\"graphs\": {}}"])
def test_text_that_is_not_a_manifest_is_refused(folder, text):
    write(folder, text)
    with pytest.raises((ValueError, FileNotFoundError)):
        read_manifest(folder)


def test_missing_manifest_and_missing_graph(folder):
    with pytest.raises(FileNotFoundError, match="no `attsiammask export` folder"):
        read_manifest(folder)
    write(folder, good_manifest())
    (folder / "search.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="search.onnx missing"):
        read_manifest(folder)


@pytest.mark.parametrize("text", ["[]", '{"metadata": [1]}', '{"metadata": {"tracker_config": 3}}'])
def test_the_tracker_reads_stored_settings_through_the_checked_manifest(tmp_path, text):
    from attsiammask_core.tracker import stored_tracker_config

    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(ValueError):  # fuzzing: AttributeError / TypeError from the raw JSON before
        stored_tracker_config(tmp_path)

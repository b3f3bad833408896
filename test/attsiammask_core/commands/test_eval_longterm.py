"""`attsiammask eval --protocol longterm` end to end: a long-term set made by tools/data/make_longterm.py from a
synthetic source, tracked by CSRT; the table section, results.json, resume; user errors; the help's example."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from longterm_source import write_source

from attsiammask_core.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def longterm_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lt")
    write_source(root / "data", "synth", 230)
    (root / "split.json").write_text(json.dumps({"validation": ["synth"], "test": []}))
    spec = importlib.util.spec_from_file_location("make_longterm", REPO / "tools" / "data" / "make_longterm.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    assert tool.main(["--data", str(root / "data"), "--out", str(root / "longterm"), "--split", "validation",
                      "--split-file", str(root / "split.json")]) == 0
    return root / "longterm" / "validation"


def test_eval_longterm_csrt(longterm_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["eval", "--data", str(longterm_dir), "--trackers", "csrt", "--protocol", "longterm", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "protocol longterm" in printed and "runs: 1 run, 0 reused" in printed
    assert "Long-term (one pass, no re-initialisation): 1 sequence(s) with absent frames, 229 frames" in printed
    assert any(line.startswith("| csrt | ") and line.count("|") == 10 for line in printed.splitlines())
    summary = json.loads((out / "results.json").read_text())
    info = json.loads((longterm_dir / "synth-lt" / "longterm.json").read_text())
    overall = summary["trackers"]["csrt"]["overall"]
    assert overall["longterm"]["events"] == len(info["events"]) >= 1
    assert overall["longterm"]["absent_frames"] == info["absent_frames"]
    assert 0.0 <= overall["longterm"]["f"] <= 1.0 and overall["speed"]["frames"] == 229 and "ope" not in overall
    assert (out / "table.md").read_text().count("| csrt |") == 2  # the main table and the long-term section
    assert main(argv) == 0 and "runs: 0 run, 1 reused" in capsys.readouterr().out
    assert main([*argv, "--presence-threshold", "0.5"]) == 0  # a metric parameter: the runs are reused
    again = capsys.readouterr().out
    assert "runs: 0 run, 1 reused" in again and "published detection: confidence >= 0.5" in again


def test_eval_longterm_needs_absent_frames(tmp_path, capsys):
    write_source(tmp_path / "data", "full", 20)
    assert main(["eval", "--data", str(tmp_path / "data"), "--trackers", "csrt", "--protocol", "longterm",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no sequence in" in capsys.readouterr().err


def test_help_documents_longterm_and_ends_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    assert "--protocol {ope,vot,both,longterm}" in text and "VOT-LT" in text and "--presence-threshold" in text
    assert text.rstrip().splitlines()[-1].strip().startswith("attsiammask eval --data data/longterm/validation")

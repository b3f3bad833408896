"""`attsiammask eval`: a tiny data folder through CSRT and KCF, both protocols; resume; user errors."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attsiammask_core.cli import build_parser, main


def _write_sequence(root: Path, name: str, n: int, masks: bool = False, nan_frames: tuple[int, ...] = ()) -> None:
    """A patterned square moving (2, 1) px per frame over blurred noise; shared layout (img/, groundtruth.txt)."""
    rng = np.random.default_rng(len(name))
    background = cv2.GaussianBlur(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), (5, 5), 0)
    folder = root / name
    (folder / "img").mkdir(parents=True)
    if masks:
        (folder / "masks").mkdir()
    lines = []
    for i in range(n):
        frame, mask = background.copy(), np.zeros((90, 120), np.uint8)
        x, y = 20 + 2 * i, 20 + i
        if i in nan_frames:
            lines.append("nan,nan,nan,nan")
        else:
            frame[y:y + 20, x:x + 20] = 230
            frame[y + 8:y + 12, x:x + 20] = (20, 20, 200)
            mask[y:y + 20, x:x + 20] = 255
            lines.append(f"{x},{y},20,20")
        cv2.imwrite(str(folder / "img" / f"{i:04d}.jpg"), frame)
        if masks:
            cv2.imwrite(str(folder / "masks" / f"{i:04d}.png"), mask)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    _write_sequence(root, "box-seq", 14, nan_frames=(6,))
    _write_sequence(root, "mask-seq", 10, masks=True)
    (root / "notes").mkdir()  # not a sequence: skipped
    return root


def test_registered_in_the_cli():
    args = build_parser().parse_args(["eval", "--data", "d", "--trackers", "csrt", "--out", "o"])
    assert args.protocol == "both" and args.eao_interval == (100, 356) and args.seed == 0 and args.peers is None


def test_eval_both_protocols_table_files_and_resume(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["eval", "--data", str(data_dir), "--trackers", "csrt", "kcf", "--out", str(out), "--quiet",
            "--eao-interval", "5", "12"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    assert len(rows) == 3 and rows[1].startswith("| csrt |") and rows[2].startswith("| kcf |")
    assert "runs: 8 run, 0 reused" in printed
    for name in ("results.json", "table.md", "success.png", "precision.png", "ar.png"):
        assert (out / name).is_file() and f"wrote {out / name}" in printed
    summary = json.loads((out / "results.json").read_text())
    assert summary["sequences"] == ["box-seq", "mask-seq"] and summary["eao_interval"] == [5, 12]
    csrt = summary["trackers"]["csrt"]
    assert csrt["sequences"]["mask-seq"]["J_box"] > 0.5 and csrt["sequences"]["box-seq"]["J_box"] is None
    assert csrt["overall"]["ope"]["auc"] > 0.5 and csrt["overall"]["speed"]["frames"] > 0
    assert len(list((out / "runs").rglob("*.json"))) == 8

    assert main(argv) == 0  # second call: every run read back
    again = capsys.readouterr().out
    assert "runs: 0 run, 8 reused" in again
    assert json.loads((out / "results.json").read_text()) == summary


def test_eval_split_file_sequences_and_max_frames(data_dir, tmp_path, capsys):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["box-seq"], "validation": ["mask-seq"]}))
    out = tmp_path / "out"
    assert main(["eval", "--data", str(data_dir), "--split", "validation", "--split-file", str(split),
                 "--trackers", "KCF", "--protocol", "ope", "--out", str(out), "--quiet", "--max-frames", "5"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["sequences"] == ["mask-seq"] and summary["trackers"]["kcf"]["overall"]["ope"]["frames"] == 4
    assert not (out / "ar.png").exists()
    capsys.readouterr()
    assert main(["eval", "--data", str(data_dir), "--sequences", "mask-seq,box-seq", "--trackers", "kcf",
                 "--protocol", "vot", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "results.json").read_text())["sequences"] == ["mask-seq", "box-seq"]


@pytest.mark.parametrize("extra, message", [
    (["--trackers", "mosse"],
     "unknown tracker spec 'mosse'; valid: csrt, kcf, nanotrack, vit, nanotrackv3, lightfc, ours"),
    (["--trackers", "nanotrack"], "needs its ONNX files: pass --peers DIR"),
    (["--trackers", "vit", "--peers", "/nonexistent/peers"], "--peers: not a folder"),
    (["--trackers", "csrt", "--sequences", "nope"], "sequences not found"),
    (["--trackers", "csrt", "--eao-interval", "50", "10"], "--eao-interval needs 1 <= LOW <= HIGH"),
    (["--trackers", "ours:r50"], "weights"),  # r50 has no embedded weights
])
def test_user_errors(data_dir, tmp_path, capsys, extra, message):
    assert main(["eval", "--data", str(data_dir), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attsiammask eval: error:") and message in err


def test_missing_data_folder(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path / "none"), "--trackers", "csrt", "--out", str(tmp_path)]) == 2
    assert "--data: not a folder" in capsys.readouterr().err


def test_help_documents_the_spec_grammar(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    assert "ours[:VARIANT][:att|:noatt][:PRESET]" in text and "re-initialised 5 frames later" in text

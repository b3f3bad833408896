"""Sequence readers on small synthetic folders (tmp_path), plus one read of ../shared when it is present."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from attsiammask_core.eval.sequences import (
    Sequence,
    discover,
    load_split,
    parse_index_base,
    read_any,
    read_davis_folder,
    read_sequence_folder,
    read_vot_folder,
    split_names,
    tight_box_xywh,
)

SHARED_SEQUENCES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sequences"
H, W = 6, 8


def _frames(folder: Path, n: int, suffix: str = ".jpg", digits: int = 4, start: int = 1) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i + start:0{digits}d}{suffix}"
        cv2.imwrite(str(path), np.full((H, W, 3), 40 * i, np.uint8))
        paths.append(path)
    return paths


def _seq_folder(root: Path, name: str, gt_lines: list[str], n: int | None = None) -> Path:
    folder = root / name
    _frames(folder / "img", len(gt_lines) if n is None else n)
    (folder / "groundtruth.txt").write_text("\n".join(gt_lines) + "\n")
    return folder


def _mask(rows: slice | None, cols: slice | None) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    if rows is not None:
        m[rows, cols] = 255
    return m


# ---------------------------------------------------------------- shared layout


def test_otb_one_based_shift_by_flag(tmp_path):
    folder = _seq_folder(tmp_path, "Otb", ["11,21,5,6", "12,22,5,6"])
    seq = read_sequence_folder(folder, index_base=1)
    # 1-based (11,21) -> 0-based (10,20); sizes unchanged
    np.testing.assert_array_equal(seq.boxes, [[10, 20, 5, 6], [11, 21, 5, 6]])
    np.testing.assert_array_equal(read_sequence_folder(folder).boxes[0], [11, 21, 5, 6])  # no manifest: 0-based
    assert len(seq) == 2 and seq.polygons is None and seq.mask_paths is None and seq.name == "Otb"
    assert [p.name for p in seq.frame_paths] == ["0001.jpg", "0002.jpg"]


def test_index_base_from_manifest_argument_and_sibling_file(tmp_path):
    folder = _seq_folder(tmp_path, "Otb", ["11,21,5,6"])
    manifest = {"sequences": {"Otb": {"index_base": "1-based (OTB convention)", "attributes": ["OCC", "SV"],
                                      "frames": 1, "has_masks": False}}}
    seq = read_sequence_folder(folder, manifest=manifest)
    np.testing.assert_array_equal(seq.boxes[0], [10, 20, 5, 6])
    assert seq.attributes == ("OCC", "SV")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    np.testing.assert_array_equal(read_sequence_folder(folder).boxes[0], [10, 20, 5, 6])  # sibling manifest.json
    np.testing.assert_array_equal(read_sequence_folder(folder, index_base=0).boxes[0], [11, 21, 5, 6])  # flag wins


def test_manifest_frame_count_and_masks_are_checked(tmp_path):
    folder = _seq_folder(tmp_path, "S", ["1,1,2,2"])
    with pytest.raises(ValueError, match="1 frames but 3 frames in the manifest"):
        read_sequence_folder(folder, manifest={"sequences": {"S": {"index_base": "0-based", "frames": 3}}})
    with pytest.raises(FileNotFoundError, match="has masks"):
        read_sequence_folder(folder, manifest={"sequences": {"S": {"index_base": "0-based", "has_masks": True}}})


@pytest.mark.parametrize(("text", "base"), [
    ("1-based (OTB convention)", 1), ("1-based (UAV123 convention)", 1),
    ("0-based pixel coords (VOT convention, frames 00000001.jpg = frame 1)", 0),
    ("0-based pixel coords; box = tight bbox of all non-zero mask pixels", 0),
    ("coords as in AVT file (0-based assumed, ViCoS/VOT convention)", 0), (1, 1), (0, 0),
])
def test_parse_index_base(text, base):
    assert parse_index_base(text) == base


def test_parse_index_base_rejects_unknown():
    for bad in ("pixels", 2, True, None):
        with pytest.raises(ValueError, match="index"):
            parse_index_base(bad)


def test_nan_lines_are_absent_frames(tmp_path):
    folder = _seq_folder(tmp_path, "N", ["1,2,3,4", "nan,nan,nan,nan", "NaN,NaN,NaN,NaN", "5 6 7 8"])
    seq = read_sequence_folder(folder)
    assert np.isnan(seq.boxes[1]).all() and np.isnan(seq.boxes[2]).all()
    np.testing.assert_array_equal(seq.boxes[[0, 3]], [[1, 2, 3, 4], [5, 6, 7, 8]])  # commas or whitespace


def test_polygon_lines_give_min_max_boxes(tmp_path):
    folder = _seq_folder(tmp_path, "P", ["1,2,5,2,5,8,1,8", "3,0,6,3,3,6,0,3", "10,20,4,5", "nan,nan,nan,nan"])
    seq = read_sequence_folder(folder, index_base=1)
    # after the 1-based shift: (0,1),(4,1),(4,7),(0,7) -> box (0,1,4,6); diamond (2,-1)..(-1,2) -> (-1,-1,6,6)
    np.testing.assert_array_equal(seq.boxes[:3], [[0, 1, 4, 6], [-1, -1, 6, 6], [9, 19, 4, 5]])
    assert np.isnan(seq.boxes[3]).all()
    np.testing.assert_array_equal(seq.polygons[0], [0, 1, 4, 1, 4, 7, 0, 7])
    np.testing.assert_array_equal(seq.polygons[2], [9, 19, 13, 19, 13, 24, 9, 24])  # a box line as its rectangle
    assert np.isnan(seq.polygons[3]).all()


def test_malformed_line_names_file_and_line(tmp_path):
    folder = _seq_folder(tmp_path, "M", ["1,2,3,4", "1,2,3", "1,2,3,4"])
    with pytest.raises(ValueError, match=r"groundtruth\.txt: line 2: expected 4 .* got 3"):
        read_sequence_folder(folder)
    (folder / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\na,b,c,d\n")
    with pytest.raises(ValueError, match=r"groundtruth\.txt: line 3: not numbers"):
        read_sequence_folder(folder)
    (folder / "groundtruth.txt").write_text("1,2,3,4\n\n1,2,3,4\n")
    with pytest.raises(ValueError, match="line 2 is empty"):
        read_sequence_folder(folder)


def test_count_mismatch_and_missing_parts(tmp_path):
    folder = _seq_folder(tmp_path, "C", ["1,2,3,4", "1,2,3,4"], n=3)
    with pytest.raises(ValueError, match="3 frames but 2 ground-truth lines"):
        read_sequence_folder(folder)
    with pytest.raises(FileNotFoundError, match="sequence folder not found"):
        read_sequence_folder(tmp_path / "nope")
    (folder / "groundtruth.txt").unlink()
    with pytest.raises(FileNotFoundError, match="ground truth not found"):
        read_sequence_folder(folder)


def test_trailing_blank_lines_are_ignored(tmp_path):
    folder = _seq_folder(tmp_path, "T", ["1,2,3,4"])
    (folder / "groundtruth.txt").write_text("1,2,3,4\n\n\n")
    assert len(read_sequence_folder(folder).boxes) == 1


def test_frame_and_mask_access(tmp_path):
    folder = _seq_folder(tmp_path, "F", ["1,1,2,2", "1,1,2,2"])
    (folder / "masks").mkdir()
    cv2.imwrite(str(folder / "masks" / "0001.png"), _mask(slice(1, 3), slice(2, 4)))
    cv2.imwrite(str(folder / "masks" / "0002.png"), _mask(None, None))
    seq = read_sequence_folder(folder)
    image = seq.frame(1)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    m = seq.mask(0)
    assert m.dtype == bool and m.shape == (H, W) and m.sum() == 4
    assert seq.mask(1).sum() == 0
    seq.frame_paths[0].write_bytes(b"not an image")
    with pytest.raises(OSError, match="cannot read frame 0"):
        seq.frame(0)
    assert read_sequence_folder(_seq_folder(tmp_path, "G", ["1,1,2,2"])).mask(0) is None


def test_sequence_validates_and_freezes(tmp_path):
    with pytest.raises(ValueError, match=r"boxes must be \(2,4\)"):
        Sequence(name="x", frame_paths=(Path("a"), Path("b")), boxes=np.zeros((3, 4)), polygons=None,
                 mask_paths=None)
    boxes = np.zeros((1, 4))
    seq = Sequence(name="x", frame_paths=(Path("a"),), boxes=boxes, polygons=None, mask_paths=None)
    boxes[0, 0] = 5  # the caller's array is copied
    assert seq.boxes[0, 0] == 0
    with pytest.raises(ValueError):
        seq.boxes[0, 0] = 1


def test_natural_frame_order(tmp_path):
    folder = tmp_path / "Nat"
    img = folder / "img"
    img.mkdir(parents=True)
    for name in ("10.jpg", "2.jpg", "1.jpg"):
        cv2.imwrite(str(img / name), np.zeros((H, W, 3), np.uint8))
    (folder / "groundtruth.txt").write_text("1,1,1,1\n2,2,2,2\n3,3,3,3\n")
    assert [p.name for p in read_sequence_folder(folder).frame_paths] == ["1.jpg", "2.jpg", "10.jpg"]


# ---------------------------------------------------------------- VOT and DAVIS


def test_vot_folder_color_polygons_and_empty_lines(tmp_path):
    folder = tmp_path / "vot-seq"
    _frames(folder / "color", 3, digits=8)
    (folder / "groundtruth.txt").write_text("1,2,5,2,5,8,1,8\n\nnan,nan,nan,nan,nan,nan,nan,nan\n")
    seq = read_vot_folder(folder)
    np.testing.assert_array_equal(seq.boxes[0], [1, 2, 4, 6])  # 0-based, no shift
    assert np.isnan(seq.boxes[1:]).all() and seq.polygons.shape == (3, 8)
    assert read_any(folder).polygons is not None


def test_vot_folder_frames_in_folder_with_boxes(tmp_path):
    folder = tmp_path / "vot-boxes"
    _frames(folder, 2, digits=8)
    (folder / "groundtruth.txt").write_text("1,2,3,4\n5,6,7,8\n")
    seq = read_any(folder)
    np.testing.assert_array_equal(seq.boxes, [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert seq.polygons is None
    (folder / "groundtruth.txt").write_text("1,2,3,4\nm1,2,3\n")
    with pytest.raises(ValueError, match="line 2: VOT mask"):
        read_vot_folder(folder)


def test_tight_box():
    # rows 1..3, cols 2..5 -> x 2, y 1, w 5-2+1 = 4, h 3-1+1 = 3
    np.testing.assert_array_equal(tight_box_xywh(_mask(slice(1, 4), slice(2, 6))), [2, 1, 4, 3])
    assert np.isnan(tight_box_xywh(_mask(None, None))).all()


def test_davis_root_layout_masks_to_tight_boxes(tmp_path):
    root = tmp_path / "DAVIS"
    _frames(root / "JPEGImages" / "480p" / "bear", 2, digits=5, start=0)
    ann = root / "Annotations" / "480p" / "bear"
    ann.mkdir(parents=True)
    cv2.imwrite(str(ann / "00000.png"), _mask(slice(1, 4), slice(2, 6)))  # box (2,1,4,3)
    cv2.imwrite(str(ann / "00001.png"), _mask(None, None))                # target gone -> NaN
    seq = read_davis_folder(root, name="bear")
    assert seq.name == "bear" and len(seq) == 2
    np.testing.assert_array_equal(seq.boxes[0], [2, 1, 4, 3])
    assert np.isnan(seq.boxes[1]).all()
    assert seq.mask(0).sum() == 12  # 3 rows x 4 cols


def test_davis_sequence_folder_and_read_any(tmp_path):
    folder = tmp_path / "blackswan"
    _frames(folder / "JPEGImages", 1, suffix=".jpg", digits=5, start=0)
    (folder / "Annotations").mkdir()
    cv2.imwrite(str(folder / "Annotations" / "00000.png"), _mask(slice(0, 2), slice(0, 1)))  # box (0,0,1,2)
    seq = read_any(folder)
    np.testing.assert_array_equal(seq.boxes[0], [0, 0, 1, 2])
    assert seq.mask_paths is not None
    cv2.imwrite(str(folder / "Annotations" / "00001.png"), _mask(None, None))
    with pytest.raises(ValueError, match="1 frames but 2 masks"):
        read_davis_folder(folder)


def test_read_any_rejects_unknown_layout(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(ValueError, match="not a sequence folder"):
        read_any(tmp_path / "junk")


# ---------------------------------------------------------------- split and discover


def test_load_split_packaged_and_custom(tmp_path):
    validation, train, test = load_split(), load_split("train"), load_split("test")
    assert validation and train and test and not set(validation) & set(train)
    assert not set(test) & (set(train) | set(validation))
    assert split_names() == ["test", "train", "validation"]
    with pytest.raises(ValueError, match="unknown split 'tuning'; known splits: test, train, validation"):
        load_split("tuning")
    custom = tmp_path / "split.json"
    custom.write_text(json.dumps({"description": "x", "validation": ["A", "B"]}))
    assert load_split(split_file=custom) == ["A", "B"]
    with pytest.raises(FileNotFoundError, match="split file not found"):
        load_split(split_file=tmp_path / "missing.json")


def test_discover_order_names_manifest_and_missing(tmp_path):
    _seq_folder(tmp_path, "b-seq", ["11,21,5,6"])
    _seq_folder(tmp_path, "a-seq", ["1,2,3,4"])
    (tmp_path / "not-a-sequence").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"sequences": {"b-seq": {"index_base": "1-based (OTB)"}}}))
    seqs = discover(tmp_path)
    assert [s.name for s in seqs] == ["a-seq", "b-seq"]
    np.testing.assert_array_equal(seqs[1].boxes[0], [10, 20, 5, 6])  # shifted through data_dir/manifest.json
    assert [s.name for s in discover(tmp_path, ["b-seq", "a-seq"])] == ["b-seq", "a-seq"]
    with pytest.raises(FileNotFoundError, match="sequences not found in .*: c-seq, d-seq"):
        discover(tmp_path, ["a-seq", "c-seq", "d-seq"])
    with pytest.raises(ValueError, match="repeated"):
        discover(tmp_path, ["a-seq", "a-seq"])
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        discover(tmp_path / "nowhere")


# ---------------------------------------------------------------- the real shared data


@pytest.mark.skipif(not SHARED_SEQUENCES.is_dir(), reason=f"shared sequences absent: {SHARED_SEQUENCES}")
def test_real_shared_sequences():
    biker = read_sequence_folder(SHARED_SEQUENCES / "Biker")  # index base from ../manifest.json
    first_line = (SHARED_SEQUENCES / "Biker" / "groundtruth.txt").read_text().splitlines()[0]
    assert first_line == "262,94,16,26"
    np.testing.assert_array_equal(biker.boxes[0], [261, 93, 16, 26])  # 1-based OTB -> 0-based
    assert biker.frame(0).shape == (360, 640, 3)
    names = [n for split in ("validation", "train", "test") for n in load_split(split)
             if (SHARED_SEQUENCES / n).is_dir()]  # the split also names fetched sequences (tools/data)
    seqs = discover(SHARED_SEQUENCES, names)
    manifest = json.loads((SHARED_SEQUENCES / "manifest.json").read_text())["sequences"]
    for seq in seqs:
        assert len(seq) == manifest[seq.name]["frames"], seq.name
        assert (seq.mask_paths is not None) == manifest[seq.name]["has_masks"], seq.name
    davis = next(s for s in seqs if s.name == "DAVIS16-camel")
    # its groundtruth.txt boxes are the tight boxes of its masks (checked on the first frame)
    np.testing.assert_array_equal(tight_box_xywh(davis.mask(0)), davis.boxes[0])
    assert not math.isnan(davis.boxes[0, 0])

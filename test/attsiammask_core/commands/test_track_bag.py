"""`attsiammask track --bag`: bags written by the test (sqlite3 and MCAP, raw and compressed images) tracked
offline, the written bag read back, and the errors for a missing topic, an unknown encoding and a corrupt bag."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags not installed: make setup installs it")
from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

from attsiammask_core.bag import VISION_MSGS, typestore  # noqa: E402
from attsiammask_core.bench import synthetic_sequence  # noqa: E402
from attsiammask_core.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
TOPIC = "/camera/image_raw"
T0 = 1_700_000_000 * 10**9


def write_bag(path: Path, frames: list[np.ndarray], mcap: bool = False, compressed: bool = False,
              encoding: str = "bgr8") -> list[int]:
    """A rosbag2 with one image topic; returns the header stamps (ns)."""
    store = typestore()
    t = store.types
    kind = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    stamps = []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP if mcap else StoragePlugin.SQLITE3) as writer:
        connection = writer.add_connection(TOPIC if not compressed else TOPIC + "/compressed", kind, typestore=store)
        for i, frame in enumerate(frames):
            stamp = T0 + i * 50_000_000
            header = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                                                     nanosec=stamp % 10**9),
                                              frame_id="camera")
            if compressed:
                data = np.frombuffer(cv2.imencode(".jpg", frame)[1].tobytes(), np.uint8)
                msg = t[kind](header=header, format="jpeg", data=data)
            else:
                msg = t[kind](header=header, height=frame.shape[0], width=frame.shape[1], encoding=encoding,
                              is_bigendian=0, step=frame.shape[1] * 3, data=frame.reshape(-1))
            writer.write(connection, stamp + 1000, store.serialize_cdr(msg, kind))
            stamps.append(stamp)
    return stamps


@pytest.fixture(scope="module")
def clip():
    frames, box = synthetic_sequence(12, (320, 240))
    return frames, box


def _read(path: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    with AnyReader([path], default_typestore=typestore()) as reader:
        for connection, when, raw in reader.messages():
            out.setdefault(connection.topic, []).append((when, reader.deserialize(raw, connection.msgtype)))
    return out


@pytest.mark.parametrize("mcap, compressed", [(False, False), (True, False), (True, True)])
def test_bag_round_trip(tmp_path, clip, mcap, compressed, capsys):
    frames, box = clip
    stamps = write_bag(tmp_path / "in", frames, mcap=mcap, compressed=compressed)
    topic = TOPIC + ("/compressed" if compressed else "")
    args = ["track", "--bag", str(tmp_path / "in"), "--topic", topic, "--box", ",".join(map(str, box)),
            "--stamp", f"{stamps[2] // 10**9}.{stamps[2] % 10**9:09d}", "--out", str(tmp_path / "out"),
            "--namespace", "/tracker"]
    assert main(args) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["state"] for r in records[:3]] == ["idle", "idle", "init"] and len(records) == len(frames)
    assert all(r["state"] == "tracking" for r in records[3:])
    assert records[2]["stamp"] == f"{stamps[2] // 10**9}.{stamps[2] % 10**9:09d}"
    written = _read(tmp_path / "out" / "bag")
    assert sorted(written) == sorted([topic, "/tracker/detection", "/tracker/detections", "/tracker/mask",
                                      "/tracker/confidence"])
    assert len(written[topic]) == len(frames) and len(written["/tracker/confidence"]) == len(frames)
    arrays = written["/tracker/detections"]  # every tracked frame, the one target in it with the detection's id
    assert len(arrays) == len(frames) - 3 and all(len(a.detections) == 1 for _, a in arrays)
    assert {a.detections[0].id for _, a in arrays} == {d.id for _, d in written["/tracker/detection"]}
    detections = written["/tracker/detection"]
    assert len(detections) == len(frames) - 3 and len(written["/tracker/mask"]) == len(frames) - 3
    for (when, det), record in zip(detections, records[3:], strict=True):
        x, y, w, h = record["box"]
        assert det.bbox.center.position.x == pytest.approx(x + w / 2, abs=1e-3)
        assert det.bbox.size_x == pytest.approx(w, abs=1e-3)
        stamp = det.header.stamp.sec * 10**9 + det.header.stamp.nanosec
        assert when == stamp + 1000 and det.results[0].hypothesis.class_id == "target"
    confidences = [m.data for _, m in written["/tracker/confidence"]]
    assert confidences[:3] == [0.0, 0.0, 0.0] and min(confidences[3:]) > 0
    mask = written["/tracker/mask"][-1][1]
    assert (mask.encoding, mask.height, mask.width) == ("mono8", 240, 320) and set(np.unique(mask.data)) <= {0, 255}
    assert (tmp_path / "out" / "bag" / "metadata.yaml").is_file()
    assert any((tmp_path / "out" / "bag").glob("*.mcap" if mcap else "*.db3"))


def test_bag_errors(tmp_path, clip, capsys):
    frames, box = clip
    write_bag(tmp_path / "in", frames[:3])
    base = ["track", "--box", ",".join(map(str, box))]
    assert main([*base, "--bag", str(tmp_path / "in"), "--topic", "/nope", "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert "no topic '/nope'" in err and f"{TOPIC} (sensor_msgs/msg/Image)" in err
    write_bag(tmp_path / "odd", frames[:3], encoding="32FC1")
    assert main([*base, "--bag", str(tmp_path / "odd"), "--topic", TOPIC, "--out", str(tmp_path / "o2")]) == 2
    assert "message 0 on /camera/image_raw" in capsys.readouterr().err
    broken = tmp_path / "broken"
    write_bag(broken, frames[:3])
    for db in broken.glob("*.db3"):
        db.write_bytes(b"not a database" * 10)
    assert main([*base, "--bag", str(broken), "--topic", TOPIC, "--out", str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the bag" in err or "corrupt bag" in err, err
    assert main([*base, "--bag", str(tmp_path / "missing"), "--topic", TOPIC, "--out", str(tmp_path / "o4")]) == 2
    assert "bag not found" in capsys.readouterr().err
    assert main([*base, "--bag", str(tmp_path / "in"), "--topic", TOPIC, "--stamp", "5.0",
                 "--out", str(tmp_path / "o5")]) == 2
    assert "no image on /camera/image_raw is stamped 5.000000000" in capsys.readouterr().err


def test_vision_msgs_definitions_equal_the_interface_package():
    folder = REPO / "interfaces" / "vision_msgs_fallback" / "msg"
    for name, text in VISION_MSGS.items():
        lines = [line for line in (folder / f"{name.rsplit('/', 1)[1]}.msg").read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        assert lines == text.splitlines(), name
    # rosbags computes the same type hash as ROS for these definitions (the upstream value, test/interfaces)
    assert typestore().hash_rihs01("vision_msgs/msg/Detection2D") == (
        "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea")


def test_bag_several_targets(tmp_path, clip, capsys):
    """--box repeated with --id: each target under its id in detections, the first in detection, a label image."""
    frames, box = clip
    write_bag(tmp_path / "in", frames, mcap=True, compressed=False)
    other = (box[0] + 40, box[1] + 30, box[2], box[3])
    args = ["track", "--bag", str(tmp_path / "in"), "--topic", TOPIC, "--box", ",".join(map(str, box)),
            "--id", "first", "--box", ",".join(map(str, other)), "--id", "second", "--out", str(tmp_path / "out")]
    assert main(args) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records[:2]] == ["first", "second"] and records[0]["state"] == "init"
    assert len(records) == 2 * len(frames)
    written = _read(tmp_path / "out" / "bag")
    assert {d.id for _, d in written["/detection"]} == {"first"}
    arrays = written["/detections"]
    assert len(arrays) == len(frames) - 1
    for _, array in arrays:
        assert [d.id for d in array.detections] in (["first", "second"], ["first"], ["second"], [])
    labels = written["/masks"]
    assert len(labels) == len(frames) - 1 and labels[-1][1].encoding == "mono8"
    assert set(np.unique(labels[-1][1].data)) <= {0, 1, 2}
    assert main([*args[:-2], "--id", "third", "--out", str(tmp_path / "o2")]) == 2
    assert "one --id per --box" in capsys.readouterr().err

"""Bad-input matrix of tracker_node through real rclpy (issue 7 part 1): 79 cases, one table, one test.

Every input arrives as it would in use: set_target requests over the service, Detection2D hand-offs on
`target`, images on `image` or `image/compressed`, changes over the node's parameter services, and
model.weights at start-up (in-process and through the installed executable). Each case asserts its expected
outcome (a failed response naming the problem, a log line, a counter, a start-up error), then that the node is
alive and unchanged: its inference thread runs, it processes new frames and goes on publishing detections of
the same track, and its target, track id, state, parameters and tracker config are what they were. Start-up
cases assert that the failed node leaves nothing behind and that a node already running is unaffected.

Unusual but valid inputs (16-bit, 4-channel, padded rows, 16-bit and 4-channel PNG) are in the table too:
their expected outcome is a detection for that very frame. Warnings are throttled per kind of text (tested
in test_tracker_node.py); each case starts with a fresh throttle so its own line shows.
"""
from __future__ import annotations

import math
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
import cv2  # noqa: E402
import torch  # noqa: E402
from compressed_samples import png_declaring  # noqa: E402
from node_harness import (  # noqa: E402
    HW,
    SEC,
    TARGET,
    Harness,
    compressed_message,
    frame_message,
    jpeg,
    keep_publishing,
    stamp_ns_of,
    wait_for,
)
from node_harness import request as box_request  # noqa: E402
from rcl_interfaces.srv import SetParameters, SetParametersAtomically  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from vision_msgs.msg import Detection2D  # noqa: E402

from attsiammask_core.weights import embedded_weights_path  # noqa: E402
from attsiammask_ros import parameters as params  # noqa: E402
from attsiammask_ros.tracker_node import StartupError, TrackerNode, WarningThrottle  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """One input and its expected outcome. ``make`` builds the input from the case's fixture; ``words`` must be in
    the response / reason / error / last bad image; ``log`` (if any) must be in one line of the node's log."""

    id: str
    kind: str
    make: Callable[[Any], Any]
    words: str
    log: str | None = None


# ---- inputs -------------------------------------------------------------------------------------------------
def image(h: Harness, **fields: Any):
    """A good 160x120 bgr8 frame with the next stamp, then ``fields`` set on the message."""
    msg = frame_message(100, h.next_stamp())
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def encoded(h: Harness, pixels: np.ndarray, encoding: str, step: int | None = None, bigendian: bool = False):
    """``pixels`` (H x W x C, uint8 or uint16) as an Image of ``encoding``, rows padded to ``step`` bytes."""
    msg = image(h)
    rows = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<")).reshape(pixels.shape[0], -1)
    raw = rows.view(np.uint8)
    step = raw.shape[1] if step is None else step
    padded = np.zeros((raw.shape[0], step), np.uint8)
    padded[:, :raw.shape[1]] = raw
    msg.encoding, msg.step, msg.is_bigendian = encoding, step, int(bigendian)
    msg.height, msg.width = pixels.shape[:2]
    msg.data = padded.tobytes()
    return msg


def grey(value: int, channels: int = 1, dtype: type = np.uint8) -> np.ndarray:
    return np.full((*HW, channels), value, dtype)


def png(pixels: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return data.tobytes()


def stamp_in_future(h: Harness):
    return box_request(*TARGET, stamp_ns=max(h.node._frames.stamps()) + 5 * SEC)


def stamp_between_frames(h: Harness):
    return box_request(*TARGET, stamp_ns=sorted(h.node._frames.stamps())[-2] + SEC // 60)


def stamp_evicted(h: Harness):
    """The stamp of the harness's first frame, once streaming has pushed it out of the buffer."""
    h.streaming = True
    assert wait_for(lambda: h.first_stamp not in h.node._frames.stamps(), 10.0), "first frame never evicted"
    h.streaming = False
    return box_request(*TARGET, stamp_ns=h.first_stamp)


def stamp_of_undecodable_image(h: Harness):
    msg = image(h, encoding="32FC1")
    stamp = stamp_ns_of(msg)
    assert keep_publishing(lambda: h.image_pub.publish(msg), lambda: stamp in h.node._frames.stamps())
    return box_request(*TARGET, stamp_ns=stamp)


def detection(cx: float, cy: float, w: float, h: float, stamp_ns: int = 0) -> Detection2D:
    msg = Detection2D()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SEC)
    msg.bbox.center.position.x, msg.bbox.center.position.y = cx, cy
    msg.bbox.size_x, msg.bbox.size_y = w, h
    return msg


class Exploit:
    """Unpickling this would call open(marker, 'w'), creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@dataclass
class WeightFiles:
    folder: Path
    marker: Path

    def __call__(self, name: str) -> str:
        return str(self.folder / name)


def _truncated(data: bytes) -> bytes:
    return data[:len(data) // 2]


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory) -> WeightFiles:
    folder = tmp_path_factory.mktemp("weights")
    files = WeightFiles(folder, folder / "pwned")
    torch.save({"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}, folder / "whole.pth")
    (folder / "truncated.pth").write_bytes(_truncated((folder / "whole.pth").read_bytes()))
    (folder / "truncated.pt").write_bytes(_truncated(embedded_weights_path("lite").read_bytes()))
    (folder / "empty.pth").write_bytes(b"")
    (folder / "text.pth").write_text("this is not a checkpoint\n")
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8, 2)).state_dict(),
               folder / "other_architecture.pth")
    torch.save({"format": "attsiammask-weights", "format_version": "2", "metadata": {"variant": "r50"},
                "state_dict": {"backbone.conv1.weight": torch.zeros(2)}}, folder / "r50_labelled.pt")
    header = b'{"__metadata__": {"variant": "lite"}}'  # a safetensors file (weights format 1)
    (folder / "format1.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    torch.save(Exploit(files.marker), folder / "evil.pth")
    (folder / "evil_raw.pth").write_bytes(pickle.dumps(Exploit(files.marker), protocol=2))
    torch.save({"state_dict": {"backbone.conv1.weight": torch.zeros(1)}, "x": Exploit(files.marker)},
               folder / "evil_wrapped.pth")
    assert not files.marker.exists()
    return files


# ---- the table ----------------------------------------------------------------------------------------------
def _set_target(id_: str, box: tuple[float, float, float, float], words: str) -> Case:
    return Case(id_, "set_target", lambda h: box_request(*box), words)


def _bad_image(id_: str, make: Callable[[Harness], Any], words: str) -> Case:
    return Case(id_, "bad_image", make, words, log=f"dropped an image: {words}")


def _parameter(id_: str, updates: list[tuple[str, Any]], reason: str, log: str) -> Case:
    return Case(id_, "parameter", lambda h: updates, reason, log=f"rejected parameter change: {log}")


def _weights(id_: str, name: str, words: str) -> Case:
    return Case(id_, "startup", lambda files: files(name), words)


CASES = [
    # set_target over the service: success=false, a message saying what to fix, the current target kept
    _set_target("set_target-nan-centre", (math.nan, 60.0, 40.0, 30.0), "box is not finite"),
    _set_target("set_target-inf-size", (80.0, 60.0, math.inf, 30.0), "box is not finite"),
    _set_target("set_target-minus-inf-y", (80.0, -math.inf, 40.0, 30.0), "box is not finite"),
    _set_target("set_target-zero-size", (80.0, 60.0, 0.0, 30.0), "below the minimum of 4 px per side"),
    _set_target("set_target-negative-size", (80.0, 60.0, -40.0, -30.0), "below the minimum of 4 px per side"),
    _set_target("set_target-3px-wide", (80.0, 60.0, 3.0, 30.0), "below the minimum of 4 px per side"),
    _set_target("set_target-outside-right", (500.0, 60.0, 40.0, 30.0), "does not overlap the 160x120 image"),
    _set_target("set_target-outside-above", (80.0, -100.0, 40.0, 30.0), "does not overlap the 160x120 image"),
    _set_target("set_target-2px-inside", (-18.0, 60.0, 40.0, 30.0), "only 2 x 30 px of the box lie inside"),
    _set_target("set_target-huge", (80.0, 60.0, 1e9, 1e9), "more than 2 times the 160x120 image"),
    Case("set_target-stamp-in-future", "set_target", stamp_in_future, "newer than every buffered image"),
    Case("set_target-stamp-evicted", "set_target", stamp_evicted, "older than every buffered image (evicted"),
    Case("set_target-stamp-between-frames", "set_target", stamp_between_frames, "lies between buffered images"),
    Case("set_target-stamp-negative", "set_target", lambda h: box_request(*TARGET, stamp_ns=-5 * SEC),
         "older than every buffered image"),
    Case("set_target-stamp-of-undecodable-image", "set_target", stamp_of_undecodable_image,
         "cannot be decoded: unsupported image encoding '32FC1'"),
    Case("set_target-no-image-yet", "no_image", lambda h: h.call(h.set_target, box_request(*TARGET)).message,
         "no image received yet on /bim_set_target_no_image_yet/image"),
    # hand-off on the target topic: a warning line, the current target kept
    Case("target-topic-nan", "target_topic", lambda h: detection(math.nan, 60.0, 40.0, 30.0), "box is not finite"),
    Case("target-topic-stamp-in-future", "target_topic",
         lambda h: detection(*TARGET, stamp_ns=max(h.node._frames.stamps()) + 5 * SEC), "newer than every buffered"),
    Case("target-topic-no-image-yet", "no_image", lambda h: detection(*TARGET),
         "ignored a target message on /bim_target_topic_no_image_yet/target: no image received yet"),
    # raw images the node cannot read: dropped, counted, logged
    _bad_image("image-step-too-small", lambda h: image(h, step=479), "step 479 is smaller than width x bytes per "
               "pixel = 160 x 3 = 480"),
    _bad_image("image-step-beyond-data", lambda h: image(h, step=496), "image data truncated: 57600 bytes, expected "
               "step x height = 496 x 120"),
    _bad_image("image-truncated-data", lambda h: image(h, data=bytes(100)), "image data truncated: 100 bytes"),
    _bad_image("image-empty-data", lambda h: image(h, data=b""), "image data truncated: 0 bytes"),
    _bad_image("image-zero-width", lambda h: image(h, width=0), "image has zero size (0x120)"),
    _bad_image("image-zero-height", lambda h: image(h, height=0), "image has zero size (160x0)"),
    _bad_image("image-absurd-size", lambda h: image(h, width=100_000, height=100_000, step=300_000),
               "image data truncated"),
    _bad_image("image-unknown-encoding", lambda h: image(h, encoding="32FC1"), "unsupported image encoding '32FC1'"),
    _bad_image("image-empty-encoding", lambda h: image(h, encoding=""), "unsupported image encoding ''"),
    _bad_image("image-4-channel-with-3-channel-step", lambda h: image(h, encoding="rgba8"),
               "step 480 is smaller than width x bytes per pixel = 160 x 4 = 640"),
    _bad_image("image-16-bit-truncated", lambda h: image(h, encoding="mono16", step=320, data=bytes(320 * 60)),
               "image data truncated: 19200 bytes, expected step x height = 320 x 120 = 38400"),
    _bad_image("image-yuv422-odd-width", lambda h: encoded(h, grey(100, 2)[:, :159], "yuv422"),
               "yuv422 (YUV 4:2:2) needs an even width, got 159"),
    _bad_image("image-bayer-1x1", lambda h: encoded(h, grey(100)[:1, :1], "bayer_rggb8"),
               "bayer_rggb8 needs at least 2x2 pixels, got 1x1"),
    # unusual but valid raw images: decoded and tracked (a detection for that very frame)
    Case("image-mono16", "good_image", lambda h: encoded(h, grey(100 << 8, dtype=np.uint16), "mono16"), ""),
    Case("image-mono16-big-endian", "good_image",
         lambda h: encoded(h, grey(100 << 8, dtype=np.uint16), "16UC1", bigendian=True), ""),
    Case("image-bgr16", "good_image", lambda h: encoded(h, grey(100 << 8, 3, np.uint16), "bgr16"), ""),
    Case("image-bgra8-4-channel", "good_image", lambda h: encoded(h, grey(100, 4), "bgra8"), ""),
    Case("image-rgba8-padded-rows", "good_image", lambda h: encoded(h, grey(100, 4), "rgba8", step=160 * 4 + 12), ""),
    # image size changes mid-track
    Case("image-size-doubles-mid-track", "size_change", lambda h: (240, 320), "to 320x240: track {track_id} "
         "re-initialised on the box scaled to"),
    Case("image-size-shrinks-to-2x2-mid-track", "size_change", lambda h: (2, 2), "to 2x2: track {track_id} cannot go "
         "on, its box scaled to the new size is refused (box size"),
    # compressed images (input.transport compressed)
    Case("compressed-corrupt-jpeg", "bad_compressed", lambda h: compressed_message(b"\xff\xd8 not a jpeg", 0),
         "cannot decode compressed image (format 'jpeg', 13 bytes)"),
    Case("compressed-truncated-jpeg", "bad_compressed",
         lambda h: compressed_message(_truncated(jpeg(grey(90, 3))), 0), "cannot decode compressed image"),
    Case("compressed-empty", "bad_compressed", lambda h: compressed_message(b"", 0),
         "compressed image is empty (format 'jpeg')"),
    Case("compressed-text-as-png", "bad_compressed", lambda h: compressed_message(b"hello", 0, "png"),
         "cannot decode compressed image (format 'png', 5 bytes)"),
    Case("compressed-png-bomb-header", "bad_compressed", lambda h: compressed_message(png_declaring(9000, 8000), 0,
                                                                                   "png"),
         "compressed image declares 9000x8000 pixels"),
    Case("compressed-png-16-bit", "good_compressed", lambda h: png(grey(90 << 8, 1, np.uint16)), ""),
    Case("compressed-png-4-channel", "good_compressed", lambda h: png(grey(90, 4)), ""),
    Case("compressed-png-grey", "good_compressed", lambda h: png(grey(90)), ""),
    # parameter changes over the parameter services: refused, a log line, the old value kept
    _parameter("param-lr-string", [("tracking.lr", "fast")], "Wrong parameter type",
               "tracking.lr must be a double, got str 'fast'"),
    _parameter("param-lost-frames-double", [("tracking.lost_frames", 2.5)], "Wrong parameter type",
               "tracking.lost_frames must be an integer, got float 2.5"),
    _parameter("param-class-id-integer", [("target.class_id", 5)], "Wrong parameter type",
               "target.class_id must be a string, got int 5"),
    _parameter("param-publish-mask-string", [("output.publish_mask", "yes")], "Wrong parameter type",
               "output.publish_mask must be a bool"),
    _parameter("param-lr-zero", [("tracking.lr", 0.0)], "tracking.lr must be in (0.0, 1.0]",
               "tracking.lr must be in (0.0, 1.0]; got 0.0"),
    _parameter("param-lr-above-range", [("tracking.lr", 3.0)], "out of range", "tracking.lr must be in (0.0, 1.0]"),
    _parameter("param-window-influence-nan", [("tracking.window_influence", math.nan)], "out of range",
               "tracking.window_influence must be finite"),
    _parameter("param-lost-threshold-inf", [("tracking.lost_threshold", math.inf)], "out of range",
               "tracking.lost_threshold must be finite"),
    _parameter("param-lost-frames-zero", [("tracking.lost_frames", 0)], "out of range",
               "tracking.lost_frames must be in [1, 1000]"),
    _parameter("param-frame-buffer-huge", [("target.frame_buffer", 100_000)], "out of range",
               "target.frame_buffer must be in [1, 300]"),
    _parameter("param-mask-threshold-one", [("tracking.mask_threshold", 1.0)], "tracking.mask_threshold must be in "
               "[0.0, 1.0)", "tracking.mask_threshold must be in [0.0, 1.0)"),
    _parameter("param-stamp-tolerance-negative", [("target.stamp_tolerance_ms", -1.0)], "out of range",
               "target.stamp_tolerance_ms must be in [0.0, 10000.0]"),
    _parameter("param-weights-at-run-time", [("model.weights", "/tmp/other.pth")], "read-only",
               "model.weights is read-only after start-up"),
    _parameter("param-variant-at-run-time", [("model.variant", "r50")], "read-only",
               "model.variant is read-only after start-up"),
    _parameter("param-transport-at-run-time", [("input.transport", "compressed")], "read-only",
               "input.transport is read-only after start-up"),
    _parameter("param-undeclared", [("tracking.speed", 2.0)], "undeclared", "unknown parameter 'tracking.speed'"),
    _parameter("param-undeclare-lr", [("tracking.lr", None)], "Static parameter cannot be undeclared",
               "tracking.lr must be a double, got NoneType None"),
    _parameter("param-atomic-good-and-bad", [("tracking.lr", 0.5), ("tracking.lost_frames", 0)], "out of range",
               "tracking.lost_frames must be in [1, 1000]"),
    # model.weights at start-up: StartupError naming the file and the problem, nothing left running
    _weights("weights-missing", "missing.pt", "weights file not found"),
    _weights("weights-a-directory", ".", "weights file not found"),
    _weights("weights-empty-file", "empty.pth", "not a readable torch checkpoint"),
    _weights("weights-text-file", "text.pth", "not a readable torch checkpoint"),
    _weights("weights-truncated-pth", "truncated.pth", "not a readable torch checkpoint, truncated or corrupt?"),
    _weights("weights-truncated-ours", "truncated.pt", "not a readable torch checkpoint, truncated or corrupt?"),
    _weights("weights-safetensors-format-1", "format1.safetensors", "weights format 1"),
    _weights("weights-other-architecture", "other_architecture.pth", "does not fit the model"),
    _weights("weights-labelled-r50-for-lite", "r50_labelled.pt", "holds weights of variant 'r50', not "
             "'lite'"),
    _weights("weights-pickle-that-runs-code", "evil.pth", "refused, the file holds pickled objects"),
    _weights("weights-raw-pickle-that-runs-code", "evil_raw.pth", "refused, the file holds pickled objects"),
    _weights("weights-wrapped-pickle-that-runs-code", "evil_wrapped.pth", "refused, the file holds pickled objects"),
    Case("weights-not-a-string", "startup", lambda files: 5, "invalid parameters: model.weights"),
    Case("weights-pickle-that-runs-code-executable", "executable", lambda files: files("evil.pth"),
         "refused, the file holds pickled objects"),
]

# ---- fixtures -----------------------------------------------------------------------------------------------
def _tracking_harness(context, namespace: str, overrides: dict | None = None) -> Harness:
    """A harness whose node tracks TARGET (camera paused); ``first_stamp``: its first buffered frame."""
    h = Harness(context, namespace, overrides=overrides)
    h.streaming = True
    assert wait_for(lambda: len(h.node._frames) > 0), "no image arrived"
    h.first_stamp = h.node._frames.stamps()[0]
    response = h.call(h.set_target, box_request(*TARGET))
    assert response.success, response.message
    assert wait_for(lambda: any(d.id == response.track_id for d in h.detections)), "no detection"
    h.streaming = False
    return h


@pytest.fixture(scope="module")
def raw(context):
    h = _tracking_harness(context, "/bim_raw")
    assert wait_for(lambda: h.target_pub.get_subscription_count() > 0)
    yield h
    h.close()


@pytest.fixture(scope="module")
def compressed(context):
    h = _tracking_harness(context, "/bim_compressed", {"input.transport": "compressed"})
    yield h
    h.close()


class Log:
    """What this process wrote to stderr during the test (rclpy logs there), read as it grows."""

    def __init__(self, capfd) -> None:
        self.capfd, self.text = capfd, ""

    def has_line(self, words: str) -> bool:
        self.text += self.capfd.readouterr().err
        return any(words in line for line in self.text.splitlines())

    def wait_line(self, words: str, timeout: float = 5.0) -> bool:
        return wait_for(lambda: self.has_line(words), timeout)


# ---- state before and after ---------------------------------------------------------------------------------
def snapshot(node: TrackerNode) -> dict:
    target = node.target
    return {"target": None if target is None else (target.track_id, target.stamp_ns, target.image_hw),
            "state": node.state, "settings": node.settings,
            "parameters": {spec.name: node.get_parameter(spec.name).value for spec in params.SPECS},
            "config": node.tracker.config}


def assert_alive(h: Harness, track_id: str | None) -> None:
    """The inference thread runs, two more frames get processed, and (with a target) its track is published."""
    assert h.node._thread.is_alive(), "the inference thread died"
    processed, seen = h.node.stats.processed, len(h.detections)
    h.streaming = True
    try:
        assert wait_for(lambda: h.node.stats.processed >= processed + 2, 10.0), "the node stopped processing"
        if track_id is not None:
            assert wait_for(lambda: any(d.id == track_id for d in h.detections[seen:]), 10.0), "tracking stopped"
    finally:
        h.streaming = False


def check_unchanged(h: Harness, run: Callable[[], None]) -> None:
    """Run a case on a tracking node: afterwards it is alive and nothing of its state has changed."""
    h.node._warnings = WarningThrottle()
    before = snapshot(h.node)
    run()
    assert_alive(h, before["target"][0])
    assert snapshot(h.node) == before


# ---- runners, one per kind ----------------------------------------------------------------------------------
def run_set_target(case: Case, fixture, log: Log) -> None:
    h = fixture("raw")

    def run() -> None:
        response = h.call(h.set_target, case.make(h))
        assert not response.success and response.track_id == ""
        assert case.words in response.message, response.message

    check_unchanged(h, run)


def run_target_topic(case: Case, fixture, log: Log) -> None:
    h = fixture("raw")

    def run() -> None:
        msg = case.make(h)
        assert keep_publishing(lambda: h.target_pub.publish(msg),
                               lambda: log.has_line("ignored a target message on /bim_raw/target: ")), log.text
        assert log.has_line(case.words), log.text

    check_unchanged(h, run)


def run_no_image(case: Case, fixture, log: Log) -> None:
    """A fresh node that has received no image: the call or message fails, the node stays idle and alive."""
    h = Harness(fixture("context"), "/bim_" + case.id.replace("-", "_"))
    try:
        assert wait_for(lambda: h.target_pub.get_subscription_count() > 0)
        outcome = case.make(h)
        if isinstance(outcome, str):  # a service's answer
            assert case.words in outcome, outcome
        else:  # a message for the target topic: a log line
            assert keep_publishing(lambda: h.target_pub.publish(outcome), lambda: log.has_line(case.words)), log.text
        assert h.node.target is None and h.node.state == "idle" and len(h.node._frames) == 0
        assert_alive(h, None)
        assert h.call(h.set_target, box_request(*TARGET)).success, "it accepts a target once images arrive"
    finally:
        h.close()


def run_bad_image(case: Case, fixture, log: Log) -> None:
    h = fixture("raw")

    def run() -> None:
        bad = h.node.stats.bad_images
        msg = case.make(h)
        assert keep_publishing(lambda: h.image_pub.publish(msg), lambda: h.node.stats.bad_images > bad)
        assert case.words in h.node.stats.last_bad_image, h.node.stats.last_bad_image
        assert log.has_line(case.log), log.text

    check_unchanged(h, run)


def _detected(h: Harness, stamp: int) -> Callable[[], bool]:
    return lambda: any(stamp_ns_of(d) == stamp for d in h.detections)


def run_good_image(case: Case, fixture, log: Log) -> None:
    h = fixture("raw")

    def run() -> None:
        bad = h.node.stats.bad_images
        msg = case.make(h)
        assert keep_publishing(lambda: h.image_pub.publish(msg), _detected(h, stamp_ns_of(msg)))
        assert h.node.stats.bad_images == bad

    check_unchanged(h, run)


def run_size_change(case: Case, fixture, log: Log) -> None:
    """Bigger: re-initialised on the scaled box, same track, then back. Too small for the box: the target is
    dropped with a warning asking for a new one (idle), and a new set_target tracks again."""
    h = fixture("raw")
    h.node._warnings = WarningThrottle()
    track_id, reinitialised = h.node.target.track_id, h.node.stats.reinitialised
    h.hw = case.make(h)
    h.streaming = True
    try:
        assert log.wait_line(case.words.format(track_id=track_id)), log.text
        if h.hw == (240, 320):
            assert wait_for(lambda: h.detections[-1].bbox.center.position.x == pytest.approx(160.0, abs=2.0)
                            and h.detections[-1].id == track_id and h.masks[-1].width == 320)
            assert h.node.state == "tracking" and h.node.stats.reinitialised == reinitialised + 1
        else:
            assert wait_for(lambda: h.node.target is None and h.node.state == "idle"
                            and h.confidences and h.confidences[-1] == 0.0)
    finally:
        h.hw = HW
        h.streaming = False
    if h.node.target is None:
        assert_alive(h, None)
        response = h.call(h.set_target, box_request(*TARGET))
        assert response.success, response.message
        track_id = response.track_id
    assert_alive(h, track_id)
    assert h.node.target.image_hw == HW and h.node.state == "tracking"


def run_bad_compressed(case: Case, fixture, log: Log) -> None:
    h = fixture("compressed")

    def run() -> None:
        bad = h.node.stats.bad_images
        msg = case.make(h)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(h.next_stamp(), SEC)
        assert keep_publishing(lambda: h.compressed_pub.publish(msg), lambda: h.node.stats.bad_images > bad)
        assert case.words in h.node.stats.last_bad_image, h.node.stats.last_bad_image
        assert log.has_line(f"dropped an image: {case.words}"), log.text

    check_unchanged(h, run)


def run_good_compressed(case: Case, fixture, log: Log) -> None:
    h = fixture("compressed")

    def run() -> None:
        bad, stamp = h.node.stats.bad_images, h.next_stamp()
        msg = compressed_message(case.make(h), stamp, "png")
        assert keep_publishing(lambda: h.compressed_pub.publish(msg), _detected(h, stamp))
        assert h.node.stats.bad_images == bad

    check_unchanged(h, run)


def run_parameter(case: Case, fixture, log: Log) -> None:
    """Through the node's parameter services, as another process (ros2 param set) would."""
    h = fixture("raw")
    name = h.node.get_fully_qualified_name()
    updates = [Parameter(n, value=v).to_parameter_msg() for n, v in case.make(h)]

    def run() -> None:
        if len(updates) == 1:
            client = h.client.create_client(SetParameters, f"{name}/set_parameters")
            request = SetParameters.Request(parameters=updates)
        else:
            client = h.client.create_client(SetParametersAtomically, f"{name}/set_parameters_atomically")
            request = SetParametersAtomically.Request(parameters=updates)
        try:
            assert wait_for(client.service_is_ready, 10.0)
            response = h.call(client, request)
        finally:
            h.client.destroy_client(client)
        (result,) = response.results if len(updates) == 1 else [response.result]
        assert not result.successful and case.words in result.reason, result.reason
        assert log.wait_line(case.log), log.text

    check_unchanged(h, run)


def _startup_leaves_nothing_behind(h: Harness, namespace: str) -> None:
    assert wait_for(lambda: ("attsiammask_tracker", namespace) not in h.client.get_node_names_and_namespaces(), 5.0)
    check_unchanged(h, lambda: None)  # the node already running goes on


def run_startup(case: Case, fixture, log: Log) -> None:
    """model.weights (with the production build_tracker: Tracker.create) at start-up: StartupError."""
    files, context = fixture("weight_files"), fixture("context")
    with pytest.raises(StartupError) as info:
        TrackerNode(context=context, namespace="/bim_startup",
                    parameter_overrides=[Parameter("model.weights", value=case.make(files))])
    assert case.words in str(info.value), str(info.value)
    if isinstance(case.make(files), str):
        assert f"model.weights='{case.make(files)}'" in str(info.value)
    assert not files.marker.exists(), "unpickling ran code"
    _startup_leaves_nothing_behind(fixture("raw"), "/bim_startup")


def run_executable(case: Case, fixture, log: Log) -> None:
    """The installed tracker_node exits 1 with the reason on stderr, no traceback, and nothing was run."""
    ament_index = pytest.importorskip("ament_index_python.packages", reason="run `make setup`")
    exe = Path(ament_index.get_package_prefix("attsiammask_ros")) / "lib" / "attsiammask_ros" / "tracker_node"
    files = fixture("weight_files")
    done = subprocess.run([sys.executable, str(exe), "--ros-args", "-r", "__ns:=/bim_exe", "-p",
                           f"model.weights:={case.make(files)}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "cannot start: cannot build the tracker" in done.stderr and case.words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not files.marker.exists(), "unpickling ran code"


RUNNERS = {"set_target": run_set_target, "target_topic": run_target_topic, "no_image": run_no_image,
           "bad_image": run_bad_image, "good_image": run_good_image, "size_change": run_size_change,
           "bad_compressed": run_bad_compressed, "good_compressed": run_good_compressed,
           "parameter": run_parameter, "startup": run_startup, "executable": run_executable}


def test_the_table_is_well_formed():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) >= 25
    assert {case.kind for case in CASES} == set(RUNNERS)
    assert f"{len(CASES)} cases" in __doc__


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, request, capfd):
    RUNNERS[case.kind](case, request.getfixturevalue, Log(capfd))

"""target_picker: its request parsing and per-target state (colours, states from /diagnostics), its HTTP routes
against a live tracker node through real rclpy (several targets by id, clear per id and all), and the page in a real
browser: headless Chromium (Debian's, driven by Playwright). The page loads and its frames update; a drag sets the
target on the frame the operator drew on (its stamp and its pixels, checked in the node); a second drag with an id
adds a target, listed in its own colour; clear per id and clear all work; bad drags show the node's error.
Screenshots: outputs/picker/."""
from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
pytest.importorskip("aiohttp", reason="aiohttp not installed: make setup installs it")
import numpy as np  # noqa: E402
from node_harness import HW, Harness, RecordingModel, wait_for  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from attsiammask_core.track_state import TrackState  # noqa: E402
from attsiammask_ros.target_picker import (  # noqa: E402
    PALETTE,
    ColourBook,
    PickerServer,
    TargetPicker,
    set_target_request,
    states_from_diagnostics,
)

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "outputs" / "picker"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_set_target_request_from_the_page():
    req = set_target_request({"x": 10, "y": 20, "w": 30, "h": 40, "stamp": "1700000000.000000123"})
    assert (req.bbox.center.position.x, req.bbox.center.position.y, req.bbox.size_x, req.bbox.size_y) == (
        25.0, 40.0, 30.0, 40.0)
    assert (req.stamp.sec, req.stamp.nanosec) == (1700000000, 123)  # exact: beyond a JavaScript number's 2^53
    for bad in ({"x": 1}, {"x": "a", "y": 0, "w": 1, "h": 1, "stamp": "0.000000000"},
                {"x": 0, "y": 0, "w": 1, "h": 1, "stamp": "-1.000000000"}, {"x": 0, "y": 0, "w": 1, "h": 1,
                                                                            "stamp": 1.5}):
        with pytest.raises(ValueError):
            set_target_request(bad)


def test_set_target_request_carries_a_checked_target_id():
    box = {"x": 10, "y": 20, "w": 30, "h": 40, "stamp": "1.000000000"}
    assert set_target_request(box).target_id == ""  # the single target
    assert set_target_request({**box, "target_id": " cart-2 "}).target_id == "cart-2"
    for bad in ("no/path", "x" * 65, 7):
        with pytest.raises(ValueError, match="target_id"):
            set_target_request({**box, "target_id": bad})


def test_one_colour_per_id_while_it_is_tracked():
    book = ColourBook()
    colours = [book.colour(f"t{k}") for k in range(len(PALETTE))]
    assert len(set(colours)) == len(PALETTE) and book.colour("t3") == colours[3]  # distinct, and stable
    book.keep_only({"t0", "t2"})
    assert book.colour("new") == colours[1]  # the first colour no current id has
    assert book.colour("t2") == colours[2]


def test_states_from_the_trackers_diagnostics():
    assert states_from_diagnostics({"states": "a:tracking b:lost c.1:idle"}) == {
        "a": TrackState.TRACKING, "b": TrackState.LOST, "c.1": TrackState.IDLE}
    assert states_from_diagnostics({"states": "a:flying :lost"}) == {} and states_from_diagnostics({}) == {}


def _post(url: str, body: object) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class UnbatchedModel(RecordingModel):
    """The planted model searches one crop at a time: several targets take one search call each."""

    batched = False


@pytest.fixture
def picker_rig(context):
    h = Harness(context, "/pk_main", model=UnbatchedModel())
    values: dict[int, int] = {}
    counter = {"n": 0}

    def scene() -> np.ndarray:  # every frame a different grey: the template's mean tells which frame was used
        counter["n"] += 1
        value = 40 + (counter["n"] * 7) % 180
        values[h.stamp_ns + 1_000_000_000 // 30] = value  # the stamp next_stamp() is about to give this frame
        return np.full((*HW, 3), value, np.uint8)

    h.scene = scene
    h.streaming = True
    picker = TargetPicker(context=context, namespace="/pk_main", parameter_overrides=[
        Parameter("http.port", value=0), Parameter("stream.max_fps", value=15.0)])
    h.executor.add_node(picker)
    server = PickerServer(picker)
    url = server.start()
    assert url.startswith("http://127.0.0.1:")  # loopback by default
    yield h, picker, url, values
    server.stop()
    picker.destroy_node()
    h.close()


def test_several_targets_by_id_and_clear_per_id_over_http(picker_rig):
    h, picker, url, _ = picker_rig
    assert wait_for(lambda: picker.latest()[0] is not None, 20.0), "no frame reached the picker"
    stamp = picker.latest()[1]["stamp"]
    status, first = _post(url + "set_target", {"x": 20, "y": 20, "w": 40, "h": 30, "stamp": stamp})
    assert status == 200 and first["success"], first
    for target_id, x in (("cart", 90), ("tool", 50)):
        status, answer = _post(url + "set_target", {"x": x, "y": 60, "w": 40, "h": 30, "stamp": stamp,
                                                    "target_id": target_id})
        assert status == 200 and answer["success"] and answer["track_id"] == target_id, answer
    ids = [first["track_id"], "cart", "tool"]
    assert [t.track_id for t in h.node.session.targets] == ids

    def shown() -> list[dict]:
        return picker.latest()[1]["targets"]

    # every target with its colour, its state and (once tracked frames come) its box
    assert wait_for(lambda: [t["id"] for t in shown()] == ids and all(t["box"] for t in shown()), 20.0), shown()
    assert len({t["colour"] for t in shown()}) == 3
    colours = {t["id"]: t["colour"] for t in shown()}
    assert wait_for(lambda: all(t["state"] == "tracking" for t in shown()), 10.0)

    status, bad = _post(url + "set_target", {"x": 0, "y": 0, "w": 9, "h": 9, "stamp": stamp, "target_id": "a b"})
    assert status == 400 and not bad["success"] and "not an id" in bad["message"]
    status, missing = _post(url + "clear_target", {"target_id": "nobody"})
    assert status == 200 and not missing["success"] and "no target has id" in missing["message"]

    status, cleared = _post(url + "clear_target", {"target_id": "cart"})
    assert status == 200 and cleared["success"], cleared
    assert [t.track_id for t in h.node.session.targets] == [ids[0], "tool"]
    assert [t["id"] for t in shown()] == [ids[0], "tool"]
    assert {t["id"]: t["colour"] for t in shown()} == {k: colours[k] for k in (ids[0], "tool")}  # kept theirs
    assert wait_for(lambda: [t["id"] for t in shown()] == [ids[0], "tool"] and picker.latest()[1]["state"]
                    == "tracking", 5.0), "diagnostics brought back a cleared target"

    status, everything = _post(url + "clear_target", {})
    assert status == 200 and everything["success"] and h.node.session.targets == [] and shown() == []
    status, bad = _post(url + "clear_target", [1])
    assert status == 400 and not bad["success"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs Debian's chromium)")
def test_pick_clear_and_bad_drags_in_headless_chromium(picker_rig):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed: make setup")
    h, picker, url, values = picker_rig
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 900, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        # 1. the page loads and its frames update
        page.wait_for_function("Number(document.getElementById('frames').textContent) >= 5", timeout=20000)
        first = page.text_content("#stamp")
        page.wait_for_function(f"document.getElementById('stamp').textContent !== '{first}'", timeout=10000)
        page.screenshot(path=str(SHOTS / "1_loaded.png"))
        canvas = page.locator("#canvas").bounding_box()
        scale = canvas["width"] / HW[1]

        def drag(x0: float, y0: float, x1: float, y1: float) -> str:
            canvas = page.locator("#canvas").bounding_box()  # now: the bar above may have wrapped meanwhile
            before = page.text_content("#answer")
            page.mouse.move(canvas["x"] + x0 * scale, canvas["y"] + y0 * scale)
            page.mouse.down()
            page.mouse.move(canvas["x"] + x1 * scale, canvas["y"] + y1 * scale, steps=4)
            page.mouse.up()
            try:
                page.wait_for_function(f"document.getElementById('answer').textContent !== {before!r}",
                                       timeout=15000)
            except playwright.TimeoutError:
                page.screenshot(path=str(SHOTS / "timeout.png"))
                hit = page.evaluate(f"document.elementFromPoint({canvas['x'] + x0 * scale}, "
                                    f"{canvas['y'] + y0 * scale})?.id")
                raise AssertionError(f"no answer to the drag ({x0}, {y0}) -> ({x1}, {y1}) (errors {errors}; "
                                     f"element there: {hit}, "
                                     f"canvas {canvas}); page: {page.text_content('body')}") from None
            return page.text_content("#answer")

        # 2. a drag sets the target on the frame it was drawn on
        answer = drag(60, 45, 100, 75)
        assert answer.startswith("OK: "), answer
        picked = page.text_content("#picked-stamp")
        sec, nsec = picked.split(".")
        stamp_ns = int(sec) * 10**9 + int(nsec)
        target = h.node.target
        assert target is not None and target.stamp_ns == stamp_ns and target.track_id in answer
        import re

        drawn = re.search(r"box x=([\d.]+) y=([\d.]+) w=([\d.]+) h=([\d.]+)", answer)  # the node's own words
        assert drawn and [float(v) for v in drawn.groups()] == pytest.approx([60.0, 45.0, 40.0, 30.0], abs=1.0)
        assert h.model.template_means[-1] == pytest.approx(values[stamp_ns], abs=0.5)  # that frame's pixels
        assert stamp_ns != h.node._frames.latest()[0]  # the newest frame had moved on: the stamp mattered
        page.wait_for_function("document.getElementById('state').textContent === 'tracking'", timeout=15000)
        page.screenshot(path=str(SHOTS / "2_tracking.png"))
        # 3. a drag with an id adds a second target, listed in its own colour; its own clear removes only it
        page.fill("#target-id", "second")
        answer = drag(20, 20, 50, 50)
        assert answer.startswith("OK: ") and "second" in answer, answer
        assert [t.track_id for t in h.node.session.targets] == [target.track_id, "second"]
        page.wait_for_function("document.querySelectorAll('#targets li').length === 2", timeout=15000)
        colours = page.eval_on_selector_all("#targets li", "items => items.map(i => i.style.borderColor)")
        assert len(set(colours)) == 2, colours
        page.screenshot(path=str(SHOTS / "3_two_targets.png"))
        before = page.text_content("#answer")
        page.click("#targets li[data-id='second'] button.clear-one")
        page.wait_for_function(f"document.getElementById('answer').textContent !== {before!r}", timeout=15000)
        assert page.text_content("#answer").startswith("OK: "), page.text_content("#answer")
        assert [t.track_id for t in h.node.session.targets] == [target.track_id]
        page.wait_for_function("document.querySelectorAll('#targets li').length === 1", timeout=15000)
        page.fill("#target-id", "")
        # 4. clear all works
        before = page.text_content("#answer")
        page.click("#clear")
        page.wait_for_function(f"document.getElementById('answer').textContent !== {before!r}", timeout=15000)
        assert page.text_content("#answer").startswith("OK: ") and h.node.target is None
        page.wait_for_function("document.getElementById('state').textContent === 'idle'", timeout=15000)
        page.screenshot(path=str(SHOTS / "4_cleared.png"))
        # 5. bad drags show the node's own error: no size, and a box that leaves the image
        answer = drag(50, 50, 50, 50)
        assert answer.startswith("refused: box size 0 x 0 px is below the minimum of 4 px"), answer
        answer = drag(157, 117, 250, 200)  # mostly beyond the right and bottom edges
        assert answer.startswith("refused: ") and "lie inside the 160x120 image" in answer, answer
        assert h.node.target is None
        page.screenshot(path=str(SHOTS / "5_refused.png"))
        browser.close()
    assert picker.frame_count >= 5

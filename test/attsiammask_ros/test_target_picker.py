"""target_picker in a real browser: headless Chromium (Debian's, driven by Playwright) against the picker and a
live tracker node through real rclpy. The page loads and its frames update; a drag sets the target on the frame
the operator drew on (its stamp and its pixels, checked in the node); clear works; bad drags show the node's
error. Screenshots: outputs/picker/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: run `make setup` and source env.sh")
pytest.importorskip("attsiammask_interfaces.srv", reason="interfaces not built: run `make setup` and source env.sh")
pytest.importorskip("aiohttp", reason="aiohttp not installed: make setup installs it")
import numpy as np  # noqa: E402
from node_harness import HW, Harness  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from attsiammask_ros.target_picker import PickerServer, TargetPicker, set_target_request  # noqa: E402

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


@pytest.fixture
def picker_rig(context):
    h = Harness(context, "/pk_main")
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
        # 3. clear works
        before = page.text_content("#answer")
        page.click("#clear")
        page.wait_for_function(f"document.getElementById('answer').textContent !== {before!r}", timeout=15000)
        assert page.text_content("#answer").startswith("OK: ") and h.node.target is None
        page.wait_for_function("document.getElementById('state').textContent === 'idle'", timeout=15000)
        page.screenshot(path=str(SHOTS / "3_cleared.png"))
        # 4. bad drags show the node's own error: no size, and a box that leaves the image
        answer = drag(50, 50, 50, 50)
        assert answer.startswith("refused: box size 0 x 0 px is below the minimum of 4 px"), answer
        answer = drag(157, 117, 250, 200)  # mostly beyond the right and bottom edges
        assert answer.startswith("refused: ") and "lie inside the 160x120 image" in answer, answer
        assert h.node.target is None
        page.screenshot(path=str(SHOTS / "4_refused.png"))
        browser.close()
    assert picker.frame_count >= 5

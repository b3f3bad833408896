"""The node's upstream-loss report (attsiammask_ros.upstream_loss): diagnostics values and the throttled warning."""
from __future__ import annotations

from attsiammask_core.stream_loss import StreamLoss
from attsiammask_ros.upstream_loss import WARN_MIN_FRAMES, UpstreamLoss, loss_warning

PERIOD = 33_333_333


def test_warning_names_the_profile_and_the_variable_only_when_the_loss_is_high():
    text = loss_warning(StreamLoss(received=40, lost=60, period_ms=33.3), "/camera/image")
    assert text is not None and "60% of the frames on /camera/image" in text
    assert "FASTDDS_DEFAULT_PROFILES_FILE" in text and "fastdds_large_images.xml" in text
    assert "camera driver's process" in text
    assert loss_warning(StreamLoss(received=95, lost=5, period_ms=33.3), "image") is None      # 5%: fine
    assert loss_warning(StreamLoss(received=5, lost=WARN_MIN_FRAMES - 6, period_ms=33.3), "image") is None  # few


def test_values_and_one_warning_per_period():
    upstream, warnings = UpstreamLoss(), []
    for k in range(300):  # one of every three frames lost (a regular pattern of gaps 1, 2, 1, 2, ... periods)
        if k % 3 != 2:
            upstream.add(k * PERIOD)
    values = upstream.values("image", warnings.append)
    assert values["frames lost upstream"] == 99 and round(values["upstream loss %"]) == 33
    assert round(values["upstream period ms"], 1) == 33.3 and values["upstream stamp jumps back"] == 0
    assert len(warnings) == 1
    for k in range(300, 600):
        if k % 3 != 2:
            upstream.add(k * PERIOD)
    upstream.values("image", warnings.append)
    assert len(warnings) == 1  # throttled: at most one every WARN_EVERY_S

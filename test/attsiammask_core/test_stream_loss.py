"""Frames lost upstream, from the gaps between received stamps (attsiammask_core.stream_loss)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from attsiammask_core.stream_loss import (
    GapCount,
    StreamLossMonitor,
    count_gaps,
    estimate_loss,
    stream_period_ns,
)

MS = 1_000_000
PERIOD = 33_333_333  # 30 Hz


def stream(count: int, period: int = PERIOD, start: int = 1_700_000_000 * 10**9) -> np.ndarray:
    return start + np.arange(count, dtype=np.int64) * period


def keep(stamps: np.ndarray, lost_share: float, seed: int = 1) -> np.ndarray:
    """The stamps with ``lost_share`` of them dropped at random (the first always kept)."""
    rng = np.random.default_rng(seed)
    mask = rng.random(stamps.size) >= lost_share
    mask[0] = True
    return stamps[mask]


def test_no_loss_is_zero_and_the_period_is_the_stream_s():
    loss = estimate_loss(stream(300).tolist())
    assert loss.lost == 0 and loss.received == 300 and loss.loss_pct == 0.0
    assert loss.period_ms == pytest.approx(33.333, abs=0.01)


@pytest.mark.parametrize("share", [0.02, 0.3, 0.7, 0.85])
def test_random_loss_is_estimated_within_two_points(share):
    sent = stream(900)
    received = keep(sent, share)
    loss = estimate_loss(received.tolist())
    true_lost = sent.size - received.size - (sent.size - 1 - np.searchsorted(sent, received[-1]))  # before the last
    assert loss.received == received.size
    assert loss.lost == true_lost  # exact without jitter
    assert abs(loss.loss_pct - 100 * share) < 4


def test_jitter_of_a_third_of_a_period_still_rounds_to_whole_frames():
    rng = np.random.default_rng(3)
    sent = stream(600) + rng.integers(-11 * MS, 11 * MS, 600)
    received = keep(np.sort(sent), 0.4, seed=4)
    true_pct = 100 * (1 - received.size / sent.size)
    assert abs(estimate_loss(received.tolist()).loss_pct - true_pct) < 3


def test_bursts_of_losses():
    sent = stream(600)
    mask = np.ones(600, bool)
    for start in range(10, 600, 50):
        mask[start:start + 8] = False  # 8 of every 50 lost in one burst: 16%
    loss = estimate_loss(sent[mask].tolist())
    assert loss.lost == 600 - mask.sum() and loss.loss_pct == pytest.approx(16.0, abs=0.5)


def test_stamps_jumping_back_and_pauses_are_not_losses():
    loop = stream(90)
    stamps = np.concatenate([loop, loop, loop[:30]])  # a bag played with --loop
    loss = estimate_loss(stamps.tolist())
    assert loss.lost == 0 and loss.jumps_back == 2
    paused = np.concatenate([stream(60), stream(60, start=int(stream(60)[-1]) + 8 * 10**9)])  # 8 s stop
    loss = estimate_loss(paused.tolist())
    assert loss.lost == 0 and loss.pauses == 1


def test_period_from_few_or_no_gaps():
    assert stream_period_ns([]) is None and stream_period_ns([PERIOD, -5, 0]) is None
    assert math.isnan(estimate_loss([1, 2]).period_ms)
    with pytest.raises(ValueError):
        count_gaps([PERIOD], 0.0)


def test_monitor_follows_a_rate_change_and_counts_totals():
    monitor = StreamLossMonitor(recent_updates=3)
    fast = keep(stream(300), 0.5, seed=9)         # 30 Hz, half lost
    for stamp in fast:
        monitor.add(int(stamp))
    monitor.update()
    assert monitor.period_ns == pytest.approx(PERIOD, rel=0.01)
    assert abs(monitor.loss().loss_pct - 50) < 6
    slow = stream(600, period=100 * MS, start=int(fast[-1]) + 100 * MS)   # then 10 Hz, nothing lost
    for chunk in np.array_split(slow, 6):
        for stamp in chunk:
            monitor.add(int(stamp))
        monitor.update()
    assert monitor.period_ns == pytest.approx(100 * MS, rel=0.01)
    assert monitor.recent().lost == 0  # the last updates, at the new rate, lose nothing
    before = monitor.total.lost
    assert before == monitor.loss().lost and monitor.loss(recent=True).loss_pct == 0.0


def test_monitor_waits_for_enough_gaps_and_counts_them_once():
    monitor = StreamLossMonitor()
    monitor.add(0)
    monitor.add(PERIOD)
    assert monitor.update() == GapCount()  # one gap: no period yet
    for k in (2, 3, 5, 6):                  # frame 4 lost
        monitor.add(k * PERIOD)
    count = monitor.update()
    assert count == GapCount(received=5, lost=1)
    assert monitor.update() == GapCount() and monitor.total.lost == 1


def test_frames_stamped_on_arrival_in_bunches_lose_nothing():
    sent = stream(600)
    late = sent.copy()
    late[5::20] += 30 * MS          # every 20th frame arrives (and is stamped) late, right before the next one
    loss = estimate_loss(late.tolist())
    assert loss.lost == 0 and loss.period_ms == pytest.approx(33.333, abs=0.1)


def test_degenerate_stamps_never_raise():
    for stamps in ([5] * 50, [1, 2, 3, 4, 100, 200, 10**9], list(range(0, 100, 1)) + [10**12],
                   [0, 10**9, 1, 10**9 + 1, 2]):
        loss = estimate_loss(stamps)
        assert loss.lost >= 0
    monitor = StreamLossMonitor()
    for stamp in [7] * 20 + [8] * 3 + list(range(9, 40)):
        monitor.add(stamp)
        monitor.update()
    assert monitor.total.lost >= 0

"""The stamp ring buffer: capacity, latest, tolerance lookup, resize, threads."""
from __future__ import annotations

import threading

import pytest

from attsiammask_core.session.frames import FrameBuffer


def test_keeps_the_newest_capacity_items():
    buffer = FrameBuffer(3)
    assert buffer.latest() is None and len(buffer) == 0
    for stamp in range(1, 6):
        buffer.push(stamp * 100, f"f{stamp}")
    assert len(buffer) == 3 and buffer.capacity == 3
    assert buffer.stamps() == [300, 400, 500]
    assert buffer.latest() == (500, "f5")


def test_find_exact_nearest_within_tolerance_and_missing():
    buffer = FrameBuffer(10)
    for stamp in (1000, 2000, 3000):
        buffer.push(stamp, stamp)
    assert buffer.find(2000) == (2000, 2000)
    assert buffer.find(2001) is None
    assert buffer.find(2001, tolerance_ns=1) == (2000, 2000)
    assert buffer.find(2600, tolerance_ns=500) == (3000, 3000)   # nearest
    assert buffer.find(2500, tolerance_ns=500) == (3000, 3000)   # tie: the newer
    assert buffer.find(100, tolerance_ns=500) is None             # dropped or never there


def test_duplicate_stamps_give_the_newest():
    buffer = FrameBuffer(5)
    buffer.push(0, "old")
    buffer.push(0, "new")
    assert buffer.find(0) == (0, "new")


def test_resize_keeps_the_newest_and_clear_empties():
    buffer = FrameBuffer(5)
    for stamp in range(5):
        buffer.push(stamp, stamp)
    buffer.resize(2)
    assert buffer.stamps() == [3, 4] and buffer.capacity == 2
    buffer.resize(4)
    buffer.push(5, 5)
    assert buffer.stamps() == [3, 4, 5]
    buffer.clear()
    assert buffer.latest() is None


@pytest.mark.parametrize("capacity", [0, -1])
def test_bad_capacity(capacity):
    with pytest.raises(ValueError, match="capacity"):
        FrameBuffer(capacity)
    with pytest.raises(ValueError, match="capacity"):
        FrameBuffer(2).resize(capacity)


def test_concurrent_push_and_find():
    buffer = FrameBuffer(50)

    def producer(offset: int) -> None:
        for i in range(2000):
            buffer.push(offset + i, i)

    threads = [threading.Thread(target=producer, args=(k * 10_000,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(2000):
        buffer.find(5, tolerance_ns=10**9)
        buffer.latest()
    for thread in threads:
        thread.join()
    assert len(buffer) == 50

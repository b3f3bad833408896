"""Stamps as nanoseconds and 'SEC.NANOSEC' text, exact at today's epoch seconds."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from attsiammask_core.stamps import format_stamp, parse_stamp, stamp_to_ns


def test_round_trip_is_exact():
    ns = 1_764_000_000_123_456_789
    assert format_stamp(ns) == "1764000000.123456789" and parse_stamp(format_stamp(ns)) == ns
    assert stamp_to_ns(SimpleNamespace(sec=1_764_000_000, nanosec=123_456_789)) == ns
    assert parse_stamp("12") == 12 * 10**9 and parse_stamp("1700000000.25") == 1_700_000_000_250_000_000


@pytest.mark.parametrize("text", ["", "-1.0", "1.", "a.5", "1.5e3", "1.0000000001", " .5"])
def test_malformed_stamps_are_refused(text):
    with pytest.raises(ValueError, match="SEC.NANOSEC"):
        parse_stamp(text)

"""ROS time stamps as integer nanoseconds and as "SEC.NANOSEC" text (exact: floats lose nanoseconds at ~1.7e9 s).
Work on anything with `sec` and `nanosec` (rclpy messages, rosbags' messages), so they need no ROS."""
from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (or any object with sec and nanosec) -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def format_stamp(stamp_ns: int) -> str:
    """Nanoseconds -> 'SEC.NANOSEC' with nine fraction digits."""
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return f"{sec}.{nanosec:09d}"


def parse_stamp(text: str) -> int:
    """'SEC' or 'SEC.FRACTION' (at most nine fraction digits) -> nanoseconds; ValueError otherwise."""
    sec, dot, frac = str(text).strip().partition(".")
    if not sec.isdigit() or (dot and not frac.isdigit()) or len(frac) > 9:
        raise ValueError(f"stamp must be SEC or SEC.NANOSEC (e.g. 1700000000.250000000), got {text!r}")
    return int(sec) * NS_PER_S + (int(frac.ljust(9, "0")) if frac else 0)

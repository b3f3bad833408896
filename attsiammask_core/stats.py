"""Small summary statistics shared by the running node, the tracking session and evaluation (no ROS, no torch)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["percentile", "median"]


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (linear interpolation) of ``values``; NaN when there are none."""
    arr = np.asarray(list(values), dtype=np.float64)
    return float(np.percentile(arr, q)) if arr.size else float("nan")


def median(values: Iterable[float]) -> float:
    """The median of ``values``; NaN when there are none."""
    return percentile(values, 50.0)

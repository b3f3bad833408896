"""The shared summary statistics (node diagnostics and evaluation)."""
from __future__ import annotations

import math

from attsiammask_core.eval import metrics
from attsiammask_core.stats import median, percentile


def test_percentile_and_median():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5 and median([3, 1, 2]) == 2.0
    assert percentile([0.0, 10.0], 95) == 9.5
    assert math.isnan(percentile([], 50)) and math.isnan(median(iter(())))


def test_evaluation_uses_the_shared_percentile():
    assert metrics.percentile is percentile
    assert metrics.latency_stats([0.001, 0.003])["median_ms"] == 2.0

"""Latency statistics: the one place that turns timed runs into the figures every report shows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LATENCY_KEYS = ("mean", "std", "min", "p50", "p90", "p99", "max")


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """mean, std, min, p50, p90, p99 and max of latencies in ms (percentiles linearly interpolated)."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no latency samples to summarise")
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "min": float(a.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(a.max()),
    }


def throughput(batch: int, mean_ms: float) -> float:
    """Images per second when every call takes ``mean_ms`` for ``batch`` images."""
    return batch * 1000.0 / mean_ms if mean_ms > 0 else float("inf")

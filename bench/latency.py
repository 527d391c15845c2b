"""What the benchmarks share: percentiles of latency samples (milliseconds)."""

from __future__ import annotations

__all__ = ["percentile"]


def percentile(samples: list[float], q: float) -> float:
    """The sample at quantile ``q`` (nearest rank), e.g. ``q=0.99`` for p99."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

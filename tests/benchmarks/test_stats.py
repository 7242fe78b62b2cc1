import math

import pytest

from edgewise.benchmarks import stats


def test_summary_of_known_samples():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["min"] == 1.0 and s["max"] == 100.0
    assert s["p50"] == 3.0
    assert s["mean"] == pytest.approx(22.0)
    assert s["std"] == pytest.approx(math.sqrt(sum((x - 22) ** 2 for x in (1, 2, 3, 4, 100)) / 4))
    assert s["p90"] == pytest.approx(4 + 0.6 * 96)  # linear interpolation between 4 and 100
    assert s["p50"] <= s["p90"] <= s["p99"] <= s["max"]
    assert set(s) == set(stats.LATENCY_KEYS)


def test_single_sample_has_zero_spread_and_empty_is_refused():
    assert stats.summarize([2.5])["std"] == 0.0
    with pytest.raises(ValueError):
        stats.summarize([])


def test_throughput_is_images_per_second():
    assert stats.throughput(8, 4.0) == 2000.0
    assert stats.throughput(1, 0.0) == float("inf")

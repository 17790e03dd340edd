"""Per-model aggregates: mean, median, distribution, and their bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.aggregate import mean_and_median, model_aggregates, sorted_medians, unit_scores
from evalplatform.stats.bootstrap import resample_counts
from evalplatform.stats.matrix import code_ratings


def test_sorted_medians_match_numpy_on_expanded_samples():
    rng = np.random.default_rng(0)
    values = np.array([1.0, 1.5, 2.0, 3.5, 5.0])
    for n in (1, 2, 3, 10, 11):
        counts = rng.multinomial(n, np.full(5, 0.2), size=200).astype(float)
        got = sorted_medians(values, counts)
        want = [np.median(np.repeat(values, c.astype(int))) for c in counts]
        assert np.allclose(got, want)


def test_mean_and_median_point_and_interval():
    rng = np.random.default_rng(1)
    scores = rng.integers(1, 6, 300).astype(float)
    agg = mean_and_median(scores, bootstrap=1000, seed=5)
    assert agg.mean == pytest.approx(scores.mean())
    assert agg.median == np.median(scores)
    lo, hi = agg.mean_ci95
    se = scores.std(ddof=1) / np.sqrt(scores.size)
    assert lo < agg.mean < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)  # percentile CI ~ normal CI for a mean
    assert agg.median_ci95[0] <= agg.median <= agg.median_ci95[1]
    again = mean_and_median(scores, bootstrap=1000, seed=5)
    assert again.mean_ci95 == agg.mean_ci95


def test_bootstrap_mean_equals_recomputation():
    scores = np.array([1, 1, 2, 3, 3, 3, 4, 5.0])
    values, counts = np.unique(scores, return_counts=True)
    block = next(resample_counts(counts.astype(float), 50, np.random.default_rng(0)))
    for row in block:
        sample = np.repeat(values, row.astype(int))
        assert row @ values / scores.size == pytest.approx(sample.mean())
        assert sorted_medians(values, row[None, :])[0] == np.median(sample)


def test_model_aggregates_distribution_and_unit_means():
    data = np.array([[1, 2, 5, np.nan], [3, 2, 4, 4], [np.nan, np.nan, 5, 1.0]])
    coded = code_ratings(data, level="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert np.allclose(unit_scores(coded), [2, 2, 14 / 3, 2.5])
    group = np.array([0, 0, 1, 1])
    aggs = model_aggregates(coded, group, 2, bootstrap=200, seed=0)
    assert aggs[0].n == 2
    assert aggs[0].n_ratings == 4
    assert aggs[0].distribution == {1.0: 1, 2.0: 2, 3.0: 1, 4.0: 0, 5.0: 0}
    assert aggs[1].distribution == {1.0: 1, 2.0: 0, 3.0: 0, 4.0: 2, 5.0: 2}
    assert aggs[1].mean == pytest.approx((14 / 3 + 2.5) / 2)
    assert aggs[1].median == pytest.approx((14 / 3 + 2.5) / 2)


def test_labels_have_a_distribution_but_no_mean():
    data = np.array([["good", "bad", None], ["good", "good", "bad"]], dtype=object)
    coded = code_ratings(data, level="nominal")
    (agg,) = model_aggregates(coded, np.zeros(3, dtype=np.int64), 1, bootstrap=100, seed=0)
    assert agg.mean is None
    assert agg.reason == "the ratings are labels, not numbers"
    assert agg.distribution == {"bad": 2, "good": 3}


def test_single_unit_has_no_interval():
    agg = mean_and_median(np.array([3.0]), bootstrap=100, seed=0)
    assert agg.mean == 3
    assert agg.mean_ci95 is None
    assert agg.notes

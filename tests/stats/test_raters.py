"""Per-rater figures and per-unit disagreement."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evalplatform.stats.matrix import code_ratings, collapse_units
from evalplatform.stats.pairwise_kappa import cohen_kappa
from evalplatform.stats.raters import (
    kappa_matrix,
    mean_offsets,
    most_disagreed,
    pattern_disagreement,
    rater_figures,
)


def setup(data, level="ordinal", scale=None):
    coded = code_ratings(data, level=level, value_domain=scale)
    pat = collapse_units(coded.codes, coded.n_values)
    return coded, pat


def test_rater_figures_against_references():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 80)
    data = np.clip(truth + rng.integers(-1, 2, (4, 80)), 1, 5).astype(float)
    data[3] = np.clip(data[3] + 1, 1, 5)  # rater 3 is lenient
    data[rng.random(data.shape) < 0.2] = np.nan
    coded, pat = setup(data)
    pairs = cohen_kappa(data, weights="quadratic").pairs
    figs = rater_figures(pat, "ordinal", coded.positions(), pairs)
    for fig in figs:
        r = fig.rater
        assert fig.n_items == int((~np.isnan(data[r])).sum())
        rest = np.delete(data, r, axis=0)
        assert fig.alpha_without == pytest.approx(
            krippendorff.alpha(reliability_data=rest, level_of_measurement="ordinal"), abs=1e-9)
        for o, k in fig.kappa_with.items():
            both = ~np.isnan(data[r]) & ~np.isnan(data[o])
            assert k == pytest.approx(cohen_kappa_score(data[r, both], data[o, both], labels=coded.positions(),
                                                        weights="quadratic"), abs=1e-9)
            assert fig.shared_with[o] == int(both.sum())
    offsets = [f.mean_offset for f in figs]
    assert offsets[3] > 0.5
    assert max(offsets[:3]) < 0.2


def test_mean_offset_by_hand():
    data = np.array([[1, 2, np.nan], [3, 2, 4], [5, np.nan, 4.0]])
    coded, pat = setup(data)
    got = mean_offsets(pat, coded.positions())
    # rater 0: unit0 1-(3+5)/2=-3, unit1 2-2=0 -> -1.5; rater 1: unit0 3-3=0, unit1 0, unit2 4-4=0 -> 0
    # rater 2: unit0 5-2=3, unit2 4-4=0 -> 1.5
    assert got == pytest.approx([-1.5, 0.0, 1.5])


def test_kappa_matrix_is_symmetric_with_shared_counts():
    data = np.array([[1, 2, 3, 1, np.nan], [1, 2, 3, 2, 1], [np.nan, 2, 2, 1, 1.0]])
    res = cohen_kappa(data)
    kappa, shared = kappa_matrix(res.pairs, 3)
    assert np.array_equal(shared, shared.T)
    assert shared[0, 1] == 4
    assert shared[0, 2] == 3
    assert np.allclose(np.nan_to_num(kappa), np.nan_to_num(kappa.T))


def test_disagreement_and_most_disagreed_order():
    data = np.array([[1, 1, 1, 5, 2, np.nan], [1, 2, 5, 1, 2, 3], [1, 1, 1, 5, 2, np.nan]])
    coded, pat = setup(data, level="interval")
    per_pattern = pattern_disagreement(pat, "interval", coded.positions())
    per_unit = per_pattern[pat.inverse]
    assert per_unit[0] == 0
    assert per_unit[4] == 0
    assert np.isnan(per_unit[5])
    # mean squared difference over ordered pairs, relative to the expected one
    values = data[~np.isnan(data)]
    values = data[:, :5].T[~np.isnan(data[:, :5].T)]
    n = values.size
    expected = sum((a - b) ** 2 for a in values for b in values) / (n * (n - 1))
    unit2 = [1, 5, 1]
    observed = sum((a - b) ** 2 for i, a in enumerate(unit2) for j, b in enumerate(unit2) if i != j) / 6
    assert per_unit[2] == pytest.approx(observed / expected)
    top = most_disagreed(pat, "interval", coded.positions(), top=10)
    assert [u for u, _ in top] == [2, 3, 1]  # unit 2 and 3 tie, unit order breaks the tie; agreeing units left out
    assert top[0][1] == pytest.approx(top[1][1])


def test_one_rater_left_has_no_alpha_without():
    data = np.array([[1, 2, 3.0], [1, 2, 2]])
    coded, pat = setup(data)
    figs = rater_figures(pat, "ordinal", coded.positions(), cohen_kappa(data, weights="quadratic").pairs)
    assert all(f.alpha_without is None and f.alpha_without_reason for f in figs)

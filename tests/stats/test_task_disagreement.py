"""The bounded per-task disagreement behind the adjudication queue and the most-disputed list."""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
import pytest

from evalplatform.stats.matrix import alpha_delta, code_ratings, collapse_units
from evalplatform.stats.raters import max_pair_disagreement, most_disagreed, task_disagreement


def per_unit(data, level, domain=None):
    coded = code_ratings(np.asarray(data, float), level=level, value_domain=domain)
    pat = collapse_units(coded.codes, coded.n_values)
    values = task_disagreement(pat, level, coded.positions())
    return np.where(pat.inverse >= 0, values[np.maximum(pat.inverse, 0)], np.nan)


def test_readings_on_hand_made_cases():
    # yes/no, skewed: most say yes; a 2-1 split is the most three raters can disagree there
    yes_no = np.array([[1] * 20 + [0], [1] * 20 + [1], [1] * 20 + [1]], float)
    d = per_unit(yes_no, "nominal", [0, 1])
    assert d[:20].tolist() == [0.0] * 20
    assert d[20] == 1.0
    # 1-5 scale, interval: 1 vs 5 is maximal, 4 vs 5 is (1/4)² of it, 1,3,5 is 48/64
    scale = [1, 2, 3, 4, 5]
    d = per_unit(np.array([[1, 4, 1, 3], [5, 5, 5, 3], [np.nan, np.nan, 1, np.nan]]).T.T, "interval", scale)
    assert d[0] == 1.0
    assert d[1] == pytest.approx(1 / 16)
    assert d[2] == 1.0
    assert d[3] == 0.0
    d = per_unit(np.array([[1], [3], [5]], float), "interval", scale)
    assert d[0] == pytest.approx(48 / 64)
    # one rating: no disagreement to speak of
    assert np.isnan(per_unit(np.array([[1, 2], [np.nan, 2]], float), "interval", scale)[0])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_always_in_unit_interval_and_one_is_reached(level):
    rng = np.random.default_rng(hash(level) % 2**32)
    for _ in range(30):
        v = int(rng.integers(2, 7))
        domain = np.arange(1, v + 1, dtype=float)
        p = rng.dirichlet(np.full(v, 0.3))  # skewed scales
        data = rng.choice(domain, size=(int(rng.integers(2, 9)), 60), p=p)
        data[rng.random(data.shape) < 0.3] = np.nan
        d = per_unit(data, level, domain)
        ok = ~np.isnan(d)
        assert ((d[ok] >= 0) & (d[ok] <= 1)).all()


def _brute_force(delta, m):
    v = delta.shape[0]
    best = 0.0
    for combo in combinations_with_replacement(range(v), m):
        n = np.bincount(combo, minlength=v).astype(float)
        best = max(best, float(n @ delta @ n))
    return best


@pytest.mark.parametrize("level", ["nominal", "interval", "ratio"])
def test_the_maximum_is_the_brute_force_maximum(level):
    import evalplatform.stats.raters as raters

    rng = np.random.default_rng(1)
    for _ in range(15):
        v, m = int(rng.integers(2, 7)), int(rng.integers(2, 8))
        x = np.sort(rng.choice(np.arange(0, 20, dtype=float), v, replace=False))
        c, k = np.meshgrid(np.arange(v), np.arange(v), indexing="ij")
        delta = alpha_delta(level, x, c.ravel(), k.ravel()).reshape(v, v)
        exact = _brute_force(delta, m)
        assert max_pair_disagreement(delta, m) == pytest.approx(exact, rel=1e-12)
        saved = raters.MAX_EXACT_MULTISETS
        raters.MAX_EXACT_MULTISETS = 0  # the local search used on long scales
        try:
            assert max_pair_disagreement(delta, m) == pytest.approx(exact, rel=1e-12)
        finally:
            raters.MAX_EXACT_MULTISETS = saved


def test_most_disagreed_is_ranked_by_the_bounded_score():
    data = np.array([[1, 1, 1, 5, 2, np.nan], [1, 2, 5, 1, 2, 3], [1, 1, 1, 5, 2, np.nan]])
    coded = code_ratings(data, level="interval", value_domain=[1, 2, 3, 4, 5])
    pat = collapse_units(coded.codes, coded.n_values)
    top = most_disagreed(pat, "interval", coded.positions(), top=10)
    assert [u for u, _ in top] == [2, 3, 1]
    assert top[0][1] == pytest.approx(1.0)
    assert top[2][1] == pytest.approx(4 / 64)  # 1, 2, 1: 2·2·1 over 2·2·16

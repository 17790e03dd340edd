"""Paired model comparison: bootstrap interval, Wilcoxon signed-rank, Holm correction."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evalplatform.stats.compare import (
    A_BETTER,
    B_BETTER,
    NO_DIFFERENCE,
    bootstrap_p_value,
    compare_all_pairs,
    compare_dimensions,
    compare_paired,
    holm,
)


def paired_scores(n, shift, *, seed=0, sd_item=1.0, sd_noise=0.7):
    rng = np.random.default_rng(seed)
    item = rng.normal(3, sd_item, n)  # prompt difficulty shared by both models
    return item + rng.normal(0, sd_noise, n), item + shift + rng.normal(0, sd_noise, n)


def test_detects_known_difference():
    a, b = paired_scores(120, 0.4, seed=1)
    res = compare_paired(a, b, model_a="m1", model_b="m2", n_boot=4000)
    assert res.verdict == B_BETTER
    assert res.mean_diff == pytest.approx(np.mean(b - a))
    assert res.ci95[0] < 0.4 < res.ci95[1] and res.ci95[0] > 0
    assert res.p_bootstrap < 0.01 and res.wilcoxon_p < 0.01
    flipped = compare_paired(b, a, n_boot=4000)
    assert flipped.verdict == A_BETTER
    assert flipped.mean_diff == pytest.approx(-res.mean_diff)


def test_matches_scipy_wilcoxon():
    a, b = paired_scores(60, 0.2, seed=2)
    a, b = np.round(a * 2) / 2, np.round(b * 2) / 2  # rubric-like half points: zeros and ties
    for zm in ("wilcox", "pratt"):
        res = compare_paired(a, b, zero_method=zm, n_boot=200)
        ref = stats.wilcoxon(b - a, zero_method=zm)
        assert res.wilcoxon_statistic == pytest.approx(ref.statistic)
        assert res.wilcoxon_p == pytest.approx(ref.pvalue)
        assert res.zero_method == zm
    assert res.n_zero_diffs == int(np.sum(b == a)) > 0


def test_identical_models_false_positive_rate():
    rng = np.random.default_rng(3)
    n_sim = 300
    positives = 0
    p_values = []
    for s in range(n_sim):
        item = rng.normal(3, 1, 40)
        a = item + rng.normal(0, 0.7, 40)
        b = item + rng.normal(0, 0.7, 40)
        res = compare_paired(a, b, n_boot=1000, seed=s)
        positives += res.verdict != NO_DIFFERENCE
        p_values.append(res.p_bootstrap)
    assert positives / n_sim <= 0.08
    assert np.mean(np.array(p_values) < 0.05) <= 0.09  # bootstrap p alone is calibrated too


def test_missing_scores_drop_pairs():
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 3.0])
    b = np.array([2.0, np.nan, 3.0, 5.0, 6.0, 4.0])
    res = compare_paired(a, b, n_boot=500)
    assert res.n_pairs == 4 and res.n_dropped == 2
    assert res.mean_diff == pytest.approx(1.0)
    assert res.mean_a == pytest.approx(13 / 4)


def test_degenerate_inputs():
    one = compare_paired([1.0, np.nan], [2.0, 3.0])
    assert one.n_pairs == 1 and one.verdict == NO_DIFFERENCE and one.ci95 == (None, None)
    assert "at least 2" in one.reason
    none = compare_paired([np.nan], [np.nan])
    assert none.n_pairs == 0 and none.mean_diff is None
    zeros = compare_paired([1, 2, 3, 4], [1, 2, 3, 4])
    assert zeros.mean_diff == 0 and zeros.ci95 == (0.0, 0.0) and zeros.p_bootstrap == 1.0
    assert zeros.wilcoxon_p is None and "zero" in zeros.reason and zeros.verdict == NO_DIFFERENCE
    for r in (one, none, zeros):
        json.dumps(r.to_dict(), allow_nan=False)
    with pytest.raises(ValueError):
        compare_paired([1, 2], [1, 2, 3])


def test_bootstrap_is_seeded_and_p_value_definition():
    a, b = paired_scores(30, 0.3, seed=4)
    assert compare_paired(a, b, seed=9).to_dict() == compare_paired(a, b, seed=9).to_dict()
    d = np.array([1.0, 2.0, -1.0, 0.5])
    boot = np.array([1.0, 0.0, -0.5, 1.25, 2.0])  # centred: 0.375, -0.625, -1.125, 0.625, 1.625
    # |centred| >= |0.625|: -0.625, -1.125, 0.625, 1.625 → (1 + 4) / 6
    assert bootstrap_p_value(d, boot) == pytest.approx(5 / 6)


def test_compare_dimensions():
    a1, b1 = paired_scores(100, 0.5, seed=5)
    a2, b2 = paired_scores(100, 0.0, seed=6)
    res = compare_dimensions({"helpfulness": a1, "safety": a2, "only_a": a2}, {"helpfulness": b1, "safety": b2})
    assert [r.dimension for r in res] == ["helpfulness", "safety"]
    assert res[0].verdict == B_BETTER and res[1].verdict == NO_DIFFERENCE


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    ref = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), ref)
    assert holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert holm([]) == []


def test_all_pairs_with_holm():
    rng = np.random.default_rng(7)
    item = rng.normal(3, 1, 80)
    scores = {f"m{k}": item + 0.5 * (k == 2) + rng.normal(0, 0.6, 80) for k in range(3)}
    scores["m1"][:5] = np.nan
    res = compare_all_pairs(scores, dimension="overall", n_boot=2000)
    pairs = [(c.model_a, c.model_b) for c in res.comparisons]
    assert pairs == [("m0", "m1"), ("m0", "m2"), ("m1", "m2")]
    raw = [c.wilcoxon_p for c in res.comparisons]
    np.testing.assert_allclose([c.p_adjusted for c in res.comparisons], multipletests(raw, method="holm")[1])
    verdicts = {(c.model_a, c.model_b): c.verdict for c in res.comparisons}
    assert verdicts[("m0", "m2")] == B_BETTER and verdicts[("m1", "m2")] == B_BETTER
    assert verdicts[("m0", "m1")] == NO_DIFFERENCE
    assert res.comparisons[0].n_dropped == 5
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["adjustment"] == "holm" and d["models"] == ["m0", "m1", "m2"]


def test_holm_adjustment_can_remove_a_marginal_verdict():
    # a pair significant alone but not after correcting for many comparisons
    rng = np.random.default_rng(12)
    for _ in range(50):
        item = rng.normal(3, 1, 40)
        a, b = item + rng.normal(0, 0.7, 40), item + 0.3 + rng.normal(0, 0.7, 40)
        single = compare_paired(a, b, n_boot=1000)
        if single.verdict == B_BETTER and 0.005 < single.wilcoxon_p < 0.01:
            break
    else:  # pragma: no cover
        pytest.skip("no marginal draw found")
    scores = {"a": a, "b": b}
    for k in range(8):  # 8 more identical-looking models: 45 comparisons in the family
        scores[f"x{k}"] = item + rng.normal(0, 0.7, 40)
    res = compare_all_pairs(scores, n_boot=500)
    ab = next(c for c in res.comparisons if (c.model_a, c.model_b) == ("a", "b"))
    assert ab.wilcoxon_p == pytest.approx(single.wilcoxon_p)
    assert ab.p_adjusted > 0.05 and ab.verdict == NO_DIFFERENCE

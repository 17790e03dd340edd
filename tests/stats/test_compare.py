"""Paired model comparison: bootstrap interval, Wilcoxon signed-rank, Holm correction."""

from __future__ import annotations

import gc
import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evalplatform.stats import compare
from evalplatform.stats.compare import (
    A_BETTER,
    B_BETTER,
    NO_DIFFERENCE,
    _bootstrap_means,
    _bootstrap_means_many,
    adjust_p_values,
    bootstrap_p_value,
    compare_all_pairs,
    compare_all_pairs_many,
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
    assert res.ci95[0] < 0.4 < res.ci95[1]
    assert res.ci95[0] > 0
    assert res.p_bootstrap < 0.01
    assert res.wilcoxon_p < 0.01
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
    assert res.n_pairs == 4
    assert res.n_dropped == 2
    assert res.mean_diff == pytest.approx(1.0)
    assert res.mean_a == pytest.approx(13 / 4)


def test_degenerate_inputs():
    one = compare_paired([1.0, np.nan], [2.0, 3.0])
    assert one.n_pairs == 1
    assert one.verdict == NO_DIFFERENCE
    assert one.ci95 == (None, None)
    assert "at least 2" in one.reason
    none = compare_paired([np.nan], [np.nan])
    assert none.n_pairs == 0
    assert none.mean_diff is None
    zeros = compare_paired([1, 2, 3, 4], [1, 2, 3, 4])
    assert zeros.mean_diff == 0
    assert zeros.ci95 == (0.0, 0.0)
    assert zeros.p_bootstrap == 1.0
    assert zeros.wilcoxon_p is None
    assert "zero" in zeros.reason
    assert zeros.verdict == NO_DIFFERENCE
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
    assert res[0].verdict == B_BETTER
    assert res[1].verdict == NO_DIFFERENCE


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    ref = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), ref)
    assert holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert holm([]) == []


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjusted_p_values_match_statsmodels_on_random_sets_with_ties(method, monkeypatch):
    # statsmodels' Holm ends with a full ``gc.collect()``: in a test worker whose heap holds everything
    # earlier tests left, 300 of them took 194 s, half of the suite's longest worker.  The collection
    # changes no number: the reference is the same without it.
    monkeypatch.setattr(gc, "collect", lambda generation=2: 0)
    rng = np.random.default_rng(18)
    for trial in range(300):
        m = int(rng.integers(1, 60))
        p = rng.uniform(0, 1, m) ** rng.uniform(0.5, 4)  # from none to most below 0.05
        if trial % 3 == 0:
            p = np.round(p, int(rng.integers(1, 3)))  # many ties, exact zeros and ones
        if trial % 5 == 0:
            p[rng.integers(0, m, 3)] = p[0]  # ties with the same float
        got = adjust_p_values(p, method)
        ref = multipletests(p, method=method)[1]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
        assert np.array_equal(got, ref)  # the same operations: the same floats
    assert adjust_p_values(list(p), method).tolist() == adjust_p_values(p, method).tolist()


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjusted_p_values_leave_missing_ones_out_of_the_family(method):
    p = np.array([0.01, np.nan, 0.04, np.inf, 0.03, 0.01])
    got = adjust_p_values(p, method)
    kept = np.isfinite(p)
    assert np.isnan(got[~kept]).all()
    np.testing.assert_allclose(got[kept], multipletests(p[kept], method=method)[1], rtol=0, atol=1e-12)
    with_none = adjust_p_values([0.01, None, 0.04, None, 0.03, 0.01], method)  # None is missing too
    np.testing.assert_array_equal(with_none, got)


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjusted_p_values_edge_cases(method):
    assert adjust_p_values([], method).shape == (0,)
    assert np.isnan(adjust_p_values([None, np.nan], method)).all()  # nothing left to correct
    for p in (0.0, 0.03, 1.0):
        assert adjust_p_values([p], method).tolist() == [p] == multipletests([p], method=method)[1].tolist()
    assert adjust_p_values([0.6, 0.7], method).max() <= 1.0
    with pytest.raises(ValueError):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(ValueError):
        adjust_p_values([[0.1, 0.2]], method)


def test_holm_list_keeps_none_and_non_finite_as_none():
    assert holm([0.01, float("nan"), 0.04, float("inf")]) == pytest.approx([0.02, None, 0.04, None])
    assert all(isinstance(q, float) for q in holm([0.01, 0.04]))


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
    assert verdicts[("m0", "m2")] == B_BETTER
    assert verdicts[("m1", "m2")] == B_BETTER
    assert verdicts[("m0", "m1")] == NO_DIFFERENCE
    assert res.comparisons[0].n_dropped == 5
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["adjustment"] == "holm"
    assert d["models"] == ["m0", "m1", "m2"]


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
    assert ab.p_adjusted > 0.05
    assert ab.verdict == NO_DIFFERENCE


def test_bootstraps_drawn_together_are_those_drawn_one_by_one():
    # several chunks (500 items: 4,000 resamples per chunk) and a last partial one
    ds = [np.random.default_rng(k).normal(size=500) for k in range(3)]
    together = _bootstrap_means_many(ds, 9001, 4)
    for d, means in zip(ds, together, strict=True):
        assert np.array_equal(means, _bootstrap_means(d, 9001, 4))  # bit for bit
        # ... and the plain definition: chunks of resampled rows from one seeded stream, each row's mean
        rng, chunk = np.random.default_rng(4), compare._MAX_CELLS // 500
        plain = np.concatenate([d[rng.integers(0, 500, size=(min(chunk, 9001 - s), 500))].mean(1)
                                for s in range(0, 9001, chunk)])
        assert np.array_equal(means, plain)


def test_all_pairs_of_many_questions_equal_each_question_alone(monkeypatch):
    """``compare_all_pairs_many`` (the significance section: every dimension at once, pairs of as many
    items sharing their resampled indices) gives exactly ``compare_all_pairs`` of each question."""
    rng = np.random.default_rng(5)
    questions = []
    for q, n_models in enumerate((3, 4, 2)):
        scores = {f"m{k}": rng.normal(3, 1, 60) for k in range(n_models)}
        if q == 1:
            scores["m1"][:7] = np.nan  # fewer paired items: bootstrapped in another group
            scores["m3"][:] = np.nan   # no pairs at all
            scores["m3"][0] = 1.0
        questions.append((f"d{q}", scores))
    monkeypatch.setattr(compare, "_BATCH", 2)  # several batches
    many = compare_all_pairs_many(questions, n_boot=700, seed=3, alpha=0.1)
    for (dimension, scores), got in zip(questions, many, strict=True):
        alone = compare_all_pairs(scores, dimension=dimension, n_boot=700, seed=3, alpha=0.1)
        assert json.dumps(got.to_dict()) == json.dumps(alone.to_dict())
        assert [c.ci_verdict for c in got.comparisons] == [c.ci_verdict for c in alone.comparisons]
        for c in got.comparisons:  # and each pair's bootstrap is its own compare_paired's, exactly
            single = compare_paired(scores[c.model_a], scores[c.model_b], n_boot=700, seed=3, alpha=0.1)
            assert (c.ci95, c.p_bootstrap, c.wilcoxon_p, c.n_pairs) == (
                single.ci95, single.p_bootstrap, single.wilcoxon_p, single.n_pairs)
    assert compare_all_pairs_many([], n_boot=10) == []

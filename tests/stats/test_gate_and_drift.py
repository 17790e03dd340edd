"""The gate's and the drift's statistics against scipy, statsmodels and pingouin on generated rounds,
and the gate's error rates in simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.multitest import multipletests

from evalplatform.stats.composite import composite_scores
from evalplatform.stats.drift import chi_square, distribution_drift, js_distance, permutation_p, psi
from evalplatform.stats.gate import FAIL, INSUFFICIENT, cohen_dz, decide, rank_biserial, regression_test


def item_means(rng, n_items, quality, raters=3, noise=0.8, item_effect=None):
    """Per-item means of ``raters`` 1-5 ratings around ``quality`` (+ a per-item effect)."""
    effect = item_effect if item_effect is not None else rng.normal(0, 0.4, n_items)
    ratings = np.clip(np.rint(quality + effect[:, None] + rng.normal(0, noise, (n_items, raters))), 1, 5)
    return ratings.mean(axis=1)


def test_wilcoxon_p_value_and_statistic_are_scipys_one_sided_test_of_the_shifted_differences():
    rng = np.random.default_rng(1)
    effect = rng.normal(0, 0.4, 80)
    a = item_means(rng, 80, 3.5, item_effect=effect)
    b = item_means(rng, 80, 3.2, item_effect=effect)
    for margin in (0.0, 0.25):
        t = regression_test(a, b, margin=margin, n_boot=200)
        d = b - a + margin
        d[np.abs(d) < 1e-9] = 0
        ref = stats.wilcoxon(d, alternative="less", zero_method="wilcox")
        assert t.p_value == pytest.approx(ref.pvalue, rel=1e-12)
        assert t.wilcoxon_statistic == pytest.approx(ref.statistic)
        assert t.mean_diff == pytest.approx(float((b - a).mean()))


def test_a_margin_makes_a_small_loss_acceptable_and_a_large_one_not():
    rng = np.random.default_rng(2)
    effect = rng.normal(0, 0.4, 200)
    a = item_means(rng, 200, 4.0, item_effect=effect)
    b = item_means(rng, 200, 3.8, item_effect=effect)
    assert regression_test(a, b, margin=0.0).p_value < 0.01
    assert regression_test(a, b, margin=0.6).p_value > 0.5


def test_effect_sizes_match_pingouin():
    rng = np.random.default_rng(3)
    a = item_means(rng, 60, 3.0)
    b = item_means(rng, 60, 3.4)
    d = b - a
    ref = pingouin.wilcoxon(b, a, alternative="two-sided")
    assert rank_biserial(d) == pytest.approx(float(ref["RBC"].iloc[0]), abs=1e-12)
    # d_z is the one-sample Cohen d of the differences: pingouin's against a zero-mean, zero-spread sample
    # is its standardised mean with the differences' own SD.
    assert cohen_dz(d) == pytest.approx(d.mean() / d.std(ddof=1))
    assert cohen_dz(d) == pytest.approx(pingouin.ttest(d, 0)["T"].iloc[0] / np.sqrt(d.size))


def test_holm_over_the_family_matches_statsmodels():
    rng = np.random.default_rng(4)
    n = 120
    effect = rng.normal(0, 0.4, n)
    champion = {k: item_means(rng, n, 3.5, item_effect=effect) for k in ("accuracy", "tone", "helpfulness")}
    challenger = {k: item_means(rng, n, 3.5 - (0.3 if k == "tone" else 0), item_effect=effect) for k in champion}
    tier = ["gold" if i % 3 == 0 else "basic" for i in range(n)]
    result = decide(champion, challenger, groups={"tier": tier}, n_boot=100)
    raw = [t.p_value for t in result.tests]
    assert all(p is not None for p in raw)
    reject, adjusted, _, _ = multipletests(raw, alpha=0.05, method="holm")
    assert [t.p_adjusted for t in result.tests] == pytest.approx(list(adjusted), rel=1e-12)
    assert [t.regressed for t in result.tests] == list(reject)
    assert len(result.tests) == 3 * 3  # three dimensions, overall and in two tiers


def test_bootstrap_interval_covers_the_mean_difference_and_is_reproducible():
    rng = np.random.default_rng(5)
    a, b = item_means(rng, 50, 3.0), item_means(rng, 50, 3.3)
    t1, t2 = regression_test(a, b, seed=7), regression_test(a, b, seed=7)
    assert t1.ci95 == t2.ci95
    assert t1.ci95[0] < t1.mean_diff < t1.ci95[1]


def test_too_few_items_gives_insufficient_and_no_p_value():
    result = decide({"tone": [4, 4, 3]}, {"tone": [3, 3, 2]}, min_items=10)
    assert result.verdict == INSUFFICIENT
    assert result.exit_code == 2
    assert "needs at least 10 shared items, has 3" in result.reasons[0]


def test_missing_scores_are_dropped_and_counted():
    t = regression_test([4, np.nan, 3, 5, 4, 4], [4, 3, np.nan, 4, 4, 3], min_pairs=2)
    assert (t.n_pairs, t.n_dropped) == (4, 2)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="margin"):
        regression_test([1, 2], [1, 2], margin=-1)
    with pytest.raises(ValueError, match="alpha"):
        decide({"a": [1]}, {"a": [1]}, alpha=1.5)
    with pytest.raises(ValueError, match="share no dimension"):
        decide({"a": [1]}, {"b": [1]})


def _simulate(rng, n, *, regress_dim=None, regress_tier=None, shift=0.5):
    effect = rng.normal(0, 0.4, n)
    tiers = np.array(["enterprise" if i % 2 == 0 else "self-serve" for i in range(n)])
    quality = {"accuracy": 3.6, "helpfulness": 3.3, "tone": 3.8}
    champion = {k: item_means(rng, n, q, item_effect=effect) for k, q in quality.items()}
    challenger = {}
    for k, q in quality.items():
        drop = np.zeros(n)
        if k == regress_dim:
            drop = np.where(tiers == regress_tier, shift, 0.0) if regress_tier else np.full(n, shift)
        challenger[k] = item_means(rng, n, q, item_effect=effect - drop)
    return champion, challenger, {"tier": list(tiers)}


@pytest.mark.slow
def test_false_alarm_rate_stays_at_or_below_alpha_when_nothing_changed():
    rng = np.random.default_rng(2026)
    runs, alarms = 300, 0
    for _ in range(runs):
        champion, challenger, groups = _simulate(rng, 120)
        alarms += decide(champion, challenger, groups=groups, n_boot=0, min_subgroup_items=20).verdict == FAIL
    rate = alarms / runs
    # Holm keeps the family-wise rate at most alpha; three standard errors of slack for 300 runs.
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs), rate


@pytest.mark.slow
@pytest.mark.parametrize("tier", [None, "enterprise"])
def test_a_half_point_regression_on_one_dimension_or_one_subgroup_is_caught(tier):
    rng = np.random.default_rng(7)
    runs, caught, blamed = 100, 0, 0
    for _ in range(runs):
        champion, challenger, groups = _simulate(rng, 120, regress_dim="tone", regress_tier=tier)
        result = decide(champion, challenger, groups=groups, n_boot=0, min_subgroup_items=20)
        caught += result.verdict == FAIL
        blamed += all(t.dimension == "tone" for t in result.regressions)
    assert caught / runs >= 0.9, caught
    assert blamed / runs >= 0.9, blamed


def test_psi_matches_the_formula_and_rule_of_thumb():
    before = np.array([10, 20, 40, 20, 10])
    after = np.array([5, 10, 30, 35, 20])
    pb, pa = before / before.sum(), after / after.sum()
    assert psi(before, after) == pytest.approx(float(np.sum((pa - pb) * np.log(pa / pb))))
    assert psi(before, before) == pytest.approx(0.0)
    assert psi([10, 0, 10], [10, 5, 10]) > 0  # an empty bin does not make it infinite


def test_js_distance_and_chi_square_match_scipy():
    rng = np.random.default_rng(8)
    for _ in range(20):
        p = rng.integers(0, 30, 5).astype(float) + 1
        q = rng.integers(0, 30, 5).astype(float)
        q[rng.integers(0, 5)] = 0
        assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
        stat, dof, pval = chi_square(p, q)
        table = np.vstack([p, q])
        table = table[:, table.sum(axis=0) > 0]
        ref = stats.chi2_contingency(table, correction=False)
        assert (stat, dof, pval) == pytest.approx((ref.statistic, ref.dof, ref.pvalue))


def test_distribution_drift_on_generated_rounds():
    rng = np.random.default_rng(9)
    before = np.clip(np.rint(rng.normal(4.0, 0.8, 400)), 1, 5)
    same = np.clip(np.rint(rng.normal(4.0, 0.8, 400)), 1, 5)
    worse = np.clip(np.rint(rng.normal(3.2, 0.8, 400)), 1, 5)
    stable, shifted = distribution_drift(before, same, [1, 2, 3, 4, 5]), distribution_drift(before, worse, [1, 2, 3, 4, 5])
    assert stable.psi < 0.1
    assert stable.p_value > 0.001
    assert shifted.psi > 0.25
    assert shifted.p_value < 1e-6
    assert shifted.js_distance > stable.js_distance
    assert sum(shifted.counts_after) == 400


def test_permutation_p_agrees_with_scipys_permutation_test():
    rng = np.random.default_rng(10)
    a, b = rng.normal(0, 1, 30), rng.normal(0.6, 1, 30)
    ours = permutation_p(a, b, n_perm=4000, seed=1)
    ref = stats.permutation_test((a, b), lambda x, y: np.mean(y) - np.mean(x), n_resamples=4000,
                                 alternative="two-sided", random_state=1).pvalue
    assert ours == pytest.approx(ref, abs=0.01)


def test_composite_rescales_each_dimension_and_weights_them():
    scores = {"accuracy": np.array([5.0, 1.0, np.nan]), "harmless": np.array([1.0, 0.0, 1.0])}
    out = composite_scores(scores, {"accuracy": 3, "harmless": 1}, {"accuracy": (1, 5), "harmless": (0, 1)})
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(0.0)
    assert np.isnan(out[2])
    frame = pd.DataFrame({"a": (np.array([4.0]) - 1) / 4, "h": [0.0]})
    assert composite_scores({"accuracy": [4.0], "harmless": [0.0]}, {"accuracy": 3, "harmless": 1},
                            {"accuracy": (1, 5), "harmless": (0, 1)})[0] == pytest.approx(
        float(np.average(frame.iloc[0], weights=[3, 1])))
    with pytest.raises(ValueError, match="positive weight"):
        composite_scores(scores, {"accuracy": 0}, {"accuracy": (1, 5)})

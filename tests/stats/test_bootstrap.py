"""The bootstrap: resampled pattern counts are exact multinomial draws, and replicates computed from
per-pattern sufficient statistics equal the coefficient recomputed from the raw resampled ratings."""

from __future__ import annotations

import math
from itertools import product

import krippendorff
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from evalplatform.stats.agreement import alpha_statistic, gwet_statistic, percent_agreement_statistic
from evalplatform.stats.bootstrap import (
    MAX_DROPPED_SHARE,
    Interval,
    MultinomialSampler,
    UnitStatistic,
    evaluate,
    percentile_interval,
    replicate,
    resample_counts,
)
from evalplatform.stats.matrix import code_ratings, collapse_units
from evalplatform.stats.pairwise_kappa import cohen_statistic, rater_pairs


def multinomial_pmf_table(n, p):
    """Every outcome of Multinomial(n, p) with its probability."""
    outcomes = [c for c in product(range(n + 1), repeat=len(p)) if sum(c) == n]
    probs = [stats.multinomial.pmf(c, n, p) for c in outcomes]
    return outcomes, np.array(probs)


@pytest.mark.parametrize("weights", [[1, 2, 3, 1], [5, 1, 1, 1, 1, 3]])
def test_poissonised_sampler_has_the_multinomial_distribution(weights):
    """Chi-square goodness of fit of 200,000 draws against the exact multinomial probabilities."""
    w = np.asarray(weights, dtype=float)
    n = int(w.sum())
    sampler = MultinomialSampler(n, w)
    draws = sampler.draw(200_000, np.random.default_rng(0))
    assert (draws.sum(axis=1) == n).all()
    assert (draws >= 0).all()
    outcomes, probs = multinomial_pmf_table(n, w / n)
    index = {c: i for i, c in enumerate(outcomes)}
    observed = np.bincount([index[tuple(r)] for r in draws.tolist()], minlength=len(outcomes))
    expected = probs * draws.shape[0]
    keep = expected >= 5
    chi2 = (((observed - expected) ** 2 / expected)[keep]).sum()
    dof = int(keep.sum()) - 1
    assert stats.chi2.sf(chi2, dof) > 1e-4
    assert observed[~keep].sum() == pytest.approx(expected[~keep].sum(), abs=5 * math.sqrt(expected[~keep].sum()) + 5)


def test_sampler_moments_on_many_categories():
    rng = np.random.default_rng(1)
    w = rng.integers(1, 60, 900).astype(float)
    n = int(w.sum())
    draws = MultinomialSampler(n, w).draw(4000, rng)
    p = w / n
    assert (draws.sum(axis=1) == n).all()
    se_mean = np.sqrt(n * p * (1 - p) / draws.shape[0])
    assert np.abs((draws.mean(axis=0) - n * p) / se_mean).max() < 5
    # covariance of two categories is -n p_i p_j
    cov = np.cov(draws[:, 0], draws[:, 1])[0, 1]
    assert cov == pytest.approx(-n * p[0] * p[1], abs=4 * n * p[0] * 0.05 + 1)
    var_ratio = draws.var(axis=0) / (n * p * (1 - p))
    assert var_ratio.mean() == pytest.approx(1, abs=0.03)


@pytest.mark.parametrize("n_patterns", [5, 600, 4000])
def test_resample_counts_paths_sum_to_n(n_patterns):
    """Small: numpy multinomial; many: Poissonised sampler; about as many patterns as units: unit draws."""
    rng = np.random.default_rng(2)
    w = rng.integers(1, 30 if n_patterns < 4000 else 2, n_patterns).astype(float)
    blocks = list(resample_counts(w, 700, rng))
    counts = np.vstack(blocks)
    assert counts.shape == (700, n_patterns)
    assert (counts.sum(axis=1) == w.sum()).all()
    assert np.abs(counts.mean(axis=0) - w).max() < 6 * np.sqrt(w.max())


def expand(patterns, counts):
    """The resampled raw (raters x units) code matrix a row of pattern counts stands for."""
    return np.repeat(patterns.codes, counts.astype(int), axis=1)


def test_replicates_equal_recomputation_from_raw_resamples():
    rng = np.random.default_rng(3)
    data = np.clip(rng.integers(1, 6, 60)[None, :] + rng.integers(-1, 2, (4, 60)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.25] = np.nan
    coded = code_ratings(data, level="ordinal")
    pat = collapse_units(coded.codes, coded.n_values)
    pos = coded.positions()
    pairs = rater_pairs(pat)
    statistics = {
        "alpha": alpha_statistic(pat, "ordinal", pos),
        "cohen": cohen_statistic(pat, pairs, "quadratic"),
        "pa": percent_agreement_statistic(pat),
        "gwet": gwet_statistic(pat, None, pos),
    }
    counts = next(resample_counts(pat.weights, 25, np.random.default_rng(4)))
    reps = replicate(statistics, pat.weights, 25, np.random.default_rng(4))
    for b in range(25):
        raw_codes = expand(pat, counts[b])
        raw = np.where(raw_codes >= 0, pos[np.maximum(raw_codes, 0)], np.nan)
        ref_alpha = krippendorff.alpha(reliability_data=raw, level_of_measurement="ordinal")
        assert reps["alpha"][b] == pytest.approx(ref_alpha, abs=1e-9)
        kappas = []
        for a, c in pairs:
            both = ~np.isnan(raw[a]) & ~np.isnan(raw[c])
            if both.sum() >= 2:
                with np.errstate(divide="ignore", invalid="ignore"):
                    k = cohen_kappa_score(raw[a, both], raw[c, both], labels=pos, weights="quadratic")
                if np.isfinite(k):
                    kappas.append(k)
        assert reps["cohen"][b] == pytest.approx(np.mean(kappas), abs=1e-9)


def test_percentile_interval_and_dropped_resamples():
    reps = np.linspace(0, 1, 1001)
    iv = percentile_interval(reps)
    assert iv.low == pytest.approx(0.025)
    assert iv.high == pytest.approx(0.975)
    some = reps.copy()
    some[:50] = np.nan
    iv = percentile_interval(some)
    assert iv.dropped == 50
    assert iv.low is not None
    many = reps.copy()
    many[: int(MAX_DROPPED_SHARE * 1001) + 5] = np.nan
    iv = percentile_interval(many)
    assert iv.low is None
    assert iv.high is None
    assert "undefined in" in iv.reason
    assert percentile_interval(np.full(100, np.nan)) == Interval(
        None, None, 100, 100, percentile_interval(np.full(100, np.nan)).reason)


def test_evaluate_degenerate_resamples_are_reported():
    """Three units, two nearly constant: many resamples have no variation, so alpha is undefined there."""
    data = np.array([[1, 1, 1, 2.0], [1, 1, 1, 1]])
    coded = code_ratings(data, level="nominal")
    pat = collapse_units(coded.codes, coded.n_values, ignore_raters=True)
    stat = alpha_statistic(pat, "nominal", coded.positions())
    est = evaluate({"a": stat}, pat.weights, bootstrap=500, seed=0)["a"]
    assert est.value is not None
    assert est.ci95 is None
    assert est.dropped_resamples > 50
    assert "undefined in" in est.ci_reason


def test_evaluate_precondition_and_no_bootstrap():
    stat = UnitStatistic(np.ones((2, 1)), lambda t: (t[:, 0], np.zeros(t.shape[0], dtype=np.int64)), ())
    est = evaluate({"s": stat}, np.array([3.0, 4.0]), bootstrap=0)["s"]
    assert est.value == 7
    assert est.ci95 is None
    assert est.resamples == 0
    est = evaluate({"s": stat}, np.array([3.0, 4.0]), bootstrap=10, precondition="nope")["s"]
    assert est.value is None
    assert est.reason == "nope"
    one = UnitStatistic(np.ones((1, 1)), stat.finish, ())
    est = evaluate({"s": one}, np.array([1.0]), bootstrap=10)["s"]
    assert est.ci95 is None
    assert est.ci_reason == "needs at least two units to resample"


def test_the_same_seed_gives_the_same_resamples_on_any_number_of_threads(monkeypatch):
    # Enough patterns x resamples for the threaded path; the blocks must not be sized by the thread count.
    from evalplatform.stats import bootstrap

    rng = np.random.default_rng(8)
    weights = rng.integers(1, 40, 3_000).astype(float)
    values = rng.normal(size=(3_000, 2))
    stat = UnitStatistic(values, lambda t: (t[:, 0] / (1 + np.abs(t[:, 1])), np.zeros(t.shape[0], dtype=np.int64)), ())
    assert weights.size * 1_000 >= bootstrap.PARALLEL_CELLS
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(bootstrap, "THREADS", threads)
        runs.append(replicate({"s": stat}, weights, 1_000, 11)["s"])
    assert np.array_equal(runs[0], runs[1])
    assert np.array_equal(runs[0], runs[2])

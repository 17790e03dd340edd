"""Every agreement coefficient against a reference implementation on many random data sets (to 1e-9).

References: ``krippendorff.alpha``, ``sklearn.metrics.cohen_kappa_score`` and
``statsmodels.stats.inter_rater`` (``cohens_kappa``, ``fleiss_kappa``); for percent agreement and
Gwet's AC1/AC2, straightforward loop implementations of the textbook formulas written below.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from evalplatform.stats.agreement import (
    ALPHA_CONSTANT,
    NO_PAIRABLE,
    NO_RATINGS,
    ONE_RATER,
    ONE_UNIT,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    percent_agreement,
)
from evalplatform.stats.matrix import LEVELS, RatingDataError
from evalplatform.stats.pairwise_kappa import cohen_kappa

TOL = 1e-9


def random_data(rng: np.random.Generator, *, n_raters=None, n_units=None, missing=None, n_values=None,
                continuous=False):
    """Raters x units ratings on a random scale: a latent unit value plus rater noise, some missing."""
    n_raters = n_raters or int(rng.integers(2, 7))
    n_units = n_units or int(rng.integers(1, 201))
    missing = rng.uniform(0, 0.6) if missing is None else missing
    n_values = n_values or int(rng.integers(2, 8))
    if continuous:
        scale = np.round(np.sort(rng.uniform(0, 10, n_values)), 3)
    else:
        scale = np.arange(1, n_values + 1, dtype=float)
    latent = rng.integers(0, n_values, n_units)
    idx = np.clip(latent + rng.integers(-1, 2, (n_raters, n_units)) * (rng.random((n_raters, n_units)) < 0.5),
                  0, n_values - 1)
    data = scale[idx]
    data[rng.random(data.shape) < missing] = np.nan
    return data, scale


def reference_alpha(data, level, value_domain=None):
    """krippendorff.alpha, or None where the package refuses (no pairable unit, one value)."""
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=value_domain)
    except ValueError:
        return None
    return float(value) if np.isfinite(value) else None


def pairable_units(data):
    return int(((~np.isnan(data)).sum(axis=0) >= 2).sum())


def check_alpha(data, level, value_domain=None):
    ours = krippendorff_alpha(data, level, value_domain=value_domain)
    ref = reference_alpha(data, level, value_domain)
    if ours.value is None:
        assert ours.reason in (NO_PAIRABLE, ONE_UNIT, ALPHA_CONSTANT, ONE_RATER, NO_RATINGS)
        if ours.reason == ONE_UNIT:
            assert pairable_units(data) == 1
        else:
            assert ref is None
    else:
        assert ref is not None
        assert ours.value == pytest.approx(ref, abs=TOL)
        assert pairable_units(data) >= 2
    return ours


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package(level):
    rng = np.random.default_rng(1234 + LEVELS.index(level))
    defined = 0
    for _ in range(150):
        data, _ = random_data(rng, continuous=level in ("interval", "ratio") and rng.random() < 0.5)
        defined += check_alpha(data, level).value is not None
    assert defined > 120  # the loop exercised real values, not only degenerate cases


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_with_full_scale_and_unused_categories(level):
    rng = np.random.default_rng(99)
    for _ in range(80):
        data, scale = random_data(rng, n_values=int(rng.integers(3, 9)))
        data[data == scale[1]] = scale[0]  # leave a category in the middle unused
        check_alpha(data, level, value_domain=scale)
        check_alpha(data, level, value_domain=np.append(scale, scale[-1] + 1))  # unused top value


def test_alpha_many_missing_values():
    rng = np.random.default_rng(7)
    for _ in range(60):
        data, _ = random_data(rng, missing=rng.uniform(0.6, 0.9), n_units=int(rng.integers(5, 200)))
        for level in LEVELS:
            check_alpha(data, level)


def test_alpha_nominal_string_labels_match_package():
    rng = np.random.default_rng(3)
    words = np.array(["bad", "fine", "good", "great"], dtype=object)
    for _ in range(40):
        data, _ = random_data(rng, n_values=4)
        labels = np.where(np.isnan(data), None, words[np.nan_to_num(data, nan=1).astype(int) - 1])
        for_package = np.where(np.isnan(data), "nan", labels.astype(str))
        ours = krippendorff_alpha(labels, "nominal")
        ref = reference_alpha(for_package, "nominal")
        if ours.value is not None:
            assert ours.value == pytest.approx(ref, abs=TOL)
        # ordered labels on the ordinal level, as the package does with value_domain
        ours = krippendorff_alpha(labels, "ordinal", value_domain=list(words))
        ref = reference_alpha(for_package, "ordinal", value_domain=list(words))
        if ours.value is not None:
            assert ours.value == pytest.approx(ref, abs=TOL)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 6), st.integers(1, 40), st.integers(2, 6), st.floats(0, 0.6), st.sampled_from(LEVELS),
    st.integers(0, 2**32 - 1),
)
def test_alpha_hypothesis(n_raters, n_units, n_values, missing, level, seed):
    data, _ = random_data(np.random.default_rng(seed), n_raters=n_raters, n_units=n_units, missing=missing,
                          n_values=n_values)
    check_alpha(data, level)


# --------------------------------------------------------------------------------------------------
# Cohen's kappa


def sklearn_pair(x, y, labels, weights):
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(divide="ignore", invalid="ignore"):
            k = cohen_kappa_score(x[both], y[both], labels=labels, weights=weights)
    return float(k) if np.isfinite(k) else None


def statsmodels_pair(x, y, labels, weights):
    both = ~np.isnan(x) & ~np.isnan(y)
    index = {v: i for i, v in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for a, b in zip(x[both], y[both], strict=True):
        table[index[a], index[b]] += 1
    with np.errstate(divide="ignore", invalid="ignore"):
        res = cohens_kappa(table, wt=weights, return_results=False) if weights else cohens_kappa(
            table, return_results=False)
    return float(res)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_pairs_match_sklearn_and_statsmodels(weights):
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(120):
        data, scale = random_data(rng)
        given_scale = rng.random() < 0.5
        labels = list(scale) if given_scale else sorted(set(data[~np.isnan(data)].tolist()))
        if len(labels) < 2:
            continue
        res = cohen_kappa(data, weights=weights, value_domain=scale if given_scale else None)
        by_pair = {p.raters: p for p in res.pairs}
        refs = []
        for a, b in combinations(range(data.shape[0]), 2):
            ref = sklearn_pair(data[a], data[b], labels, weights)
            pair = by_pair.get((a, b))
            if ref is None:
                assert pair is None or pair.value is None
                continue
            assert pair is not None
            assert pair.value == pytest.approx(ref, abs=TOL)
            assert pair.value == pytest.approx(statsmodels_pair(data[a], data[b], labels, weights), abs=TOL)
            assert pair.n_units == int((~np.isnan(data[a]) & ~np.isnan(data[b])).sum())
            refs.append(ref)
            checked += 1
        if refs:
            assert res.mean.value == pytest.approx(np.mean(refs), abs=TOL)
        else:
            assert res.mean.value is None
            assert res.mean.reason
    assert checked > 300


def test_cohen_kappa_undefined_pair_has_reason():
    data = np.array([[1, 1, 1, np.nan], [1, 1, 1, 2.0], [1, 2, 1, 2]])
    res = cohen_kappa(data)
    pair01 = next(p for p in res.pairs if p.raters == (0, 1))
    assert pair01.value is None
    assert "same value" in pair01.reason
    assert res.mean.value is not None  # the mean is over the defined pairs


# --------------------------------------------------------------------------------------------------
# Fleiss' kappa


def fixed_m_data(rng, n_raters, n_units, m, n_values):
    """Every unit rated by exactly m of the raters."""
    data, _ = random_data(rng, n_raters=n_raters, n_units=n_units, missing=0.0, n_values=n_values)
    for u in range(n_units):
        drop = rng.permutation(n_raters)[: n_raters - m]
        data[drop, u] = np.nan
    return data


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(150):
        n_raters = int(rng.integers(2, 7))
        m = int(rng.integers(2, n_raters + 1))
        data = fixed_m_data(rng, n_raters, int(rng.integers(2, 201)), m, int(rng.integers(2, 7)))
        ours = fleiss_kappa(data)
        table, _ = aggregate_raters(np.array([col[~np.isnan(col)] for col in data.T]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = sm_fleiss(table)
        if ours.value is None:
            assert not np.isfinite(ref)
            assert ours.reason
        else:
            assert ours.value == pytest.approx(ref, abs=TOL)
            checked += 1
    assert checked > 130


def test_fleiss_unequal_counts_reason_and_modal_only():
    rng = np.random.default_rng(8)
    data = fixed_m_data(rng, 5, 60, 3, 4)
    data[:, :10] = fixed_m_data(rng, 5, 10, 4, 4)  # ten units with four ratings
    data[:, 10:12] = fixed_m_data(rng, 5, 2, 2, 4)
    res = fleiss_kappa(data)  # unequal numbers of ratings: Gwet's generalisation, not None
    assert res.value is not None
    assert res.note is not None
    assert res.note.startswith("Gwet's generalisation")
    modal = fleiss_kappa(data, modal_only=True)
    table, _ = aggregate_raters(np.array([col[~np.isnan(col)] for col in data[:, 12:].T]))
    assert modal.value == pytest.approx(sm_fleiss(table), abs=TOL)
    assert "48 of 60 units with 3 ratings" in modal.note


# --------------------------------------------------------------------------------------------------
# percent agreement and Gwet's AC1 / AC2: loop implementations of the textbook formulas


def reference_percent_agreement(data):
    shares = []
    for col in data.T:
        vals = col[~np.isnan(col)]
        m = vals.size
        if m < 2:
            continue
        agree = sum(1 for i in range(m) for j in range(m) if i != j and vals[i] == vals[j])
        shares.append(agree / (m * (m - 1)))
    return float(np.mean(shares)) if shares else None


def reference_gwet(data, scale, weights):
    """Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., AC1/AC2 with missing ratings, by loops."""
    q = len(scale)
    span = max(scale) - min(scale)
    w = [[1.0 if k == j else (0.0 if weights is None else
                              1 - (abs(scale[k] - scale[j]) / span) ** (1 if weights == "linear" else 2))
          for j in range(q)] for k in range(q)]
    units = []
    for col in data.T:
        vals = col[~np.isnan(col)]
        if vals.size:
            units.append([int(np.sum(vals == scale[k])) for k in range(q)])
    n = len(units)
    pa_terms = []
    pi = [0.0] * q
    for r in units:
        ri = sum(r)
        for k in range(q):
            pi[k] += r[k] / ri / n
        if ri >= 2:
            star = [sum(w[k][j] * r[j] for j in range(q)) for k in range(q)]
            pa_terms.append(sum(r[k] * (star[k] - 1) for k in range(q)) / (ri * (ri - 1)))
    if len(pa_terms) < 2:
        return None
    pa = sum(pa_terms) / len(pa_terms)
    tw = sum(sum(row) for row in w)
    pe = tw / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    return (pa - pe) / (1 - pe)


def test_percent_agreement_matches_reference():
    rng = np.random.default_rng(21)
    for _ in range(150):
        data, _ = random_data(rng)
        ours = percent_agreement(data)
        ref = reference_percent_agreement(data)
        if ref is None:
            assert ours.value is None
            assert ours.reason == NO_PAIRABLE
        else:
            assert ours.value == pytest.approx(ref, abs=TOL)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_gwet_matches_reference(weights):
    rng = np.random.default_rng(31)
    checked = 0
    for _ in range(120):
        data, scale = random_data(rng, continuous=rng.random() < 0.3)
        ours = gwet_ac(data, weights=weights, value_domain=scale)
        ref = reference_gwet(data, list(scale), weights)
        if ref is None:
            assert ours.value is None
            assert ours.reason
        else:
            assert ours.value == pytest.approx(ref, abs=TOL)
            checked += 1
    assert checked > 100


def test_gwet_scale_matters():
    data = np.array([[1, 1, 2, 2, 1.0], [1, 2, 2, 2, 1]])
    observed_only = gwet_ac(data)
    full_scale = gwet_ac(data, value_domain=[1, 2, 3, 4, 5])
    assert observed_only.value != pytest.approx(full_scale.value)
    assert full_scale.value == pytest.approx(reference_gwet(data, [1, 2, 3, 4, 5], None), abs=TOL)


# --------------------------------------------------------------------------------------------------
# bootstrap intervals through the public functions


def test_every_coefficient_has_a_seeded_interval():
    rng = np.random.default_rng(0)
    data = fixed_m_data(rng, 4, 120, 4, 5)
    calls = {
        "alpha": lambda s: krippendorff_alpha(data, "ordinal", bootstrap=300, seed=s),
        "cohen": lambda s: cohen_kappa(data, weights="quadratic", bootstrap=300, seed=s).mean,
        "fleiss": lambda s: fleiss_kappa(data, bootstrap=300, seed=s),
        "pa": lambda s: percent_agreement(data, bootstrap=300, seed=s),
        "gwet": lambda s: gwet_ac(data, weights="quadratic", bootstrap=300, seed=s),
    }
    for name, call in calls.items():
        a, b, c = call(1), call(1), call(2)
        assert a.ci95 is not None, name
        assert a.ci95 == b.ci95, name
        assert a.ci95 != c.ci95, name
        assert a.ci95[0] <= a.value <= a.ci95[1], name
        assert a.resamples == 300


def test_string_labels_on_numeric_level_raise():
    data = np.array([["a", "b", None], ["a", "a", "b"]], dtype=object)
    with pytest.raises(RatingDataError, match="needs numeric ratings"):
        krippendorff_alpha(data, "interval")
    with pytest.raises(RatingDataError, match="scale listing the labels"):
        krippendorff_alpha(data, "ordinal")
    assert krippendorff_alpha(data, "nominal").value is not None


def test_value_off_the_scale_raises():
    with pytest.raises(RatingDataError, match="not on the scale"):
        krippendorff_alpha(np.array([[1, 2, 7.0], [1, 2, 3]]), "ordinal", value_domain=[1, 2, 3, 4, 5])


@pytest.mark.parametrize(("data", "reason"), [
    (np.array([[1, 2, 3.0]]), ONE_RATER),
    (np.array([[1.0], [2.0], [2.0]]), ONE_UNIT),
    (np.array([[1, np.nan, 3], [np.nan, 2, np.nan]]), NO_PAIRABLE),
    (np.full((3, 4), np.nan), NO_RATINGS),
    (np.full((3, 4), 4.0), ALPHA_CONSTANT),
])
def test_degenerate_inputs_give_explicit_answers(data, reason):
    est = krippendorff_alpha(data, "ordinal", bootstrap=100, seed=0)
    assert est.value is None
    assert est.reason == reason
    assert est.ci95 is None
    for other in (cohen_kappa(data, bootstrap=50).mean, fleiss_kappa(data, bootstrap=50),
                  percent_agreement(data, bootstrap=50), gwet_ac(data, bootstrap=50)):
        assert (other.value is None) == (other.reason is not None)
        assert other.value is None or np.isfinite(other.value)
    if reason == ALPHA_CONSTANT:  # identical ratings: agreement is perfect where it is defined
        assert percent_agreement(data).value == 1.0
        assert fleiss_kappa(data).reason.startswith("all ratings have the same value")
        assert gwet_ac(data, value_domain=[1, 2, 3, 4, 5]).value == 1.0
        assert cohen_kappa(data).mean.reason == "no pair of raters has a defined kappa"


def test_unused_scale_categories_are_fine():
    data = np.array([[1, 2, 2, 5], [1, 2, 3, 5.0]])
    est = krippendorff_alpha(data, "ordinal", value_domain=[1, 2, 3, 4, 5, 6, 7])
    assert est.value == pytest.approx(reference_alpha(data, "ordinal", [1, 2, 3, 4, 5, 6, 7]), abs=TOL)


def many_values(seed, n_units=250, n_raters=4):
    """Ratings with a hundred or more distinct values (a continuous score), some missing."""
    rng = np.random.default_rng(seed)
    data = np.round(rng.normal(50, 10, n_units)[None, :] + rng.normal(0, 4, (n_raters, n_units)), 1)
    data[rng.random(data.shape) < 0.2] = np.nan
    return data


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_with_many_distinct_values(level):
    """Long scales take other code paths (no V x V matrices; ordinal from the resample's unit counts)."""
    for seed in range(3):
        data = many_values(seed)
        assert np.unique(data[~np.isnan(data)]).size > 64
        check_alpha(data, level)


def test_bootstrap_of_ordinal_alpha_on_a_long_scale_equals_recomputation():
    from evalplatform.stats.agreement import alpha_statistic
    from evalplatform.stats.bootstrap import replicate, resample_counts
    from evalplatform.stats.matrix import code_ratings, collapse_units

    data = many_values(5, n_units=120)
    coded = code_ratings(data, level="ordinal")
    pat = collapse_units(coded.codes, coded.n_values, ignore_raters=True)
    stat = alpha_statistic(pat, "ordinal", coded.positions())
    assert stat.direct is not None
    counts = next(resample_counts(pat.weights, 10, np.random.default_rng(0)))
    reps = replicate({"a": stat}, pat.weights, 10, np.random.default_rng(0))["a"]
    for b in range(10):
        codes = np.repeat(pat.codes, counts[b].astype(int), axis=1)
        raw = np.where(codes >= 0, coded.positions()[np.maximum(codes, 0)], np.nan)
        assert reps[b] == pytest.approx(reference_alpha(raw, "ordinal"), abs=TOL)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_and_gwet_with_many_categories(weights):
    data = np.round(many_values(7, n_units=150, n_raters=3) * 10)  # integral, so sklearn takes them as classes
    labels = sorted(set(data[~np.isnan(data)].tolist()))
    res = cohen_kappa(data, weights=weights)
    for pair in res.pairs:
        a, b = pair.raters
        assert pair.value == pytest.approx(sklearn_pair(data[a], data[b], labels, weights), abs=TOL)
    ours = gwet_ac(data, weights=weights)
    assert ours.value == pytest.approx(reference_gwet(data, labels, weights), abs=TOL)

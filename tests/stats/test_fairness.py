"""The fairness audit: figures against scipy/statsmodels, and a simulation of its error rates.

Under no effect, the share of simulated audits with any flag stays near the nominal 5% (Holm keeps the
family-wise error rate at or below alpha); with one planted effect the audit finds it, and only it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import ndtr
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from evalplatform.stats.fairness import (
    AuditCell,
    _kruskal_counts,
    fairness_audit,
    flagged_pairs,
    mann_whitney_p,
    wilson_interval,
)

FIELDS = {"topic": ["billing", "tech", "account"], "lang": ["en", "de"], "tier": ["free", "pro", "team", "vip"]}
MODELS = ["m1", "m2", "m3"]
DIMS = ["accuracy", "helpfulness"]


def likert_units(rng, n, shift=0.0, raters=3):
    """Unit scores on 1-5: the mean of ``raters`` noisy integer ratings around a latent quality."""
    latent = rng.normal(3 + shift, 0.8, n)
    ratings = np.clip(np.round(latent[:, None] + rng.normal(0, 0.7, (n, raters))), 1, 5)
    return ratings.mean(axis=1)


def simulate(rng, n_items=120, planted=None):
    """Cells for every field x model x dimension; ``planted`` = (field, group, model, dim, shift)."""
    meta = {f: rng.choice(vals, n_items) for f, vals in FIELDS.items()}
    cells = []
    scores = {(m, d): None for m in MODELS for d in DIMS}
    for m in MODELS:
        for d in DIMS:
            s = likert_units(rng, n_items)
            if planted and planted[2] == m and planted[3] == d:
                hit = meta[planted[0]] == planted[1]
                s[hit] = likert_units(rng, int(hit.sum()), shift=planted[4])
            scores[(m, d)] = s
    for f in FIELDS:
        for m in MODELS:
            for d in DIMS:
                cells.append(AuditCell(f, m, d, scores[(m, d)], list(meta[f])))
    return cells


def test_figures_match_the_reference_libraries():
    rng = np.random.default_rng(0)
    scores = np.concatenate([likert_units(rng, 30), likert_units(rng, 25, 0.6), likert_units(rng, 3)])
    groups = ["a"] * 30 + ["b"] * 25 + ["c"] * 3
    yes = rng.integers(0, 4, 58).astype(float)
    audit = fairness_audit([AuditCell("f", "m", "d", scores, groups, binary=True, yes=yes, ratings=np.full(58, 3.0))])
    (cell,) = audit["cells"]
    a, b = scores[:30], scores[30:55]
    ga, gb, gc = cell["groups"]
    assert ga["ci95"] == pytest.approx(list(sps.t.interval(0.95, 29, loc=a.mean(), scale=sps.sem(a))), abs=1e-12)
    assert gc["tested"] is False
    assert cell["n_tested_groups"] == 2  # 3 units: shown, not tested
    assert ga["rate_ci95"] == pytest.approx(list(proportion_confint(yes[:30].sum(), 90, method="wilson")), abs=1e-12)
    high, low = (b, a) if b.mean() > a.mean() else (a, b)
    welch = sps.ttest_ind(high, low, equal_var=False).confidence_interval(0.95)
    assert cell["gap"]["ci95"] == pytest.approx([welch.low, welch.high], abs=1e-10)
    assert cell["omnibus"]["p_value"] == pytest.approx(sps.kruskal(a, b).pvalue, abs=1e-12)
    assert cell["pairs"][0]["p_value"] == pytest.approx(sps.mannwhitneyu(a, b, method="asymptotic").pvalue, abs=1e-12)
    rates = [ga["rate"], gb["rate"]]
    assert cell["four_fifths"]["ratio"] == pytest.approx(min(rates) / max(rates))


def test_mann_whitney_matches_scipy_asymptotic():
    rng = np.random.default_rng(5)
    for _ in range(200):
        a = np.round(rng.normal(0, 1, int(rng.integers(2, 40))), int(rng.integers(0, 3)))  # ties too
        b = np.round(rng.normal(0.3, 1, int(rng.integers(2, 40))), int(rng.integers(0, 3)))
        if np.ptp(np.concatenate([a, b])) == 0:
            continue
        ref = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").pvalue
        assert mann_whitney_p(a, b) == pytest.approx(ref, abs=1e-12)


def test_kruskal_and_mann_whitney_from_value_counts_are_scipys_floats():
    """The audit's tests work on each group's distinct values and counts: the same floats as scipy's
    tests on the units (the golden reports compare them exactly)."""
    rng = np.random.default_rng(9)
    for _ in range(300):
        k = int(rng.integers(2, 6))
        samples = [np.round(rng.normal(rng.normal(0, 0.3), 1, int(rng.integers(1, 60))), int(rng.integers(0, 3)))
                   for _ in range(k)]
        if np.ptp(np.concatenate(samples)) == 0:
            continue
        counts = [np.unique(x, return_counts=True) for x in samples]
        ref = sps.kruskal(*samples)
        assert _kruskal_counts(counts) == (float(ref.statistic), float(ref.pvalue))
        a, b = samples[0], samples[1]
        if np.ptp(np.concatenate([a, b])) > 0:
            ranked = sps.rankdata(np.concatenate([a, b]))  # the rank form this replaced
            n1, n2 = a.size, b.size
            u1 = float(ranked[:n1].sum()) - n1 * (n1 + 1) / 2
            u = max(u1, n1 * n2 - u1)
            _, ties = np.unique(ranked, return_counts=True)
            n = n1 + n2
            sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1))))
            expected = 1.0 if sigma == 0 else float(min(1.0, 2 * ndtr(-(u - n1 * n2 / 2 - 0.5) / sigma)))
            assert mann_whitney_p(a, b) == expected


def test_all_pairwise_p_values_are_corrected_together():
    rng = np.random.default_rng(1)
    cells = simulate(rng, planted=("topic", "tech", "m2", "accuracy", -1.0))
    audit = fairness_audit(cells)
    raw = [p["p_value"] for c in audit["cells"] for p in c["pairs"] if p["p_value"] is not None]
    assert audit["n_tests"] == len(raw) == 3 * 2 * (3 + 1 + 6)
    expected = multipletests(raw, method="holm")[1]
    got = [p["p_adjusted"] for c in audit["cells"] for p in c["pairs"] if p["p_value"] is not None]
    assert got == pytest.approx(list(expected), abs=1e-15)
    assert all((p["p_adjusted"] < 0.05) == p["flagged"] for c in audit["cells"] for p in c["pairs"])


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_pairwise_and_omnibus_corrections_are_statsmodels_multipletests(method):
    rng = np.random.default_rng(11)
    cells = simulate(rng, planted=("tier", "vip", "m1", "helpfulness", 0.8))
    cells.append(AuditCell("const", "m1", "accuracy", np.full(12, 3.0), ["a"] * 6 + ["b"] * 6))  # no p-values
    audit = fairness_audit(cells, method=method)
    pairs = [p for c in audit["cells"] for p in c["pairs"]]
    raw = [p["p_value"] for p in pairs if p["p_value"] is not None]
    got = [p["p_adjusted"] for p in pairs if p["p_value"] is not None]
    assert got == pytest.approx(list(multipletests(raw, method=method)[1]), abs=1e-12)
    assert all(p["p_adjusted"] is None for p in pairs if p["p_value"] is None)
    omni = [c["omnibus"] for c in audit["cells"] if c["omnibus"] and c["omnibus"]["p_value"] is not None]
    assert [o["p_adjusted"] for o in omni] == pytest.approx(
        list(multipletests([o["p_value"] for o in omni], method=method)[1]), abs=1e-12)
    assert "p_adjusted" not in audit["cells"][-1]["omnibus"]


def test_one_p_value_is_its_own_correction():
    scores = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 4.0, 5.0, 4.0, 5.0, 3.0])
    audit = fairness_audit([AuditCell("f", "m", "d", scores, ["a"] * 5 + ["b"] * 5)])
    (pair,) = audit["cells"][0]["pairs"]
    assert audit["n_tests"] == 1
    assert pair["p_adjusted"] == pair["p_value"] == pytest.approx(
        sps.mannwhitneyu(scores[:5], scores[5:], method="asymptotic").pvalue, abs=1e-12)
    assert audit["cells"][0]["omnibus"]["p_adjusted"] == audit["cells"][0]["omnibus"]["p_value"]
    assert fairness_audit([])["n_tests"] == 0


def test_wilson_interval_matches_statsmodels():
    for n in (1, 2, 7, 30, 1000, 60000):
        for yes in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for alpha in (0.05, 0.1):
                ref = proportion_confint(yes, n, alpha=alpha, method="wilson")
                assert wilson_interval(float(yes), float(n), alpha) == pytest.approx(list(ref), abs=1e-12)


def test_groups_of_one_type_are_grouped_as_their_strings():
    """The lookup by value (groups all str, all int or all bool) gives the audit of the strings."""
    rng = np.random.default_rng(4)
    scores = likert_units(rng, 90)
    for values in (["x", "y", "z"], [3, 1, 2, 10], [True, False]):
        groups = [values[k % len(values)] for k in rng.integers(0, 50, 90)]
        by_value = fairness_audit([AuditCell("f", "m", "d", scores, groups)])["cells"][0]
        by_string = fairness_audit([AuditCell("f", "m", "d", scores, [np.str_(g) for g in groups])])["cells"][0]
        assert [g["n"] for g in by_value["groups"]] == [groups.count(v) for v in sorted(set(groups))]
        # the same groups and tests (ints sort by number, their strings as strings)
        assert {str(g["value"]): (g["n"], g["mean"]) for g in by_value["groups"]} == {
            str(g["value"]): (g["n"], g["mean"]) for g in by_string["groups"]}
        assert {frozenset((str(p["a"]), str(p["b"]))): p["p_adjusted"] for p in by_value["pairs"]} == {
            frozenset((str(p["a"]), str(p["b"]))): p["p_adjusted"] for p in by_string["pairs"]}


def test_an_audit_does_not_load_statsmodels():
    code = ("import sys, numpy as np\n"
            "from evalplatform.stats.fairness import AuditCell, fairness_audit\n"
            "fairness_audit([AuditCell('f', 'm', 'd', np.arange(20.0), ['a', 'b'] * 10, binary=True,\n"
            "    yes=np.ones(20), ratings=np.full(20, 2.0))], method='holm')\n"
            "print(sorted(m for m in ('statsmodels', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_false_flag_rate_near_nominal_under_no_effect(method):
    rng = np.random.default_rng(2020)
    runs = 300
    any_flag = sum(fairness_audit(simulate(rng), method=method)["n_flags"] > 0 for _ in range(runs))
    rate = any_flag / runs
    # nominal 5%: 300 runs give a binomial sd of 1.3 points; Holm is a little conservative on these
    # correlated tests (the same units enter several pairs)
    assert rate <= 0.05 + 3 * 0.0126
    assert rate >= 0.005  # not a test that never flags anything


def test_uncorrected_flags_would_be_mostly_noise():
    """What the old per-cell rule amounted to: 60 tests at 5% each flag something nearly every time."""
    rng = np.random.default_rng(7)
    runs = 40
    hits = 0
    for _ in range(runs):
        audit = fairness_audit(simulate(rng))
        hits += any(p["p_value"] is not None and p["p_value"] < 0.05 for c in audit["cells"] for p in c["pairs"])
    assert hits / runs > 0.8


def test_a_planted_effect_is_found_and_nothing_else():
    rng = np.random.default_rng(3)
    found, other = 0, 0
    runs = 40
    for _ in range(runs):
        audit = fairness_audit(simulate(rng, planted=("topic", "tech", "m2", "accuracy", -1.0)))
        pairs = flagged_pairs(audit)
        found += any(p["field"] == "topic" and p["model"] == "m2" and p["dimension"] == "accuracy"
                     and "tech" in (p["a"], p["b"]) for p in pairs)
        other += sum(not (p["field"] == "topic" and p["model"] == "m2" and p["dimension"] == "accuracy")
                     for p in pairs)
    assert found / runs >= 0.9
    assert other <= 0.1 * runs


def test_degenerate_cells_give_reasons():
    audit = fairness_audit([AuditCell("f", "m", "d", np.array([3.0] * 12), ["a"] * 6 + ["b"] * 6),
                            AuditCell("f", "m", "e", np.array([1.0, 2.0, 3.0]), ["a", "a", "b"])])
    same, small = audit["cells"]
    assert same["omnibus"]["reason"] == "every unit has the same score"
    assert not same["flagged"]
    assert small["reason"].startswith("fewer than 2 groups")
    assert audit["n_flags"] == 0
    with pytest.raises(ValueError):
        fairness_audit([], method="bonferroni-ish")

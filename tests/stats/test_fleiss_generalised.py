"""Fleiss' kappa for a varying number of raters per unit (Gwet's generalisation).

References: irrCAC's ``fleiss`` (the Python port of R irrCAC's ``fleiss.kappa.raw``), run in a separate
environment because it pins old numpy/pandas; its values on 40 random incomplete designs are stored in
``data/irrcac_fleiss.json`` (``CAC(ratings, digits=15).fleiss()``).  Beside it, Gwet (2014, ch. 2)'s
formulas written as plain loops below, on more random designs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from evalplatform.stats.agreement import FLEISS_CLASSIC, FLEISS_GENERALISED, fleiss_kappa
from evalplatform.stats.summary import summarize

TOL = 1e-9
CASES = json.loads((Path(__file__).parent / "data" / "irrcac_fleiss.json").read_text())["cases"]


def gwet_fleiss_loops(data: np.ndarray) -> float:
    """Gwet (2014) eq. 2.7-2.9 with loops: data is raters x units, NaN missing."""
    cats = sorted({float(v) for v in data[~np.isnan(data)]})
    units = [col[~np.isnan(col)] for col in data.T]
    units = [u for u in units if u.size >= 1]
    n = len(units)
    pa_terms = []
    pi = dict.fromkeys(cats, 0.0)
    for u in units:
        r = u.size
        counts = {c: float(np.sum(u == c)) for c in cats}
        for c in cats:
            pi[c] += counts[c] / r / n
        if r >= 2:
            pa_terms.append(sum(counts[c] * (counts[c] - 1) for c in cats) / (r * (r - 1)))
    pa = sum(pa_terms) / len(pa_terms)
    pe = sum(p * p for p in pi.values())
    return (pa - pe) / (1 - pe)


def test_matches_irrcac_on_incomplete_designs():
    checked = 0
    for case in CASES:
        data = np.array([[np.nan if v is None else v for v in row] for row in case["units_by_raters"]], float).T
        ours = fleiss_kappa(data)
        counts = (~np.isnan(data)).sum(axis=0)
        if np.unique(counts).size > 1:
            assert ours.note == FLEISS_GENERALISED
            checked += 1
        assert ours.value == pytest.approx(case["fleiss_kappa_raw"], abs=TOL)
    assert checked >= 35


def test_matches_gwet_formulas_on_random_designs():
    rng = np.random.default_rng(20)
    for _ in range(200):
        n_raters, n_units, q = int(rng.integers(3, 12)), int(rng.integers(5, 120)), int(rng.integers(2, 6))
        truth = rng.integers(0, q, n_units)
        data = np.where(rng.random((n_raters, n_units)) < 0.7, truth, rng.integers(0, q, (n_raters, n_units)))
        data = data.astype(float)
        data[rng.random(data.shape) < rng.uniform(0.1, 0.8)] = np.nan
        data = data[:, (~np.isnan(data)).sum(axis=0) >= 1]
        if ((~np.isnan(data)).sum(axis=0) >= 2).sum() < 2 or np.unique(data[~np.isnan(data)]).size < 2:
            continue
        assert fleiss_kappa(data).value == pytest.approx(gwet_fleiss_loops(data), abs=TOL)


def test_complete_design_keeps_the_classic_form_and_equals_it():
    rng = np.random.default_rng(3)
    data = rng.integers(0, 3, (4, 50)).astype(float)
    table, _ = aggregate_raters(data.T)
    ours = fleiss_kappa(data)
    assert ours.value == pytest.approx(sm_fleiss(table), abs=TOL)
    assert ours.note is None  # the classic form: nothing to say
    # the generalisation reduces to the classic form on a complete design
    assert gwet_fleiss_loops(data) == pytest.approx(sm_fleiss(table), abs=TOL)


def test_summary_names_the_form():
    rows = [("i1", "a", "d", 1.0, None), ("i1", "b", "d", 1.0, None), ("i1", "c", "d", 0.0, None),
            ("i2", "a", "d", 0.0, None), ("i2", "b", "d", 0.0, None),
            ("i3", "b", "d", 1.0, None), ("i3", "c", "d", 1.0, None)]
    dim = summarize(rows, level="nominal", bootstrap=0)["dimensions"][0]
    assert dim["fleiss_kappa"]["form"] == FLEISS_GENERALISED
    data = np.array([[1, 0, np.nan], [1, 0, 1], [0, np.nan, 1]], float)
    assert dim["fleiss_kappa"]["value"] == pytest.approx(gwet_fleiss_loops(data), abs=TOL)
    complete = summarize([r for r in rows if r[0] != "i3"] + [("i2", "c", "d", 0.0, None)], level="nominal",
                         bootstrap=0)["dimensions"][0]
    assert complete["fleiss_kappa"]["form"] == FLEISS_CLASSIC

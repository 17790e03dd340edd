"""Published worked examples, encoded here with their published figures."""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.agreement import fleiss_kappa, gwet_ac, krippendorff_alpha, percent_agreement
from evalplatform.stats.pairwise_kappa import cohen_kappa

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E (4 observers x 12 units,
# values 1-5, missing data): alpha nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
])

# Fleiss (1971), "Measuring nominal scale agreement among many raters", Table 1: 30 patients, 6
# psychiatrists each, 5 diagnoses (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis,
# 5 other); kappa = 0.430.  One row per patient: the six diagnoses.
FLEISS_1971 = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
], dtype=float).T


@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_2011_example(level, published):
    res = krippendorff_alpha(KRIPPENDORFF_2011, level, value_domain=[1, 2, 3, 4, 5])
    assert round(res.value, 3) == published


def test_krippendorff_2011_nominal_exact_fraction():
    # section E works the nominal case by hand: alpha = 1 - (40 - 1) * 10/3 ... = 0.743 (= 113/152)
    assert krippendorff_alpha(KRIPPENDORFF_2011, "nominal").value == pytest.approx(113 / 152, abs=1e-12)


def test_fleiss_1971_example():
    res = fleiss_kappa(FLEISS_1971)
    assert round(res.value, 3) == 0.430
    assert res.value == pytest.approx(0.4302, abs=5e-5)


def test_gwet_ac1_on_krippendorff_data():
    """Gwet's AC1 of the same 4 x 12 data, as irrCAC::gwet.ac1.raw(cac.raw4raters) reports it:
    pa = 0.8181818 (9 of 11 pairable units' pair shares), pe = 0.1903212, AC1 = 0.7754.

    By hand: unit pair-agreement shares 1, 1/2, 1, 1, 1, 0, 1, 1/2, 1, 1, 1 -> pa = 9/11;
    pi = (3, 3.25, 3.5, 1.25, 1) / 12 over all 12 units; pe = (1 - sum pi^2) / 4 = 0.1903212.
    """
    res = gwet_ac(KRIPPENDORFF_2011, value_domain=[1, 2, 3, 4, 5])
    pi = np.array([3, 3.25, 3.5, 1.25, 1]) / 12
    pe = (1 - (pi**2).sum()) / 4
    assert pe == pytest.approx(0.1903212, abs=1e-7)
    assert res.value == pytest.approx((9 / 11 - pe) / (1 - pe), abs=1e-12)
    assert round(res.value, 4) == 0.7754
    assert percent_agreement(KRIPPENDORFF_2011).value == pytest.approx(9 / 11, abs=1e-12)


def test_gwet_ac2_hand_computed():
    """Two raters, scale 1-3, units (1,1), (1,2), (3,3); quadratic weights w = 1 - (k-l)^2/4.

    r* per unit: (2, 1.5, 0), (1.75, 1.75, 0.75), (0, 1.5, 2) -> pa terms 1, 0.75, 1 -> pa = 11/12;
    pi = (0.5, 1/6, 1/3); T_w = 6, q(q-1) = 6 -> pe = sum pi(1-pi) = 11/18; AC2 = (11/12-11/18)/(7/18) = 11/14.
    Unweighted: pa = 2/3, pe = (11/18)/2 = 11/36, AC1 = 13/25.
    """
    data = np.array([[1, 1, 3], [1, 2, 3]], dtype=float)
    assert gwet_ac(data, weights="quadratic", value_domain=[1, 2, 3]).value == pytest.approx(11 / 14, abs=1e-12)
    assert gwet_ac(data, value_domain=[1, 2, 3]).value == pytest.approx(13 / 25, abs=1e-12)


def test_cohen_kappa_sas_example():
    """The SAS PROC FREQ example statsmodels tests against: 3x3 table [[0,4,1],[0,8,0],[0,1,5]],
    simple kappa 0.4842."""
    table = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    res = cohen_kappa(np.array([a, b], dtype=float), value_domain=[0, 1, 2])
    assert round(res.pairs[0].value, 4) == 0.4842

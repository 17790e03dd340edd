"""ICC: checked against pingouin.intraclass_corr and Shrout & Fleiss' (1979) worked example."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalplatform.stats.icc import (
    ICC_FORMS,
    MISSING_POLICY,
    describe_icc,
    icc,
    icc_all,
    icc_anova,
    icc_summary,
    interpret_icc,
)

pd = pytest.importorskip("pandas")
pg = pytest.importorskip("pingouin")

# the reference libraries use pandas APIs that pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")

# pingouin's row order in intraclass_corr's output
PG_ORDER = dict(zip(ICC_FORMS, range(6), strict=True))

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges.
SF_TARGETS_X_JUDGES = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)
SF_PUBLISHED = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}


def _pingouin(x: np.ndarray) -> pd.DataFrame:
    """Run pingouin on a (raters x units) matrix."""
    r, u = np.nonzero(~np.isnan(x))
    df = pd.DataFrame({"unit": u, "rater": r, "score": x[r, u]})
    return pg.intraclass_corr(df, targets="unit", raters="rater", ratings="score", nan_policy="omit")


def _random_ratings(rng: np.random.Generator, with_missing: bool) -> np.ndarray:
    k = int(rng.integers(2, 7))
    n = int(rng.integers(4, 40))
    unit_effect = rng.normal(0, rng.uniform(0.2, 3), size=n)
    rater_effect = rng.normal(0, rng.uniform(0, 2), size=k)
    x = unit_effect[None, :] + rater_effect[:, None] + rng.normal(0, 1, size=(k, n))
    if rng.random() < 0.5:  # Likert-like integer scores
        x = np.clip(np.round(x + 3), 1, 5)
    if with_missing:
        x[rng.random(x.shape) < 0.05] = np.nan
    return x


def _assert_pingouin_ci_invalid(row: pd.Series, reason: str | None, tol: float) -> None:
    """Our CI is None only when pingouin's interval (same formula) fails to bracket its estimate."""
    lo, hi = row["CI95"]
    assert reason
    assert "do not bracket" in reason
    assert not lo - tol <= row["ICC"] <= hi + tol


def test_shrout_fleiss_worked_example() -> None:
    res = icc_all(SF_TARGETS_X_JUDGES.T)  # our orientation: raters x units
    for form, published in SF_PUBLISHED.items():
        assert res[form].value is not None
        assert round(res[form].value, 2) == published, form
        assert res[form].n_units_used == 6
        assert res[form].n_raters == 4
        assert res[form].n_units_dropped == 0


@pytest.mark.parametrize("seed", range(60))
def test_matches_pingouin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _random_ratings(rng, with_missing=seed % 3 == 0)
    complete = int((~np.isnan(x).any(axis=0)).sum())
    if complete < 3:
        pytest.skip("too few complete units for pingouin")
    ref = _pingouin(x)
    ours = icc_all(x)
    for form in ICC_FORMS:
        row = ref.iloc[PG_ORDER[form]]
        r = ours[form]
        assert r.value == pytest.approx(row["ICC"], abs=1e-9), form
        assert r.f_stat == pytest.approx(row["F"], rel=1e-9)
        assert r.df1 == row["df1"]
        assert r.df2 == row["df2"]
        assert r.p_value == pytest.approx(row["pval"], rel=1e-6, abs=1e-12)
        if r.ci is None:  # refused: the F-test bounds do not bracket the estimate (see unrounded test)
            assert r.ci_reason
            assert "do not bracket" in r.ci_reason  # (pingouin's CI is rounded)
            continue
        # pingouin rounds CI95 to 2 decimals
        assert r.ci[0] == pytest.approx(row["CI95"][0], abs=0.006), form
        assert r.ci[1] == pytest.approx(row["CI95"][1], abs=0.006), form
        assert r.n_units_used == complete
        assert r.n_units_dropped == x.shape[1] - complete


@pytest.mark.parametrize("seed", range(20))
def test_ci_matches_pingouin_unrounded(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pg.options, "round.column.CI95", None)
    x = _random_ratings(np.random.default_rng(1000 + seed), with_missing=False)
    ref = _pingouin(x)
    ours = icc_all(x)
    for form in ICC_FORMS:
        row = ref.iloc[PG_ORDER[form]]
        ci = ours[form].ci
        if ci is None:
            _assert_pingouin_ci_invalid(row, ours[form].ci_reason, tol=1e-9)
            continue
        np.testing.assert_allclose(ci, row["CI95"], rtol=1e-8, atol=1e-9)


def test_missing_complete_units_only() -> None:
    x = SF_TARGETS_X_JUDGES.T.copy()
    extra = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 4.0], [1.0, 1.0]])
    with_missing = np.hstack([x, extra])
    r = icc(with_missing, "ICC2")
    assert r.n_units_used == 6
    assert r.n_units_dropped == 2
    assert r.missing_policy == MISSING_POLICY
    assert r.value == pytest.approx(icc(x, "ICC2").value)
    s = icc_summary(with_missing)
    assert s["n_units_used"] == 6
    assert s["n_units_dropped"] == 2
    assert s["missing_policy"] == "complete units only"


def test_summary_shape_and_json() -> None:
    s = icc_summary(SF_TARGETS_X_JUDGES.T)
    json.dumps(s, allow_nan=False)
    for form in ICC_FORMS:
        assert set(s[form]) >= {"value", "ci95", "description"}
        lo, hi = s[form]["ci95"]
        assert lo <= s[form]["value"] <= hi
    assert s["ICC1"]["description"] == "single rater, one-way random"
    assert s["n_raters"] == 4
    assert s["reason"] is None


@pytest.mark.parametrize(
    ("x", "fragment"),
    [
        (np.array([[1.0, 2.0, 3.0]]), "fewer than 2 raters"),
        (np.array([[1.0, 2.0, np.nan], [2.0, np.nan, 3.0]]), "fewer than 2 complete units"),
        (np.full((3, 5), 4.0), "zero variance"),
        (np.empty((2, 0)), "fewer than 2 complete units"),
    ],
)
def test_degenerate_inputs_give_none_with_reason(x: np.ndarray, fragment: str) -> None:
    s = icc_summary(x)
    json.dumps(s, allow_nan=False)
    assert fragment in s["reason"]
    for form in ICC_FORMS:
        assert s[form]["value"] is None
        assert s[form]["ci95"] is None
        assert fragment in s[form]["reason"]
    r = icc(x, "ICC3")
    assert r.value is None
    assert fragment in (r.reason or "")
    assert "could not be computed" in describe_icc(r)


def test_no_between_unit_variance_is_none_not_nan() -> None:
    # every unit has the same mean (MSR = 0): the k-rater forms divide by MSR
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    for form, r in icc_all(x).items():
        assert r.value is None or np.isfinite(r.value), form
        if r.value is None:
            assert r.reason
        json.dumps(r.to_dict(), allow_nan=False)


def test_perfect_consistency() -> None:
    # rater 2 = rater 1 + 1: consistency is perfect, absolute agreement is not
    x = np.array([[1.0, 2, 3, 4, 5], [2, 3, 4, 5, 6]])
    res = icc_all(x)
    assert res["ICC3"].value == pytest.approx(1.0)
    assert res["ICC2"].value is not None
    assert res["ICC2"].value < 1.0
    for r in res.values():
        json.dumps(r.to_dict(), allow_nan=False)
        assert r.ci is not None or r.ci_reason


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="unknown ICC form"):
        icc(SF_TARGETS_X_JUDGES.T, "ICC4")
    with pytest.raises(ValueError, match="2-D"):
        icc_anova(np.arange(4.0))
    with pytest.raises(ValueError, match="confidence"):
        icc(SF_TARGETS_X_JUDGES.T, confidence=1.5)


@pytest.mark.parametrize(
    ("value", "band"),
    [(-0.2, "poor"), (0.49, "poor"), (0.5, "moderate"), (0.74, "moderate"), (0.75, "good"),
     (0.89, "good"), (0.9, "excellent"), (1.0, "excellent"), (None, "undefined")],
)  # fmt: skip
def test_koo_li_bands(value: float | None, band: str) -> None:
    assert interpret_icc(value) == band


def test_describe_icc_mentions_band_and_ci() -> None:
    text = describe_icc(icc(SF_TARGETS_X_JUDGES.T, "ICC3k"))
    assert text.startswith("ICC(3,4) = 0.91")
    assert "excellent" in text
    assert "95% CI" in text
    assert "6 units" in text


matrices = st.integers(2, 5).flatmap(
    lambda k: st.integers(3, 12).flatmap(
        lambda n: st.lists(st.integers(1, 7), min_size=k * n, max_size=k * n).map(
            lambda v: np.array(v, dtype=float).reshape(k, n)
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(matrices, st.data())
def test_invariances(x: np.ndarray, data: st.DataObject) -> None:
    """ICCs are unchanged by permuting raters/units and by a common affine rescaling;
    consistency forms (3) also by per-rater offsets."""
    base = icc_all(x)
    perm_r = data.draw(st.permutations(range(x.shape[0])))
    perm_u = data.draw(st.permutations(range(x.shape[1])))
    offsets = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=x.shape[0], max_size=x.shape[0])))
    variants = {
        "perm": (icc_all(x[np.ix_(perm_r, perm_u)]), ICC_FORMS),
        "affine": (icc_all(2.5 * x - 4), ICC_FORMS),
        "offset": (icc_all(x + offsets[:, None]), ("ICC3", "ICC3k")),
    }
    for name, (res, forms) in variants.items():
        for form in forms:
            a, b = base[form].value, res[form].value
            assert (a is None) == (b is None), (name, form)
            if a is not None and b is not None:
                assert a == pytest.approx(b, abs=1e-8), (name, form)
    for r in base.values():
        json.dumps(r.to_dict(), allow_nan=False)
        if r.value is not None and r.ci is not None:
            assert r.ci[0] <= r.value + 1e-12
            assert r.value <= r.ci[1] + 1e-12

"""One-way ICC for incomplete designs: pingouin on balanced designs, statsmodels MixedLM on unbalanced ones.

Balanced here means every unit has the same number k of ratings, from raters that differ between units
(a panel with overlap k): pingouin's one-way forms need a rectangle, so the ratings of each unit are
put in columns 1..k, which the one-way model allows (who rated is not part of it).
"""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.icc import TWOWAY_NOT_GIVEN, icc_oneway
from evalplatform.stats.summary import summarize

pd = pytest.importorskip("pandas")
pg = pytest.importorskip("pingouin")
smf = pytest.importorskip("statsmodels.formula.api")

pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")


def panel(rng, n_units=200, n_raters=5, overlap=3, sd_unit=1.0, sd_err=0.8, drop=0.0):
    """A (raters x units) matrix: each unit rated by ``overlap`` raters out of ``n_raters``."""
    truth = rng.normal(3, sd_unit, n_units)
    x = np.full((n_raters, n_units), np.nan)
    for u in range(n_units):
        raters = rng.choice(n_raters, overlap, replace=False)
        x[raters, u] = truth[u] + rng.normal(0, sd_err, overlap) + rng.normal(0, 0.3, n_raters)[raters]
    if drop:
        x[rng.random(x.shape) < drop] = np.nan
    return np.round(x, 1)


def _pingouin_oneway(x: np.ndarray) -> dict[str, tuple[float, list[float]]]:
    rows = []
    for u in range(x.shape[1]):
        vals = x[:, u][~np.isnan(x[:, u])]
        rows += [{"unit": u, "slot": j, "y": v} for j, v in enumerate(vals)]
    table = pg.intraclass_corr(pd.DataFrame(rows), targets="unit", raters="slot", ratings="y").set_index("Type")
    return {form: (float(table.loc[name, "ICC"]), list(table.loc[name, "CI95"]))
            for form, name in (("ICC1", "ICC(1,1)"), ("ICC1k", "ICC(1,k)"))}


@pytest.mark.parametrize("seed", range(8))
def test_balanced_incomplete_panel_matches_pingouin(seed):
    rng = np.random.default_rng(seed)
    x = panel(rng, n_units=int(rng.integers(20, 200)), n_raters=int(rng.integers(4, 12)), overlap=int(rng.integers(2, 4)),
              sd_err=float(rng.uniform(0.3, 2)))
    ours = icc_oneway(x)
    ref = _pingouin_oneway(x)
    assert ours["balanced"]
    assert ours["estimator"].startswith("ANOVA")
    for form in ("ICC1", "ICC1k"):
        assert ours[form] == pytest.approx(ref[form][0], abs=1e-12)
        # pingouin rounds its interval to 2 decimals
        assert ours["ci95"][form] == pytest.approx(ref[form][1], abs=0.005 + 1e-9)


def test_oneway_on_the_issue_design_is_not_null():
    """200 tickets x 3 models, 5 raters, overlap 3: no rater rated every unit, yet ICC(1,·) is defined."""
    rng = np.random.default_rng(0)
    x = panel(rng, n_units=600, n_raters=5, overlap=3)
    ours = icc_oneway(x)
    assert ours["ICC1"] is not None
    assert 0.3 < ours["ICC1"] < 0.8
    assert ours["k"] == 3
    assert ours["n_units_used"] == 600


@pytest.mark.parametrize("seed", range(5))
def test_unbalanced_panel_uses_reml_and_matches_mixedlm(seed):
    rng = np.random.default_rng(100 + seed)
    x = panel(rng, n_units=int(rng.integers(40, 160)), n_raters=8, overlap=5, drop=0.3)
    ours = icc_oneway(x)
    assert not ours["balanced"]
    assert ours["estimator"].startswith("REML")
    # the reference: the formula interface on a long table, fitted independently here
    long = [(u, x[r, u]) for u in range(x.shape[1]) for r in range(x.shape[0])
            if not np.isnan(x[r, u]) and (~np.isnan(x[:, u])).sum() >= 2]
    df = pd.DataFrame(long, columns=["unit", "y"])
    fit = smf.mixedlm("y ~ 1", df, groups=df["unit"]).fit(reml=True)
    var_b, var_w = float(fit.cov_re.iloc[0, 0]), float(fit.scale)
    k = df.groupby("unit").size().to_numpy()
    k_h = len(k) / np.sum(1 / k)
    assert ours["k"] == pytest.approx(k_h, rel=1e-12)
    # MixedLM stops at its optimiser's tolerance (~1e-5 relative); ours minimises the same likelihood
    assert ours["ICC1"] == pytest.approx(var_b / (var_b + var_w), abs=2e-5)
    assert ours["ICC1k"] == pytest.approx(var_b / (var_b + var_w / k_h), abs=2e-5)
    assert ours["reml"]["var_within"] == pytest.approx(var_w, rel=2e-5)
    # ANOVA beside it, by hand: k0 = (N - Σk²/N) / (n - 1)
    n_total = k.sum()
    assert ours["k0"] == pytest.approx((n_total - np.sum(k**2) / n_total) / (len(k) - 1), rel=1e-12)
    assert abs(ours["anova"]["ICC1"] - ours["ICC1"]) < 0.05  # two estimators of one quantity
    lo, hi = ours["ci95"]["ICC1"]
    assert lo < ours["anova"]["ICC1"] < hi


def test_reml_equals_anova_on_a_balanced_design():
    """On equal group sizes REML's variance components are the ANOVA ones (when positive)."""
    rng = np.random.default_rng(7)
    x = panel(rng, n_units=80, n_raters=6, overlap=3)
    anova = icc_oneway(x)
    y = x.T[~np.isnan(x.T)]
    unit = np.repeat(np.arange(80), 3)
    from evalplatform.stats.icc import _reml_oneway

    var_b, var_w, _ = _reml_oneway(y, unit)
    assert var_b / (var_b + var_w) == pytest.approx(anova["ICC1"], abs=1e-8)
    assert var_w == pytest.approx(anova["anova"]["MSW"], rel=1e-8)


def test_units_with_one_rating_are_left_out_and_counted():
    x = np.array([[1, 2, 3, np.nan], [2, 2, np.nan, 4], [np.nan, 3, 4, np.nan]], float)
    out = icc_oneway(x)
    assert out["n_units_used"] == 3
    assert out["n_units_dropped"] == 1


def test_degenerate_inputs_give_reasons_not_nan():
    assert icc_oneway(np.array([[1.0, np.nan], [2.0, np.nan]]))["reason"].startswith("fewer than 2 units")
    assert icc_oneway(np.ones((3, 4)))["reason"].startswith("zero variance")
    perfect = icc_oneway(np.array([[1, 2, 3, np.nan], [1, 2, np.nan, 5], [np.nan, 2, 3, 5]], float))
    assert perfect["ICC1"] == 1.0
    assert perfect["ci95"]["ICC1"] is None
    assert perfect["ci_reason"]


def test_report_says_which_forms_fit_an_incomplete_design():
    rng = np.random.default_rng(1)
    x = panel(rng, n_units=60, n_raters=5, overlap=3)
    rows = [(f"u{u}", f"r{r}", "accuracy", float(x[r, u]), None)
            for u in range(x.shape[1]) for r in range(x.shape[0]) if not np.isnan(x[r, u])]
    icc = summarize(rows, level="interval", bootstrap=0)["dimensions"][0]["icc"]
    assert icc["design"] == "incomplete"
    assert icc["ICC1"]["value"] is None  # the two-way table: no complete unit
    assert icc["forms"]["fit"] == ["ICC1", "ICC1k"]
    assert icc["forms"]["not_given"].startswith(TWOWAY_NOT_GIVEN)
    assert icc["oneway"]["ICC1"] == pytest.approx(icc_oneway(x)["ICC1"], abs=1e-12)
    assert "ICC(1,3.00)" in icc["oneway"]["readings"]["ICC1k"]


def test_reml_on_the_boundary_when_units_do_not_differ():
    """Pure noise: the ANOVA estimate may be negative, REML stops at 0 (as MixedLM does)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (6, 80))
    x[rng.random(x.shape) < 0.4] = np.nan
    out = icc_oneway(x)
    if out["anova"]["ICC1"] < 0:
        assert out["ICC1"] == 0.0
        assert "boundary" in out["reml"]["warning"]
    assert out["ICC1"] >= 0

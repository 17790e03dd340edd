"""LLM-as-judge calibration: three synthetic judges over one synthetic human panel, plus references."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from evalplatform.stats.judges import (
    ABOUT,
    LESS,
    MORE,
    _alpha,
    _kappa,
    calibrate_judges,
    judge_calibration,
)

SCALE = [1, 2, 3, 4, 5]


def panel(R=5, U=200, *, sd=0.7, missing=0.1, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, U)
    H = np.clip(np.rint(truth + rng.normal(0, sd, (R, U))), 1, 5)
    H[rng.random((R, U)) < missing] = np.nan
    return H, rng


def rounded_median(H):
    return np.floor(np.nanmedian(H, axis=0) + 0.5)


@pytest.fixture(scope="module")
def three_judges():
    H, rng = panel()
    med = rounded_median(H)
    judges = {
        "copy": med,
        "random": rng.integers(1, 6, H.shape[1]).astype(float),
        "high": np.clip(med + 1, 1, 5),
    }
    results = {
        k: judge_calibration(H, j, level="ordinal", scale_values=SCALE, n_boot=500, seed=1)
        for k, j in judges.items()
    }
    return H, judges, results


# --------------------------------------------------------------------------------------------------------
# private helpers against reference implementations
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_kappa_helper_matches_sklearn(weights):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, 150)
    y = np.clip(x + rng.integers(-1, 2, 150), 0, 4)
    ours = _kappa(x.astype(float), y.astype(float), np.ones((1, 150)), weights is None, 5)[0]
    ref = cohen_kappa_score(x, y, weights=weights, labels=list(range(5)))
    assert ours == pytest.approx(ref, abs=1e-12)
    # count weights == the expanded (resampled) sample
    idx = rng.integers(0, 150, 150)
    w = np.bincount(idx, minlength=150)[None, :].astype(float)
    ours_b = _kappa(x.astype(float), y.astype(float), w, weights is None, 5)[0]
    assert ours_b == pytest.approx(cohen_kappa_score(x[idx], y[idx], weights=weights, labels=list(range(5))))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_helper_matches_krippendorff(level):
    H, _ = panel(R=4, U=80, sd=1.0, missing=0.25, seed=2)
    values = np.array(SCALE, dtype=float)
    codes = np.where(np.isnan(H), -1, H - 1).astype(int)
    ours = _alpha(codes, level, values)(np.ones((1, 80)))[0]
    ref = krippendorff.alpha(reliability_data=H, level_of_measurement=level, value_domain=SCALE)
    assert ours == pytest.approx(ref, abs=1e-10)


def test_alpha_helper_uneven_interval_scale():
    rng = np.random.default_rng(3)
    values = np.array([0.0, 1.0, 5.0, 10.0])
    codes = rng.integers(0, 4, (3, 40))
    codes[rng.random((3, 40)) < 0.2] = -1
    data = np.where(codes >= 0, values[np.maximum(codes, 0)], np.nan)
    for level in ("interval", "ordinal", "ratio"):
        ours = _alpha(codes, level, values)(np.ones((1, 40)))[0]
        ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=values)
        assert ours == pytest.approx(ref, abs=1e-10)


# --------------------------------------------------------------------------------------------------------
# three synthetic judges
# --------------------------------------------------------------------------------------------------------


def test_three_judges_are_told_apart(three_judges):
    _, _, res = three_judges
    copy, rand, high = res["copy"], res["random"], res["high"]
    assert copy.judge_kappa.value > 0.97
    assert abs(rand.judge_kappa.value) < 0.15
    assert rand.judge_kappa.ci95[0] < 0 < rand.judge_kappa.ci95[1]
    assert copy.spearman.value > 0.95
    assert high.spearman.value > 0.9
    assert abs(rand.spearman.value) < 0.15
    assert abs(copy.offset.value) < 0.15
    assert 0.6 < high.offset.value < 1.05
    assert high.to_dict()["offset"]["direction"] == "lenient"
    # the off-by-one judge ranks units right but kappa (quadratic) penalises the shift
    assert rand.judge_kappa.value < high.judge_kappa.value < copy.judge_kappa.value
    # alpha: adding a good judge raises panel reliability, a random one lowers it
    assert copy.alpha_change.value > 0
    assert rand.alpha_change.value < -0.1
    assert rand.alpha_change.ci95[1] < 0
    assert copy.alpha_humans == rand.alpha_humans == high.alpha_humans  # same resamples


def test_verdict_words(three_judges):
    _, _, res = three_judges
    assert res["copy"].verdict == MORE
    assert res["random"].verdict == LESS
    assert res["high"].verdict == LESS
    assert MORE == "agrees with the panel more than a typical human"
    assert ABOUT == "agrees with the panel about as well as a typical human"


def test_judge_like_a_human_is_about_as_good():
    H, _ = panel(R=6, U=300, seed=5, missing=0.0)
    # the "judge" is a sixth rater drawn exactly like the five humans
    res = judge_calibration(H[:5], H[5], level="ordinal", scale_values=SCALE, n_boot=500)
    assert res.verdict == ABOUT
    assert res.kappa_gap.ci95[0] < 0 < res.kappa_gap.ci95[1]
    assert res.human_kappa_range[0] - 0.1 < res.judge_kappa_loo < res.human_kappa_range[1] + 0.1


def test_unclipped_offset_is_one():
    H, _ = panel(R=3, U=100, seed=6, missing=0.0)
    H = np.clip(H, 1, 4)
    med = rounded_median(H)
    res = judge_calibration(H, med + 1, level="interval", scale_values=SCALE, n_boot=200)
    assert res.offset.value == pytest.approx(np.mean(med + 1 - H.mean(0)))
    assert 0.8 < res.offset.value < 1.2


def test_judge_kappa_matches_sklearn_on_integer_consensus():
    H, rng = panel(R=3, U=120, missing=0.0, seed=7)  # odd panel, no missing: integer medians
    judge = np.clip(np.nanmedian(H, 0) + rng.integers(-1, 2, 120), 1, 5)
    res = judge_calibration(H, judge, level="ordinal", scale_values=SCALE, n_boot=0)
    ref = cohen_kappa_score(judge.astype(int), np.median(H, 0).astype(int), weights="quadratic", labels=SCALE)
    assert res.judge_kappa.value == pytest.approx(ref)
    assert res.judge_kappa.ci95 is None  # no bootstrap, no interval
    assert res.verdict is None
    # leave-one-out: rater 0 against the median of raters 1 and 2
    loo = np.median(H[1:], 0)
    ref0 = 1 - np.mean((H[0] - loo) ** 2) / np.mean((H[0][:, None] - loo[None, :]) ** 2)
    assert res.human_kappas[0].kappa == pytest.approx(ref0)
    assert res.human_kappas[0].n_units == 120
    assert res.spearman.value == pytest.approx(stats.spearmanr(judge, H.mean(0)).statistic)
    assert res.alpha_humans.value == pytest.approx(
        krippendorff.alpha(reliability_data=H, level_of_measurement="ordinal", value_domain=SCALE)
    )
    assert res.alpha_with_judge.value == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([H, judge]), level_of_measurement="ordinal",
                           value_domain=SCALE)
    )


def test_disagreements_are_the_largest_gaps(three_judges):
    H, judges, res = three_judges
    top = res["random"].disagreements
    assert len(top) == 10
    gaps = [abs(d.gap) for d in top]
    assert gaps == sorted(gaps, reverse=True)
    cons = np.nanmedian(H, axis=0)
    assert gaps[0] == pytest.approx(np.max(np.abs(judges["random"] - cons)))
    d = top[0]
    assert d.judge == judges["random"][d.unit]
    assert d.consensus == pytest.approx(cons[d.unit])
    assert res["copy"].disagreements == () or max(abs(x.gap) for x in res["copy"].disagreements) <= 0.5


def test_nominal_level():
    rng = np.random.default_rng(8)
    truth = rng.integers(0, 3, 150)
    H = np.where(rng.random((5, 150)) < 0.8, truth, rng.integers(0, 3, (5, 150))).astype(float)
    mode = stats.mode(H, axis=0).mode
    res = judge_calibration(H, mode, level="nominal", scale_values=[0, 1, 2], n_boot=300)
    assert res.kappa_weights == "none"
    assert res.judge_kappa.value > 0.9
    assert res.verdict == MORE
    assert res.spearman.value is None
    assert "nominal" in res.spearman.reason
    assert res.offset.value is None
    rand = judge_calibration(H, rng.integers(0, 3, 150).astype(float), level="nominal", scale_values=[0, 1, 2])
    assert abs(rand.judge_kappa.value) < 0.15
    assert rand.verdict == LESS
    assert rand.disagreements[0].gap >= rand.disagreements[-1].gap > 0
    json.dumps(rand.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------------------------------------
# degenerate inputs
# --------------------------------------------------------------------------------------------------------


def test_judge_rated_no_common_unit():
    H, _ = panel(R=3, U=20, missing=0.0)
    H[:, 10:] = np.nan
    judge = np.full(20, np.nan)
    judge[10:] = 3.0
    res = judge_calibration(H, judge, level="ordinal", scale_values=SCALE, n_boot=100)
    assert res.n_common == 0
    assert res.judge_kappa.value is None
    assert "no unit" in res.judge_kappa.reason
    assert res.verdict is None
    assert res.reason is not None
    assert res.spearman.value is None
    assert res.offset.value is None
    assert res.alpha_humans.value is not None
    json.dumps(res.to_dict(), allow_nan=False)
    empty = judge_calibration(H, np.full(20, np.nan), level="interval", scale_values=SCALE, n_boot=50)
    assert empty.judge_kappa.value is None
    assert empty.disagreements == ()


def test_one_human():
    H, _ = panel(R=1, U=50, missing=0.0)
    judge = np.clip(H[0] + 1, 1, 5)
    res = judge_calibration(H[0], judge, level="interval", scale_values=SCALE, n_boot=100)
    assert res.human_kappas == ()
    assert res.verdict is None
    assert res.kappa_gap.reason == "need at least 2 human raters"
    assert res.alpha_humans.value is None
    assert res.alpha_humans.reason
    assert res.alpha_with_judge.value is not None
    assert res.judge_kappa.value is not None
    assert res.human_kappa_mean is None
    json.dumps(res.to_dict(), allow_nan=False)


def test_constant_ratings_and_bad_input():
    H = np.full((3, 10), 3.0)
    res = judge_calibration(H, np.full(10, 3.0), level="ordinal", scale_values=SCALE, n_boot=50)
    assert res.judge_kappa.value is None
    assert res.alpha_humans.value is None
    assert res.spearman.value is None
    json.dumps(res.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="not on the scale"):
        judge_calibration(H, np.full(10, 3.5), level="ordinal", scale_values=SCALE)
    with pytest.raises(ValueError):
        judge_calibration(H, np.full(9, 3.0), level="ordinal", scale_values=SCALE)
    with pytest.raises(ValueError):
        judge_calibration(H, np.full(10, 3.0), level="fuzzy", scale_values=SCALE)


def test_to_dict_is_json_ready_and_seeded(three_judges):
    H, judges, res = three_judges
    d = res["high"].to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert set(d) >= {"judge_kappa", "alpha_humans", "alpha_with_judge", "human_kappas", "verdict",
                      "spearman", "offset", "disagreements"}
    again = judge_calibration(H, judges["high"], level="ordinal", scale_values=SCALE, n_boot=500, seed=1)
    assert again.to_dict() == d


def test_alpha_helper_count_weights_are_the_resampled_sample():
    H, rng = panel(R=4, U=60, missing=0.3, seed=9)
    codes = np.where(np.isnan(H), -1, H - 1).astype(int)
    idx = rng.integers(0, 60, 60)
    w = np.bincount(idx, minlength=60)[None, :].astype(float)
    for level in ("nominal", "ordinal", "interval"):
        ours = _alpha(codes, level, np.array(SCALE, dtype=float))(w)[0]
        ref = krippendorff.alpha(reliability_data=H[:, idx], level_of_measurement=level, value_domain=SCALE)
        assert ours == pytest.approx(ref, abs=1e-10)


def test_several_judges_share_the_panel_and_its_resamples(three_judges):
    H, judges, res = three_judges
    together = calibrate_judges(H, judges, level="ordinal", scale_values=SCALE, n_boot=500, seed=1)
    assert {k: v.to_dict() for k, v in together.items()} == {k: v.to_dict() for k, v in res.items()}


def test_resamples_in_blocks_bound_memory_and_stay_seeded(monkeypatch):
    H, _ = panel(R=3, U=120, seed=10)
    judge = np.clip(rounded_median(H) + 1, 1, 5)
    whole = judge_calibration(H, judge, level="ordinal", scale_values=SCALE, n_boot=300, seed=4)
    monkeypatch.setattr("evalplatform.stats.judges.BLOCK_CELLS", 120 * 7)  # 7 resamples per block
    blocked = judge_calibration(H, judge, level="ordinal", scale_values=SCALE, n_boot=300, seed=4)
    assert blocked.to_dict() == judge_calibration(H, judge, level="ordinal", scale_values=SCALE, n_boot=300,
                                                  seed=4).to_dict()
    # other draws, the same conclusions
    assert blocked.verdict == whole.verdict == LESS
    assert blocked.offset.ci95[0] == pytest.approx(whole.offset.ci95[0], abs=0.1)
    assert blocked.judge_kappa.value == whole.judge_kappa.value


def test_a_scale_with_one_value_leaves_everything_undefined():
    res = judge_calibration(np.full((2, 5), 3.0), np.full(5, 3.0), level="ordinal", scale_values=[3], n_boot=20)
    assert res.judge_kappa.value is None
    assert res.alpha_humans.value is None
    assert res.verdict is None
    json.dumps(res.to_dict(), allow_nan=False)


def test_a_nominal_judge_siding_with_most_humans_is_no_disagreement():
    H = np.array([[1, 1, 0, 0], [1, 1, 0, 1], [0, 1, 0, 1]], dtype=float)  # modes 1, 1, 0, 1
    res = judge_calibration(H, np.array([1, 0, 0, 0.0]), level="nominal", scale_values=[0, 1], n_boot=0)
    # unit 0: 1 of 3 differ (no); unit 1: all differ; unit 3: 2 of 3 differ
    assert [(d.unit, round(d.gap, 3)) for d in res.disagreements] == [(1, 1.0), (3, 0.667)]


def test_a_judge_interval_follows_the_engines_one_rule_for_undefined_resamples():
    """More than 10% of the resamples undefined: no interval, and the reason says so (as for every coefficient)."""
    from evalplatform.stats.bootstrap import MAX_DROPPED_SHARE
    from evalplatform.stats.judges import _estimate, estimate_dict

    boot = np.linspace(0.2, 0.8, 100)
    kept = _estimate(0.5, boot, "undefined")
    assert kept.ci95 == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    boot[: int(MAX_DROPPED_SHARE * 100) + 1] = np.nan
    dropped = estimate_dict(_estimate(0.5, boot, "undefined"))
    assert dropped["value"] == 0.5
    assert dropped["ci95"] == [None, None]
    assert "undefined in 11 of 100 resamples" in dropped["reason"]


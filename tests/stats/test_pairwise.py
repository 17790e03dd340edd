"""Bradley–Terry, win-rate matrix and position bias, checked against sklearn and choix."""

from __future__ import annotations

import json
import math

import choix
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from statsmodels.stats.proportion import proportion_confint

from evalplatform.stats.pairwise import (
    AUTO_RIDGE,
    bradley_terry,
    outcome_from_preference,
    position_bias,
    wilson_interval,
    win_rate_matrix,
)

TO_RATING = 400 * math.log10(math.e)


def synthetic_votes(theta, n_votes, n_prompts, *, tie_rate=0.0, seed=0):
    rng = np.random.default_rng(seed)
    M = len(theta)
    prompt = rng.integers(0, n_prompts, n_votes)
    a = rng.integers(0, M, n_votes)
    b = (a + rng.integers(1, M, n_votes)) % M
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    y = (rng.random(n_votes) < p).astype(float)
    y[rng.random(n_votes) < tie_rate] = 0.5
    return prompt, a, b, y


def strengths(result):
    """Natural-log strengths ordered by model code."""
    rows = sorted(result.models, key=lambda m: m.model)
    return np.array([m.strength for m in rows])


def sklearn_reference(a, b, y, M):
    """Chatbot Arena's computation: logistic regression without intercept, ties = half a win each way."""
    rows, ys, ws = [], [], []
    for ai, bi, yi in zip(a, b, y, strict=True):
        x = np.zeros(M)
        x[ai], x[bi] = 1.0, -1.0
        if yi == 0.5:
            rows += [x, x]
            ys += [1, 0]
            ws += [0.5, 0.5]
        else:
            rows.append(x)
            ys.append(int(yi))
            ws.append(1.0)
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100_000)
    lr.fit(np.array(rows), np.array(ys), sample_weight=np.array(ws))
    coef = lr.coef_[0]
    return coef - coef.mean()


def choix_reference(a, b, y, M):
    """choix takes (winner, loser) pairs: a decisive vote counts twice, a tie once each way."""
    data = []
    for ai, bi, yi in zip(a, b, y, strict=True):
        if yi == 1:
            data += [(ai, bi), (ai, bi)]
        elif yi == 0:
            data += [(bi, ai), (bi, ai)]
        else:
            data += [(ai, bi), (bi, ai)]
    est = choix.ilsr_pairwise(M, data, alpha=0.0, max_iter=10_000, tol=1e-12)
    return est - est.mean()


@pytest.fixture(scope="module")
def tied_votes():
    theta = np.array([-1.0, -0.4, 0.0, 0.3, 0.8, 1.2])
    return theta, synthetic_votes(theta, 3000, 400, tie_rate=0.15, seed=3)


def test_matches_sklearn_logistic_regression(tied_votes):
    theta, (prompt, a, b, y) = tied_votes
    res = bradley_terry(prompt, a, b, y, n_boot=0)
    assert res.identifiable
    assert res.ridge == 0.0
    ref = sklearn_reference(a, b, y, len(theta))
    np.testing.assert_allclose(strengths(res), ref, atol=1e-4)
    ratings = np.array([m.rating for m in sorted(res.models, key=lambda m: m.model)])
    np.testing.assert_allclose(ratings, 1000 + TO_RATING * ref, atol=1e-2)
    assert np.mean(ratings) == pytest.approx(1000)


def test_matches_choix(tied_votes):
    theta, (prompt, a, b, y) = tied_votes
    res = bradley_terry(prompt, a, b, y, n_boot=0)
    np.testing.assert_allclose(strengths(res), choix_reference(a, b, y, len(theta)), atol=1e-4)


def test_recovers_known_strengths_with_intervals():
    theta = np.linspace(-1.5, 1.5, 8)
    prompt, a, b, y = synthetic_votes(theta, 30_000, 3000, seed=11)
    res = bradley_terry(prompt, a, b, y, n_boot=500, seed=1)
    assert [m.model for m in res.models] == list(range(7, -1, -1))  # best first
    assert [m.rank for m in res.models] == list(range(1, 9))
    truth = 1000 + TO_RATING * (theta - theta.mean())
    covered = sum(m.ci95[0] <= truth[m.model] <= m.ci95[1] for m in res.models)
    assert covered >= 7
    for m in res.models:
        assert m.ci95[0] < m.rating < m.ci95[1]
        assert m.rank_ci95[0] <= m.rank <= m.rank_ci95[1]
    assert res.bootstrap["n_resamples"] == 500
    assert res.bootstrap["n_regularized"] == 0
    assert res.n_prompts == 3000
    assert res.n_votes == 30_000


def test_bootstrap_is_seeded(tied_votes):
    _, (prompt, a, b, y) = tied_votes
    r1 = bradley_terry(prompt, a, b, y, n_boot=200, seed=5).to_dict()
    r2 = bradley_terry(prompt, a, b, y, n_boot=200, seed=5).to_dict()
    r3 = bradley_terry(prompt, a, b, y, n_boot=200, seed=6).to_dict()
    assert r1 == r2
    assert r1 != r3


def test_two_models_closed_form_and_ties_count_half():
    # A beats B 3 times, loses once, ties twice → A has 4 "wins" of 6: θA - θB = log(4/2)
    a = ["A"] * 6
    b = ["B"] * 6
    y = [1, 1, 1, 0, 0.5, 0.5]
    res = bradley_terry(np.arange(6), a, b, y, n_boot=0)
    top, bottom = res.models
    assert (top.model, bottom.model) == ("A", "B")
    assert top.strength - bottom.strength == pytest.approx(math.log(2), abs=1e-9)
    assert top.rating - bottom.rating == pytest.approx(TO_RATING * math.log(2), abs=1e-6)
    assert (top.wins, top.losses, top.ties, top.n) == (3, 1, 2, 6)
    wr = res.win_rate
    assert wr.models == ("A", "B")
    assert wr.matrix[0][1] == pytest.approx(4 / 6)
    assert wr.matrix[1][0] == pytest.approx(2 / 6)
    assert wr.matrix[0][0] is None
    assert wr.counts == ((0, 6), (6, 0))


def test_model_that_always_ties_gets_its_opponents_strength():
    rng = np.random.default_rng(0)
    n = 400
    a = np.array(["x"] * n + ["z"] * 100)
    b = np.array(["y"] * n + ["y"] * 100)
    y = np.concatenate([(rng.random(n) < 0.7).astype(float), np.full(100, 0.5)])
    res = bradley_terry(np.arange(len(a)), a, b, y, n_boot=0)
    s = {m.model: m.strength for m in res.models}
    assert s["z"] == pytest.approx(s["y"], abs=1e-8)
    assert s["x"] > s["y"]


def test_win_rate_matrix_is_complementary(tied_votes):
    _, (_, a, b, y) = tied_votes
    wr = win_rate_matrix(a, b, y)
    m = np.array([[np.nan if x is None else x for x in row] for row in wr.matrix])
    c = np.array(wr.counts)
    off = ~np.eye(len(m), dtype=bool)
    np.testing.assert_allclose((m + m.T)[off], 1.0)
    np.testing.assert_array_equal(c, c.T)
    assert c.sum() == 2 * len(y)


def test_anchor_model_is_base_and_gaps_unchanged(tied_votes):
    _, (prompt, a, b, y) = tied_votes
    mean_anchored = bradley_terry(prompt, a, b, y, n_boot=100)
    anchored = bradley_terry(prompt, a, b, y, n_boot=100, anchor=2)
    rating = {m.model: m.rating for m in anchored.models}
    assert rating[2] == pytest.approx(1000)
    row2 = next(m for m in anchored.models if m.model == 2)
    assert row2.ci95[0] == pytest.approx(1000)
    assert row2.ci95[1] == pytest.approx(1000)
    base = {m.model: m.rating for m in mean_anchored.models}
    for k in rating:
        assert rating[k] - rating[0] == pytest.approx(base[k] - base[0], abs=1e-8)
    with pytest.raises(ValueError):
        bradley_terry(prompt, a, b, y, anchor=99)


def test_preference_scale_conversion():
    outcome, margin = outcome_from_preference([-2, -1, 0, 1, 2, np.nan], 2)
    np.testing.assert_array_equal(outcome[:5], [1, 1, 0.5, 0, 0])
    np.testing.assert_allclose(margin[:5], [1, 0.5, 0, 0.5, 1])
    assert np.isnan(outcome[5])
    with pytest.raises(ValueError):
        outcome_from_preference([3], 2)
    prefs = np.array([-2, 1, 0, -1, 2, -1, 0, 1, -2, -2])
    a = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 0])
    b = np.array([1, 2, 2, 0, 0, 1, 2, 2, 1, 1])
    r1 = bradley_terry(np.arange(10), a, b, prefs, scale_k=2, n_boot=0)
    r2 = bradley_terry(np.arange(10), a, b, outcome_from_preference(prefs, 2)[0], n_boot=0)
    assert r1.to_dict() == r2.to_dict()


def test_drops_nan_and_self_comparisons():
    res = bradley_terry([0, 1, 2, 3], ["a", "a", "b", "a"], ["b", "a", "a", "b"], [1, 1, 1, np.nan], n_boot=0)
    assert res.n_votes == 2
    assert res.n_dropped == 2
    with pytest.raises(ValueError):
        bradley_terry([0], ["a"], ["b"], [0.7])


def test_degenerate_one_model_and_no_votes():
    res = bradley_terry([0, 1], ["a", "a"], ["a", "a"], [1, 0])
    assert res.models == ()
    assert res.reason
    assert "two" in res.reason
    res = bradley_terry([], [], [], [])
    assert res.reason is not None
    assert res.n_votes == 0
    json.dumps(res.to_dict(), allow_nan=False)


def test_model_that_never_loses_is_flagged_and_regularised():
    rng = np.random.default_rng(2)
    n = 300
    a = rng.choice(["a", "b"], n)
    b = np.where(a == "a", "b", "a")
    y = (rng.random(n) < 0.5).astype(float)
    # "star" wins every one of its 50 votes
    a = np.concatenate([a, ["star"] * 50])
    b = np.concatenate([b, rng.choice(["a", "b"], 50)])
    y = np.concatenate([y, np.ones(50)])
    prompt = np.arange(len(a))
    res = bradley_terry(prompt, a, b, y, n_boot=200)
    assert not res.identifiable
    assert res.ridge == AUTO_RIDGE
    assert "never lost: star" in res.reason
    assert "regularised" in res.reason
    assert res.models[0].model == "star"
    assert math.isfinite(res.models[0].rating)
    json.dumps(res.to_dict(), allow_nan=False)

    strict = bradley_terry(prompt, a, b, y, ridge=0.0)
    assert all(m.rating is None for m in strict.models)
    assert "does not exist" in strict.reason
    assert {m.model: m.wins for m in strict.models}["star"] == 50


def test_to_dict_shape_is_json_ready(tied_votes):
    _, (prompt, a, b, y) = tied_votes
    d = bradley_terry(prompt, a, b, y, n_boot=50).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    first = d["models"][0]
    assert set(first) >= {"model", "rating", "ci95", "rank", "wins", "losses", "ties", "n"}
    assert d["win_rate"]["models"] == [m["model"] for m in d["models"]]
    assert len(d["win_rate"]["matrix"]) == len(d["models"]) == len(d["win_rate"]["counts"])
    assert d["n_votes"] == len(y)
    assert d["bootstrap"]["n_resamples"] == 50


# --------------------------------------------------------------------------------------------------------
# position bias
# --------------------------------------------------------------------------------------------------------


def test_wilson_interval_matches_statsmodels():
    for k, n in [(0, 10), (3, 10), (55, 100), (100, 100)]:
        lo, hi = wilson_interval(k, n)
        ref = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert lo == pytest.approx(ref[0], abs=1e-9)
        assert hi == pytest.approx(ref[1], abs=1e-9)
    assert wilson_interval(0, 0) == (None, None)


def test_position_bias_detects_left_preference():
    rng = np.random.default_rng(4)
    n = 4000
    left_is_a = rng.random(n) < 0.5
    left_wins = rng.random(n) < 0.6
    y = np.where(left_wins == left_is_a, 1.0, 0.0)
    tie = rng.random(n) < 0.1
    y[tie] = 0.5
    rater = rng.choice(["r1", "r2"], n)
    res = position_bias(y, left_is_a, rater=rater)
    o = res.overall
    assert o.n_votes == n
    assert o.n_ties == tie.sum()
    assert o.tie_share == pytest.approx(tie.mean())
    assert o.ci95[0] < 0.6 < o.ci95[1]
    assert o.p_value < 1e-10
    assert [r.rater for r in res.per_rater] == ["r1", "r2"]
    assert sum(r.n_votes for r in res.per_rater) == n
    json.dumps(res.to_dict(), allow_nan=False)


def test_position_bias_unbiased_and_degenerate():
    rng = np.random.default_rng(5)
    left_is_a = rng.random(2000) < 0.5
    y = (rng.random(2000) < 0.5).astype(float)
    assert position_bias(y, left_is_a).overall.p_value > 0.01
    ties = position_bias([0.5, 0.5], [True, False]).overall
    assert ties.left_win_rate is None
    assert ties.reason == "all votes are ties"
    assert ties.tie_share == 1.0
    empty = position_bias([], []).overall
    assert empty.reason == "no votes"
    # preference scale: -1 = A (left) better
    sc = position_bias([-1, -1, 1, 0], [True, True, True, True], scale_k=1).overall
    assert (sc.left_wins, sc.n_decided, sc.n_ties) == (2, 3, 1)


def test_resamples_without_an_mle_are_regularised_and_counted():
    rng = np.random.default_rng(8)
    a = np.concatenate([rng.choice(["a", "b"], 200), ["rare"] * 30])
    b = np.concatenate([np.where(a[:200] == "a", "b", "a"), rng.choice(["a", "b"], 30)])
    y = np.concatenate([(rng.random(200) < 0.5).astype(float), [0.0], np.ones(29)])  # "rare" lost once
    res = bradley_terry(np.arange(len(a)), a, b, y, n_boot=300, seed=0)
    assert res.identifiable
    assert res.reason is None
    # P(the single loss is not resampled) = (1 - 1/230)^230 ≈ 0.37
    assert 0.25 < res.bootstrap["n_regularized"] / 300 < 0.5
    assert res.bootstrap["n_failed"] == 0
    rare = next(m for m in res.models if m.model == "rare")
    assert rare.ci95[0] < rare.rating < rare.ci95[1]


def test_swapping_sides_changes_nothing(tied_votes):
    _, (prompt, a, b, y) = tied_votes
    r1 = bradley_terry(prompt, a, b, y, n_boot=100, seed=3)
    r2 = bradley_terry(prompt, b, a, 1 - y, n_boot=100, seed=3)
    np.testing.assert_allclose(strengths(r1), strengths(r2), atol=1e-10)
    for m1, m2 in zip(r1.models, r2.models, strict=True):
        assert m1.model == m2.model
        assert m1.ci95 == pytest.approx(m2.ci95, abs=1e-8)

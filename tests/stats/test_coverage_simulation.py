"""Do the 95% bootstrap intervals cover the truth about 95% of the time?

A large population of units (latent quality, rater leniency and noise on a 5-point scale) defines the
true coefficients; repeated samples of units from it each get percentile intervals, and the share of
intervals containing the population value must lie in [0.90, 0.99].  Seeded, so deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.aggregate import mean_and_median, unit_scores
from evalplatform.stats.agreement import (
    alpha_statistic,
    fleiss_statistic,
    fleiss_units,
    gwet_statistic,
    percent_agreement_statistic,
)
from evalplatform.stats.bootstrap import evaluate
from evalplatform.stats.matrix import code_ratings, collapse_units
from evalplatform.stats.pairwise_kappa import cohen_statistic, rater_pairs

SCALE = [1, 2, 3, 4, 5]
N_RATERS = 3


def population(n_units: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    quality = rng.normal(3.0, 1.0, n_units)
    leniency = np.array([-0.3, 0.0, 0.4])
    noise = rng.normal(0.0, 0.8, (N_RATERS, n_units))
    return np.clip(np.rint(quality[None, :] + leniency[:, None] + noise), 1, 5)


def statistics(data: np.ndarray):
    coded = code_ratings(data, level="ordinal", value_domain=SCALE)
    pat = collapse_units(coded.codes, coded.n_values)
    pos = coded.positions()
    include, _, _ = fleiss_units(pat, modal_only=False)
    stats = {
        "alpha": alpha_statistic(pat, "ordinal", pos),
        "kappa": cohen_statistic(pat, rater_pairs(pat), "quadratic"),
        "fleiss": fleiss_statistic(pat, include),
        "agreement": percent_agreement_statistic(pat),
        "ac2": gwet_statistic(pat, "quadratic", pos),
    }
    return stats, pat.weights, coded


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_population_value():
    pop = population(400_000, seed=0)
    stats, weights, coded = statistics(pop)
    truth = {name: est.value for name, est in evaluate(stats, weights).items()}
    true_mean = float(np.mean(unit_scores(coded)))
    rng = np.random.default_rng(1)
    n_reps, n_units = 300, 150
    hits = dict.fromkeys([*truth, "mean"], 0)
    for rep in range(n_reps):
        sample = pop[:, rng.choice(pop.shape[1], n_units, replace=False)]
        s_stats, s_weights, s_coded = statistics(sample)
        est = evaluate(s_stats, s_weights, bootstrap=1000, seed=rep)
        for name, e in est.items():
            hits[name] += e.ci95 is not None and e.ci95[0] <= truth[name] <= e.ci95[1]
        agg = mean_and_median(unit_scores(s_coded), bootstrap=1000, seed=rep)
        hits["mean"] += agg.mean_ci95[0] <= true_mean <= agg.mean_ci95[1]
    coverage = {name: h / n_reps for name, h in hits.items()}
    assert all(0.90 <= c <= 0.99 for c in coverage.values()), coverage


def test_interval_width_shrinks_with_more_units():
    """A sanity check of scale: quadrupling the units roughly halves the interval width."""
    pop = population(50_000, seed=2)
    rng = np.random.default_rng(3)
    widths = []
    for n in (100, 400):
        stats, weights, _ = statistics(pop[:, rng.choice(pop.shape[1], n, replace=False)])
        ci = evaluate({"alpha": stats["alpha"]}, weights, bootstrap=1000, seed=0)["alpha"].ci95
        widths.append(ci[1] - ci[0])
    assert widths[1] / widths[0] == pytest.approx(0.5, abs=0.15)

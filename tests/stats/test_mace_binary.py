"""MACE on a skewed yes/no question, compared with Dawid–Skene on the same data.

With MACE's uniform class prior (Hovy et al. 2013, crowd-kit) the skew toward "yes" is explained as
spamming: θ ("competence") reads low for every rater, good ones included, and the labels suffer.
Estimating the classes' prevalence (``class_prior="learned"``) fixes both; ``accuracy`` (the expected
share of right answers) is then comparable with Dawid–Skene's competence.
"""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.latent_class import dawid_skene, mace

ACCURACY = np.array([0.95, 0.9, 0.85, 0.75, 0.6])


def skewed_panel(seed: int, prevalence: float = 0.88, n: int = 600, overlap: int = 3):
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < prevalence).astype(float)
    x = np.full((ACCURACY.size, n), np.nan)
    for u in range(n):
        for r in rng.choice(ACCURACY.size, overlap, replace=False):
            x[r, u] = truth[u] if rng.random() < ACCURACY[r] else 1 - truth[u]
    return x, truth


@pytest.mark.parametrize("seed", range(3))
def test_uniform_prior_reads_every_rater_as_a_spammer(seed):
    x, truth = skewed_panel(seed)
    uniform = mace(x)
    assert max(uniform.competence) < 0.6  # even the 95%-accurate rater
    assert np.mean(uniform.labels == truth) < np.mean(dawid_skene(x).labels == truth) - 0.05


@pytest.mark.parametrize("seed", range(3))
def test_learned_prior_agrees_with_dawid_skene(seed):
    x, truth = skewed_panel(seed)
    ds = dawid_skene(x)
    learned = mace(x, class_prior="learned")
    assert learned.class_prior[1] == pytest.approx(truth.mean(), abs=0.03)
    # the same raters come out best and worst, by θ and by accuracy
    assert np.argsort(learned.competence)[-1] in (0, 1)
    assert np.argmin(learned.competence) == 4
    assert np.array(learned.accuracy) == pytest.approx(np.array(ds.competence), abs=0.05)
    assert np.array(learned.accuracy) == pytest.approx(ACCURACY, abs=0.06)
    assert np.mean(learned.labels == ds.labels) > 0.94
    assert np.mean(learned.labels == truth) >= np.mean(ds.labels == truth) - 0.01


def test_balanced_classes_give_the_same_fit_either_way():
    x, _ = skewed_panel(5, prevalence=0.5)
    uniform, learned = mace(x), mace(x, class_prior="learned")
    assert np.mean(uniform.labels == learned.labels) > 0.95
    assert np.array(uniform.competence) == pytest.approx(np.array(learned.competence), abs=0.05)

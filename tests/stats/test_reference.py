"""Reference-based metrics equal the libraries' own values; the validity correlations equal scipy's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from scipy import stats

from evalplatform.stats.reference import fisher_interval, rank_correlation, response_metrics

PAIRS = [
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("I refunded the duplicate payment; expect it in 5-10 days.", "I've refunded the duplicate payment, it arrives within 5-10 business days."),
    ("Please restart the router and try again.", "Restarting your router should fix the connection."),
    ("Completely unrelated words here", "The invoice has been corrected and re-sent."),
    ("", "Some reference text."),
]


@pytest.mark.parametrize(("response", "reference"), PAIRS)
def test_metrics_equal_rouge_score_and_sacrebleu_on_the_same_pair(response, reference):
    got = response_metrics(response, reference)
    rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(reference, response)
    assert got["rouge1"] == rouge["rouge1"].fmeasure
    assert got["rouge2"] == rouge["rouge2"].fmeasure
    assert got["rougeL"] == rouge["rougeL"].fmeasure
    assert got["bleu"] == sacrebleu.sentence_bleu(response, [reference]).score
    assert got["chrf"] == sacrebleu.sentence_chrf(response, [reference]).score


def _library_metrics(response: str, reference: str) -> dict[str, float]:
    """The libraries' own calls, a scorer built per call as their documentation shows."""
    rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(reference, response)
    return {"rouge1": rouge["rouge1"].fmeasure, "rouge2": rouge["rouge2"].fmeasure, "rougeL": rouge["rougeL"].fmeasure,
            "bleu": sacrebleu.sentence_bleu(response, [reference]).score,
            "chrf": sacrebleu.sentence_chrf(response, [reference]).score}


def test_metrics_equal_the_libraries_on_many_texts_that_share_words():
    """The scorers are made once and remember each word's stem: on texts that reuse words in every
    form (case, inflections, short words the stemmer skips, digits, punctuation, accents, other
    scripts), in either role, the numbers stay exactly the libraries'."""
    rng = np.random.default_rng(18)
    words = ["Refund", "refunded", "refunding", "refunds", "payment", "payments", "PAYMENTS", "the", "a", "is",
             "running", "runs", "ran", "generously", "generous", "relational", "conditional", "agreed",
             "INV-0312", "5-10", "days.", "day,", "e-mail", "naïve", "café", "Straße", "日本語", "données",
             "ponies", "caresses", "hopping", "sky", "dying", "lying", "abc", "abcd", "x", "42", "4242!"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(0, 30)))) for _ in range(150)]
    pairs = [(texts[i], texts[(i * 7 + 3) % len(texts)]) for i in range(len(texts))]
    pairs += [(b, a) for a, b in pairs[:40]] + [(t, t) for t in texts[:10]]
    for response, reference in pairs:
        assert response_metrics(response, reference) == _library_metrics(response, reference), (response, reference)


def test_an_identical_response_scores_the_maximum_and_an_unrelated_one_far_less():
    text = "I have refunded the duplicate payment for invoice INV-0312."
    same = response_metrics(text, text)
    assert same["rouge1"] == same["rougeL"] == 1.0
    assert math.isclose(same["bleu"], 100.0)
    assert math.isclose(same["chrf"], 100.0)
    other = response_metrics("Restart the router.", text)
    assert all(other[k] < same[k] / 2 for k in same)


def test_correlations_equal_scipy_spearmanr_and_kendalltau():
    rng = np.random.default_rng(4)
    human = rng.integers(1, 6, size=40).astype(float)
    metric = human * 10 + rng.normal(0, 12, size=40)
    got = rank_correlation(metric, human)
    rho, p_rho = stats.spearmanr(metric, human)
    tau, p_tau = stats.kendalltau(metric, human)
    assert got["spearman"].value == pytest.approx(rho, abs=1e-12)
    assert got["spearman"].p_value == pytest.approx(p_rho, abs=1e-12)
    assert got["kendall"].value == pytest.approx(tau, abs=1e-12)
    assert got["kendall"].p_value == pytest.approx(p_tau, abs=1e-12)
    assert got["spearman"].n == got["kendall"].n == 40
    # Fisher z with Fieller, Hartley & Pearson's variances
    half = 1.959963984540054 * math.sqrt(1.06 / 37)
    assert got["spearman"].ci95 == pytest.approx((math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)))
    half = 1.959963984540054 * math.sqrt(0.437 / 36)
    assert got["kendall"].ci95 == pytest.approx((math.tanh(math.atanh(tau) - half), math.tanh(math.atanh(tau) + half)))
    assert got["spearman"].ci95[0] < rho < got["spearman"].ci95[1]


def test_pairs_with_a_missing_value_are_dropped_before_correlating():
    x = [1.0, 2.0, float("nan"), 4.0, 5.0, 3.0]
    y = [2.0, 1.0, 3.0, 5.0, float("nan"), 4.0]
    got = rank_correlation(x, y)
    rho, _ = stats.spearmanr([1.0, 2.0, 4.0, 3.0], [2.0, 1.0, 5.0, 4.0])
    assert got["spearman"].value == pytest.approx(rho)
    assert got["spearman"].n == 4
    assert got["kendall"].ci95 is None
    assert "at least 5" in got["kendall"].reason


def test_undefined_correlations_say_why():
    too_few = rank_correlation([1.0, 2.0], [1.0, 2.0])
    assert too_few["spearman"].value is None
    assert "at least three" in too_few["spearman"].reason
    constant = rank_correlation([1.0, 2.0, 3.0, 4.0], [3.0, 3.0, 3.0, 3.0])
    assert constant["kendall"].value is None
    assert "same on every response" in constant["kendall"].reason


def test_fisher_interval_of_a_perfect_correlation_is_the_point():
    assert fisher_interval(1.0, 10, 1.06, min_n=4) == (1.0, 1.0)
    assert fisher_interval(0.5, 3, 1.06, min_n=4) is None

"""Reference-based metrics of a response against its item's reference answer, and their validity.

``response_metrics`` scores one (response, reference) pair with the libraries' own implementations:
ROUGE-1, ROUGE-2 and ROUGE-L F-measure (``rouge-score``, Porter stemming, 0-1) and sentence-level
BLEU and chrF (``sacrebleu``'s ``sentence_bleu``/``sentence_chrf`` with their defaults, 0-100).

``rank_correlation`` is the validity figure: Spearman's rho and Kendall's tau-b (``scipy.stats``)
between a metric and the human panel's mean score per response, each with a 95% interval from
Fisher's z transform with the standard errors of Fieller, Hartley & Pearson (1957):
sqrt(1.06 / (n - 3)) for Spearman and sqrt(0.437 / (n - 4)) for Kendall.

Pure: numbers in, numbers out; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: (key, label, scale): the metrics in the order the report shows them.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("rouge1", "ROUGE-1 F", "0–1"),
    ("rouge2", "ROUGE-2 F", "0–1"),
    ("rougeL", "ROUGE-L F", "0–1"),
    ("bleu", "BLEU (sentence)", "0–100"),
    ("chrf", "chrF (sentence)", "0–100"),
)
METRIC_KEYS = tuple(key for key, _, _ in METRICS)

_Z975 = 1.959963984540054


#: Distinct words whose Porter stem is kept (a few MB at most; a project's vocabulary is far smaller).
STEM_CACHE = 1 << 17


@lru_cache(maxsize=1)
def _scorers() -> tuple[Any, Any, Any]:
    """The three scorers, made once per process: ROUGE, sentence BLEU and sentence chrF, each configured
    exactly as ``rouge_scorer.RougeScorer(..., use_stemmer=True)``, ``sacrebleu.sentence_bleu`` and
    ``sacrebleu.sentence_chrf`` configure theirs (tests hold the numbers equal to those calls').

    ROUGE's tokenizer is rouge-score's own (``tokenize.tokenize`` with NLTK's Porter stemmer, as its
    ``DefaultTokenizer``), with each word's stem remembered: stemming is a pure function of the word,
    and it was half of a response's scoring time (the same words recur across 60,000 responses).
    sacrebleu's two functions build their metric object on every call; these are built once.
    """
    from nltk.stem import porter
    from rouge_score import rouge_scorer, tokenize, tokenizers
    from sacrebleu.metrics import BLEU, CHRF

    class _RememberingStemmer:
        def __init__(self) -> None:
            self.stem = lru_cache(maxsize=STEM_CACHE)(porter.PorterStemmer().stem)

    class _Tokenizer(tokenizers.Tokenizer):  # the library's extension point (``RougeScorer(tokenizer=...)``)
        def __init__(self) -> None:
            self._stemmer = _RememberingStemmer()

        def tokenize(self, text: str) -> list[str]:
            return tokenize.tokenize(text, self._stemmer)

    rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Tokenizer())
    bleu = BLEU(lowercase=False, tokenize=BLEU.TOKENIZER_DEFAULT, force=False, smooth_method="exp",
                smooth_value=None, effective_order=True)
    chrf = CHRF(char_order=CHRF.CHAR_ORDER, word_order=CHRF.WORD_ORDER, beta=CHRF.BETA, whitespace=False,
                eps_smoothing=False)
    return rouge, bleu, chrf


def response_metrics(response: str, reference: str) -> dict[str, float]:
    """Every metric of ``response`` against ``reference`` (ROUGE F-measures 0-1, BLEU and chrF 0-100)."""
    rouge_scorer, bleu, chrf = _scorers()
    rouge = rouge_scorer.score(reference, response)  # rouge-score takes (target, prediction)
    return {
        "rouge1": float(rouge["rouge1"].fmeasure),
        "rouge2": float(rouge["rouge2"].fmeasure),
        "rougeL": float(rouge["rougeL"].fmeasure),
        "bleu": float(bleu.sentence_score(response, [reference]).score),
        "chrf": float(chrf.sentence_score(response, [reference]).score),
    }


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its Fisher-z 95% interval; ``value`` None (with ``reason``) when undefined."""

    value: float | None
    ci95: tuple[float, float] | None = None
    p_value: float | None = None
    n: int = 0
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": list(self.ci95) if self.ci95 else None,
                "p_value": self.p_value, "n": self.n, "reason": self.reason}


def fisher_interval(r: float, n: int, variance: float, *, min_n: int) -> tuple[float, float] | None:
    """The 95% interval of a correlation ``r`` on ``n`` pairs from z = atanh(r), se = sqrt(variance/(n - k))."""
    if n < min_n or not math.isfinite(r):
        return None
    if abs(r) >= 1.0:
        return (float(r), float(r))
    z = math.atanh(r)
    half = _Z975 * math.sqrt(variance / (n - (min_n - 1)))
    return (math.tanh(z - half), math.tanh(z + half))


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, Correlation]:
    """Spearman's rho and Kendall's tau-b between ``x`` and ``y`` (paired; non-finite pairs dropped)."""
    # Imported here: the imports and exports read METRIC_KEYS at start-up, and only this needs numpy.
    import numpy as np
    from scipy import stats

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < 3:
        reason = f"needs at least three responses with both a metric and a human score (has {n})"
        return {"spearman": Correlation(None, n=n, reason=reason), "kendall": Correlation(None, n=n, reason=reason)}
    if np.all(a == a[0]) or np.all(b == b[0]):
        reason = "one of the two is the same on every response, so there is no ranking to compare"
        return {"spearman": Correlation(None, n=n, reason=reason), "kendall": Correlation(None, n=n, reason=reason)}
    rho, p_rho = stats.spearmanr(a, b)
    tau, p_tau = stats.kendalltau(a, b)
    out = {}
    for name, value, p, variance, min_n in (("spearman", rho, p_rho, 1.06, 4), ("kendall", tau, p_tau, 0.437, 5)):
        ci = fisher_interval(float(value), n, variance, min_n=min_n)
        out[name] = Correlation(float(value), ci, float(p), n,
                                None if ci else f"needs at least {min_n} responses for an interval")
    return out

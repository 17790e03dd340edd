"""Significance of score differences between models rated on the same prompts (paired by item).

Inputs are per-item mean scores, one array per model, aligned by item; NaN = the model has no score
for that item (the pair is dropped and counted).  Differences are always B - A.

Pure numpy/scipy; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

B_BETTER = "B better"
A_BETTER = "A better"
NO_DIFFERENCE = "no significant difference"

_MAX_CELLS = 2_000_000  # bootstrap chunk size (resamples x items)


def _f(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _label(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


@dataclass(frozen=True)
class PairedComparison:
    model_a: Any
    model_b: Any
    dimension: str | None
    n_pairs: int
    n_dropped: int  # items where either score is missing
    mean_a: float | None
    mean_b: float | None
    mean_diff: float | None  # B - A
    ci95: tuple[float | None, float | None]  # paired percentile bootstrap
    p_bootstrap: float | None  # two-sided, shifted-null bootstrap
    wilcoxon_statistic: float | None
    wilcoxon_p: float | None
    n_zero_diffs: int
    zero_method: str
    verdict: str
    reason: str | None = None
    p_adjusted: float | None = None  # Holm-adjusted Wilcoxon p (all-pairs only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_a": _label(self.model_a),
            "model_b": _label(self.model_b),
            "dimension": self.dimension,
            "n_pairs": self.n_pairs,
            "n_dropped": self.n_dropped,
            "mean_a": _f(self.mean_a),
            "mean_b": _f(self.mean_b),
            "mean_diff": _f(self.mean_diff),
            "ci95": [_f(self.ci95[0]), _f(self.ci95[1])],
            "p_bootstrap": _f(self.p_bootstrap),
            "wilcoxon": {
                "statistic": _f(self.wilcoxon_statistic),
                "p_value": _f(self.wilcoxon_p),
                "zero_method": self.zero_method,
                "n_zero_diffs": self.n_zero_diffs,
            },
            "p_adjusted": _f(self.p_adjusted),
            "verdict": self.verdict,
            "reason": self.reason,
        }


def _bootstrap_means(d: NDArray, n_boot: int, seed: int) -> NDArray:
    """Means of ``n_boot`` item resamples of ``d`` (vectorised, chunked to bound memory)."""
    rng = np.random.default_rng(seed)
    n = len(d)
    out = np.empty(n_boot)
    chunk = max(1, _MAX_CELLS // n)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        out[start : start + b] = d[rng.integers(0, n, size=(b, n))].mean(1)
    return out


def bootstrap_p_value(d: NDArray, boot_means: NDArray) -> float:
    """Two-sided bootstrap p-value by the shifted-null method (Efron & Tibshirani 1993, §16.4).

    The resampled means are centred on the observed mean (imposing H0: mean = 0) and
    p = (1 + #{|m*_b - d̄| >= |d̄|}) / (B + 1).
    """
    obs = float(d.mean())
    extreme = np.abs(boot_means - obs) >= abs(obs) - 1e-12 * max(1.0, abs(obs))
    return float((1 + extreme.sum()) / (len(boot_means) + 1))


def _verdict(diff: float | None, ci: tuple[float | None, float | None], p: float | None, alpha: float) -> str:
    if diff is None or p is None or ci[0] is None or ci[1] is None or p >= alpha:
        return NO_DIFFERENCE
    if ci[0] > 0:
        return B_BETTER
    if ci[1] < 0:
        return A_BETTER
    return NO_DIFFERENCE


def _compare(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    *,
    model_a: Any = "A",
    model_b: Any = "B",
    dimension: str | None = None,
    n_boot: int = 5000,
    seed: int = 0,
    alpha: float = 0.05,
    zero_method: Literal["wilcox", "pratt"] = "wilcox",
) -> tuple[PairedComparison, tuple[float | None, float | None]]:
    """Implementation of :func:`compare_paired`; also returns the (1 - alpha) interval for verdicts."""
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("scores_a and scores_b must be 1-D arrays aligned by item")
    ok = ~(np.isnan(a) | np.isnan(b))
    n, n_dropped = int(ok.sum()), int((~ok).sum())
    a, b = a[ok], b[ok]
    d = b - a
    n_zero = int((d == 0).sum())
    base: dict[str, Any] = {
        "model_a": model_a, "model_b": model_b, "dimension": dimension, "n_pairs": n,
        "n_dropped": n_dropped, "n_zero_diffs": n_zero, "zero_method": zero_method,
    }
    if n < 2:
        return PairedComparison(
            **base, mean_a=_f(a.mean()) if n else None, mean_b=_f(b.mean()) if n else None,
            mean_diff=_f(d.mean()) if n else None, ci95=(None, None), p_bootstrap=None,
            wilcoxon_statistic=None, wilcoxon_p=None, verdict=NO_DIFFERENCE,
            reason=f"need at least 2 paired items, got {n}",
        ), (None, None)
    diff = float(d.mean())
    boot = _bootstrap_means(d, n_boot, seed)
    ci95 = tuple(float(x) for x in np.quantile(boot, [0.025, 0.975]))
    ci_alpha = tuple(float(x) for x in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    p_boot = bootstrap_p_value(d, boot)
    w_stat: float | None = None
    w_p: float | None = None
    reason = None
    if n_zero == n:
        reason = "all differences are zero: the Wilcoxon test is undefined"
    else:
        try:
            res = stats.wilcoxon(d, zero_method=zero_method)
            w_stat, w_p = _f(res.statistic), _f(res.pvalue)
        except ValueError as exc:  # pragma: no cover - scipy refuses some tiny samples
            reason = f"Wilcoxon test failed: {exc}"
        if w_p is None and reason is None:
            reason = "Wilcoxon p-value undefined"
    result = PairedComparison(
        **base, mean_a=float(a.mean()), mean_b=float(b.mean()), mean_diff=diff,
        ci95=(ci95[0], ci95[1]), p_bootstrap=p_boot, wilcoxon_statistic=w_stat, wilcoxon_p=w_p,
        verdict=_verdict(diff, (ci_alpha[0], ci_alpha[1]), w_p, alpha), reason=reason,
    )
    return result, (ci_alpha[0], ci_alpha[1])


def compare_paired(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    *,
    model_a: Any = "A",
    model_b: Any = "B",
    dimension: str | None = None,
    n_boot: int = 5000,
    seed: int = 0,
    alpha: float = 0.05,
    zero_method: Literal["wilcox", "pratt"] = "wilcox",
) -> PairedComparison:
    """Paired comparison of two models' per-item scores: mean difference B - A.

    * Interval: paired percentile bootstrap, items resampled with replacement (``n_boot``, seeded).
    * ``p_bootstrap``: two-sided shifted-null bootstrap p-value (:func:`bootstrap_p_value`).
    * Wilcoxon signed-rank test (Wilcoxon 1945) via ``scipy.stats.wilcoxon``; ``zero_method="wilcox"``
      (default) discards zero differences before ranking, ``"pratt"`` ranks them then drops their
      ranks (Pratt 1959).  The statistic is scipy's two-sided one: min(W+, W-).
    * Verdict: "B better"/"A better" when the (1 - alpha) bootstrap interval excludes 0 (95% for the
      default alpha) AND the Wilcoxon p < alpha; otherwise "no significant difference".  Requiring
      both the mean-based interval and the rank-based test is deliberately conservative.
    """
    return _compare(scores_a, scores_b, model_a=model_a, model_b=model_b, dimension=dimension,
                    n_boot=n_boot, seed=seed, alpha=alpha, zero_method=zero_method)[0]


def compare_dimensions(
    scores_a: Mapping[str, ArrayLike], scores_b: Mapping[str, ArrayLike], **kwargs: Any
) -> tuple[PairedComparison, ...]:
    """:func:`compare_paired` for every dimension present in both mappings (dimension → per-item scores).

    No multiplicity correction across dimensions (each dimension is its own question).
    """
    return tuple(
        compare_paired(scores_a[dim], scores_b[dim], dimension=dim, **kwargs)
        for dim in scores_a
        if dim in scores_b
    )


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm (1979) step-down adjusted p-values; None entries are left out of the family and stay None."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    m = len(idx)
    out: list[float | None] = [None] * len(p_values)
    order = sorted(idx, key=lambda i: p_values[i])  # type: ignore[arg-type, return-value]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))  # type: ignore[arg-type]
        out[i] = running
    return out


@dataclass(frozen=True)
class AllPairsComparison:
    models: tuple[Any, ...]
    dimension: str | None
    comparisons: tuple[PairedComparison, ...]  # (A, B) = (earlier, later) model in ``models``
    alpha: float
    adjustment: str = "holm"

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": [_label(m) for m in self.models],
            "dimension": self.dimension,
            "alpha": self.alpha,
            "adjustment": self.adjustment,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def compare_all_pairs(
    scores: Mapping[Any, ArrayLike],
    *,
    dimension: str | None = None,
    n_boot: int = 5000,
    seed: int = 0,
    alpha: float = 0.05,
    zero_method: Literal["wilcox", "pratt"] = "wilcox",
) -> AllPairsComparison:
    """Every pair of k models (model → per-item scores, aligned by item) with Holm-corrected p-values.

    The Wilcoxon p-values of the k(k-1)/2 comparisons are Holm-adjusted (``p_adjusted``) and the
    verdict uses the adjusted p (intervals stay unadjusted 95%/(1 - alpha) percentile intervals).
    Each pair uses the same seed, so the bootstrap resamples items identically across pairs when the
    pairs have the same items.
    """
    models = tuple(scores)
    pairs = [
        _compare(scores[ma], scores[mb], model_a=ma, model_b=mb, dimension=dimension,
                       n_boot=n_boot, seed=seed, alpha=alpha, zero_method=zero_method)
        for ma, mb in combinations(models, 2)
    ]
    adjusted = holm([c.wilcoxon_p for c, _ in pairs])
    out = tuple(
        replace(c, p_adjusted=p_adj, verdict=_verdict(c.mean_diff, ci_alpha, p_adj, alpha))
        for (c, ci_alpha), p_adj in zip(pairs, adjusted, strict=True)
    )
    return AllPairsComparison(models, dimension, out, alpha)


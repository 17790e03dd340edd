"""Per-rater and per-unit figures: who agrees with whom, who is lenient, which items are contested.

For each rater: the number of units rated; Cohen's kappa with every other rater and the number of
units they share (a heat map); Krippendorff's alpha of the data without that rater (a rater whose
removal raises alpha disagrees with the rest); and the mean offset from the other raters' mean on
the same units (> 0 lenient, < 0 severe).  For each unit a bounded disagreement (``task_disagreement``):
the sum of δ² over its pairs of ratings (Krippendorff's metric of the level) over the largest sum that
the same number of ratings on that scale can reach; 0 = all raters agree, 1 = as far apart as possible.
(``pattern_disagreement`` keeps the older, chance-relative score, which is unbounded on skewed scales.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.agreement import alpha_statistic
from evalplatform.stats.matrix import (
    Level,
    UnitPatterns,
    alpha_delta,
    alpha_pair_sum,
    value_counts,
    value_pairs,
)
from evalplatform.stats.pairwise_kappa import PairKappa


@dataclass(frozen=True)
class RaterFigures:
    """One rater's figures; ``kappa_with`` / ``shared_with`` are keyed by the other rater's index."""

    rater: int
    n_items: int
    alpha_without: float | None
    alpha_without_reason: str | None
    mean_offset: float | None
    kappa_with: dict[int, float | None]
    shared_with: dict[int, int]


def kappa_matrix(pairs: Sequence[PairKappa], n_raters: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(kappa, shared units) as symmetric (raters x raters) arrays; NaN where kappa is undefined."""
    kappa = np.full((n_raters, n_raters), np.nan)
    shared = np.zeros((n_raters, n_raters), dtype=np.int64)
    for p in pairs:
        a, b = p.raters
        kappa[a, b] = kappa[b, a] = np.nan if p.value is None else p.value
        shared[a, b] = shared[b, a] = p.n_units
    return kappa, shared


def mean_offsets(patterns: UnitPatterns, positions: NDArray[np.float64]) -> list[float | None]:
    """Each rater's mean of (own rating - mean of the other raters' ratings) over units others also rated."""
    codes = patterns.codes
    present = codes >= 0
    values = np.where(present, positions[np.maximum(codes, 0)], 0.0) if positions.size else np.zeros(codes.shape)
    total, count = values.sum(axis=0), present.sum(axis=0)
    out: list[float | None] = []
    for r in range(codes.shape[0]):
        others = count - present[r]
        use = present[r] & (others > 0)
        w = patterns.weights[use]
        if w.sum() == 0:
            out.append(None)
            continue
        others_mean = (total[use] - values[r, use]) / others[use]
        out.append(float(np.dot(w, values[r, use] - others_mean) / w.sum()))
    return out


def rater_figures(
    patterns: UnitPatterns,
    level: Level,
    positions: NDArray[np.float64],
    pairs: Sequence[PairKappa],
    *,
    numeric: bool = True,
) -> list[RaterFigures]:
    """Per-rater figures from the (rater-identified) patterns and the pairwise kappas already computed."""
    n_raters = patterns.codes.shape[0]
    kappa, shared = kappa_matrix(pairs, n_raters)
    offsets = mean_offsets(patterns, positions) if numeric else [None] * n_raters
    out = []
    for r in range(n_raters):
        rated = patterns.codes[r] >= 0
        rest = UnitPatterns(np.delete(patterns.codes, r, axis=0), patterns.weights, patterns.inverse,
                            patterns.n_values)
        alpha: float | None
        reason: str | None
        if n_raters - 1 < 2:
            alpha, reason = None, "needs at least two other raters"
        else:
            alpha, reason = alpha_statistic(rest, level, positions).point(patterns.weights)
        others = [o for o in range(n_raters) if o != r and shared[r, o] > 0]
        out.append(RaterFigures(
            r,
            int(patterns.weights[rated].sum()),
            alpha,
            reason,
            offsets[r],
            {o: (None if np.isnan(kappa[r, o]) else float(kappa[r, o])) for o in others},
            {o: int(shared[r, o]) for o in others},
        ))
    return out


def pattern_disagreement(patterns: UnitPatterns, level: Level, positions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Disagreement of each pattern: mean δ² over its ordered pairs of ratings / expected δ² (NaN if < 2)."""
    v = patterns.n_values
    vc = value_counts(patterns.codes, v)
    m = (patterns.codes >= 0).sum(axis=0).astype(float)
    pairs = value_pairs(vc)
    keep = m[pairs.unit] >= 2
    unit, c, k = pairs.unit[keep], pairs.c[keep], pairs.k[keep]
    n_pairs_ck = pairs.product[keep] - (c == k) * pairs.count_c[keep]
    pairable_counts = np.asarray(vc.multiply((m >= 2)[:, None].astype(float)).T @ patterns.weights).ravel()
    delta = alpha_delta(level, positions, c, k, pairable_counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_d = np.bincount(unit, weights=n_pairs_ck * delta, minlength=patterns.n_patterns) / (m * (m - 1))
        n = pairable_counts.sum()
        expected = float(alpha_pair_sum(level, positions, pairable_counts[None, :])[0]) / (n * (n - 1)) if n > 1 else 0.0
    mean_d = np.where(m >= 2, mean_d, np.nan)
    return mean_d / expected if expected > 0 else np.where(m >= 2, 0.0, np.nan)


#: exact search for the most disagreeing set of m ratings (ratio level) up to this many multisets
MAX_EXACT_MULTISETS = 20_000


def _multisets(n_values: int, m: int) -> NDArray[np.int64]:
    """Every vector of counts (n_values entries, summing to m), one per row."""
    if n_values == 1:
        return np.array([[m]], dtype=np.int64)
    rows = [np.column_stack([np.full(len(rest), first, dtype=np.int64), rest])
            for first in range(m, -1, -1) for rest in [_multisets(n_values - 1, m - first)]]
    return np.vstack(rows)


def max_pair_disagreement(delta: NDArray[np.float64], m: int) -> float:
    """The largest Σ over ordered pairs of δ that ``m`` ratings on a scale with difference matrix ``delta``
    (V x V, symmetric, zero diagonal) can have: max over counts n (Σ n_c = m) of nᵀ δ n.

    Exact by enumeration when there are at most ``MAX_EXACT_MULTISETS`` ways to place the ratings; else a
    local search (one rating moved at a time, from every two-value split), which is exact for the
    squared-difference metrics (nominal, ordinal, interval: the optimum puts half the ratings at each
    end of the scale, or spreads them evenly for nominal) and a lower bound otherwise.
    """
    v = delta.shape[0]
    if m < 2 or v < 2:
        return 0.0
    if comb(v + m - 1, m) <= MAX_EXACT_MULTISETS:
        counts = _multisets(v, m).astype(float)
        return float(np.max(np.einsum("ij,jk,ik->i", counts, delta, counts)))
    best = 0.0
    for a in range(v):
        for b in range(a + 1, v):
            n = np.zeros(v)
            n[a], n[b] = m // 2, m - m // 2
            value = float(n @ delta @ n)
            improved = True
            while improved:
                improved = False
                grad = delta @ n  # moving one rating from c to k changes the sum by 2 (g_k - g_c - δ_ck)
                gain = 2 * (grad[None, :] - grad[:, None] - delta)
                gain[n == 0, :] = -np.inf
                c, k = np.unravel_index(np.argmax(gain), gain.shape)
                if gain[c, k] > 1e-12 * max(value, 1.0):
                    n[c] -= 1
                    n[k] += 1
                    value += float(gain[c, k])
                    improved = True
            best = max(best, value)
    return best


def task_disagreement(patterns: UnitPatterns, level: Level, positions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Bounded disagreement of each pattern in [0, 1]: 0 = all its raters agree, 1 = as far apart as m
    ratings on this scale can be (NaN with fewer than 2 ratings).

    D_u = Σ_{ordered pairs i≠j} δ(x_i, x_j) / max over any m_u ratings on the scale of the same sum, with
    δ Krippendorff's metric of the level (ordinal: the mid-rank distance of the pooled ratings).  So a
    2-1 split on a yes/no question is 1 (the most three raters can disagree there), one rater at 1 and
    another at 5 on a 1-5 scale is 1, and 4 vs 5 on that scale is 1/16 (interval).  Unlike the
    chance-relative ``pattern_disagreement`` it cannot exceed 1 on a skewed question.
    """
    v = patterns.n_values
    vc = value_counts(patterns.codes, v)
    m = (patterns.codes >= 0).sum(axis=0)
    pairs = value_pairs(vc)
    keep = m[pairs.unit] >= 2
    unit, c, k = pairs.unit[keep], pairs.c[keep], pairs.k[keep]
    n_pairs_ck = pairs.product[keep] - (c == k) * pairs.count_c[keep]
    pooled = np.asarray(vc.multiply((m >= 2)[:, None].astype(float)).T @ patterns.weights).ravel()
    observed = np.bincount(unit, weights=n_pairs_ck * alpha_delta(level, positions, c, k, pooled),
                           minlength=patterns.n_patterns)
    grid_c, grid_k = np.meshgrid(np.arange(v), np.arange(v), indexing="ij")
    delta = alpha_delta(level, positions, grid_c.ravel(), grid_k.ravel(), pooled).reshape(v, v)
    maxima = {int(size): max_pair_disagreement(delta, int(size)) for size in np.unique(m[m >= 2])}
    top = np.array([maxima.get(int(size), 0.0) for size in m])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(top > 0, observed / top, 0.0)
    return np.where(m >= 2, np.clip(out, 0.0, 1.0), np.nan)


def most_disagreed(
    patterns: UnitPatterns, level: Level, positions: NDArray[np.float64], top: int = 20
) -> list[tuple[int, float]]:
    """The ``top`` units (index, bounded disagreement ``task_disagreement``) with the highest disagreement
    > 0; ties in unit order."""
    per_pattern = task_disagreement(patterns, level, positions)
    units = np.flatnonzero(patterns.inverse >= 0)
    score = per_pattern[patterns.inverse[units]]
    ok = np.isfinite(score) & (score > 0)  # units where every rater agrees are not "disagreed"
    units, score = units[ok], score[ok]
    if units.size == 0 or top <= 0:
        return []
    if units.size > top:  # keep every unit that ties with the top-th score, then order
        cut = np.partition(score, units.size - top)[units.size - top]
        keep = score >= cut
        units, score = units[keep], score[keep]
    order = np.lexsort((units, -score))[:top]
    return [(int(units[i]), float(score[i])) for i in order]

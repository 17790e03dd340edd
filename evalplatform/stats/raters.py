"""Per-rater and per-unit figures: who agrees with whom, who is lenient, which items are contested.

For each rater: the number of units rated; Cohen's kappa with every other rater and the number of
units they share (a heat map); Krippendorff's alpha of the data without that rater (a rater whose
removal raises alpha disagrees with the rest); and the mean offset from the other raters' mean on
the same units (> 0 lenient, < 0 severe).  For each unit a disagreement score: the mean squared
difference δ² over its pairs of ratings (Krippendorff's metric of the level), divided by the
expected δ² of two random pairable ratings (D_e / n).  0 = all raters agree, 1 = chance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.agreement import PairKappa, alpha_statistic
from evalplatform.stats.matrix import (
    Level,
    UnitPatterns,
    alpha_delta,
    alpha_pair_sum,
    value_counts,
    value_pairs,
)


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


def most_disagreed(
    patterns: UnitPatterns, level: Level, positions: NDArray[np.float64], top: int = 20
) -> list[tuple[int, float]]:
    """The ``top`` units (index, disagreement) with the highest disagreement > 0; ties in unit order."""
    per_pattern = pattern_disagreement(patterns, level, positions)
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

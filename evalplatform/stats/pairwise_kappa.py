"""Cohen's kappa, pair by pair: a kappa for every pair of raters on the units both rated, and their mean.

Unlike the coefficients of ``agreement.py``, which pool the raters' ratings of a unit, Cohen's kappa
needs to know who gave which rating, so its statistics are per pair of raters: a column group per pair
(``cohen_statistic``), or with many raters the pairs' totals from (raters x raters) matrix products
(``_PairMoments``), since a thousand raters have half a million pairs.  ``pair_kappas`` turns the
totals into the kappas, ``pair_results`` reports each pair on the data itself.  The statistics follow
``agreement.py``'s convention (a ``UnitStatistic`` over rating patterns, the same code for the point
estimate and the bootstrap) and use its shared pieces; this module imports ``agreement``, never the
reverse.  (``pairwise.py`` is another idea: Bradley-Terry models of pairwise preferences.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from evalplatform.stats.agreement import Domain, check_weighting, estimate, patterns_of, reason_codes
from evalplatform.stats.bootstrap import Estimate, Seed, UnitStatistic, one_blas_thread
from evalplatform.stats.matrix import DENSE_CELLS, UnitPatterns, Weighting, column_stack, kappa_weight


def pair_width(weights: Weighting, n_values: int) -> int:
    """Statistics per rater pair: [both, w] + marginal moments (quadratic) or marginal counts (others)."""
    return 6 if weights == "quadratic" else 2 * n_values + 2


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of one pair of raters on the ``n_units`` units both rated."""

    raters: tuple[int, int]
    value: float | None
    reason: str | None
    n_units: int


@dataclass(frozen=True)
class CohenKappa:
    """Mean of the pairwise kappas (with its bootstrap interval) and every pair's kappa."""

    weights: Weighting
    mean: Estimate
    pairs: tuple[PairKappa, ...]


PAIR_REASONS = (
    "the two raters share no unit",
    "the two raters share only one unit",
    "both raters gave one and the same value on all shared units, so kappa is undefined",
)


def rater_pairs(patterns: UnitPatterns) -> list[tuple[int, int]]:
    """The pairs of raters (a < b) who rated at least one unit in common, in order (a, then b)."""
    rated = (patterns.codes >= 0).astype(np.float32)  # counts of shared patterns: exact below 2**24
    shared = np.triu(rated @ rated.T > 0, k=1)
    a, b = np.nonzero(shared)  # row-major: the order of itertools.combinations
    return list(zip(a.tolist(), b.tolist(), strict=True))


#: the pair kappas of this many resamples are held at once (each resample: one (raters x raters) product)
PAIR_BLOCK = 16


class _PairMoments:
    """Cohen's kappa totals of every pair of raters with quadratic weights, from matrix products.

    With B the (raters x patterns) indicator of a rating, X the rating's centred position (0 where
    missing) and c a resample's pattern counts: n_ab = (B c) B^T, Σ x_a = (X c) B^T, Σ x_a² = (X² c)
    B^T and Σ (x_a - x_b)² = Σ x_a² + Σ x_b² - 2 (X c) X^T, each at [a, b].  Positions are multiples of
    1/2 and the sums stay far below 2**52, so every sum is exact and these are the totals of the
    per-pair statistics (``cohen_statistic``'s sparse matrix) to the last bit, without a column per pair:
    a thousand raters have half a million pairs.
    """

    def __init__(self, patterns: UnitPatterns, pairs: Sequence[tuple[int, int]], x: NDArray[np.float64]) -> None:
        present = patterns.codes >= 0
        self.b = present.astype(float)
        self.x = np.where(present, x[np.maximum(patterns.codes, 0)], 0.0) if x.size else np.zeros(present.shape)
        n_r = present.shape[0]
        a = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        b = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
        self.ab, self.ba, self.n_pairs = a * n_r + b, b * n_r + a, len(pairs)

    @staticmethod
    def exact(patterns: UnitPatterns, x: NDArray[np.float64]) -> bool:
        """Whether every sum of the products is exact (positions on a grid of 1/2, small enough)."""
        twice = 2 * x
        big = float(np.abs(x).max()) if x.size else 0.0
        return bool(np.all(twice == np.round(twice))) and 4 * (big + 1) ** 2 * max(patterns.n_units, 1) < 2.0**50

    def products(self, c: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        """Per pair for pattern counts ``c``: (both, w, Σ x_a, Σ x_a², Σ x_b, Σ x_b²), contiguous."""
        xc = self.x * c
        n_r = self.b.shape[0]
        first = np.concatenate([self.b * c, xc, self.x * xc]) @ self.b.T  # (3 raters x raters)
        both, sums, squares = first[:n_r].ravel(), first[n_r : 2 * n_r].ravel(), first[2 * n_r :].ravel()
        sa2, sb2 = squares[self.ab], squares[self.ba]
        return both[self.ab], sa2 + sb2 - 2 * (xc @ self.x.T).ravel()[self.ab], sums[self.ab], sa2, sums[self.ba], sb2

    def mean_kappa(self, counts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """``cohen_statistic``'s finish (the mean of the defined pair kappas) for each row of ``counts``:
        ``pair_kappas``' quadratic formulas on the same totals, one resample at a time."""
        kappas = np.empty((counts.shape[0], self.n_pairs))
        with np.errstate(divide="ignore", invalid="ignore"):
            for i, c in enumerate(counts):
                n, d_o, sa, sa2, sb, sb2 = self.products(c)
                expected = n * sa2 + n * sb2 - 2 * sa * sb
                d_e = expected / n
                defined = ~(n < 1.5) & (d_e > 1e-12 * np.maximum(d_o, 1))  # pair_kappas' reason code 0
                kappas[i] = np.where(defined, 1.0 - d_o / d_e, np.nan)
        defined_n = np.isfinite(kappas).sum(axis=1)
        with np.errstate(invalid="ignore"):
            mean = np.where(defined_n > 0, np.nansum(kappas, axis=1) / np.maximum(defined_n, 1), np.nan)
        return mean, (defined_n == 0).astype(np.int64)

    def totals(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        """(resamples x pairs * 6) totals in ``cohen_statistic``'s column order: [both, w, Σ x_a, Σ x_a²,
        Σ x_b, Σ x_b²] per pair."""
        out = np.empty((counts.shape[0], self.n_pairs, 6))
        for i, c in enumerate(counts):
            for k, column in enumerate(self.products(c)):
                out[i, :, k] = column
        return out.reshape(counts.shape[0], -1)


@dataclass(frozen=True)
class PairStatistic(UnitStatistic):
    """``cohen_statistic`` of many raters: the per-pair totals come from ``_PairMoments`` a few
    resamples at a time, never as a (patterns x pairs * 6) matrix nor (resamples x pairs) at once."""

    moments: _PairMoments | None = None

    def totals(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        assert self.moments is not None
        return self.moments.totals(counts)


def pair_kappas(
    totals: NDArray[np.float64], n_pairs: int, weights: Weighting, n_values: int,
    positions: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Cohen's κ_w = 1 - Σ w_ck n_ck / (Σ w_ck n_c. n_.k / n) from the per-pair totals (b x pairs x width).

    Expected disagreement without a (V x V) weight matrix: unweighted n - Σ_c n_c. n_.c / n; quadratic
    from the marginals' first two moments; linear from cumulative sums of the second marginal.
    """
    t = totals.reshape(totals.shape[0], n_pairs, pair_width(weights, n_values))
    n, d_o = t[:, :, 0], t[:, :, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if weights == "quadratic":
            sa, sa2, sb, sb2 = t[:, :, 2], t[:, :, 3], t[:, :, 4], t[:, :, 5]
            expected = n * sa2 + n * sb2 - 2 * sa * sb
        else:
            rows, cols = t[:, :, 2 : 2 + n_values], t[:, :, 2 + n_values :]
            if weights is None:
                expected = n * n - (rows * cols).sum(axis=2)
            else:
                idx = np.arange(n_values, dtype=float) if positions is None else np.asarray(positions, float)
                below, below_i = np.cumsum(cols, axis=2) - cols, np.cumsum(cols * idx, axis=2) - cols * idx
                above, above_i = n[:, :, None] - below - cols, (cols * idx).sum(axis=2)[:, :, None] - below_i - cols * idx
                expected = (rows * (idx * below - below_i + above_i - idx * above)).sum(axis=2)
        d_e = expected / n
        code = reason_codes(n < 0.5, n < 1.5, ~(d_e > 1e-12 * np.maximum(d_o, 1)))
        value = np.where(code == 0, 1.0 - d_o / d_e, np.nan)
    return value, code


def cohen_statistic(
    patterns: UnitPatterns, pairs: Sequence[tuple[int, int]], weights: Weighting,
    positions: NDArray[np.float64] | None = None,
) -> UnitStatistic:
    """Mean over rater pairs of Cohen's kappa (Cohen 1960; weighted: Cohen 1968).

    For raters a, b on the units both rated, with confusion proportions p_ck, marginals p_c., p_.k and
    disagreement weights w_ck: κ_w = 1 - Σ w_ck p_ck / Σ w_ck p_c. p_.k.  Per unit and pair the
    sufficient statistics are [both rated, w(x_a, x_b)] and, for the marginals, one-hot(x_a) and
    one-hot(x_b) (V each) or, with quadratic weights, the centred ranks i and i² of x_a and x_b.  The
    mean is over the pairs whose kappa is defined.

    Weights measure distance in category ranks (ordinal data), or with ``positions`` (the scale's
    values; interval and ratio data) in values: w_ck = |x_c - x_k| or (x_c - x_k)², as statsmodels'
    ``cohens_kappa(table, weights=values, wt=...)`` does.  Value weights do not depend on which other
    values occur, so a pair's kappa does not change when an unrelated rater uses a new value.
    """
    v = patterns.n_values
    weights = check_weighting(weights)
    width = pair_width(weights, v)
    if positions is not None:
        x = np.asarray(positions, dtype=float)
        x = x - x.mean() if x.size else x  # centred: the quadratic moments stay well conditioned
    else:
        x = np.arange(v, dtype=float) - (v - 1) / 2
    n_pairs = len(pairs)

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        if n_pairs == 0:
            return np.full(t.shape[0], np.nan), np.ones(t.shape[0], dtype=np.int64)
        kappas, _ = pair_kappas(t, n_pairs, weights, v, positions)
        defined = np.isfinite(kappas).sum(axis=1)
        with np.errstate(invalid="ignore"):
            mean = np.where(defined > 0, np.nansum(kappas, axis=1) / np.maximum(defined, 1), np.nan)
        return mean, (defined == 0).astype(np.int64)

    reasons = ("no pair of raters has a defined kappa",)
    # Many pairs: the statistics matrix would be held sparse (so outside the other coefficients' one
    # dense product, whose figures stay as they are) and would hold millions of columns.
    many = patterns.n_patterns * n_pairs * width > DENSE_CELLS
    if many and weights == "quadratic" and _PairMoments.exact(patterns, x):
        moments = _PairMoments(patterns, pairs, x)

        def direct(counts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
            with one_blas_thread():  # small products, one after another: BLAS threads only cost here
                parts = [moments.mean_kappa(counts[i : i + PAIR_BLOCK]) for i in range(0, counts.shape[0], PAIR_BLOCK)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

        return PairStatistic(np.zeros((patterns.n_patterns, 0)), finish, reasons, direct, moments)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float64]] = []
    for j, (a, b) in enumerate(pairs):
        both = np.flatnonzero((patterns.codes[a] >= 0) & (patterns.codes[b] >= 0))
        ca, cb = patterns.codes[a, both], patterns.codes[b, both]
        base = j * width
        ones = np.ones(both.size)
        rows += [both, both]
        cols += [np.full(both.size, base), np.full(both.size, base + 1)]
        vals += [ones, kappa_weight(weights, ca, cb) if positions is None else value_weight(weights, x, ca, cb)]
        if weights == "quadratic":
            ia, ib = x[ca], x[cb]
            rows += [both] * 4
            cols += [np.full(both.size, base + i) for i in range(2, 6)]
            vals += [ia, ia**2, ib, ib**2]
        else:
            rows += [both, both]
            cols += [base + 2 + ca, base + 2 + v + cb]
            vals += [ones, ones]
    shape = (patterns.n_patterns, max(len(pairs), 1) * width)
    if rows:
        stats = column_stack([sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                               shape=shape)])
    else:
        stats = np.zeros(shape)
    return UnitStatistic(stats, finish, reasons)


def value_weight(weights: Weighting, x: NDArray[np.float64], c: NDArray[np.int64], k: NDArray[np.int64]
                 ) -> NDArray[np.float64]:
    """Cohen's (1968) disagreement weight of scale values x_c, x_k: [c ≠ k], |x_c - x_k| or (x_c - x_k)²."""
    if weights is None:
        return (c != k).astype(float)
    diff = np.abs(x[c] - x[k])
    return diff if weights == "linear" else diff**2


# --------------------------------------------------------------------------------------------------
# public functions on a (raters x units) matrix


def cohen_kappa(data: ArrayLike, *, weights: Weighting = None, value_domain: Domain = None,
                bootstrap: int = 0, seed: Seed = None, by_value: bool = False) -> CohenKappa:
    """Cohen's kappa for every pair of raters on the units both rated, and their mean (see ``cohen_statistic``).

    The categories are ``value_domain`` when given, else the values that occur anywhere in the matrix.
    Weighted kappa measures distance in category ranks (ordinal data), or with ``by_value`` in the
    numeric values themselves (interval and ratio data).
    """
    weights = check_weighting(weights)
    coded, pat = patterns_of(data, "nominal" if weights is None else "ordinal", value_domain, ignore_raters=False)
    positions = coded.positions() if by_value and weights is not None else None
    pairs = rater_pairs(pat)
    stat = cohen_statistic(pat, pairs, weights, positions)
    return CohenKappa(weights, estimate(stat, pat, bootstrap, seed),
                      pair_results(stat, pat, pairs, weights, positions))


def pair_results(
    stat: UnitStatistic, patterns: UnitPatterns, pairs: Sequence[tuple[int, int]], weights: Weighting,
    positions: NDArray[np.float64] | None = None,
) -> tuple[PairKappa, ...]:
    """Each pair's kappa on the data itself, from the same totals as the mean (``positions``: as given
    to ``cohen_statistic``)."""
    if not pairs:
        return ()
    totals = stat.totals(patterns.weights[None, :])
    values, codes = pair_kappas(totals, len(pairs), weights, patterns.n_values, positions)
    width = pair_width(weights, patterns.n_values)
    out = []
    for j, pair in enumerate(pairs):
        ok = codes[0, j] == 0
        out.append(PairKappa(pair, float(values[0, j]) if ok else None,
                             None if ok else PAIR_REASONS[codes[0, j] - 1], round(totals[0, j * width])))
    return tuple(out)

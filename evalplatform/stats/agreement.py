"""Inter-rater agreement coefficients.

Krippendorff's alpha (four levels), Cohen's kappa for every pair of raters (unweighted, linear,
quadratic), Fleiss' kappa, percent agreement and Gwet's AC1 / AC2.  Input is a (raters x units)
matrix, NaN (or None) for a missing rating.

Each coefficient is written as ``*_statistic(patterns, ...) -> UnitStatistic``: the per-unit
sufficient statistics of the method (one row per distinct rating pattern) and the formula that turns
their sums into the coefficient.  The point estimate applies the formula to the pattern
multiplicities, a bootstrap replicate to resampled multiplicities (``bootstrap.py``); it is the same
code.  Undefined values come back as ``None`` with a reason, never as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from evalplatform.stats.bootstrap import Estimate, Seed, UnitStatistic, evaluate, one_blas_thread
from evalplatform.stats.matrix import (
    DENSE_CELLS,
    CodedRatings,
    Label,
    Level,
    UnitPatterns,
    Weighting,
    alpha_delta,
    alpha_pair_sum,
    check_level,
    code_ratings,
    collapse_units,
    column_stack,
    gwet_weight,
    gwet_weight_total,
    kappa_weight,
    midranks,
    value_counts,
    value_pairs,
)

WEIGHTINGS: tuple[Weighting, ...] = (None, "linear", "quadratic")
#: ordinal alpha keeps each unit's whole coincidence matrix (V² statistics) up to this many scale values
DENSE_VALUES = 64

NO_PAIRABLE = "no unit was rated by two or more raters"
ONE_UNIT = "needs at least two units rated by two or more raters"
ONE_RATER = "needs at least two raters"
NO_RATINGS = "there are no ratings"
ALPHA_CONSTANT = "all ratings have the same value, so expected disagreement is zero and alpha is undefined"
KAPPA_CONSTANT = "all ratings have the same value, so expected agreement is one and kappa is undefined"


def _check_weighting(weights: str | None) -> Weighting:
    if weights not in WEIGHTINGS:
        raise ValueError(f"unknown weights {weights!r}; use None, 'linear' or 'quadratic'")
    return weights


def _reason_codes(*conditions: NDArray[np.bool_]) -> NDArray[np.int64]:
    """1 + index of the first true condition per row, 0 when none holds."""
    code = np.zeros(conditions[0].shape, dtype=np.int64)
    for i, cond in reversed(list(enumerate(conditions))):
        code[cond] = i + 1
    return code


def _unit_counts(patterns: UnitPatterns) -> tuple[sparse.csr_array, NDArray[np.float64]]:
    """(n_uc value counts per pattern, m_u ratings per pattern)."""
    return value_counts(patterns.codes, patterns.n_values), (patterns.codes >= 0).sum(axis=0).astype(float)


def precondition(patterns: UnitPatterns) -> str | None:
    """A reason that makes every agreement coefficient undefined, if there is one."""
    if patterns.n_patterns == 0:
        return NO_RATINGS
    if patterns.codes.shape[0] < 2:
        return ONE_RATER
    return None


# --------------------------------------------------------------------------------------------------
# Krippendorff's alpha


def alpha_statistic(patterns: UnitPatterns, level: Level, positions: NDArray[np.float64]) -> UnitStatistic:
    """Krippendorff's alpha, α = 1 - D_o / D_e, via the coincidence matrix.

    Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": unit u with m_u ≥ 2 pairable
    values adds (number of c-k pairs in u) / (m_u - 1) to o_ck; units with fewer than two values are
    not pairable and add nothing.  With n_c = Σ_k o_ck and n = Σ_c n_c,
    α = 1 - (n - 1) Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck, with δ² nominal [c ≠ k], interval
    (c - k)², ratio ((c - k)/(c + k))², ordinal (Σ_{g=c..k} n_g - (n_c + n_k)/2)².
    Sufficient statistics per unit: [pairable, Σ_ck o_uck δ²_ck, n_u (V)]; ordinal δ² depends on the
    n_c of the sample, so on a scale of at most DENSE_VALUES values the unit keeps its whole o_u (V²),
    on a longer one the coefficient is evaluated from the resample's unit counts (``direct``).
    """
    check_level(level)
    v = patterns.n_values
    vc, m = _unit_counts(patterns)
    pairable = (m >= 2).astype(float)
    pairs = value_pairs(vc)
    keep = m[pairs.unit] >= 2
    unit, c, k = pairs.unit[keep], pairs.c[keep], pairs.k[keep]
    o = (pairs.product[keep] - (c == k) * pairs.count_c[keep]) / (m[unit] - 1)
    n_u = vc.multiply(pairable[:, None]).tocsr()
    reasons = (NO_PAIRABLE, ONE_UNIT, ALPHA_CONSTANT)
    if level == "ordinal" and v <= DENSE_VALUES:
        stats = column_stack([pairable, sparse.csr_array((o, (unit, c * v + k)), shape=(patterns.n_patterns, v * v))])

        def finish_ordinal(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
            coinc = t[:, 1:].reshape(-1, v, v)
            n_c = coinc.sum(axis=2)
            mid = midranks(n_c)
            d_o = (coinc * (mid[:, :, None] - mid[:, None, :]) ** 2).sum(axis=(1, 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                d_e = alpha_pair_sum(level, positions, n_c) / (n_c.sum(axis=1) - 1)
            return _alpha_finish(t[:, 0], d_o, d_e)

        return UnitStatistic(stats, finish_ordinal, reasons)
    if level == "ordinal":
        stats = column_stack([pairable, n_u])
        with np.errstate(divide="ignore"):
            inv = np.where(m >= 2, 1.0 / (m - 1), 0.0)

        def direct(counts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
            # D_o = Σ_ck o_ck (M_c - M_k)² = 2 Σ_c n_c M_c² - 2 Σ_u c_u ((n_u·M)² - n_u·M²) / (m_u - 1)
            t = np.asarray((stats.T @ counts.T).T) if sparse.issparse(stats) else counts @ stats
            n_c = t[:, 1:]
            mid = midranks(n_c)
            first, second = n_u @ mid.T, n_u @ (mid**2).T  # (patterns x b)
            cross = (counts * ((first**2 - second) * inv[:, None]).T).sum(axis=1)
            d_o = 2 * (n_c * mid**2).sum(axis=1) - 2 * cross
            with np.errstate(divide="ignore", invalid="ignore"):
                d_e = alpha_pair_sum(level, positions, n_c) / (n_c.sum(axis=1) - 1)
            return _alpha_finish(t[:, 0], d_o, d_e)

        return UnitStatistic(stats, lambda t: (np.full(t.shape[0], np.nan), np.ones(t.shape[0], np.int64)),
                             reasons, direct)

    d_o_u = np.bincount(unit, weights=o * alpha_delta(level, positions, c, k), minlength=patterns.n_patterns)
    stats = column_stack([pairable, d_o_u, n_u])

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        n_c = t[:, 2:]
        with np.errstate(divide="ignore", invalid="ignore"):
            d_e = alpha_pair_sum(level, positions, n_c) / (n_c.sum(axis=1) - 1)
        return _alpha_finish(t[:, 0], t[:, 1], d_e)

    return UnitStatistic(stats, finish, reasons)


def _alpha_finish(
    n_units: NDArray[np.float64], d_o: NDArray[np.float64], d_e: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    code = _reason_codes(n_units < 0.5, n_units < 1.5, ~(d_e > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(code == 0, 1.0 - d_o / d_e, np.nan)
    return value, code


# --------------------------------------------------------------------------------------------------
# Cohen's kappa, per pair of raters


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
        code = _reason_codes(n < 0.5, n < 1.5, ~(d_e > 1e-12 * np.maximum(d_o, 1)))
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
    weights = _check_weighting(weights)
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
# Fleiss' kappa, percent agreement


def fleiss_units(patterns: UnitPatterns, modal_only: bool) -> tuple[NDArray[np.bool_] | None, str | None, str | None]:
    """Which patterns Fleiss' kappa uses: (mask or None, reason when undefined, note).

    Units with a single rating are left out (as for every coefficient here); the rest must all have
    the same number of ratings, or with ``modal_only`` the units with the most common number are used.
    """
    m = (patterns.codes >= 0).sum(axis=0)
    pairable = m >= 2
    notes: list[str] = []
    singles = int(patterns.weights[(m == 1)].sum())
    if singles:
        notes.append(f"{singles} unit(s) with a single rating left out")
    if not pairable.any():
        return None, NO_PAIRABLE, None
    sizes = np.bincount(m[pairable], weights=patterns.weights[pairable])
    present = np.flatnonzero(sizes)
    if present.size > 1:
        if not modal_only:
            reason = (f"units have between {present[0]} and {present[-1]} ratings; "
                      "Fleiss' kappa needs the same number for every unit")
            return None, reason, "; ".join(notes) or None
        larger_first = present[::-1]  # a tie goes to the larger number of ratings
        mode = int(larger_first[np.argmax(sizes[larger_first])])
        used, total = int(sizes[mode]), int(sizes.sum())
        notes.insert(0, f"uses the {used} of {total} units with {mode} ratings (the most common number); "
                        f"{total - used} unit(s) with other numbers of ratings left out")
        return pairable & (m == mode), None, "; ".join(notes)
    return pairable, None, "; ".join(notes) or None


def fleiss_statistic(patterns: UnitPatterns, include: NDArray[np.bool_]) -> UnitStatistic:
    """Fleiss' kappa (Fleiss 1971, "Measuring nominal scale agreement among many raters").

    With m ratings per unit, P_u = (Σ_c n_uc² - m) / (m (m - 1)), P̄ = mean P_u,
    p_c = Σ_u n_uc / (N m), P̄_e = Σ_c p_c², κ = (P̄ - P̄_e) / (1 - P̄_e).
    Sufficient statistics per unit: [included, P_u, n_u (V)].
    """
    vc, m = _unit_counts(patterns)
    inc = include.astype(float)
    sq = np.asarray(vc.multiply(vc).sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        p_u = np.where(include, (sq - m) / (m * (m - 1)), 0.0)
    stats = column_stack([inc[:, None], p_u[:, None], vc.multiply(inc[:, None]).tocsr()])

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        n_units, p_bar, n_c = t[:, 0], t[:, 1], t[:, 2:]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_bar = p_bar / n_units
            p_e = ((n_c / n_c.sum(axis=1, keepdims=True)) ** 2).sum(axis=1)
            code = _reason_codes(n_units < 0.5, n_units < 1.5, ~(1 - p_e > 1e-12))
            value = np.where(code == 0, (p_bar - p_e) / (1 - p_e), np.nan)
        return value, code

    return UnitStatistic(stats, finish, (NO_PAIRABLE, ONE_UNIT, KAPPA_CONSTANT))


def fleiss_gwet_statistic(patterns: UnitPatterns) -> UnitStatistic:
    """Fleiss' kappa generalised to a varying number of raters per unit (Gwet 2014, ch. 2, eq. 2.7-2.9).

    With r_ik raters putting unit i in category k and r_i = Σ_k r_ik:
    p_a = (1/n') Σ_{i: r_i ≥ 2} Σ_k r_ik (r_ik - 1) / (r_i (r_i - 1))  (n' units with r_i ≥ 2),
    π_k = (1/n) Σ_{i: r_i ≥ 1} r_ik / r_i  (n units with a rating),  p_e = Σ_k π_k²,
    κ = (p_a - p_e) / (1 - p_e).  This is irrCAC's ``fleiss.kappa.raw`` (unweighted).  When every
    unit has the same number of ratings it equals Fleiss (1971) exactly.
    Statistics per unit: [rated, pairable, p_a,i, r_ik / r_i (q)].
    """
    vc, m = _unit_counts(patterns)
    pairable = m >= 2
    sq = np.asarray(vc.multiply(vc).sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_u = np.where(pairable, (sq - m) / (m * (m - 1)), 0.0)
    shares = vc.multiply(1.0 / np.maximum(m, 1)[:, None]).tocsr()
    stats = column_stack([(m >= 1).astype(float)[:, None], pairable.astype(float)[:, None], pa_u[:, None], shares])

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        n, n_pair = t[:, 0], t[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_a = t[:, 2] / n_pair
            pi = t[:, 3:] / n[:, None]
            p_e = (pi**2).sum(axis=1)
            code = _reason_codes(n_pair < 0.5, n_pair < 1.5, ~(1 - p_e > 1e-12))
            value = np.where(code == 0, (p_a - p_e) / (1 - p_e), np.nan)
        return value, code

    return UnitStatistic(stats, finish, (NO_PAIRABLE, ONE_UNIT, KAPPA_CONSTANT))


#: names of the two forms of Fleiss' kappa, as the output states them
FLEISS_CLASSIC = "Fleiss (1971): every unit has the same number of ratings"
FLEISS_GENERALISED = ("Gwet's generalisation (Gwet 2014, ch. 2; irrCAC fleiss.kappa.raw): "
                      "the number of ratings varies between units")


def fleiss_complete(patterns: UnitPatterns) -> bool:
    """Whether every rated unit has the same number of ratings (so the classic form applies)."""
    m = (patterns.codes >= 0).sum(axis=0)
    sizes = np.unique(m[(m >= 1) & (patterns.weights > 0)])
    return sizes.size <= 1


def percent_agreement_statistic(patterns: UnitPatterns) -> UnitStatistic:
    """Percent agreement: the mean over units with m_u ≥ 2 ratings of the share of agreeing ordered pairs.

    a_u = Σ_c n_uc (n_uc - 1) / (m_u (m_u - 1)); not chance-corrected.  Statistics: [pairable, a_u].
    """
    vc, m = _unit_counts(patterns)
    pairable = m >= 2
    sq = np.asarray(vc.multiply(vc).sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        a_u = np.where(pairable, (sq - m) / (m * (m - 1)), 0.0)
    stats = np.column_stack([pairable.astype(float), a_u])

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        code = _reason_codes(t[:, 0] < 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(code == 0, t[:, 1] / t[:, 0], np.nan), code

    return UnitStatistic(stats, finish, (NO_PAIRABLE,))


# --------------------------------------------------------------------------------------------------
# Gwet's AC1 / AC2


def gwet_statistic(patterns: UnitPatterns, weights: Weighting, positions: NDArray[np.float64]) -> UnitStatistic:
    """Gwet's AC1 (unweighted) / AC2 (weighted) for several raters with missing ratings.

    Gwet (2014), *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2-3: with r_ik raters putting unit
    i in category k, r_i = Σ_k r_ik, agreement weights w_kl and r*_ik = Σ_l w_kl r_il,
    p_a = (1/n') Σ_{i: r_i ≥ 2} Σ_k r_ik (r*_ik - 1) / (r_i (r_i - 1))  (n' units with r_i ≥ 2),
    π_k = (1/n) Σ_{i: r_i ≥ 1} r_ik / r_i,  p_e = T_w / (q (q - 1)) Σ_k π_k (1 - π_k),
    T_w = Σ_kl w_kl, γ = (p_a - p_e) / (1 - p_e); q is the number of values on the scale.
    Statistics per unit: [rated, pairable, p_a,i, r_ik / r_i (q)].
    """
    weights = _check_weighting(weights)
    q = positions.size
    vc, m = _unit_counts(patterns)
    pairable = m >= 2
    pairs = value_pairs(vc)
    w_pairs = gwet_weight(weights, positions, pairs.c, pairs.k)
    weighted = np.bincount(pairs.unit, weights=pairs.product * w_pairs, minlength=patterns.n_patterns)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_u = np.where(pairable, (weighted - m) / (m * (m - 1)), 0.0)
    shares = vc.multiply(1.0 / np.maximum(m, 1)[:, None]).tocsr()
    stats = column_stack([(m >= 1).astype(float)[:, None], pairable.astype(float)[:, None], pa_u[:, None], shares])
    factor = gwet_weight_total(weights, positions) / (q * (q - 1)) if q >= 2 else np.nan

    def finish(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        n, n_pair = t[:, 0], t[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_a = t[:, 2] / n_pair
            pi = t[:, 3:] / n[:, None]
            p_e = factor * (pi * (1 - pi)).sum(axis=1)
            few_values = np.full(n.shape, q < 2)
            code = _reason_codes(few_values, n_pair < 0.5, n_pair < 1.5, ~(1 - p_e > 1e-12))
            value = np.where(code == 0, (p_a - p_e) / (1 - p_e), np.nan)
        return value, code

    reasons = ("needs at least two values on the scale (pass the full scale)", NO_PAIRABLE, ONE_UNIT,
               "chance agreement is one, so the coefficient is undefined")
    return UnitStatistic(stats, finish, reasons)


# --------------------------------------------------------------------------------------------------
# public functions on a (raters x units) matrix


def _patterns(data: ArrayLike, level: str, value_domain: Sequence[Label] | ArrayLike | None,
              *, ignore_raters: bool) -> tuple[CodedRatings, UnitPatterns]:
    coded = code_ratings(data, level=level, value_domain=value_domain)
    return coded, collapse_units(coded.codes, coded.n_values, ignore_raters=ignore_raters)


def _estimate(stat: UnitStatistic, patterns: UnitPatterns, bootstrap: int, seed: Seed) -> Estimate:
    return evaluate({"s": stat}, patterns.weights, bootstrap=bootstrap, seed=seed,
                    precondition=precondition(patterns))["s"]


Domain = Sequence[Label] | ArrayLike | None


def krippendorff_alpha(data: ArrayLike, level: str = "interval", *, value_domain: Domain = None,
                       bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Krippendorff's alpha of a (raters x units) matrix, with a percentile interval if ``bootstrap`` > 0.

    ``value_domain`` is the full scale (as in ``krippendorff.alpha``).  See ``alpha_statistic``.
    """
    coded, pat = _patterns(data, level, value_domain, ignore_raters=True)
    return _estimate(alpha_statistic(pat, check_level(level), coded.positions()), pat, bootstrap, seed)


def cohen_kappa(data: ArrayLike, *, weights: Weighting = None, value_domain: Domain = None,
                bootstrap: int = 0, seed: Seed = None, by_value: bool = False) -> CohenKappa:
    """Cohen's kappa for every pair of raters on the units both rated, and their mean (see ``cohen_statistic``).

    The categories are ``value_domain`` when given, else the values that occur anywhere in the matrix.
    Weighted kappa measures distance in category ranks (ordinal data), or with ``by_value`` in the
    numeric values themselves (interval and ratio data).
    """
    weights = _check_weighting(weights)
    coded, pat = _patterns(data, "nominal" if weights is None else "ordinal", value_domain, ignore_raters=False)
    positions = coded.positions() if by_value and weights is not None else None
    pairs = rater_pairs(pat)
    stat = cohen_statistic(pat, pairs, weights, positions)
    return CohenKappa(weights, _estimate(stat, pat, bootstrap, seed),
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


def fleiss_kappa(data: ArrayLike, *, value_domain: Domain = None, modal_only: bool = False,
                 bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Fleiss' kappa: the classic form (``fleiss_statistic``) when every unit has the same number of
    ratings, else Gwet's generalisation (``fleiss_gwet_statistic``); ``note`` names the form used.

    With ``modal_only`` an unequal design keeps the old rule instead: only the units with the most
    common number of ratings, classic form, and ``note`` says so.
    """
    _, pat = _patterns(data, "nominal", value_domain, ignore_raters=True)
    return fleiss_estimate(pat, modal_only=modal_only, bootstrap=bootstrap, seed=seed)


def fleiss_estimate(patterns: UnitPatterns, *, modal_only: bool, bootstrap: int, seed: Seed) -> Estimate:
    """Fleiss' kappa of collapsed units in the form the design calls for (see ``fleiss_kappa``)."""
    pre = precondition(patterns)
    if pre is not None:
        return Estimate(None, pre, n_units=patterns.n_units)
    if not modal_only and not fleiss_complete(patterns):
        return replace(_estimate(fleiss_gwet_statistic(patterns), patterns, bootstrap, seed), note=FLEISS_GENERALISED)
    include, reason, note = fleiss_units(patterns, modal_only)
    if include is None:
        return Estimate(None, reason, n_units=patterns.n_units, note=note)
    return replace(_estimate(fleiss_statistic(patterns, include), patterns, bootstrap, seed), note=note)


def percent_agreement(data: ArrayLike, *, value_domain: Domain = None, bootstrap: int = 0,
                      seed: Seed = None) -> Estimate:
    """Percent agreement (see ``percent_agreement_statistic``) with an optional bootstrap interval."""
    _, pat = _patterns(data, "nominal", value_domain, ignore_raters=True)
    return _estimate(percent_agreement_statistic(pat), pat, bootstrap, seed)


def gwet_ac(data: ArrayLike, *, weights: Weighting = None, value_domain: Domain = None,
            bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Gwet's AC1 (``weights=None``) or AC2 (linear / quadratic weights); see ``gwet_statistic``.

    Pass the full scale as ``value_domain``: q (the number of categories) enters chance agreement.
    """
    weights = _check_weighting(weights)
    coded, pat = _patterns(data, "nominal" if weights is None else "ordinal", value_domain, ignore_raters=True)
    return _estimate(gwet_statistic(pat, weights, coded.positions()), pat, bootstrap, seed)

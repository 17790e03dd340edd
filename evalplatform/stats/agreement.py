"""Inter-rater agreement coefficients that pool the raters: Krippendorff's alpha (four levels), Fleiss'
kappa, percent agreement and Gwet's AC1 / AC2.  Input is a (raters x units) matrix, NaN (or None) for
a missing rating.

Each coefficient is written as ``*_statistic(patterns, ...) -> UnitStatistic``: the per-unit
sufficient statistics of the method (one row per distinct rating pattern) and the formula that turns
their sums into the coefficient.  The point estimate applies the formula to the pattern
multiplicities, a bootstrap replicate to resampled multiplicities (``bootstrap.py``); it is the same
code.  Undefined values come back as ``None`` with a reason, never as NaN.

Cohen's kappa keeps the raters apart (a kappa per pair of raters) and has machinery of its own, so it
lives in ``pairwise_kappa.py``; it uses this module's shared pieces (``precondition``,
``reason_codes``, ``check_weighting``, ``patterns_of``, ``estimate``), and nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from evalplatform.stats.bootstrap import Estimate, Seed, UnitStatistic, evaluate
from evalplatform.stats.matrix import (
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


def check_weighting(weights: str | None) -> Weighting:
    """``weights`` as a ``Weighting``, or ValueError when it is not one (Gwet's AC2, Cohen's kappa)."""
    if weights not in WEIGHTINGS:
        raise ValueError(f"unknown weights {weights!r}; use None, 'linear' or 'quadratic'")
    return weights


def reason_codes(*conditions: NDArray[np.bool_]) -> NDArray[np.int64]:
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
    code = reason_codes(n_units < 0.5, n_units < 1.5, ~(d_e > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(code == 0, 1.0 - d_o / d_e, np.nan)
    return value, code


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
            code = reason_codes(n_units < 0.5, n_units < 1.5, ~(1 - p_e > 1e-12))
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
            code = reason_codes(n_pair < 0.5, n_pair < 1.5, ~(1 - p_e > 1e-12))
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
        code = reason_codes(t[:, 0] < 0.5)
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
    weights = check_weighting(weights)
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
            code = reason_codes(few_values, n_pair < 0.5, n_pair < 1.5, ~(1 - p_e > 1e-12))
            value = np.where(code == 0, (p_a - p_e) / (1 - p_e), np.nan)
        return value, code

    reasons = ("needs at least two values on the scale (pass the full scale)", NO_PAIRABLE, ONE_UNIT,
               "chance agreement is one, so the coefficient is undefined")
    return UnitStatistic(stats, finish, reasons)


# --------------------------------------------------------------------------------------------------
# public functions on a (raters x units) matrix


def patterns_of(data: ArrayLike, level: str, value_domain: Sequence[Label] | ArrayLike | None,
                *, ignore_raters: bool) -> tuple[CodedRatings, UnitPatterns]:
    """The coded matrix and its units collapsed to rating patterns (``ignore_raters``: by values only)."""
    coded = code_ratings(data, level=level, value_domain=value_domain)
    return coded, collapse_units(coded.codes, coded.n_values, ignore_raters=ignore_raters)


def estimate(stat: UnitStatistic, patterns: UnitPatterns, bootstrap: int, seed: Seed) -> Estimate:
    """One coefficient's point estimate and, if ``bootstrap`` > 0, its percentile interval."""
    return evaluate({"s": stat}, patterns.weights, bootstrap=bootstrap, seed=seed,
                    precondition=precondition(patterns))["s"]


Domain = Sequence[Label] | ArrayLike | None


def krippendorff_alpha(data: ArrayLike, level: str = "interval", *, value_domain: Domain = None,
                       bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Krippendorff's alpha of a (raters x units) matrix, with a percentile interval if ``bootstrap`` > 0.

    ``value_domain`` is the full scale (as in ``krippendorff.alpha``).  See ``alpha_statistic``.
    """
    coded, pat = patterns_of(data, level, value_domain, ignore_raters=True)
    return estimate(alpha_statistic(pat, check_level(level), coded.positions()), pat, bootstrap, seed)


def fleiss_kappa(data: ArrayLike, *, value_domain: Domain = None, modal_only: bool = False,
                 bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Fleiss' kappa: the classic form (``fleiss_statistic``) when every unit has the same number of
    ratings, else Gwet's generalisation (``fleiss_gwet_statistic``); ``note`` names the form used.

    With ``modal_only`` an unequal design keeps the old rule instead: only the units with the most
    common number of ratings, classic form, and ``note`` says so.
    """
    _, pat = patterns_of(data, "nominal", value_domain, ignore_raters=True)
    return fleiss_estimate(pat, modal_only=modal_only, bootstrap=bootstrap, seed=seed)


def fleiss_estimate(patterns: UnitPatterns, *, modal_only: bool, bootstrap: int, seed: Seed) -> Estimate:
    """Fleiss' kappa of collapsed units in the form the design calls for (see ``fleiss_kappa``)."""
    pre = precondition(patterns)
    if pre is not None:
        return Estimate(None, pre, n_units=patterns.n_units)
    if not modal_only and not fleiss_complete(patterns):
        return replace(estimate(fleiss_gwet_statistic(patterns), patterns, bootstrap, seed), note=FLEISS_GENERALISED)
    include, reason, note = fleiss_units(patterns, modal_only)
    if include is None:
        return Estimate(None, reason, n_units=patterns.n_units, note=note)
    return replace(estimate(fleiss_statistic(patterns, include), patterns, bootstrap, seed), note=note)


def percent_agreement(data: ArrayLike, *, value_domain: Domain = None, bootstrap: int = 0,
                      seed: Seed = None) -> Estimate:
    """Percent agreement (see ``percent_agreement_statistic``) with an optional bootstrap interval."""
    _, pat = patterns_of(data, "nominal", value_domain, ignore_raters=True)
    return estimate(percent_agreement_statistic(pat), pat, bootstrap, seed)


def gwet_ac(data: ArrayLike, *, weights: Weighting = None, value_domain: Domain = None,
            bootstrap: int = 0, seed: Seed = None) -> Estimate:
    """Gwet's AC1 (``weights=None``) or AC2 (linear / quadratic weights); see ``gwet_statistic``.

    Pass the full scale as ``value_domain``: q (the number of categories) enters chance agreement.
    """
    weights = check_weighting(weights)
    coded, pat = patterns_of(data, "nominal" if weights is None else "ordinal", value_domain, ignore_raters=True)
    return estimate(gwet_statistic(pat, weights, coded.positions()), pat, bootstrap, seed)

"""Intraclass correlation coefficients (Shrout & Fleiss 1979; McGraw & Wong 1996).

Input orientation follows the rest of :mod:`evalplatform.stats`: a ``(raters x units)`` float array with
NaN for a missing rating.  ICCs need a fully crossed design, so only *complete units* (units rated by
every rater) are used; every result says how many units were used and how many were left out.

The six forms and their F-test confidence intervals are those of Shrout & Fleiss (1979) and
McGraw & Wong (1996), computed exactly as ``pingouin.intraclass_corr`` does (pingouin is the test
oracle; it is not imported at runtime).

Reading an ICC (Koo & Li 2016): < 0.5 poor, 0.5–0.75 moderate, 0.75–0.9 good, > 0.9 excellent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evalplatform.stats.jsonable import finite

__all__ = [
    "ICC_DESCRIPTIONS",
    "ICC_FORMS",
    "MISSING_POLICY",
    "ONEWAY_FITS",
    "TWOWAY_NOT_GIVEN",
    "ICCAnova",
    "ICCResult",
    "describe_icc",
    "icc",
    "icc_all",
    "icc_anova",
    "icc_oneway",
    "icc_summary",
    "interpret_icc",
]

MISSING_POLICY = "complete units only"

ICC_FORMS: tuple[str, ...] = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")

ICC_DESCRIPTIONS: dict[str, str] = {
    "ICC1": "single rater, one-way random",
    "ICC2": "single rater, two-way random, absolute agreement",
    "ICC3": "single rater, two-way mixed, consistency",
    "ICC1k": "mean of k raters, one-way random",
    "ICC2k": "mean of k raters, two-way random, absolute agreement",
    "ICC3k": "mean of k raters, two-way mixed, consistency",
}

# Shrout & Fleiss / McGraw & Wong notation, for display.
_ICC_NOTATION: dict[str, str] = {
    "ICC1": "ICC(1,1)",
    "ICC2": "ICC(2,1)",
    "ICC3": "ICC(3,1)",
    "ICC1k": "ICC(1,k)",
    "ICC2k": "ICC(2,k)",
    "ICC3k": "ICC(3,k)",
}


@dataclass(frozen=True)
class ICCAnova:
    """Two-way ANOVA (units x raters, one rating per cell) behind every ICC form.

    ``ms_rows`` (MSR, between units / targets), ``ms_cols`` (MSC, between raters), ``ms_error``
    (MSE, residual), ``ms_within`` (MSW, within units = (SSC + SSE) / (n (k - 1))).
    ``value`` fields are None (with ``reason``) when the design is degenerate.
    """

    n_units_used: int
    n_units_dropped: int
    n_raters: int
    ms_rows: float | None
    ms_cols: float | None
    ms_error: float | None
    ms_within: float | None
    reason: str | None = None


@dataclass(frozen=True)
class ICCResult:
    """One ICC form with its F test and confidence interval.

    ``value`` is None when the statistic is undefined (``reason`` says why); ``ci`` is None when the
    interval is undefined (``ci_reason`` says why).  Never NaN.
    """

    form: str
    value: float | None
    ci: tuple[float, float] | None
    confidence: float
    description: str
    f_stat: float | None
    df1: int | None
    df2: int | None
    p_value: float | None
    n_units_used: int
    n_units_dropped: int
    n_raters: int
    missing_policy: str = MISSING_POLICY
    reason: str | None = None
    ci_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "value": self.value,
            "ci": list(self.ci) if self.ci is not None else None,
            "confidence": self.confidence,
            "description": self.description,
            "F": self.f_stat,
            "df1": self.df1,
            "df2": self.df2,
            "p_value": self.p_value,
            "n_units_used": self.n_units_used,
            "n_units_dropped": self.n_units_dropped,
            "n_raters": self.n_raters,
            "missing_policy": self.missing_policy,
            "reason": self.reason,
            "ci_reason": self.ci_reason,
        }


def icc_anova(ratings: np.ndarray) -> ICCAnova:
    """Mean squares of the two-way ANOVA without replication used by all ICC forms.

    Method: with ``Y`` the (n units x k raters) table of complete units, grand mean ``m``,
    ``SSR = k Σ_i (ȳ_i. - m)²``, ``SSC = n Σ_j (ȳ_.j - m)²``,
    ``SSE = Σ_ij (y_ij - ȳ_i. - ȳ_.j + m)²``;
    ``MSR = SSR / (n - 1)``, ``MSC = SSC / (k - 1)``, ``MSE = SSE / ((n - 1)(k - 1))``,
    ``MSW = (SSC + SSE) / (n (k - 1))``.
    Reference: Shrout & Fleiss (1979), Table 1; McGraw & Wong (1996), Table 2.

    Missing ratings: complete units only (a unit with any NaN is dropped).  Degenerate designs
    (fewer than 2 raters, fewer than 2 complete units, all ratings identical) give None mean squares
    and a ``reason``.
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (raters x units) array, got shape {x.shape}")
    k, n_total = x.shape
    complete = ~np.isnan(x).any(axis=0)
    n = int(complete.sum())
    dropped = int(n_total - n)
    if np.isinf(x).any():
        raise ValueError("ratings contain infinite values")

    def degenerate(reason: str) -> ICCAnova:
        return ICCAnova(n, dropped, k, None, None, None, None, reason=reason)

    if k < 2:
        return degenerate(f"fewer than 2 raters ({k})")
    if n < 2:
        return degenerate(f"fewer than 2 complete units (units rated by all {k} raters): {n}")
    y = x[:, complete].T  # n x k
    if np.ptp(y) == 0:
        return degenerate("zero variance: every rating of the complete units is identical")

    grand = y.mean()
    row_means = y.mean(axis=1)
    col_means = y.mean(axis=0)
    ss_rows = k * float(np.sum((row_means - grand) ** 2))
    ss_cols = n * float(np.sum((col_means - grand) ** 2))
    resid = y - row_means[:, None] - col_means[None, :] + grand
    ss_error = float(np.sum(resid**2))
    # Round-off makes an exactly-zero sum of squares ~1e-16 relative; snap it to 0 so that e.g.
    # MSR = 0 gives an explicit "undefined" rather than a ±1e16 ratio.
    ss_total = float(np.sum((y - grand) ** 2))
    ss_rows, ss_cols, ss_error = (v if v > 1e-12 * ss_total else 0.0 for v in (ss_rows, ss_cols, ss_error))
    return ICCAnova(
        n_units_used=n,
        n_units_dropped=dropped,
        n_raters=k,
        ms_rows=ss_rows / (n - 1),
        ms_cols=ss_cols / (k - 1),
        ms_error=ss_error / ((n - 1) * (k - 1)),
        ms_within=(ss_cols + ss_error) / (n * (k - 1)),
    )


def _icc_from_anova(aov: ICCAnova, form: str, confidence: float) -> ICCResult:
    base: dict[str, Any] = {
        "form": form,
        "confidence": confidence,
        "description": ICC_DESCRIPTIONS[form],
        "n_units_used": aov.n_units_used,
        "n_units_dropped": aov.n_units_dropped,
        "n_raters": aov.n_raters,
    }
    if aov.reason is not None:
        return ICCResult(
            value=None, ci=None, f_stat=None, df1=None, df2=None, p_value=None,
            reason=aov.reason, ci_reason=aov.reason, **base,
        )  # fmt: skip
    assert aov.ms_rows is not None and aov.ms_cols is not None
    assert aov.ms_error is not None and aov.ms_within is not None
    msr, msc, mse, msw = aov.ms_rows, aov.ms_cols, aov.ms_error, aov.ms_within
    k, n = aov.n_raters, aov.n_units_used
    a = 1.0 - confidence
    df1 = n - 1
    df_oneway = n * (k - 1)
    df_twoway = (n - 1) * (k - 1)

    from scipy import stats as sps  # imported when used: scipy.stats takes ~0.3 s to load
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        msr_, msc_, mse_, msw_ = (np.float64(v) for v in (msr, msc, mse, msw))
        if form in ("ICC1", "ICC1k"):
            f_stat, df2 = msr_ / msw_, df_oneway
        else:
            f_stat, df2 = msr_ / mse_, df_twoway
        p_value = sps.f.sf(f_stat, df1, df2)
        f_lo = f_stat / sps.f.ppf(1 - a / 2, df1, df2)
        f_hi = f_stat * sps.f.ppf(1 - a / 2, df2, df1)

        # (numerator, denominator) of each point estimate
        icc2_den = msr_ + (k - 1) * mse_ + k * (msc_ - mse_) / n
        num, den = {
            "ICC1": (msr_ - msw_, msr_ + (k - 1) * msw_),
            "ICC2": (msr_ - mse_, icc2_den),
            "ICC3": (msr_ - mse_, msr_ + (k - 1) * mse_),
            "ICC1k": (msr_ - msw_, msr_),
            "ICC2k": (msr_ - mse_, msr_ + (msc_ - mse_) / n),
            "ICC3k": (msr_ - mse_, msr_),
        }[form]
        # a denominator that is 0 up to round-off (relative to the mean squares) is a division by zero
        value = num / den if abs(den) > 1e-12 * max(msr, msc, mse, msw) else np.float64(np.nan)
        if form in ("ICC1", "ICC3"):
            lo, hi = (f_lo - 1) / (f_lo + (k - 1)), (f_hi - 1) / (f_hi + (k - 1))
        elif form in ("ICC1k", "ICC3k"):
            lo, hi = 1 - 1 / f_lo, 1 - 1 / f_hi
        else:  # ICC2 / ICC2k: McGraw & Wong (1996) approximate (Satterthwaite) interval
            icc2 = (msr_ - mse_) / icc2_den
            fj = msc_ / mse_
            vn = df_twoway * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            vd = df1 * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            v = vn / vd
            f2u = sps.f.ppf(1 - a / 2, n - 1, v)
            f2l = sps.f.ppf(1 - a / 2, v, n - 1)
            lo = n * (msr_ - f2u * mse_) / (f2u * (k * msc_ + (k * n - k - n) * mse_) + n * msr_)
            hi = n * (f2l * msr_ - mse_) / (k * msc_ + (k * n - k - n) * mse_ + n * f2l * msr_)
            if form == "ICC2k":
                lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))

    val = finite(value)
    reason = None
    if val is None:
        reason = (
            f"undefined: division by zero in the mean squares "
            f"(MSR={msr:.6g}, MSC={msc:.6g}, MSE={mse:.6g}, MSW={msw:.6g})"
        )
    lo_f, hi_f = finite(lo), finite(hi)
    ci: tuple[float, float] | None = None
    ci_reason = None
    if val is None:
        ci_reason = reason
    elif lo_f is None or hi_f is None:
        ci_reason = "confidence interval undefined: the F statistic is infinite or 0/0 (no residual variance)"
    elif not lo_f - 1e-9 <= val <= hi_f + 1e-9:
        ci_reason = (
            f"confidence interval undefined: the F-test bounds ({lo_f:.3g}, {hi_f:.3g}) do not bracket "
            "the estimate (degenerate design, e.g. a negative ICC from very few units)"
        )
    else:
        ci = (lo_f, hi_f)
    f_f = finite(f_stat)
    p_f = finite(p_value) if f_f is not None else None
    return ICCResult(
        value=val, ci=ci, f_stat=f_f, df1=df1, df2=df2, p_value=p_f,
        reason=reason, ci_reason=ci_reason, **base,
    )  # fmt: skip


def icc(ratings: np.ndarray, form: str = "ICC2", confidence: float = 0.95) -> ICCResult:
    """Intraclass correlation coefficient, one of the six Shrout & Fleiss (1979) forms.

    Method (n complete units, k raters, mean squares from :func:`icc_anova`):

    - ``ICC1``  = ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW)            one-way random, single rater
    - ``ICC2``  = ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)
      two-way random, absolute agreement, single rater (McGraw & Wong's ICC(A,1))
    - ``ICC3``  = ICC(3,1) = (MSR - MSE) / (MSR + (k-1) MSE)            two-way mixed, consistency (ICC(C,1))
    - ``ICC1k`` = ICC(1,k) = (MSR - MSW) / MSR                          mean of the k raters
    - ``ICC2k`` = ICC(2,k) = (MSR - MSE) / (MSR + (MSC - MSE) / n)      (ICC(A,k))
    - ``ICC3k`` = ICC(3,k) = (MSR - MSE) / MSR                          (ICC(C,k))

    F test: F = MSR / MSW on (n-1, n(k-1)) df for forms 1; F = MSR / MSE on (n-1, (n-1)(k-1)) df
    otherwise.  Confidence interval: exact F-based for forms 1 and 3
    (F_L = F / F_{1-α/2}(df1, df2), F_U = F · F_{1-α/2}(df2, df1); ICC(·,1) bounds
    (F_x - 1) / (F_x + k - 1), ICC(·,k) bounds 1 - 1/F_x); for form 2 the approximate interval with
    Satterthwaite degrees of freedom (Shrout & Fleiss 1979 eq. 11–12; McGraw & Wong 1996, Table 7),
    the ICC(2,k) bounds being the Spearman–Brown step-up of the ICC(2,1) bounds.  This reproduces
    ``pingouin.intraclass_corr``.

    References: Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
    reliability. Psychological Bulletin 86(2), 420–428.  McGraw, K. O. & Wong, S. P. (1996). Forming
    inferences about some intraclass correlation coefficients. Psychological Methods 1(1), 30–46.

    Missing ratings: complete units only (``n_units_used`` / ``n_units_dropped`` in the result).
    Degenerate input (fewer than 2 raters or complete units, zero variance) gives ``value=None``
    with a ``reason``.
    """
    if form not in ICC_DESCRIPTIONS:
        raise ValueError(f"unknown ICC form {form!r}; expected one of {', '.join(ICC_FORMS)}")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    return _icc_from_anova(icc_anova(ratings), form, confidence)


def icc_all(ratings: np.ndarray, confidence: float = 0.95) -> dict[str, ICCResult]:
    """All six Shrout & Fleiss (1979) ICC forms (see :func:`icc`), sharing one ANOVA."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    aov = icc_anova(ratings)
    return {form: _icc_from_anova(aov, form, confidence) for form in ICC_FORMS}


def icc_summary(ratings: np.ndarray) -> dict[str, Any]:
    """All six ICC forms with 95% CIs as a JSON-ready dict (Shrout & Fleiss 1979; see :func:`icc`).

    Shape::

        {"ICC1": {"value": 0.17, "ci95": [lo, hi], "description": "single rater, one-way random",
                  "reason": None, ...}, ..., "ICC3k": {...},
         "n_units_used": 6, "n_units_dropped": 0, "n_raters": 4,
         "missing_policy": "complete units only", "reason": None}

    ``value`` / ``ci95`` are None (never NaN) when undefined; ``reason`` / ``ci_reason`` say why.
    """
    results = icc_all(ratings, confidence=0.95)
    out: dict[str, Any] = {}
    for form, r in results.items():
        out[form] = {
            "value": r.value,
            "ci95": list(r.ci) if r.ci is not None else None,
            "description": r.description,
            "F": r.f_stat,
            "df1": r.df1,
            "df2": r.df2,
            "p_value": r.p_value,
            "reason": r.reason,
            "ci_reason": r.ci_reason,
        }
    first = results["ICC1"]
    out["n_units_used"] = first.n_units_used
    out["n_units_dropped"] = first.n_units_dropped
    out["n_raters"] = first.n_raters
    out["missing_policy"] = MISSING_POLICY
    # design-level reason (degenerate input), if every form failed for the same cause
    reasons = {r.reason for r in results.values()}
    out["reason"] = reasons.pop() if len(reasons) == 1 else None
    return out


_KOO_LI_BANDS: tuple[tuple[float, str], ...] = (
    (0.5, "poor"),
    (0.75, "moderate"),
    (0.9, "good"),
)


def interpret_icc(value: float | None) -> str:
    """Koo & Li (2016) reliability band of an ICC value.

    < 0.5 "poor", 0.5–0.75 "moderate", 0.75–0.9 "good", > 0.9 "excellent" (a value exactly on a
    boundary goes to the upper band).  None gives "undefined".
    Reference: Koo, T. K. & Li, M. Y. (2016). A guideline of selecting and reporting intraclass
    correlation coefficients for reliability research. J. Chiropractic Medicine 15(2), 155–163.
    """
    if value is None:
        return "undefined"
    for upper, label in _KOO_LI_BANDS:
        if value < upper:
            return label
    return "excellent"


def describe_icc(result: ICCResult) -> str:
    """One plain-language sentence reading an ICC result with Koo & Li (2016) bands.

    Koo & Li advise reading the band from the confidence interval, not only the point estimate,
    so the sentence names the bands the 95% interval spans.
    """
    name = _ICC_NOTATION[result.form].replace("k", str(result.n_raters))
    used = f"{result.n_units_used} units rated by all {result.n_raters} raters"
    if result.n_units_dropped:
        used += f"; {result.n_units_dropped} units with missing ratings left out"
    if result.value is None:
        return f"{name} could not be computed ({result.reason}; {used})."
    band = interpret_icc(result.value)
    text = f"{name} = {result.value:.2f} ({result.description}): {band} reliability"
    if result.ci is not None:
        lo, hi = result.ci
        lo_band, hi_band = interpret_icc(lo), interpret_icc(hi)
        span = lo_band if lo_band == hi_band else f"{lo_band} to {hi_band}"
        pct = round(result.confidence * 100)
        text += f"; {pct}% CI {lo:.2f} to {hi:.2f}, i.e. {span}"
    return f"{text} ({used})."


# --------------------------------------------------------------------------------------------------
# one-way ICC for incomplete designs (each unit rated by its own set of raters)

ONEWAY_K = "harmonic mean of the number of ratings per unit"
TWOWAY_NOT_GIVEN = (
    "not given: no rater rated every unit, so rater and unit effects cannot be told apart; the two-way "
    "forms ICC(2,·) and ICC(3,·) need a fully crossed design (every rater rates every unit)"
)
ONEWAY_FITS = (
    "one-way random model (Shrout & Fleiss case 1): each unit is rated by its own set of raters, so rater "
    "differences count as error; fits any design, complete or not"
)


def _reml_oneway(y: np.ndarray, groups: np.ndarray) -> tuple[float, float, str | None]:
    """(between-unit variance, within-unit variance, note) of ``y ~ 1 + (1 | unit)`` by REML.

    The restricted likelihood of the one-way random-effects model, profiled over σ²_w (Harville 1977;
    Searle, Casella & McCulloch 1992, ch. 6): with λ = σ²_b / σ²_w, w_i = k_i / (1 + λ k_i),
    μ̂ = Σ w_i ȳ_i / Σ w_i, RSS(λ) = SSW + Σ w_i (ȳ_i - μ̂)², minimise
    Σ log(1 + λ k_i) + log Σ w_i + (N - 1) log RSS(λ) over λ ≥ 0 (Brent, on t = λ / (1 + λ));
    σ²_w = RSS / (N - 1), σ²_b = λ σ²_w.  The same estimate as statsmodels' ``MixedLM(...).fit(reml=True)``
    (checked in the tests to the optimiser's tolerance), in one vectorised pass per step instead of a
    Python loop over units (MixedLM takes a minute on 50,000 units).
    """
    from scipy.optimize import minimize_scalar

    n = int(groups.max()) + 1
    k = np.bincount(groups, minlength=n).astype(float)
    means = np.bincount(groups, weights=y, minlength=n) / k
    ssw = float(np.sum((y - means[groups]) ** 2))
    big_n = float(k.sum())

    def objective(t: float) -> float:
        lam = t / (1.0 - t)
        w = k / (1.0 + lam * k)
        mu = float(np.sum(w * means) / np.sum(w))
        rss = ssw + float(np.sum(w * (means - mu) ** 2))
        return float(np.sum(np.log1p(lam * k)) + np.log(np.sum(w)) + (big_n - 1) * np.log(rss))

    fit = minimize_scalar(objective, bounds=(0.0, 1.0 - 1e-9), method="bounded", options={"xatol": 1e-12})
    t = float(fit.x) if objective(float(fit.x)) < objective(0.0) else 0.0
    lam = t / (1.0 - t)
    w = k / (1.0 + lam * k)
    mu = float(np.sum(w * means) / np.sum(w))
    var_w = (ssw + float(np.sum(w * (means - mu) ** 2))) / (big_n - 1)
    note = "REML estimate on the boundary: no variance between units beyond the within-unit noise" if t == 0 else None
    return lam * var_w, var_w, note


def icc_oneway(ratings: np.ndarray, confidence: float = 0.95, *, reml: bool = True) -> dict[str, Any]:
    """One-way ICC(1,1) and ICC(1,k) for an incomplete design, over units with at least 2 ratings.

    Method (Shrout & Fleiss 1979 case 1; Donner 1986 for unequal group sizes): with n units, unit i
    having k_i ≥ 2 ratings (N = Σ k_i), MSB = Σ k_i (ȳ_i - ȳ)² / (n - 1) and
    MSW = Σ_i Σ_j (y_ij - ȳ_i)² / (N - n); k0 = (N - Σ k_i² / N) / (n - 1) (equal to k when every unit
    has k ratings).  ANOVA estimate ICC(1,1) = (MSB - MSW) / (MSB + (k0 - 1) MSW).  ICC(1,k) is the
    reliability of a unit's mean rating, the Spearman–Brown step-up of ICC(1,1) to k = the harmonic mean
    of the k_i (the mean error variance of a unit mean is σ²_w · mean(1/k_i)); with equal k_i it is
    (MSB - MSW) / MSB.  F = MSB / MSW on (n - 1, N - n) df; the interval is F-based:
    F_L = F / F_{1-α/2}(n-1, N-n), F_U = F · F_{1-α/2}(N-n, n-1), ICC(1,1) bounds (F_x - 1) / (F_x + k0 - 1),
    stepped up to k for ICC(1,k) (exact for equal k_i, approximate otherwise).

    Estimator: with equal k_i the ANOVA estimate (it is pingouin's ICC1 / ICC1k).  With unequal k_i the
    variance components σ²_b, σ²_w are estimated by REML (statsmodels ``MixedLM``, random intercept per
    unit): ICC(1,1) = σ²_b / (σ²_b + σ²_w), ICC(1,k) = σ²_b / (σ²_b + σ²_w / k); the ANOVA figures are
    given beside it.  Returns a JSON-ready dict; values None (with ``reason``) when undefined.
    """
    from scipy import stats as sps  # imported when used: scipy.stats takes ~0.3 s to load

    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (raters x units) array, got shape {x.shape}")
    if np.isinf(x).any():
        raise ValueError("ratings contain infinite values")
    counts = (~np.isnan(x)).sum(axis=0)
    use = counts >= 2
    k_i = counts[use].astype(float)
    n, n_total = int(use.sum()), int((counts >= 1).sum())
    out: dict[str, Any] = {
        "model": ONEWAY_FITS, "n_units_used": n, "n_units_dropped": n_total - n,
        "n_ratings": int(k_i.sum()), "balanced": bool(n and np.all(k_i == k_i[0])),
        "k": None, "k_kind": ONEWAY_K, "k0": None, "estimator": None,
        "ICC1": None, "ICC1k": None, "ci95": {"ICC1": None, "ICC1k": None}, "confidence": confidence,
        "anova": None, "reml": None, "reason": None, "ci_reason": None, "note": None,
    }
    if n < 2:
        out["reason"] = f"fewer than 2 units with 2 or more ratings: {n}"
        return out
    cols = x[:, use]
    mask = ~np.isnan(cols)
    y = cols.T[mask.T]  # ratings, unit by unit
    unit = np.repeat(np.arange(n), k_i.astype(int))
    big_n = float(k_i.sum())
    means = np.bincount(unit, weights=y, minlength=n) / k_i
    grand = y.mean()
    ss_b = float(np.sum(k_i * (means - grand) ** 2))
    ss_w = float(np.sum((y - means[unit]) ** 2))
    ss_t = float(np.sum((y - grand) ** 2))
    if ss_t == 0:
        out["reason"] = "zero variance: every rating is identical"
        return out
    ss_b, ss_w = (v if v > 1e-12 * ss_t else 0.0 for v in (ss_b, ss_w))
    df1, df2 = n - 1, int(big_n) - n
    msb, msw = ss_b / df1, ss_w / df2
    k0 = (big_n - float(np.sum(k_i**2)) / big_n) / df1
    k_h = float(n / np.sum(1.0 / k_i))
    out["k"], out["k0"] = k_h, k0

    def step_up(r: float) -> float:
        return k_h * r / (1 + (k_h - 1) * r)

    with np.errstate(divide="ignore", invalid="ignore"):
        f_stat = np.float64(msb) / np.float64(msw)
        a = 1 - confidence
        f_lo = f_stat / sps.f.ppf(1 - a / 2, df1, df2)
        f_hi = f_stat * sps.f.ppf(1 - a / 2, df2, df1)
        anova1 = (msb - msw) / (msb + (k0 - 1) * msw)
        lo1, hi1 = (f_lo - 1) / (f_lo + k0 - 1), (f_hi - 1) / (f_hi + k0 - 1)
    anova = {"ICC1": finite(anova1), "ICC1k": finite(step_up(anova1)) if np.isfinite(anova1) else None,
             "MSB": msb, "MSW": msw, "F": finite(f_stat), "df1": df1, "df2": df2,
             "p_value": finite(sps.f.sf(f_stat, df1, df2)) if np.isfinite(f_stat) else None}
    out["anova"] = anova
    if finite(lo1) is not None and finite(hi1) is not None:
        out["ci95"] = {"ICC1": [float(lo1), float(hi1)], "ICC1k": [step_up(float(lo1)), step_up(float(hi1))]}
    else:
        out["ci_reason"] = "confidence interval undefined: no variance within units (F is infinite)"
    if out["balanced"] or not reml or msw == 0:
        out["estimator"] = ("ANOVA (every unit has the same number of ratings, k = "
                            f"{int(k_i[0])})" if out["balanced"] else "ANOVA")
        out["ICC1"], out["ICC1k"] = anova["ICC1"], anova["ICC1k"]
        if msw == 0 and not out["balanced"]:
            out["note"] = "no variance within units: REML is not needed (ICC = 1)"
        return out
    var_b, var_w, warning = _reml_oneway(y, unit)
    var_b = max(var_b, 0.0)
    out["reml"] = {"var_between": var_b, "var_within": var_w, "warning": warning}
    out["estimator"] = ("REML variance components (one-way random-effects model, as statsmodels MixedLM fits "
                        "it): the number of ratings differs between units")
    total = var_b + var_w
    out["ICC1"] = finite(var_b / total) if total > 0 else None
    out["ICC1k"] = finite(var_b / (var_b + var_w / k_h)) if total > 0 else None
    out["note"] = (f"interval: F-based from the ANOVA with k0 = {k0:.3f}, approximate when the number of "
                   "ratings differs between units")
    return out

"""LLM-as-judge calibration against a human rating panel (issue 11).

Inputs: ``human`` — a (human raters x units) float array, NaN = not rated (the ``krippendorff``
orientation used across ``evalplatform.stats``); ``judge`` — the automated judge's rating of each unit
(NaN = missing); the level of measurement and the allowed scale values.

Krippendorff's alpha is the core ``agreement.alpha_statistic``, evaluated on this module's unit
resamples so alpha with and without the judge share them.  Kappa against the consensus is a small
private helper (``_kappa``): the consensus is a median that can fall half-way between two scale points,
which the core's rater-pair kappa (codes on the scale) cannot take.  ``judge_summary`` applies the
calibration to long-format ratings (the report section and ``manage.py agreement --judge``).

Pure numpy/scipy; no Django.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalplatform.stats.agreement import alpha_statistic
from evalplatform.stats.bootstrap import Estimate, percentile_interval
from evalplatform.stats.jsonable import finite, label_value
from evalplatform.stats.matrix import LEVELS, Level, collapse_units

SeedLike = int | Sequence[int] | None

LESS = "agrees with the panel less than a typical human"
ABOUT = "agrees with the panel about as well as a typical human"
MORE = "agrees with the panel more than a typical human"
#: bootstrap weights held in memory at once: (resamples in a block) x units
BLOCK_CELLS = 2_000_000


def estimate_dict(estimate: Estimate) -> dict[str, Any]:
    """A judge figure as the report stores it: value, ``ci95`` as a pair (``[None, None]`` without an
    interval) and the reason the value or its interval is missing."""
    low, high = estimate.ci95 if estimate.ci95 is not None else (None, None)
    return {"value": finite(estimate.value), "ci95": [finite(low), finite(high)],
            "reason": estimate.reason or estimate.ci_reason}


def _estimate(point: float, boot: NDArray | None, reason: str) -> Estimate:
    """``point`` with the percentile interval of its bootstrap replicates ``boot`` (NaN = undefined),
    under the engine's one rule for undefined resamples (``bootstrap.percentile_interval``)."""
    if not math.isfinite(point):
        return Estimate(None, reason)
    if boot is None:
        return Estimate(point)
    interval = percentile_interval(boot, quantiles=(0.025, 0.975))  # as the judges' figures always read them
    bounds = interval.bounds()
    return Estimate(point, ci95=None if bounds is None else (bounds[0], bounds[1]),
                    ci_reason=interval.reason, resamples=interval.resamples, dropped_resamples=interval.dropped)


# ---------------------------------------------------------------------------------------------------------
# resamples and agreement helpers (weights = bootstrap counts per unit, shape (B, n))
# ---------------------------------------------------------------------------------------------------------


class _Resamples:
    """Percentile-bootstrap resamples of the units as count weights w (B x U): resample b draws U units
    with replacement and w[b, u] counts unit u.  Made a block of resamples at a time from per-block
    seeds (and made again when needed again), so memory stays near BLOCK_CELLS whatever the size."""

    def __init__(self, n_units: int, n_boot: int, seed: SeedLike) -> None:
        self.n_units = n_units
        step = max(1, BLOCK_CELLS // max(n_units, 1))
        self.sizes = [min(step, n_boot - start) for start in range(0, n_boot, step)]
        self.seeds = np.random.SeedSequence(seed).spawn(len(self.sizes))
        self._only = self._block(0) if len(self.sizes) == 1 else None

    def _block(self, i: int) -> NDArray:
        b, u = self.sizes[i], self.n_units
        draws = np.random.default_rng(self.seeds[i]).integers(0, u, size=(b, u))
        w = np.bincount((draws + (np.arange(b) * u)[:, None]).ravel(), minlength=b * u)
        return w.reshape(b, u).astype(float)

    def map(self, fn: Callable[[NDArray], NDArray]) -> NDArray:
        """fn applied to every resample's weights, (B,)."""
        if self._only is not None:
            return fn(self._only)
        return np.concatenate([fn(self._block(i)) for i in range(len(self.sizes))])


def _kappa(x: NDArray, y: NDArray, w: NDArray, nominal: bool, n_cat: int) -> NDArray:
    """Cohen's kappa of paired values x, y under unit weights w (B, n) → (B,).

    nominal: unweighted kappa (Cohen 1960) on category codes.  Otherwise quadratic-weighted kappa
    (Cohen 1968): 1 - Σ(x-y)² / Σ_{a,b}(x_a-y_b)²/n = 2·cov / (var_x + var_y + (x̄-ȳ)²) — identical to the
    confusion-matrix formula with weights (i-j)² on these coordinates (and to Lin's CCC).  It also
    accepts a half-way median (e.g. 2.5) as a coordinate.
    """
    if len(x) == 0:
        return np.full(w.shape[0], np.nan)
    tot = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if nominal:
            xi, yi = x.astype(int), y.astype(int)
            eye = np.eye(n_cat)
            po = (w @ (xi == yi).astype(float)) / tot
            pe = ((w @ eye[xi]) * (w @ eye[yi])).sum(1) / tot**2
            return np.where(pe < 1 - 1e-12, (po - pe) / (1 - pe), np.nan)
        c = 0.5 * (x.mean() + y.mean())
        x, y = x - c, y - c
        mx, my = (w @ x) / tot, (w @ y) / tot
        vx = (w @ (x * x)) / tot - mx**2
        vy = (w @ (y * y)) / tot - my**2
        cov = (w @ (x * y)) / tot - mx * my
        den = vx + vy + (mx - my) ** 2
        return np.where(den > 1e-12, 2 * cov / den, np.nan)


def _alpha(codes: NDArray, level: Level, values: NDArray) -> Callable[[NDArray], NDArray]:
    """Krippendorff's alpha (Krippendorff 2011) of a (raters x units) code matrix under unit weights.

    The core ``agreement.alpha_statistic`` on the units' rating patterns; unit weights (B, U) become
    pattern counts.  NaN where alpha is undefined."""
    patterns = collapse_units(codes, len(values), ignore_raters=True)
    if patterns.n_patterns == 0:
        return lambda w: np.full(w.shape[0], np.nan)
    statistic = alpha_statistic(patterns, level, values)
    rated = np.flatnonzero(patterns.inverse >= 0)
    from scipy import sparse  # imported when used

    to_patterns = sparse.csr_array(
        (np.ones(rated.size), (rated, patterns.inverse[rated])), shape=(codes.shape[1], patterns.n_patterns)
    )
    return lambda w: statistic.values(np.asarray((to_patterns.T @ w.T).T))[0]


def _consensus(coords: NDArray, nominal: bool, n_cat: int) -> NDArray:
    """Per-unit median of the raters' coordinates (nominal: the mode; NaN on a tied mode / no rating)."""
    out = np.full(coords.shape[1], np.nan)
    has = ~np.isnan(coords).all(0)
    if not nominal:
        out[has] = np.nanmedian(coords[:, has], axis=0)
        return out
    counts = np.stack([(coords == c).sum(0) for c in range(n_cat)], axis=1)
    top = counts.max(1)
    unique_top = (counts == top[:, None]).sum(1) == 1
    ok = has & unique_top
    out[ok] = counts[ok].argmax(1)
    return out

# ---------------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HumanKappa:
    """One human against the consensus of the OTHER humans, and the judge against that same panel."""

    rater: Any
    n_units: int
    kappa: float | None
    judge_kappa: float | None  # judge vs the same leave-one-out consensus on the same units

    def to_dict(self) -> dict[str, Any]:
        return {"rater": label_value(self.rater), "n_units": self.n_units, "kappa": finite(self.kappa),
                "judge_kappa": finite(self.judge_kappa)}


@dataclass(frozen=True)
class Disagreement:
    unit: Any
    judge: float
    consensus: float | None  # human median (nominal: mode), in scale values
    human_mean: float | None
    gap: float  # judge - consensus (nominal: share of humans who did not give the judge's value)
    n_humans: int

    def to_dict(self) -> dict[str, Any]:
        return {"unit": label_value(self.unit), "judge": finite(self.judge), "consensus": finite(self.consensus),
                "human_mean": finite(self.human_mean), "gap": finite(self.gap), "n_humans": self.n_humans}


@dataclass(frozen=True)
class JudgeCalibration:
    level: str
    kappa_weights: str  # "quadratic" or "none"
    n_units: int
    n_common: int  # units with a judge rating and a human consensus
    judge_kappa: Estimate  # judge vs full-panel consensus
    alpha_humans: Estimate
    alpha_with_judge: Estimate
    alpha_change: Estimate  # alpha_with_judge - alpha_humans (same resamples)
    human_kappas: tuple[HumanKappa, ...]
    human_kappa_mean: float | None
    human_kappa_median: float | None
    human_kappa_range: tuple[float | None, float | None]
    judge_kappa_loo: float | None  # mean of HumanKappa.judge_kappa
    kappa_gap: Estimate  # judge_kappa_loo - human_kappa_median, the verdict's interval
    verdict: str | None
    spearman: Estimate  # vs the human mean; ci95 from the bootstrap
    spearman_p: float | None
    offset: Estimate  # mean(judge - human mean): > 0 lenient, < 0 severe
    disagreements: tuple[Disagreement, ...]
    bootstrap: dict[str, Any]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "kappa_weights": self.kappa_weights,
            "n_units": self.n_units,
            "n_common": self.n_common,
            "judge_kappa": estimate_dict(self.judge_kappa),
            "alpha_humans": estimate_dict(self.alpha_humans),
            "alpha_with_judge": estimate_dict(self.alpha_with_judge),
            "alpha_change": estimate_dict(self.alpha_change),
            "human_kappas": [h.to_dict() for h in self.human_kappas],
            "human_kappa_mean": finite(self.human_kappa_mean),
            "human_kappa_median": finite(self.human_kappa_median),
            "human_kappa_range": [finite(self.human_kappa_range[0]), finite(self.human_kappa_range[1])],
            "judge_kappa_loo": finite(self.judge_kappa_loo),
            "kappa_gap": estimate_dict(self.kappa_gap),
            "verdict": self.verdict,
            "spearman": {**estimate_dict(self.spearman), "p_value": finite(self.spearman_p)},
            "offset": {**estimate_dict(self.offset), "direction": _direction(self.offset)},
            "disagreements": [d.to_dict() for d in self.disagreements],
            "bootstrap": self.bootstrap,
            "reason": self.reason,
        }


def _direction(offset: Estimate) -> str | None:
    """lenient / severe when the offset (its whole interval, if there is one) is above / below 0."""
    if offset.value is None:
        return None
    low, high = offset.ci95 if offset.ci95 is not None else (offset.value, offset.value)
    return "lenient" if low > 0 else "severe" if high < 0 else "neutral"


def _codes(x: NDArray, values: NDArray) -> NDArray:
    """Scale values → category codes (-1 for NaN); ValueError for a value off the scale."""
    codes = np.full(x.shape, -1, dtype=int)
    ok = ~np.isnan(x)
    hit = np.isclose(x[ok][:, None], values[None, :], rtol=0, atol=1e-9)
    if not hit.any(1).all():
        bad = np.unique(x[ok][~hit.any(1)])
        raise ValueError(f"ratings not on the scale {values.tolist()}: {bad[:5].tolist()}")
    codes[ok] = hit.argmax(1)
    return codes


def _resample_ranks(x: NDArray, w: NDArray) -> NDArray:
    """Average ranks (B, n) of x in each resample, where unit i appears w[b, i] times."""
    _, g = np.unique(x, return_inverse=True)
    wg = np.zeros((w.shape[0], g.max() + 1))
    np.add.at(wg.T, g, w.T)
    below = np.cumsum(wg, axis=1) - wg
    return (below + (wg + 1) / 2)[:, g]


def _weighted_spearman(x: NDArray, y: NDArray, w: NDArray) -> NDArray:
    """Spearman's rho (Spearman 1904) of each resample: Pearson correlation of the resample's average
    ranks, a unit drawn k times counting k times (so it equals ``spearmanr`` on the expanded sample)."""
    rx, ry = _resample_ranks(x, w), _resample_ranks(y, w)
    tot = w.sum(1)
    mx, my = (w * rx).sum(1) / tot, (w * ry).sum(1) / tot
    cov = (w * rx * ry).sum(1) / tot - mx * my
    vx = (w * rx * rx).sum(1) / tot - mx**2
    vy = (w * ry * ry).sum(1) / tot - my**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((vx > 1e-12) & (vy > 1e-12), cov / np.sqrt(vx * vy), np.nan)


# ---------------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------------


class _Panel:
    """The human side of a calibration (codes, consensus, alpha, leave-one-out kappas), computed once
    and shared by every judge of the panel, all on the same resamples."""

    def __init__(self, human: ArrayLike, *, level: Level, scale_values: ArrayLike,
                 rater_ids: Sequence[Any] | None, n_boot: int, seed: SeedLike) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}")
        H = np.asarray(human, dtype=float)
        self.H = H[None, :] if H.ndim == 1 else H
        if self.H.ndim != 2:
            raise ValueError("human must be (raters x units)")
        self.values = np.unique(np.asarray(scale_values, dtype=float))
        if len(self.values) == 0:
            raise ValueError("scale_values is empty")
        self.R, self.U = self.H.shape
        self.level, self.nominal, self.C = level, level == "nominal", len(self.values)
        self.raters = list(rater_ids) if rater_ids is not None else list(range(self.R))
        if len(self.raters) != self.R:
            raise ValueError("rater_ids must match the matrix shape")
        self.coord = np.arange(self.C, dtype=float) if level in ("nominal", "ordinal") else self.values
        self.Hc = _codes(self.H, self.values)
        self.Hx = self.coords(self.Hc)
        self.resamples = _Resamples(self.U, n_boot, seed) if n_boot > 0 and self.U > 0 else None
        self.bootstrap = {"n_resamples": int(n_boot), "seed": seed if seed is None or isinstance(seed, int)
                          else list(seed), "resampled": "units", "method": "percentile"}
        self.cons = _consensus(self.Hx, self.nominal, self.C)
        self.alpha = self.both(_alpha(self.Hc, level, self.values))
        self.loo = []  # (leave-one-out consensus, units of the human's kappa, its kappa, its resamples)
        for r in range(self.R if self.R > 1 else 0):
            cons_r = _consensus(np.delete(self.Hx, r, axis=0), self.nominal, self.C)
            sel = ~np.isnan(self.Hx[r]) & ~np.isnan(cons_r)
            self.loo.append((cons_r, sel, *self.kappa_on(self.Hx[r], cons_r, sel)))
        with np.errstate(invalid="ignore"), warnings.catch_warnings(action="ignore"):
            self.hmean_x = np.nanmean(self.Hx, axis=0)
            self.hmean_raw = np.nanmean(self.H, axis=0)

    def coords(self, codes: NDArray) -> NDArray:
        return np.where(codes >= 0, self.coord[np.maximum(codes, 0)], np.nan)

    def both(self, fn: Callable[[NDArray], NDArray]) -> tuple[float, NDArray | None]:
        """fn on the data itself and on every resample."""
        return float(fn(np.ones((1, self.U)))[0]), (self.resamples.map(fn) if self.resamples is not None else None)

    def kappa_on(self, x: NDArray, y: NDArray, sel: NDArray) -> tuple[float, NDArray | None]:
        return self.both(lambda w: _kappa(x[sel], y[sel], w[:, sel], self.nominal, self.C))

    def calibrate(self, judge: ArrayLike, *, unit_ids: Sequence[Any] | None, top_n: int) -> JudgeCalibration:
        j = np.asarray(judge, dtype=float)
        if j.shape != (self.U,):
            raise ValueError("judge must have one value per unit")
        units = list(unit_ids) if unit_ids is not None else list(range(self.U))
        if len(units) != self.U:
            raise ValueError("unit_ids must match the matrix shape")
        jc = _codes(j, self.values)
        jx = self.coords(jc)
        nominal, cons = self.nominal, self.cons

        # judge vs full-panel consensus
        S = ~np.isnan(cons) & ~np.isnan(jx)
        n_common = int(S.sum())
        no_common = "the judge rated no unit with a human consensus" if n_common == 0 else None
        judge_kappa = _estimate(*self.kappa_on(jx, cons, S), no_common or "kappa undefined (no variation)")

        # Krippendorff's alpha, humans and humans + judge, same resamples
        a_h, a_h_boot = self.alpha
        a_hj, a_hj_boot = self.both(_alpha(np.vstack([self.Hc, jc[None, :]]), self.level, self.values))
        undefined = "alpha undefined: fewer than 2 pairable ratings or no variation"
        alpha_change = _estimate(a_hj - a_h, None if a_h_boot is None else a_hj_boot - a_h_boot, "alpha undefined")

        # each human (and the judge) vs the leave-one-out consensus
        rows: list[HumanKappa] = []
        kh_boot, kj_boot = [], []
        for r, (cons_r, sel, kh, khb) in enumerate(self.loo):
            kj, kjb = self.kappa_on(jx, cons_r, sel & ~np.isnan(jx))
            rows.append(HumanKappa(label_value(self.raters[r]), int(sel.sum()), finite(kh), finite(kj)))
            kh_boot.append(khb)
            kj_boot.append(kjb)
        hk = np.array([np.nan if h.kappa is None else h.kappa for h in rows])
        jk = np.array([np.nan if h.judge_kappa is None else h.judge_kappa for h in rows])
        has_h, has_j = np.isfinite(hk).any(), np.isfinite(jk).any()
        with np.errstate(invalid="ignore"), warnings.catch_warnings(action="ignore"):
            gap_point = float(np.nanmean(jk) - np.nanmedian(hk)) if has_h and has_j else math.nan
            gap_boot = (np.nanmean(np.array(kj_boot), 0) - np.nanmedian(np.array(kh_boot), 0)
                        if self.resamples is not None and has_h and has_j else None)
        gap_reason = ("need at least 2 human raters" if self.R < 2 else no_common
                      or "no human or judge kappa is defined against the leave-one-out panels")
        kappa_gap = _estimate(gap_point, gap_boot, gap_reason)
        verdict = None
        if kappa_gap.ci95 is not None:
            verdict = LESS if kappa_gap.ci95[1] < 0 else MORE if kappa_gap.ci95[0] > 0 else ABOUT

        # correlation and offset vs the human mean
        hmean_x = self.hmean_x
        T = ~np.isnan(jx) & ~np.isnan(hmean_x)
        spearman, spearman_p = Estimate(None, reason="not defined for nominal data"), None
        offset = Estimate(None, reason="not defined for nominal data")
        if not nominal:
            if T.sum() >= 3:
                with warnings.catch_warnings(action="ignore"):
                    from scipy import stats  # imported when used: scipy.stats takes ~0.3 s to load
                    res = stats.spearmanr(jx[T], hmean_x[T])
                rho, spearman_p = float(res.statistic), finite(res.pvalue)
                sboot = (self.resamples.map(lambda w: _weighted_spearman(jx[T], hmean_x[T], w[:, T]))
                         if self.resamples is not None else None)
                spearman = _estimate(rho, sboot, "correlation undefined (a constant series)")
            else:
                spearman = Estimate(None, reason="need at least 3 units rated by the judge and a human")
            with np.errstate(invalid="ignore", divide="ignore"):
                off, off_boot = self.both(lambda w: (w[:, T] @ (jx[T] - hmean_x[T])) / w[:, T].sum(1))
            offset = _estimate(off, off_boot, no_common or "no common units")

        return JudgeCalibration(
            level=self.level,
            kappa_weights="none" if nominal else "quadratic",
            n_units=self.U,
            n_common=n_common,
            judge_kappa=judge_kappa,
            alpha_humans=_estimate(a_h, a_h_boot, undefined),
            alpha_with_judge=_estimate(a_hj, a_hj_boot, undefined),
            alpha_change=alpha_change,
            human_kappas=tuple(rows),
            human_kappa_mean=finite(np.nanmean(hk)) if has_h else None,
            human_kappa_median=finite(np.nanmedian(hk)) if has_h else None,
            human_kappa_range=(finite(np.nanmin(hk)), finite(np.nanmax(hk))) if has_h else (None, None),
            judge_kappa_loo=finite(np.nanmean(jk)) if has_j else None,
            kappa_gap=kappa_gap,
            verdict=verdict,
            spearman=spearman,
            spearman_p=spearman_p,
            offset=offset,
            disagreements=self.disagreements(j, jx, units, top_n),
            bootstrap=dict(self.bootstrap),
            reason=no_common,
        )

    def disagreements(self, j: NDArray, jx: NDArray, units: list[Any], top_n: int) -> tuple[Disagreement, ...]:
        Hx, cons, values = self.Hx, self.cons, self.values
        n_h = (~np.isnan(self.H)).sum(0)
        T = np.flatnonzero(~np.isnan(jx) & (n_h > 0))
        if self.nominal:
            gap = 1.0 - (Hx[:, T] == jx[T]).sum(0) / n_h[T]  # share of humans who did not give the judge's value
            T, gap = T[gap >= 0.5], gap[gap >= 0.5]  # a judge siding with most humans is not in disagreement
            key = gap
            cons_raw = np.where(np.isnan(cons[T]), np.nan, values[np.nan_to_num(cons[T]).astype(int)])
        else:
            T = T[~np.isnan(cons[T])]
            cons_raw = np.interp(cons[T], self.coord, values)  # ordinal positions → scale values
            gap = j[T] - cons_raw
            key = np.abs(jx[T] - cons[T])
        out = []
        for i in np.argsort(-key, kind="stable")[:top_n]:
            if key[i] <= 0:
                break
            u = T[i]
            out.append(Disagreement(label_value(units[u]), float(j[u]), finite(cons_raw[i]),
                                    None if self.nominal else finite(self.hmean_raw[u]), float(gap[i]), int(n_h[u])))
        return tuple(out)


def judge_calibration(
    human: ArrayLike,
    judge: ArrayLike,
    *,
    level: Level,
    scale_values: Sequence[float],
    unit_ids: Sequence[Any] | None = None,
    rater_ids: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: SeedLike = 0,
    top_n: int = 10,
) -> JudgeCalibration:
    """Calibrate one automated judge against a human panel.

    * Consensus per unit: the median of the humans (nominal: the mode; a tied mode leaves the unit
      out).  For ordinal data medians are taken on category positions (0..C-1), so an even panel can
      give a half-way consensus such as 2.5; interval/ratio use the raw values.
    * ``judge_kappa``: Cohen's kappa of judge vs consensus — quadratic weights (Cohen 1968) for
      ordinal/interval/ratio, unweighted (Cohen 1960) for nominal.
    * ``alpha_humans`` / ``alpha_with_judge``: Krippendorff's alpha of the humans, and of the humans
      plus the judge as one more rater, at ``level`` (Krippendorff 2011); ``alpha_change`` = difference.
    * ``human_kappas``: each human vs the consensus of the OTHER humans on the units they rated (with
      ≥ 1 other rating), and the judge vs that same leave-one-out consensus (units the judge rated too).
    * Verdict (interval rule): gap = mean of the judge's leave-one-out kappas − median of the humans'
      kappas, so both sides are scored against panels of the same size.  Bootstrap 95% interval of the
      gap entirely < 0 → :data:`LESS`, entirely > 0 → :data:`MORE`, else :data:`ABOUT`; None when
      there are < 2 humans, no common units, or no bootstrap.
    * ``spearman``: Spearman's rho (``scipy.stats.spearmanr``) of judge vs the per-unit human mean;
      ``offset``: mean(judge − human mean) in scale steps (ordinal) or scale units (interval/ratio);
      its direction is lenient (> 0) or severe (< 0) when its interval excludes 0, else neutral.
      Neither is defined for nominal data.
    * ``disagreements``: the ``top_n`` units with the largest |judge − consensus| (nominal: the largest
      share of humans who did not give the judge's value, when at least half), ties broken by unit order.
    * All intervals: percentile bootstrap over units (resampled with replacement; the same ``n_boot``
      seeded resamples for every statistic, so alpha_change and the gap are paired).
    """
    panel = _Panel(human, level=level, scale_values=scale_values, rater_ids=rater_ids, n_boot=n_boot, seed=seed)
    return panel.calibrate(judge, unit_ids=unit_ids, top_n=top_n)


def calibrate_judges(
    human: ArrayLike,
    judges: Mapping[Any, ArrayLike],
    *,
    level: Level,
    scale_values: ArrayLike,
    unit_ids: Sequence[Any] | None = None,
    rater_ids: Sequence[Any] | None = None,
    n_boot: int = 1000,
    seed: SeedLike = 0,
    top_n: int = 10,
) -> dict[Any, JudgeCalibration]:
    """``judge_calibration`` of several judges against one panel: the human side is computed once and
    every judge is measured on the same resamples (each result equals its own ``judge_calibration``)."""
    panel = _Panel(human, level=level, scale_values=scale_values, rater_ids=rater_ids, n_boot=n_boot, seed=seed)
    return {name: panel.calibrate(judge, unit_ids=unit_ids, top_n=top_n) for name, judge in judges.items()}

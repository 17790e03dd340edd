"""Rater scorecard figures that the agreement engine does not already give: pure numpy, no Django.

(Agreement with the others, alpha without the rater and leniency come from
``evalplatform.stats.summary``; competence from ``evalplatform.stats.latent_class``.)

- **Straight-lining**: a rating gives the same value on every rating-scale dimension it scores (at
  least two).  A rater is flagged when at least ``min_share`` of at least ``min_items`` such ratings
  are straight-lined.
- **Agreement with the others, by week**: for each of the rater's scores, the share of the other
  raters' scores of the same unit and dimension that are equal (percent agreement with the others),
  pooled per calendar week.  Plain percent agreement, not kappa: a week holds too few units for a
  chance correction to be stable.
- **Drift**: the slope of the weighted least-squares line through the weekly agreement (weights = the
  number of comparisons in the week, x = weeks since the first), over weeks with at least
  ``min_comparisons``; flagged when the slope is at most ``max_slope`` (default: agreement falling by
  0.05 or more a week) over at least ``min_weeks`` such weeks.
- **Time per item**: the median of the rater's recorded durations; "too fast" when it is below the
  lead's minimum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

STRAIGHT_MIN_ITEMS = 10
STRAIGHT_MIN_SHARE = 0.8
DRIFT_MIN_WEEKS = 3
DRIFT_MIN_COMPARISONS = 5
DRIFT_MAX_SLOPE = -0.05


@dataclass(frozen=True)
class StraightLining:
    n_ratings: int  # ratings that score at least two rating-scale dimensions
    n_straight: int
    share: float | None
    flagged: bool
    reason: str | None = None


def straight_lining(
    ratings: Iterable[Sequence[float]], *, min_items: int = STRAIGHT_MIN_ITEMS, min_share: float = STRAIGHT_MIN_SHARE
) -> StraightLining:
    """How many of a rater's ratings give one value on every rating-scale dimension they score.

    ``ratings``: per rating, the values given on the rubric's rating-scale (ordered, non-preference)
    dimensions.  Ratings scoring fewer than two of them cannot straight-line and are not counted.
    """
    eligible = [list(r) for r in ratings if len(r) >= 2]
    return straight_lining_counts(len(eligible), sum(1 for r in eligible if len(set(r)) == 1),
                                  min_items=min_items, min_share=min_share)


def straight_lining_counts(
    n: int, straight: int, *, min_items: int = STRAIGHT_MIN_ITEMS, min_share: float = STRAIGHT_MIN_SHARE
) -> StraightLining:
    """``straight_lining`` from the counts: ``n`` ratings scoring two or more rating-scale dimensions,
    ``straight`` of them with one value on all."""
    if n == 0:
        return StraightLining(0, 0, None, False, "no rating scores two or more rating-scale dimensions")
    share = straight / n
    reason = None if n >= min_items else f"fewer than {min_items} ratings to judge by"
    return StraightLining(n, straight, share, n >= min_items and share >= min_share, reason)


def median_seconds(durations_ms: Iterable[int | None]) -> float | None:
    """Median recorded time per item in seconds; None if no duration was recorded."""
    values = [d for d in durations_ms if d is not None]
    return float(np.median(values)) / 1000 if values else None


def share_below(durations_ms: Iterable[int | None], seconds: float) -> float | None:
    """Share of the recorded durations below ``seconds``."""
    values = [d for d in durations_ms if d is not None]
    if not values or seconds <= 0:
        return None
    return sum(1 for d in values if d < seconds * 1000) / len(values)


@dataclass(frozen=True)
class WeekAgreement:
    week: int  # the week's Monday as a proleptic Gregorian ordinal (date.toordinal())
    agreement: float
    n: int  # comparisons with other raters' scores


def agreement_by_week(
    unit: ArrayLike, rater: ArrayLike, value: ArrayLike, week: ArrayLike
) -> dict[int, list[WeekAgreement]]:
    """Each rater's percent agreement with the others per week (see the module docstring).

    One entry per score: ``unit`` identifies what was scored (a task and dimension), ``week`` when the
    rater scored it.  A score of a unit nobody else scored makes no comparison.
    """
    u = np.asarray(unit, dtype=np.int64)
    r = np.asarray(rater, dtype=np.int64)
    v = np.asarray(value, dtype=float)
    w = np.asarray(week, dtype=np.int64)
    if u.size == 0:
        return {}
    # Counts by dense codes and bincount, not np.unique over stacked columns (which sorts them as
    # records: a second for a team's 720,000 scores).  Every figure is a sum of whole numbers, so the
    # result is the same to the bit.
    unit_idx = _codes(u)
    per_unit = np.bincount(unit_idx)
    value_idx = _codes(v)
    cell_idx = _codes(unit_idx * (int(value_idx.max()) + 1) + value_idx)
    others = per_unit[unit_idx] - 1
    agree = np.bincount(cell_idx)[cell_idx] - 1
    raters, rater_idx = np.unique(r, return_inverse=True)
    weeks, week_idx = np.unique(w, return_inverse=True)
    key_idx = rater_idx.reshape(-1) * weeks.size + week_idx.reshape(-1)  # by rater, then week
    n = np.bincount(key_idx, weights=others, minlength=raters.size * weeks.size)
    a = np.bincount(key_idx, weights=agree, minlength=raters.size * weeks.size)
    out: dict[int, list[WeekAgreement]] = {}
    for k in np.flatnonzero(n > 0).tolist():
        out.setdefault(int(raters[k // weeks.size]), []).append(
            WeekAgreement(int(weeks[k % weeks.size]), float(a[k] / n[k]), int(n[k])))
    return out


def _codes(x: np.ndarray) -> np.ndarray:
    """Small whole numbers, one per distinct value of ``x`` (equal values, equal codes): what bincount
    counts by.  Non-negative integers below four times the size are their own codes (gaps only add
    empty bins); anything else is numbered by its rank among the distinct values."""
    if x.dtype.kind in "iu" and x.size and 0 <= x.min() and x.max() < 4 * x.size:
        return x
    return np.unique(x, return_inverse=True)[1].reshape(-1)


@dataclass(frozen=True)
class Drift:
    weeks: tuple[WeekAgreement, ...]
    slope_per_week: float | None
    flagged: bool
    reason: str | None = None


def drift(
    weeks: Sequence[WeekAgreement], *, min_weeks: int = DRIFT_MIN_WEEKS,
    min_comparisons: int = DRIFT_MIN_COMPARISONS, max_slope: float = DRIFT_MAX_SLOPE,
) -> Drift:
    """Whether agreement with the others falls over time (see the module docstring)."""
    ordered = tuple(sorted(weeks, key=lambda x: x.week))
    usable = [x for x in ordered if x.n >= min_comparisons]
    if len(usable) < min_weeks:
        return Drift(ordered, None, False,
                     f"needs {min_weeks} weeks with at least {min_comparisons} comparisons (has {len(usable)})")
    x = np.asarray([(u.week - usable[0].week) / 7 for u in usable], dtype=float)
    y = np.asarray([u.agreement for u in usable], dtype=float)
    wt = np.asarray([u.n for u in usable], dtype=float)
    xm, ym = np.average(x, weights=wt), np.average(y, weights=wt)
    spread = float(np.sum(wt * (x - xm) ** 2))
    slope = float(np.sum(wt * (x - xm) * (y - ym)) / spread)
    return Drift(ordered, slope, slope <= max_slope)


def mean_defined(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None if there are none."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None

"""Per-model aggregates of one rubric dimension: mean, median and distribution, with bootstrap intervals.

A unit is one model response; its score is the mean of the ratings it received.  A model's mean and
median are taken over its units' scores and their 95% intervals come from resampling the units with
replacement (percentile bootstrap, Efron & Tibshirani 1993, ch. 13).  Scores on a rubric scale take few
distinct values, so a resample is a multinomial draw of counts over the distinct scores; the mean is
then a matrix product and the median is read off the cumulative counts, for all resamples at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.bootstrap import Seed, make_rng, percentile_interval, resample_counts
from evalplatform.stats.matrix import CodedRatings, Label


@dataclass(frozen=True)
class Aggregate:
    """Mean and median unit score with 95% intervals, n units, and the count of ratings per scale value."""

    n: int
    n_ratings: int
    distribution: dict[Label, int]
    mean: float | None = None
    mean_ci95: tuple[float, float] | None = None
    median: float | None = None
    median_ci95: tuple[float, float] | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


def unit_scores(coded: CodedRatings) -> NDArray[np.float64]:
    """Mean rating of each unit (NaN for a unit without ratings); needs numeric ratings."""
    present = coded.codes >= 0
    n = present.sum(axis=0)
    if coded.n_values == 0:
        return np.full(coded.n_units, np.nan)
    values = np.where(present, coded.positions()[np.maximum(coded.codes, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, values.sum(axis=0) / n, np.nan)


def sorted_medians(values: NDArray[np.float64], counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Median of each row of ``counts`` over the sorted distinct ``values`` (average of the two middle ones)."""
    cum = np.cumsum(counts, axis=1)
    n = cum[:, -1]
    lower = (cum >= np.floor((n + 1) / 2)[:, None]).argmax(axis=1)
    upper = (cum >= np.floor(n / 2 + 1)[:, None]).argmax(axis=1)
    return (values[lower] + values[upper]) / 2


def mean_and_median(scores: NDArray[np.float64], *, bootstrap: int, seed: Seed) -> Aggregate:
    """Mean and median of ``scores`` with percentile-bootstrap intervals (units resampled with replacement)."""
    scores = scores[np.isfinite(scores)]
    n = int(scores.size)
    if n == 0:
        return Aggregate(0, 0, {}, reason="no rated units")
    mean, median = float(scores.mean()), float(np.median(scores))
    if bootstrap <= 0:
        return Aggregate(n, 0, {}, mean, None, median, None)
    if n < 2:
        return Aggregate(n, 0, {}, mean, None, median, None, notes=["needs at least two units for an interval"])
    values, counts = np.unique(scores, return_counts=True)
    means, medians = [], []
    for block in resample_counts(counts.astype(float), bootstrap, make_rng(seed)):
        means.append(block @ values / n)
        medians.append(sorted_medians(values, block))
    mean_iv = percentile_interval(np.concatenate(means))
    median_iv = percentile_interval(np.concatenate(medians))
    return Aggregate(
        n, 0, {}, mean, _pair(mean_iv.low, mean_iv.high), median, _pair(median_iv.low, median_iv.high)
    )


def _pair(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


def model_aggregates(
    coded: CodedRatings,
    unit_group: NDArray[np.int64],
    n_groups: int,
    *,
    bootstrap: int = 1000,
    seed: Seed = None,
) -> list[Aggregate]:
    """One ``Aggregate`` per group (model) of units; ``unit_group[u]`` is unit u's group.

    The distribution counts every rating (all scale values listed, unused ones with 0).  Mean and
    median need numeric ratings; for labels they are None with the reason.
    """
    rng = make_rng(seed)
    children = rng.spawn(n_groups) if n_groups else []
    v = max(coded.n_values, 1)
    present = coded.codes >= 0
    group_of = np.broadcast_to(unit_group, coded.codes.shape)[present]
    dist = np.bincount(group_of * v + coded.codes[present], minlength=n_groups * v).reshape(n_groups, v)
    scores = unit_scores(coded) if coded.numeric else None
    out = []
    for g in range(n_groups):
        units = unit_group == g
        distribution = {label: int(c) for label, c in zip(coded.domain, dist[g], strict=False)}
        n_ratings = int(dist[g].sum())
        n_units = int((present[:, units].any(axis=0)).sum())
        if scores is None:
            out.append(Aggregate(n_units, n_ratings, distribution, reason="the ratings are labels, not numbers"))
            continue
        agg = mean_and_median(scores[units], bootstrap=bootstrap, seed=children[g])
        out.append(Aggregate(n_units, n_ratings, distribution, agg.mean, agg.mean_ci95, agg.median,
                             agg.median_ci95, agg.reason, agg.notes))
    return out


"""Percentile bootstrap intervals over units, computed from per-unit sufficient statistics.

Method (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 6 and 13): draw B resamples
of the n units with replacement, recompute the coefficient on each, and report the 2.5th and 97.5th
percentiles of the B replicates as the 95% interval.

Every coefficient here is written as θ = f(Σ_u s_u): a finishing map f applied to the sum of per-unit
statistic vectors s_u (a coincidence-matrix row, a confusion cell, a value-count vector ...).  A
resample is then a vector of unit multiplicities c (Σ c_u = n) and θ* = f(c @ S).  Units with the same
rating pattern have the same s_u, so S has one row per *pattern* and c is a multinomial draw of pattern
counts; the B resamples are one (B x patterns) matrix and all replicates come out of one matrix
product.  Nothing is recomputed from raw ratings.  (One exception to the sum form: ordinal alpha on a
long scale, whose distances depend on the resample's value frequencies, is evaluated from the counts
matrix by a ``direct`` function, still in a few matrix products per block of resamples.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    from scipy import sparse

Stats: TypeAlias = "NDArray[np.float64] | sparse.csr_array"


def _issparse(x: object) -> bool:
    """``scipy.sparse.issparse`` without loading scipy.sparse for a dense array (it is loaded if x is sparse)."""
    if isinstance(x, np.ndarray):
        return False
    from scipy import sparse

    return bool(sparse.issparse(x))
Finish = Callable[[NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.int64]]]
Seed = int | np.random.Generator | None

#: an interval is not reported when the coefficient is undefined in more than this share of resamples
MAX_DROPPED_SHARE = 0.10
#: up to this many patterns numpy's multinomial (one binomial per pattern) beats ``MultinomialSampler``
SMALL_MULTINOMIAL = 512
#: cells of one (resamples x patterns) block of counts held in memory at once
BLOCK_CELLS = 1_000_000
#: cells of (resamples x statistics) totals formed at once (8 bytes each): bounds the memory of
#: statistics with very many columns, such as the pairwise kappas of many raters
TOTALS_CELLS = 16_000_000
#: draw blocks on threads from this many (resamples x patterns) cells up; below, threads cost more
PARALLEL_CELLS = 2_000_000
THREADS = min(4, os.cpu_count() or 1)
_blas: ThreadpoolController | None = None


def one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS held to one thread for the duration: for our own block threads, each doing its own product,
    and for many small solves, where OpenBLAS's threads cost more than they give (both measured)."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()  # finds the loaded BLAS libraries once per process
    return _blas.limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class UnitStatistic:
    """A coefficient written as ``finish(Σ_u s_u)``.

    ``stats`` holds one row per pattern (s_u of one unit showing it); ``finish`` maps a (b x k) array
    of totals to b values (NaN where undefined) and b reason codes (0 = defined, i = ``reasons[i-1]``).
    """

    stats: Stats
    finish: Finish
    reasons: tuple[str, ...]
    #: for a coefficient that is not a function of Σ_u s_u alone: pattern counts (b x patterns) -> finish's output
    direct: Finish | None = None

    def values(self, counts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """The coefficient (and reason codes) for each row of pattern counts.

        The (rows x statistics) totals are formed a few rows at a time when they would exceed
        ``TOTALS_CELLS``: Cohen's kappa of 1,000 raters has half a million pairs of a dozen statistics
        each, and a thousand resamples of those would need tens of gigabytes at once.  ``finish``
        works row by row, so the result is the same.
        """
        if self.direct is not None:
            return self.direct(counts)
        step = max(1, TOTALS_CELLS // max(1, self.stats.shape[1]))
        if counts.shape[0] <= step:
            return self.finish(self.totals(counts))
        parts = [self.finish(self.totals(counts[i : i + step])) for i in range(0, counts.shape[0], step)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def totals(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        """Σ_u c_u s_u for each row of pattern counts ``counts`` (b x patterns)."""
        if _issparse(self.stats):
            return np.asarray((self.stats.T @ counts.T).T, dtype=float)
        return counts @ self.stats

    def point(self, weights: NDArray[np.float64]) -> tuple[float | None, str | None]:
        """The coefficient on the data itself (pattern multiplicities ``weights``)."""
        values, codes = self.values(weights[None, :])
        if codes[0] != 0 or not np.isfinite(values[0]):
            return None, self.reasons[int(codes[0]) - 1] if codes[0] else "the coefficient is not finite"
        return float(values[0]), None


@dataclass(frozen=True)
class Interval:
    """A percentile interval, or ``None`` bounds with the reason; ``dropped`` resamples were undefined."""

    low: float | None
    high: float | None
    resamples: int = 0
    dropped: int = 0
    reason: str | None = None

    def bounds(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]


@dataclass(frozen=True)
class Estimate:
    """A coefficient: ``value`` (None when undefined, with ``reason``) and its 95% bootstrap interval."""

    value: float | None
    reason: str | None = None
    ci95: tuple[float, float] | None = None
    ci_reason: str | None = None
    resamples: int = 0
    dropped_resamples: int = 0
    n_units: int = 0
    note: str | None = None


def make_rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _poisson_table(lam: float) -> tuple[int, NDArray[np.float64]]:
    """(lowest k, CDF over k = lowest, lowest + 1, ...) of Poisson(lam), covering lam ± 12 sd + 10."""
    from scipy.special import gammaln  # when called: importing the engine does not load scipy

    sd = math.sqrt(lam)
    lo = max(0, int(lam - 12 * sd - 10))
    k = np.arange(lo, int(lam + 12 * sd + 12) + 1, dtype=float)
    cdf = np.cumsum(np.exp(k * math.log(lam) - lam - gammaln(k + 1)))
    return lo, cdf / cdf[-1]


class _Categorical:
    """Draws of categories with probabilities p by inverting their CDF through a guide table (Chen & Asau
    1974): the guide sends u to the first category that can hold it, a step or two short at most."""

    def __init__(self, p: NDArray[np.float64]) -> None:
        self.cdf = np.cumsum(p)
        self.cdf[-1] = 1.0  # u < 1 always lands in a category
        self.m = p.size
        self.guide = np.searchsorted(self.cdf, np.arange(self.m) / self.m, side="right")

    def draw(self, size: int, rng: np.random.Generator) -> NDArray[np.int64]:
        u = rng.random(size)
        idx = self.guide[(u * self.m).astype(np.int64)]
        active = np.flatnonzero(self.cdf[idx] <= u)
        while active.size:
            idx[active] += 1
            active = active[self.cdf[idx[active]] <= u[active]]
        return idx


class MultinomialSampler:
    """Rows of Multinomial(n, weights / Σ weights), by Poissonisation (exact, and fast for many categories).

    Draw X_j ~ Poisson(m p_j) independently with m = n - 1.5√n, each by inverting its CDF (a table per
    distinct weight, searched through a guide table: about one lookup per cell).  Then S = Σ X_j is
    Poisson(m) and, given S = s, X is Multinomial(s, p); adding n - s fresh categorical draws (guide
    table) makes it Multinomial(n, p).  In a row with s > n (probability ~7%) removing
    s - n of its units uniformly at random does the same.  Cost: about one table lookup per category
    and row, against one binomial draw for numpy's ``Generator.multinomial``.
    """

    def __init__(self, n: int, weights: NDArray[np.float64]) -> None:
        self.n = n
        self.p = weights / weights.sum()
        self.categorical = _Categorical(self.p)
        lam, group = np.unique(self.p * max(n - 1.5 * math.sqrt(n), 0.5 * n), return_inverse=True)
        cdfs, guides, buckets, guide_at, shift = [], [], [], [], []
        n_cdf = n_guide = 0
        for lam_g in lam:
            lo, cdf = _poisson_table(float(lam_g))
            m = 4 * cdf.size  # guide buckets: the search starts at most a step or two short
            guides.append(np.searchsorted(cdf, np.arange(m) / m, side="right") + n_cdf)
            cdfs.append(cdf)
            buckets.append(m)
            guide_at.append(n_guide)
            shift.append(n_cdf - lo)
            n_cdf += cdf.size
            n_guide += m
        self.cdf, self.guide = np.concatenate(cdfs), np.concatenate(guides)
        self.buckets = np.asarray(buckets, dtype=float)[group]
        self.guide_at = np.asarray(guide_at, dtype=np.int64)[group]
        self.shift = np.asarray(shift, dtype=np.int64)[group]

    def draw(self, size: int, rng: np.random.Generator) -> NDArray[np.int64]:
        u = rng.random((size, self.p.size))
        idx = self.guide[(u * self.buckets).astype(np.int64) + self.guide_at]
        flat_idx, flat_u = idx.reshape(-1), u.reshape(-1)
        active = np.flatnonzero(self.cdf[flat_idx] <= flat_u)
        while active.size:  # walk up the CDF from the guide's starting point
            flat_idx[active] += 1
            active = active[self.cdf[flat_idx[active]] <= flat_u[active]]
        x = idx - self.shift
        excess = x.sum(axis=1) - self.n
        over = np.flatnonzero(excess > 0)
        if over.size:
            sub = x[over]
            _remove_units(sub, excess[over], rng)
            x[over] = sub
        rows = np.repeat(np.arange(size), np.maximum(-excess, 0))
        pick = self.categorical.draw(rows.size, rng)
        x += np.bincount(rows * self.p.size + pick, minlength=x.size).reshape(x.shape)
        return x


def _remove_units(x: NDArray[np.int64], remove: NDArray[np.int64], rng: np.random.Generator) -> None:
    """Remove ``remove[b]`` of the units counted in row b of ``x``, chosen uniformly without replacement."""
    size, n_cat = x.shape
    totals = x.sum(axis=1)
    stride = int(totals.max()) + 1
    chosen = np.zeros(0, dtype=np.int64)
    deficit = remove
    while deficit.any():  # uniform positions; a position drawn twice is dropped and drawn again
        rows = np.repeat(np.arange(size), deficit)
        pos = np.minimum((rng.random(rows.size) * totals[rows]).astype(np.int64), totals[rows] - 1)
        chosen = np.sort(np.concatenate([chosen, rows * stride + pos]))
        repeated = np.flatnonzero(chosen[1:] == chosen[:-1])
        chosen = np.delete(chosen, repeated)
        deficit = remove - np.bincount(chosen // stride, minlength=size)
    rows, pos = chosen // stride, chosen % stride
    flat_cum = np.cumsum(x.ravel())
    row_start = np.concatenate(([0], flat_cum[n_cat - 1 :: n_cat][:-1]))
    cat = np.searchsorted(flat_cum, row_start[rows] + pos, side="right")
    x -= np.bincount(cat, minlength=size * n_cat).reshape(size, n_cat)


class _Resampler:
    """How one data set's bootstrap counts are drawn: in blocks, each block from a generator of its own.

    Each block gets a child generator (``Generator.spawn``), so a block's counts depend only on the
    seed and the block's index: blocks can be drawn in any order, on several threads, and the
    resamples stay the same.
    """

    def __init__(self, weights: NDArray[np.float64], n_resamples: int) -> None:
        self.n = n = round(float(weights.sum()))
        self.n_patterns = n_patterns = weights.size
        self.weights = weights
        block = int(max(1, min(n_resamples, BLOCK_CELLS // max(n_patterns, 1))))
        n_blocks = -(-n_resamples // block)
        if n_blocks > 1:
            # A multiple of 4 blocks of equal size share out evenly over 1, 2 or 4 threads.  The sizes
            # must not depend on the machine's thread count: they fix which resamples a seed gives.
            n_blocks = -(-n_blocks // 4) * 4
        base, extra = divmod(n_resamples, max(n_blocks, 1))
        self.sizes = [base + (i < extra) for i in range(n_blocks) if base + (i < extra) > 0]
        draw_units = n_patterns * 8 > n and n_patterns > SMALL_MULTINOMIAL
        self.unit_pattern = np.repeat(np.arange(n_patterns), weights.astype(np.int64)) if draw_units else None
        self.sampler = None if draw_units or n_patterns <= SMALL_MULTINOMIAL else MultinomialSampler(n, weights)

    def plan(self, rng: np.random.Generator) -> list[tuple[int, np.random.Generator]]:
        return list(zip(self.sizes, rng.spawn(len(self.sizes)), strict=True)) if self.sizes else []

    def draw(self, size: int, rng: np.random.Generator) -> NDArray[np.float64]:
        n, n_patterns = self.n, self.n_patterns
        if self.unit_pattern is not None:
            picks = self.unit_pattern[rng.integers(0, n, size=(size, n))]
            picks += np.arange(size, dtype=np.int64)[:, None] * n_patterns
            counts = np.bincount(picks.ravel(), minlength=size * n_patterns).reshape(size, n_patterns)
        elif self.sampler is None:
            counts = rng.multinomial(n, self.weights / n, size=size)
        else:
            counts = self.sampler.draw(size, rng)
        return counts.astype(float)


def resample_counts(
    weights: NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> Iterator[NDArray[np.float64]]:
    """Blocks of bootstrap pattern counts: each row is Multinomial(n, weights / n), n = Σ weights.

    Resampling n units with replacement and counting how many drawn units show each pattern gives
    exactly this multinomial.  Few patterns: numpy's multinomial; many: ``MultinomialSampler``; when
    patterns are nearly as many as units (continuous ratings), drawing the units themselves.
    """
    resampler = _Resampler(weights, n_resamples)
    for size, child in resampler.plan(rng):
        yield resampler.draw(size, child)


def replicate(
    statistics: Mapping[str, UnitStatistic], weights: NDArray[np.float64], n_resamples: int, seed: Seed
) -> dict[str, NDArray[np.float64]]:
    """Bootstrap replicates (NaN where undefined) of several statistics over the same resamples.

    Blocks of resamples are drawn and evaluated on a few threads (numpy releases the GIL in the
    drawing and in the matrix products); the result does not depend on the number of threads.
    """
    resampler = _Resampler(weights, n_resamples)
    dense = [name for name, stat in statistics.items() if not _issparse(stat.stats) and stat.direct is None]
    stacked = np.hstack([statistics[name].stats for name in dense]) if dense else None
    edges = np.cumsum([0] + [statistics[name].stats.shape[1] for name in dense])

    def evaluate_rows(counts: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        totals = counts @ stacked if stacked is not None else None  # one product for all dense statistics
        out = {}
        for name, stat in statistics.items():
            if totals is not None and name in dense:
                i = dense.index(name)
                out[name], _ = stat.finish(np.ascontiguousarray(totals[:, edges[i] : edges[i + 1]]))
            else:
                out[name], _ = stat.values(counts)
        return out

    # Resamples per product, so the dense totals stay within TOTALS_CELLS (finish works row by row).
    step = max(1, TOTALS_CELLS // max(1, int(edges[-1])))

    def block(job: tuple[int, np.random.Generator]) -> dict[str, NDArray[np.float64]]:
        counts = resampler.draw(*job)
        if counts.shape[0] <= step:
            return evaluate_rows(counts)
        parts = [evaluate_rows(counts[i : i + step]) for i in range(0, counts.shape[0], step)]
        return {name: np.concatenate([p[name] for p in parts]) for name in statistics}

    jobs = resampler.plan(make_rng(seed))
    if len(jobs) > 1 and resampler.n_patterns * n_resamples >= PARALLEL_CELLS:
        # Each block thread does its own matrix product; BLAS threads on top of ours would oversubscribe
        # the cores (measured: 80 ms instead of 55 ms for 1,000 resamples of 4,471 patterns on 2 cores).
        with one_blas_thread(), ThreadPoolExecutor(max_workers=min(len(jobs), THREADS)) as pool:
            parts = list(pool.map(block, jobs))
    else:
        parts = [block(job) for job in jobs]
    return {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0) for name in statistics}


def tails(confidence: float) -> tuple[float, float]:
    """The quantiles a ``confidence`` percentile interval reads: (1-c)/2 and (1+c)/2."""
    return (1 - confidence) / 2, (1 + confidence) / 2


def percentile_bounds(replicates: NDArray[Any], quantiles: tuple[float, float], *, axis: int | None = None,
                      method: str = "linear") -> NDArray[np.float64]:
    """The percentile interval's bounds: the ``quantiles`` of defined ``replicates`` (along ``axis``, for
    callers that hold many coefficients' replicates side by side, as Bradley–Terry ratings)."""
    return np.quantile(replicates, list(quantiles), axis=axis, method=method)  # type: ignore[call-overload]


def too_many_undefined(dropped: int, total: int) -> bool:
    """The engine's one rule: no interval when more than ``MAX_DROPPED_SHARE`` of the resamples are undefined."""
    return dropped > MAX_DROPPED_SHARE * total


def percentile_interval(
    replicates: NDArray[np.float64], confidence: float = 0.95, *, quantiles: tuple[float, float] | None = None
) -> Interval:
    """Efron's percentile interval: the (1-c)/2 and (1+c)/2 quantiles (or ``quantiles`` as given) of the
    defined replicates, or none when too many are undefined (``too_many_undefined``)."""
    total = int(replicates.size)
    kept = replicates[np.isfinite(replicates)]
    dropped = total - int(kept.size)
    if total == 0:
        return Interval(None, None, 0, 0, "no resamples were drawn")
    if too_many_undefined(dropped, total) or kept.size < 2:
        return Interval(
            None, None, total, dropped,
            f"the coefficient is undefined in {dropped} of {total} resamples "
            f"(more than {MAX_DROPPED_SHARE:.0%}), so no interval is reported",
        )
    low, high = percentile_bounds(kept, quantiles or tails(confidence))
    return Interval(float(low), float(high), total, dropped, None)


def evaluate(
    statistics: Mapping[str, UnitStatistic],
    weights: NDArray[np.float64],
    *,
    bootstrap: int = 0,
    seed: Seed = None,
    precondition: str | None = None,
) -> dict[str, Estimate]:
    """Point estimates and (when ``bootstrap`` > 0) percentile intervals from shared resamples.

    ``precondition`` is a reason that makes every statistic undefined (e.g. a single rater).
    """
    n_units = round(float(weights.sum()))
    if precondition is not None:
        return {name: Estimate(None, precondition, n_units=n_units) for name in statistics}
    points = {name: stat.point(weights) for name, stat in statistics.items()}
    intervals: dict[str, Interval] = {}
    wanted = {name: stat for name, stat in statistics.items() if points[name][0] is not None}
    if bootstrap > 0 and wanted:
        if n_units < 2:
            intervals = {name: Interval(None, None, 0, 0, "needs at least two units to resample") for name in wanted}
        else:
            reps = replicate(wanted, weights, bootstrap, seed)
            intervals = {name: percentile_interval(r) for name, r in reps.items()}
    out: dict[str, Estimate] = {}
    for name, (value, reason) in points.items():
        iv = intervals.get(name)
        if iv is None:  # no bootstrap asked for, or nothing to put an interval around
            out[name] = Estimate(value, reason, n_units=n_units)
            continue
        ci = None if iv.low is None or iv.high is None else (iv.low, iv.high)
        out[name] = Estimate(value, reason, ci, iv.reason, iv.resamples, iv.dropped, n_units)
    return out

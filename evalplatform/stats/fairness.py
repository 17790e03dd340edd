"""Fairness across subgroups, as an audit: do a model's scores differ between groups of items?

For each metadata field and each (model, dimension) the audit takes one score per unit (an item's
response: the mean of its raters' values) and the unit's group (the field's value), and reports:

- per group: the number of units, the mean with a 95% t-interval, and for yes/no dimensions the rate
  of "yes" ratings with a Wilson 95% interval (as ``statsmodels.stats.proportion.proportion_confint``);
- the largest gap between two group means, with a Welch 95% interval for the difference;
- an omnibus Kruskal–Wallis test (the figures of ``scipy.stats.kruskal``) over the groups;
- pairwise two-sided Mann–Whitney U tests between every two groups (normal approximation with tie and
  continuity corrections, as ``scipy.stats.mannwhitneyu(method="asymptotic")``);
- for yes/no dimensions, the ratio of the lowest to the highest rate (the "four-fifths rule" of
  adverse-impact analysis: a ratio under 0.8 is conventionally a warning sign; it is shown, not tested).

Groups with fewer than ``min_units`` units are shown but not tested.  Every p-value of the audit is
corrected for multiple comparisons together (``stats.compare.adjust_p_values``, the numbers of
statsmodels' ``multipletests``: Holm by default, which keeps the chance of any false flag in the whole
audit at ``alpha``; or Benjamini–Hochberg, which keeps the expected share of false flags at ``alpha``).
**Flags come only from the corrected pairwise tests**; the omnibus p-values are corrected over the cells
in the same way and reported beside them.  Pure: numpy and scipy, no Django.  Not statsmodels: in a
report its import (pandas with it, 0.3 s) and the full garbage collections its Holm step forces cost
more than the whole audit's arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.compare import CORRECTIONS, adjust_p_values
from evalplatform.stats.jsonable import finite, label_value

METHODS = CORRECTIONS
FOUR_FIFTHS = 0.8


@dataclass(frozen=True)
class AuditCell:
    """One (field, model, dimension): a score and a group per unit; for yes/no dimensions also the
    number of "yes" ratings and of ratings per unit."""

    field: str
    model: Any
    dimension: str
    scores: NDArray[np.float64]
    groups: Sequence[Any]
    binary: bool = False
    yes: NDArray[np.float64] | None = None
    ratings: NDArray[np.float64] | None = None


def _t_interval(x: NDArray[np.float64], confidence: float = 0.95) -> list[float] | None:
    from scipy.special import stdtrit  # scipy.stats.t.ppf(q, df) without its per-call argument checks

    if x.size < 2:
        return None
    sd = float(np.std(x, ddof=1))
    half = float(stdtrit(x.size - 1, 0.5 + confidence / 2)) * sd / np.sqrt(x.size)
    return [float(x.mean() - half), float(x.mean() + half)]


def _welch_interval(a: NDArray[np.float64], b: NDArray[np.float64], confidence: float = 0.95) -> list[float] | None:
    """Welch's interval for mean(a) - mean(b) (Welch 1947; Satterthwaite degrees of freedom)."""
    from scipy.special import stdtrit

    if a.size < 2 or b.size < 2:
        return None
    va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
    se = float(np.sqrt(va + vb))
    diff = float(a.mean() - b.mean())
    if se == 0:
        return [diff, diff]
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stdtrit(df, 0.5 + confidence / 2)) * se
    return [diff - half, diff + half]


def wilson_interval(yes: float, n: float, alpha: float = 0.05) -> list[float]:
    """Wilson's score interval for the proportion yes / n: the formula (and the operations, in order) of
    ``statsmodels.stats.proportion.proportion_confint(yes, n, alpha, method="wilson")``."""
    from scipy.special import ndtri

    crit = float(-ndtri(alpha / 2))  # scipy.stats.norm.isf(alpha / 2)
    q = yes / n
    crit2 = crit**2
    denom = 1 + crit2 / n
    center = (q + crit2 / (2 * n)) / denom
    dist = crit * np.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n**2))
    dist /= denom
    return [float(center - dist), float(center + dist)]


def _mann_whitney_counts(ua: NDArray[np.float64], ca: NDArray[np.int64],
                         ub: NDArray[np.float64], cb: NDArray[np.int64]) -> float:
    """``mann_whitney_p`` from each sample's distinct values and their counts (``np.unique(x,
    return_counts=True)``).  Unit scores take a few dozen values, so an audit sorts each group once and
    every pair costs a few operations on short arrays, not a ranking of both groups: 0.1 s less on the
    issue-18 data set (720,000 scores).  The same numbers as ranking: U counts, for every value of a,
    the values of b below it plus half those equal to it (ranks minus a's own, exact in floats), and
    the tie correction sums t³ - t over the distinct values of both samples together."""
    n1, n2 = int(ca.sum()), int(cb.sum())
    below_b = np.concatenate([[0], np.cumsum(cb)])
    lo, hi = np.searchsorted(ub, ua, "left"), np.searchsorted(ub, ua, "right")
    u1 = float((ca * below_b[lo]).sum()) + 0.5 * float((ca * (below_b[hi] - below_b[lo])).sum())
    u = max(u1, n1 * n2 - u1)
    values, inverse = np.unique(np.concatenate([ua, ub]), return_inverse=True)
    ties = np.zeros(values.size, dtype=np.int64)
    np.add.at(ties, inverse.reshape(-1), np.concatenate([ca, cb]))
    n = n1 + n2
    sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    from scipy.special import ndtr

    z = (u - n1 * n2 / 2 - 0.5) / sigma
    return float(min(1.0, 2 * ndtr(-z)))


def _kruskal_counts(counts: Sequence[tuple[NDArray[np.float64], NDArray[np.int64]]]) -> tuple[float, float]:
    """The Kruskal–Wallis H and p-value of ``scipy.stats.kruskal(*samples)`` from each sample's distinct
    values and their counts, with scipy's operations in scipy's order (the same floats, checked in the
    tests): each group's rank sum (midranks: exact in floats) squared over its size, summed; the tie
    correction 1 - Σ(t³ - t) / (N³ - N); the chi-squared survival function with k - 1 degrees of
    freedom.  Without the ranking of every unit and scipy's per-call overhead (0.05-0.1 s an audit)."""
    from scipy.special import chdtrc

    values = np.unique(np.concatenate([u for u, _ in counts]))
    where = [np.searchsorted(values, u) for u, _ in counts]
    ties = np.zeros(values.size, dtype=np.int64)
    for (_, c), w in zip(counts, where, strict=True):
        ties[w] += c  # values are distinct within a sample
    midrank = (np.cumsum(ties) - ties) + (ties + 1) / 2
    n = [int(c.sum()) for _, c in counts]
    totaln = sum(n)
    t = ties.astype(float)
    tie_correction = 1 - np.sum(t**3 - t) / (totaln**3 - totaln)
    ssbn = sum(np.sum(c * midrank[w]) ** 2 / size for (_, c), w, size in zip(counts, where, n, strict=True))
    h = 12.0 / (totaln * (totaln + 1)) * ssbn - 3 * (totaln + 1)
    h /= tie_correction
    return float(h), float(chdtrc(float(len(counts) - 1), h))


def mann_whitney_p(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Two-sided Mann–Whitney U test, normal approximation with tie correction and continuity
    correction: the p-value of ``scipy.stats.mannwhitneyu(a, b, method="asymptotic")`` (checked in the
    tests), without scipy's per-call overhead, which dominates an audit of hundreds of small tests."""
    ua, ca = np.unique(np.asarray(a, dtype=float), return_counts=True)
    ub, cb = np.unique(np.asarray(b, dtype=float), return_counts=True)
    return _mann_whitney_counts(ua, ca, ub, cb)


def _group_order(values: Sequence[Any]) -> list[Any]:
    return sorted(set(values), key=lambda v: (0, float(v), "") if isinstance(v, bool | int | float) else (1, 0.0, str(v)))


def _group_masks(groups: Sequence[Any], order: Sequence[Any]) -> list[NDArray[np.bool_]]:
    """For each value of ``order`` (the distinct groups), which units are in it: those whose group has
    the same ``str``.  Where every group is a str, or every one an int, or every one a bool, equal
    strings are exactly equal values, so each unit's group is looked up by value (in C, by ``map``)
    instead of turned into a string: 0.1 s less for the issue-18 data set's 24 cells of 20,000 units.
    Floats (0.0 and -0.0, NaN) and mixed types compare the strings, as always."""
    kinds = set(map(type, groups))
    if len(kinds) == 1 and kinds <= {str, int, bool}:
        index = {value: i for i, value in enumerate(order)}
        codes = np.fromiter(map(index.__getitem__, groups), dtype=np.int64, count=len(groups))
        return [codes == i for i in range(len(order))]
    labels = np.asarray([str(g) for g in groups])
    return [labels == str(value) for value in order]


def _cell(cell: AuditCell, min_units: int) -> tuple[dict[str, Any], list[tuple[int, int, float | None]]]:
    """The cell's figures, and its pairwise tests as (group i, group j, raw p) for the correction."""
    order = _group_order(list(cell.groups))
    scores = np.asarray(cell.scores, dtype=float)
    groups: list[dict[str, Any]] = []
    samples: list[NDArray[np.float64]] = []
    for value, mask in zip(order, _group_masks(cell.groups, order), strict=True):
        x = scores[mask]
        entry: dict[str, Any] = {"value": label_value(value), "n": int(x.size), "mean": finite(x.mean()) if x.size else None,
                                 "ci95": _t_interval(x), "tested": bool(x.size >= min_units)}
        if cell.binary and cell.yes is not None and cell.ratings is not None:
            yes, n = float(cell.yes[mask].sum()), float(cell.ratings[mask].sum())
            entry["yes"], entry["n_ratings"] = int(yes), int(n)
            entry["rate"] = yes / n if n else None
            if n:
                entry["rate_ci95"] = wilson_interval(yes, n, alpha=0.05)
            else:
                entry["rate_ci95"] = None
        groups.append(entry)
        samples.append(x)
    tested = [i for i, g in enumerate(groups) if g["tested"]]
    out: dict[str, Any] = {"field": cell.field, "model": label_value(cell.model), "dimension": cell.dimension,
                           "binary": cell.binary, "groups": groups, "n_tested_groups": len(tested),
                           "gap": None, "omnibus": None, "pairs": [], "four_fifths": None, "flagged": False}
    if len(tested) < 2:
        out["reason"] = f"fewer than 2 groups with {min_units} or more units"
        return out, []
    means = {i: float(samples[i].mean()) for i in tested}
    hi_i, lo_i = max(tested, key=lambda i: means[i]), min(tested, key=lambda i: means[i])
    out["gap"] = {"high": groups[hi_i]["value"], "low": groups[lo_i]["value"],
                  "difference": means[hi_i] - means[lo_i], "ci95": _welch_interval(samples[hi_i], samples[lo_i])}
    pooled = np.concatenate([samples[i] for i in tested])
    if np.ptp(pooled) == 0:
        out["omnibus"] = {"test": "Kruskal–Wallis", "statistic": None, "p_value": None,
                          "reason": "every unit has the same score"}
        raw: list[tuple[int, int, float | None]] = [(i, j, None) for i, j in combinations(tested, 2)]
    else:
        counts = {i: np.unique(samples[i], return_counts=True) for i in tested}  # sorted once per group
        h, p = _kruskal_counts([counts[i] for i in tested])
        out["omnibus"] = {"test": "Kruskal–Wallis", "statistic": finite(h), "p_value": finite(p)}
        raw = []
        for i, j in combinations(tested, 2):
            (ua, ca), (ub, cb) = counts[i], counts[j]
            constant = ua[0] == ua[-1] == ub[0] == ub[-1]  # every unit of both groups has the same score
            raw.append((i, j, None if constant else _mann_whitney_counts(ua, ca, ub, cb)))
    if cell.binary:
        rates = [groups[i]["rate"] for i in tested if groups[i].get("rate") is not None]
        if rates and max(rates) > 0:
            ratio = min(rates) / max(rates)
            out["four_fifths"] = {"ratio": ratio, "below": ratio < FOUR_FIFTHS,
                                  "note": "lowest over highest rate of yes; a description, not a test"}
    return out, raw


def fairness_audit(cells: Sequence[AuditCell], *, alpha: float = 0.05, method: str = "holm",
                   min_units: int = 5) -> dict[str, Any]:
    """The audit of ``cells`` (see the module docstring), JSON-ready.

    Every pairwise p-value of the audit is corrected in one family with ``method`` ("holm" or "fdr_bh");
    a pair is flagged when its corrected p-value is below ``alpha``, a cell when any of its pairs is.
    """
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(METHODS)}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    results, raws = [], []
    for cell in cells:
        res, raw = _cell(cell, min_units)
        results.append(res)
        raws.append(raw)
    flat = [(c, k, p) for c, raw in enumerate(raws) for k, (_, _, p) in enumerate(raw) if p is not None]
    adjusted: dict[tuple[int, int], float] = {}
    if flat:
        p_adj = adjust_p_values([p for _, _, p in flat], method)
        adjusted = {(c, k): float(q) for (c, k, _), q in zip(flat, p_adj, strict=True)}
    omni = [(c, r["omnibus"]["p_value"]) for c, r in enumerate(results)
            if r["omnibus"] and r["omnibus"]["p_value"] is not None]
    if omni:
        o_adj = adjust_p_values([p for _, p in omni], method)
        for (c, _), q in zip(omni, o_adj, strict=True):
            results[c]["omnibus"]["p_adjusted"] = float(q)
    n_flags = 0
    for c, (res, raw) in enumerate(zip(results, raws, strict=True)):
        groups = res["groups"]
        for k, (i, j, p) in enumerate(raw):
            q = adjusted.get((c, k))
            flagged = q is not None and q < alpha
            n_flags += flagged
            mi, mj = groups[i]["mean"], groups[j]["mean"]
            res["pairs"].append({"a": groups[i]["value"], "b": groups[j]["value"],
                                 "difference": None if mi is None or mj is None else mi - mj,
                                 "p_value": p, "p_adjusted": q, "flagged": flagged})
        res["flagged"] = any(pair["flagged"] for pair in res["pairs"])
    return {
        "alpha": alpha, "correction": method, "correction_name": METHODS[method], "min_units": min_units,
        "n_cells": len(results), "n_tests": len(flat), "n_flags": int(n_flags),
        "method": ("score per unit = mean of its raters' values; pairwise two-sided Mann–Whitney U tests and a "
                   f"Kruskal–Wallis omnibus test per cell; all {len(flat)} pairwise p-values corrected together "
                   f"({METHODS[method]}); flags only where the corrected p < {alpha:g}"),
        "cells": results,
    }


def flagged_pairs(audit: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit's flagged pairs, one row each (field, model, dimension, groups, figures)."""
    return [{"field": c["field"], "model": c["model"], "dimension": c["dimension"], **pair}
            for c in audit["cells"] for pair in c["pairs"] if pair["flagged"]]


__all__ = ["FOUR_FIFTHS", "METHODS", "AuditCell", "fairness_audit", "flagged_pairs", "mann_whitney_p", "wilson_interval"]

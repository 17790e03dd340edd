"""Drift of a score distribution between two rounds of evaluation.

The bins are the dimension's scale values (a 1-5 Likert scale has five bins, a yes/no question two):
scores are whole numbers on a fixed scale, so no binning choice is left to make.  Inputs are the
counts of ratings per scale value in the earlier round (``expected``) and the later one (``actual``).

* Population stability index (Siddiqi 2006, ch. 8): PSI = sum_i (a_i - e_i) ln(a_i / e_i) over the
  bins' proportions, an empty bin's proportion replaced by ``EPSILON`` (then renormalised) so the
  logarithm is defined.  Rules of thumb: < 0.1 stable, 0.1-0.25 some shift, > 0.25 a major shift.
* Jensen-Shannon distance (Endres & Schindelin 2003): the square root of the Jensen-Shannon
  divergence with base-2 logarithms, in [0, 1]; ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
* Chi-square test of homogeneity of the 2 x k table of counts (Pearson 1900), bins empty in both
  rounds left out; ``scipy.stats.chi2_contingency`` without Yates' correction.
* A permutation test of the difference in means (Good 2005), ratings reassigned to the two rounds at
  random, two-sided, p = (1 + #{|perm| >= |obs|}) / (B + 1).

Pure numpy/scipy; no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalplatform.stats.jsonable import rounded

EPSILON = 1e-4


def _proportions(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    p = counts / counts.sum()
    p = np.where(p == 0, EPSILON, p)
    return p / p.sum()


def psi(expected: ArrayLike, actual: ArrayLike) -> float:
    """Population stability index of ``actual`` against ``expected`` (counts per bin, same bins)."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if e.shape != a.shape or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("psi needs two non-empty count vectors over the same bins")
    pe, pa = _proportions(e), _proportions(a)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def js_distance(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon distance (base 2) between two count or probability vectors over the same bins."""
    p_, q_ = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    p_, q_ = p_ / p_.sum(), q_ / q_.sum()
    m = (p_ + q_) / 2

    def kl(x: NDArray[np.float64]) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return float(np.sqrt(max(0.0, (kl(p_) + kl(q_)) / 2)))


def chi_square(expected: ArrayLike, actual: ArrayLike) -> tuple[float, int, float] | None:
    """Chi-square test of homogeneity of two count vectors: (statistic, degrees of freedom, p), or None
    when fewer than two bins hold any rating."""
    table = np.vstack([np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return None
    expected_table = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected_table) ** 2 / expected_table).sum())
    dof = table.shape[1] - 1
    from scipy import stats  # imported when used: scipy.stats takes ~0.3 s to load

    return statistic, dof, float(stats.chi2.sf(statistic, dof))


def permutation_p(a: ArrayLike, b: ArrayLike, *, n_perm: int = 2000, seed: int = 0) -> float | None:
    """Two-sided permutation p-value of mean(b) - mean(a); None when either side is empty."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        return None
    pooled = np.concatenate([x, y])
    observed = abs(y.mean() - x.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_perm):
        perm = rng.permutation(pooled)
        hits += abs(perm[x.size:].mean() - perm[: x.size].mean()) >= observed - 1e-12
    return (1 + hits) / (n_perm + 1)


@dataclass(frozen=True)
class Drift:
    scale: tuple[int, ...]
    counts_before: tuple[int, ...]
    counts_after: tuple[int, ...]
    mean_before: float | None
    mean_after: float | None
    psi: float | None
    js_distance: float | None
    chi2: float | None
    dof: int | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": list(self.scale), "counts_before": list(self.counts_before), "counts_after": list(self.counts_after),
            "n_before": sum(self.counts_before), "n_after": sum(self.counts_after),
            "mean_before": rounded(self.mean_before), "mean_after": rounded(self.mean_after),
            "psi": rounded(self.psi), "js_distance": rounded(self.js_distance), "chi2": rounded(self.chi2),
            "dof": self.dof, "p_value": rounded(self.p_value, 8),
        }


def distribution_drift(before: ArrayLike, after: ArrayLike, scale: Sequence[int]) -> Drift:
    """PSI, Jensen-Shannon distance and the chi-square test between two samples of scale values."""
    x, y = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    bins = np.asarray(scale, dtype=float)
    ce = np.array([(x == v).sum() for v in bins], dtype=float)
    ca = np.array([(y == v).sum() for v in bins], dtype=float)
    mean_b = float(x.mean()) if x.size else None
    mean_a = float(y.mean()) if y.size else None
    if ce.sum() == 0 or ca.sum() == 0:
        return Drift(tuple(scale), tuple(int(c) for c in ce), tuple(int(c) for c in ca), mean_b, mean_a,
                     None, None, None, None, None)
    test = chi_square(ce, ca)
    return Drift(
        tuple(scale), tuple(int(c) for c in ce), tuple(int(c) for c in ca), mean_b, mean_a,
        psi(ce, ca), js_distance(ce, ca), *(test if test else (None, None, None)),
    )

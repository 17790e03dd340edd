"""The rating matrix: value codes, the value domain, and units collapsed into rating patterns.

Every coefficient in this package starts from a (raters x units) matrix, oriented as in the
``krippendorff`` package: ``data[r, u]`` is rater r's rating of unit u, NaN (or None) when r did not
rate u.  ``code_ratings`` turns that matrix into integer codes into an ordered *value domain*;
``collapse_units`` groups the units that show the same rating pattern, so a statistic that is a sum
over units becomes a sum over patterns weighted by how many units show each pattern.  On a rubric
scale a hundred thousand units collapse into a few thousand patterns, which is what makes the
bootstrap cheap (see ``bootstrap.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalplatform.stats.levels import LEVELS, Level, Weighting

if TYPE_CHECKING:
    from scipy import sparse  # at run time imported where used: reading and coding ratings never need it

MISSING = -1
Label = float | str

#: a statistics matrix with at most this many cells is held dense (BLAS products are faster)
DENSE_CELLS = 20_000_000


class RatingDataError(ValueError):
    """Ratings that cannot be read on the requested level of measurement or scale."""


def check_level(level: str) -> Level:
    """Return ``level`` if it is one of the four levels of measurement, else raise ``ValueError``."""
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; use one of {', '.join(LEVELS)}")
    return level


@dataclass(frozen=True)
class CodedRatings:
    """A (raters x units) matrix of codes into ``domain``; ``MISSING`` (-1) where there is no rating."""

    codes: NDArray[np.int64]
    domain: tuple[Label, ...]
    numeric: bool

    @property
    def n_raters(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_values(self) -> int:
        return len(self.domain)

    def positions(self) -> NDArray[np.float64]:
        """Where each domain value sits on the number line: the value, or its rank for ordered labels."""
        if self.numeric:
            return np.asarray(self.domain, dtype=float)
        return np.arange(len(self.domain), dtype=float)


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)


def _scale_text(domain: NDArray[np.float64] | Sequence[Label]) -> str:
    items = [f"{v:g}" if isinstance(v, float | np.floating) else repr(v) for v in list(domain)[:12]]
    return "[" + ", ".join(items) + (", ...]" if len(domain) > 12 else "]")


def code_numeric(values: NDArray[np.float64], value_domain: ArrayLike | None = None) -> CodedRatings:
    """Codes for a float matrix (NaN = missing) on the sorted domain ``value_domain`` (default: the values seen)."""
    present = ~np.isnan(values)
    if np.isinf(values).any():
        raise RatingDataError("ratings must be finite numbers (NaN marks a missing rating)")
    if value_domain is None:
        domain = np.unique(values[present])
    else:
        raw = np.asarray(value_domain)
        if raw.dtype.kind not in "biuf":
            raise RatingDataError(f"numeric ratings need a numeric scale, got {_scale_text(list(raw))}")
        domain = np.unique(raw.astype(float))
        if np.isnan(domain).any() or np.isinf(domain).any():
            raise RatingDataError("the scale must list finite numbers")
    if domain.size == 0:
        return CodedRatings(np.full(values.shape, MISSING, dtype=np.int64), (), True)
    idx = np.minimum(np.searchsorted(domain, values), domain.size - 1)
    bad = present & (domain[idx] != values)
    if bad.any():
        raise RatingDataError(f"rating {values[bad][0]:g} is not on the scale {_scale_text(domain)}")
    codes = np.where(present, idx, MISSING).astype(np.int64)
    return CodedRatings(codes, tuple(float(v) for v in domain), True)


def code_labels(data: NDArray[Any], level: Level, value_domain: Sequence[Label] | None) -> CodedRatings:
    """Codes for a matrix of labels (None/NaN = missing); labels need a nominal level or an ordered scale."""
    flat = data.ravel()
    missing = np.fromiter((_is_missing(x) for x in flat), dtype=bool, count=flat.size)
    present = [x for x, m in zip(flat, missing, strict=True) if not m]
    first_label = next((x for x in present if not _is_number(x)), None)
    if level in ("interval", "ratio"):
        raise RatingDataError(f"level {level!r} needs numeric ratings; found the label {first_label!r}")
    if value_domain is None:
        if level != "nominal":
            raise RatingDataError(
                f"level {level!r} needs numeric ratings or a scale listing the labels in order; "
                f"found the label {first_label!r}"
            )
        domain: list[Label] = sorted({str(x) for x in present})
        lookup = {label: i for i, label in enumerate(domain)}
        keys: list[Any] = [str(x) for x in present]
    else:
        domain = list(dict.fromkeys(value_domain))
        lookup = {label: i for i, label in enumerate(domain)}
        keys = present
    codes = np.full(flat.size, MISSING, dtype=np.int64)
    try:
        codes[~missing] = [lookup[k] for k in keys]
    except KeyError as exc:
        raise RatingDataError(f"rating {exc.args[0]!r} is not on the scale {_scale_text(domain)}") from None
    return CodedRatings(codes.reshape(data.shape), tuple(domain), False)


def _check_ratio(coded: CodedRatings, level: Level) -> CodedRatings:
    """The ratio level's values are amounts with a true zero: a negative one is an error, not data
    (Krippendorff's ratio metric ((c - k) / (c + k))² would score a sign flip as perfect agreement)."""
    if level == "ratio" and coded.domain and float(coded.domain[0]) < 0:  # type: ignore[arg-type]
        raise RatingDataError(f"the ratio level needs values of 0 or more (a true zero); got {float(coded.domain[0]):g} "
                              "(use the interval level for values that can be negative)")
    return coded


def code_ratings(
    data: ArrayLike, *, level: str = "nominal", value_domain: Sequence[Label] | ArrayLike | None = None
) -> CodedRatings:
    """Read a (raters x units) rating matrix into value codes.

    Numeric ratings (NaN = missing) are coded on the sorted ``value_domain`` (the full scale, e.g.
    1..5, so unused categories are known), by default the distinct values that occur.  Labels (strings;
    None/NaN = missing) are allowed for the nominal level, or for the ordinal level when
    ``value_domain`` lists them in order.  Anything else raises ``RatingDataError``.
    """
    lvl = check_level(level)
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise RatingDataError(f"ratings must be a 2-D (raters x units) array, got {arr.ndim} dimension(s)")
    if arr.dtype.kind in "biuf":
        return _check_ratio(code_numeric(arr.astype(float), value_domain), lvl)
    if arr.dtype.kind in "OUS":
        flat = arr.ravel()
        if all(_is_missing(x) or _is_number(x) for x in flat):
            values = np.array([np.nan if _is_missing(x) else float(x) for x in flat], dtype=float)
            return _check_ratio(code_numeric(values.reshape(arr.shape), value_domain), lvl)
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        return code_labels(arr, lvl, value_domain)  # type: ignore[arg-type]  # a label scale is a sequence
    raise RatingDataError(f"cannot read ratings of dtype {arr.dtype}")


# --------------------------------------------------------------------------------------------------
# units collapsed into patterns


@dataclass(frozen=True)
class UnitPatterns:
    """Distinct unit columns of a code matrix with their multiplicities.

    ``codes`` is (raters x patterns), ``weights[p]`` the number of units showing pattern p, and
    ``inverse[u]`` the pattern of unit u (-1 for a unit nobody rated; such units are dropped).
    """

    codes: NDArray[np.int64]
    weights: NDArray[np.float64]
    inverse: NDArray[np.int64]
    n_values: int

    @property
    def n_patterns(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_units(self) -> int:
        return int(self.weights.sum())


def factorize(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(an element of each distinct key, in key order; group of each element; group sizes)."""
    n = keys.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    low, high = int(keys.min()), int(keys.max())
    if low >= 0 and high < max(4 * n, 1 << 16):
        # Few possible keys (rating patterns on a short scale): count them instead of sorting.
        sizes_all = np.bincount(keys, minlength=high + 1)
        present = np.flatnonzero(sizes_all)
        group_of = np.zeros(high + 1, dtype=np.int64)
        group_of[present] = np.arange(present.size)
        first_at = np.empty(high + 1, dtype=np.int64)
        first_at[keys[::-1]] = np.arange(n - 1, -1, -1)  # one element per key (numpy writes the first)
        return first_at[present], group_of[keys], sizes_all[present]
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    start_pos = np.flatnonzero(starts)
    sizes = np.diff(np.append(start_pos, n))
    return order[start_pos], inverse, sizes


def collapse_units(codes: NDArray[np.int64], n_values: int, *, ignore_raters: bool = False) -> UnitPatterns:
    """Group units (columns) with identical ratings; with ``ignore_raters`` only the multiset of values counts.

    Units nobody rated are dropped.  The multiset version (sorted column) is all that Krippendorff's
    alpha, Fleiss' kappa, percent agreement and Gwet's AC need; pairwise kappa needs rater identity.
    """
    rated = (codes >= 0).any(axis=0)
    cols = codes[:, rated]
    if ignore_raters:
        cols = np.sort(cols, axis=0)
    n_raters = cols.shape[0]
    base = n_values + 1
    if n_raters * math.log2(max(base, 2)) < 62:
        powers = base ** np.arange(n_raters, dtype=np.int64)
        first, inv, sizes = factorize(powers @ (cols + 1))
    else:
        _, first, inv, sizes = np.unique(cols.T, axis=0, return_index=True, return_inverse=True,
                                         return_counts=True)
        inv = inv.reshape(-1)
    inverse = np.full(codes.shape[1], -1, dtype=np.int64)
    inverse[rated] = inv
    return UnitPatterns(cols[:, first], sizes.astype(float), inverse, n_values)


# --------------------------------------------------------------------------------------------------
# per-unit value counts and value pairs


def value_counts(codes: NDArray[np.int64], n_values: int) -> sparse.csr_array:
    """n_uc: how many raters gave value c to unit u, as a sparse (units x values) array."""
    from scipy import sparse

    cols = codes.T
    mask = cols >= 0
    rows = np.nonzero(mask)[0]
    vals = cols[mask]
    out = sparse.csr_array(
        (np.ones(rows.size), (rows, vals)), shape=(cols.shape[0], max(n_values, 1))
    )
    out.sum_duplicates()
    return out


@dataclass(frozen=True)
class ValuePairs:
    """All ordered pairs (c, k) of values present in a unit, with n_uc * n_uk; c == k included."""

    unit: NDArray[np.int64]
    c: NDArray[np.int64]
    k: NDArray[np.int64]
    count_c: NDArray[np.float64]
    product: NDArray[np.float64]


def value_pairs(counts: sparse.csr_array) -> ValuePairs:
    """Enumerate, for every unit, every ordered pair of the values it received (vectorised)."""
    indptr = counts.indptr.astype(np.int64)
    lengths = np.diff(indptr)
    squares = lengths * lengths
    unit = np.repeat(np.arange(lengths.size, dtype=np.int64), squares)
    offsets = np.arange(unit.size, dtype=np.int64) - np.repeat(np.cumsum(squares) - squares, squares)
    row_len = lengths[unit]
    first = indptr[unit] + offsets // np.maximum(row_len, 1)
    second = indptr[unit] + offsets % np.maximum(row_len, 1)
    idx = counts.indices.astype(np.int64)
    data = counts.data.astype(float)
    return ValuePairs(unit, idx[first], idx[second], data[first], data[first] * data[second])


def compact(matrix: sparse.sparray | NDArray[np.float64]) -> sparse.csr_array | NDArray[np.float64]:
    """Hold a statistics matrix dense when small or not too sparse (faster products), else sparse."""
    from scipy import sparse

    if sparse.issparse(matrix):
        held = cast(sparse.sparray, matrix)  # issparse is no type guard
        cells = held.shape[0] * held.shape[1]
        if cells <= 1_000_000 or (cells <= DENSE_CELLS and held.nnz >= 0.05 * cells):
            return np.asarray(held.toarray(), dtype=float)
        return sparse.csr_array(held)
    return np.asarray(matrix, dtype=float)


def _as_2d(block: sparse.sparray | NDArray[np.float64]) -> sparse.sparray | NDArray[np.float64]:
    if not isinstance(block, np.ndarray):
        from scipy import sparse

        if sparse.issparse(block):
            return block
    arr = np.asarray(block, dtype=float)
    return arr[:, None] if arr.ndim == 1 else arr


def column_stack(blocks: Sequence[sparse.sparray | NDArray[np.float64]]) -> sparse.csr_array | NDArray[np.float64]:
    """Side-by-side statistics blocks (dense or sparse, 1-D = one column), compacted."""
    parts = [_as_2d(b) for b in blocks]
    if not all(isinstance(b, np.ndarray) for b in parts):
        from scipy import sparse

        return compact(sparse.hstack([sparse.csr_array(b) for b in parts], format="csr"))
    return np.hstack(parts)


# --------------------------------------------------------------------------------------------------
# metrics on the value domain, evaluated per pair of values or as sums, never as (V x V) matrices
# (a continuous rating can have thousands of distinct values)


def midranks(n_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """M_c = Σ_{g<c} n_g + n_c / 2 for each row of value frequencies, centred on its mean n / 2.

    Krippendorff's ordinal difference is a difference of mid-ranks: Σ_{g=c..k} n_g - (n_c + n_k)/2
    = M_k - M_c for c ≤ k.
    """
    cum = np.cumsum(n_c, axis=-1)
    return cum - n_c / 2 - cum[..., -1:] / 2


def alpha_delta(level: Level, x: NDArray[np.float64], c: NDArray[np.int64], k: NDArray[np.int64],
                n_c: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Krippendorff's squared difference δ²(c, k) for arrays of value indices (ordinal needs ``n_c``, V)."""
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (x[c] - x[k]) ** 2
    if level == "ratio":
        total = x[c] + x[k]
        return np.divide(x[c] - x[k], total, out=np.zeros(total.shape), where=total != 0) ** 2
    m = midranks(np.asarray(n_c, dtype=float))
    return (m[c] - m[k]) ** 2


def _moment_pair_sum(n_c: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Σ_ck n_c n_k (x_c - x_k)² = 2 (n Σ n_c x_c² - (Σ n_c x_c)²) per row; x may vary by row."""
    n = n_c.sum(axis=-1)
    return 2 * (n * (n_c * x**2).sum(axis=-1) - (n_c * x).sum(axis=-1) ** 2)


def alpha_pair_sum(level: Level, x: NDArray[np.float64], n_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Σ_ck n_c n_k δ²_ck for each row of pairable-value frequencies ``n_c`` (b x V); D_e = this / (n - 1).

    nominal: n² - Σ n_c²; interval: from the first two moments; ordinal: the same on mid-ranks;
    ratio: a quadratic form evaluated in column blocks.
    """
    if level == "nominal":
        return n_c.sum(axis=1) ** 2 - (n_c**2).sum(axis=1)
    if level == "interval":
        return _moment_pair_sum(n_c, x - x.mean() if x.size else x)
    if level == "ordinal":
        return _moment_pair_sum(n_c, midranks(n_c))
    out = np.zeros(n_c.shape[0])
    step = max(1, 4_000_000 // max(x.size, 1))
    idx = np.arange(x.size)
    for start in range(0, x.size, step):
        block = idx[start : start + step]
        d = alpha_delta("ratio", x, idx[:, None], block[None, :])
        out += ((n_c @ d) * n_c[:, block]).sum(axis=1)
    return out


def kappa_weight(weights: Weighting, c: NDArray[np.int64], k: NDArray[np.int64]) -> NDArray[np.float64]:
    """Cohen's (1968) disagreement weight of categories c, k (ranks): [c ≠ k], |c - k| or (c - k)².

    Rank-based as in ``sklearn.metrics.cohen_kappa_score``; the kappa is invariant to scaling them.
    """
    if weights is None:
        return (c != k).astype(float)
    diff = np.abs(c - k).astype(float)
    return diff if weights == "linear" else diff**2


def gwet_weight(weights: Weighting, x: NDArray[np.float64], c: NDArray[np.int64], k: NDArray[np.int64]
                ) -> NDArray[np.float64]:
    """Gwet's (2014) agreement weight of scale values x_c, x_k: identity, 1 - |x_c - x_k| / (x_max - x_min),
    or 1 - (x_c - x_k)² / (x_max - x_min)²."""
    if weights is None or x.size < 2:
        return (c == k).astype(float)
    diff = np.abs(x[c] - x[k]) / (x.max() - x.min())
    return 1.0 - (diff if weights == "linear" else diff**2)


def gwet_weight_total(weights: Weighting, x: NDArray[np.float64]) -> float:
    """T_w = Σ_kl w_kl over the q scale values, in O(q log q)."""
    q = x.size
    if weights is None or q < 2:
        return float(q)
    span = x.max() - x.min()
    if weights == "quadratic":
        xc = x - x.mean()
        return float(q * q - 2 * q * (xc**2).sum() / span**2)
    ordered = np.sort(x)
    abs_sum = 2 * float((ordered * (2 * np.arange(q) - q + 1)).sum())  # Σ_kl |x_k - x_l|
    return q * q - abs_sum / span

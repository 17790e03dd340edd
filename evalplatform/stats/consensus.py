"""Consensus labels by simple rules (majority vote, numeric mean / median), and the ratings' input
preparation that the latent-class models (``latent_class.py``: Dawid–Skene, MACE) share.

Primary input, as in the rest of :mod:`evalplatform.stats`: a ``(raters x units)`` float array, NaN =
missing; the non-NaN values are the category values and are treated as nominal classes.
:func:`long_to_wide` / :func:`wide_to_long` convert from/to long-format ``(item, rater, label)`` arrays;
:func:`prepare_ratings` turns the matrix into ``ClassRatings`` (long format, labels as class indices),
the form every consensus method works on.  ``latent_class.py`` imports these; nothing here imports it.

Conventions shared by all results here and in ``latent_class.py`` (``to_dict()`` is JSON-ready):

- ``labels[u]`` is a category value; units with no rating at all get NaN in the array (listed in
  ``unrated_units`` and a note) and ``None`` in ``to_dict()``.  Nothing else is ever NaN.
- ties in a vote count / posterior go to the smallest category value, unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evalplatform.stats.jsonable import jsonable

__all__ = [
    "ClassRatings",
    "MajorityVoteResult",
    "NumericConsensusResult",
    "ToDict",
    "WideRatings",
    "long_to_wide",
    "majority_vote",
    "numeric_consensus",
    "prepare_ratings",
    "wide_to_long",
]


class ToDict:
    """Mixed into the result dataclasses here and in ``latent_class.py``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (arrays -> lists, NaN -> None)."""
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}  # type: ignore[attr-defined]  # mixed into dataclasses


# ---------------------------------------------------------------------------------------------- input
@dataclass(frozen=True)
class WideRatings:
    """A (raters x units) matrix built from long-format data, with the ids of its rows and columns."""

    ratings: np.ndarray
    unit_ids: np.ndarray
    rater_ids: np.ndarray


def long_to_wide(items: Any, raters: Any, labels: Any) -> WideRatings:
    """Convert long-format ``(item, rater, label)`` arrays to the (raters x units) NaN-padded matrix.

    Ids may be of any sortable type; rows/columns follow ``np.unique`` order.  Labels must be numeric
    (map text categories to numbers first).  A repeated (item, rater) pair raises ``ValueError``.
    """
    items, raters = np.asarray(items), np.asarray(raters)
    values = np.asarray(labels, dtype=float)
    if not (items.shape == raters.shape == values.shape) or items.ndim != 1:
        raise ValueError("items, raters and labels must be 1-D arrays of equal length")
    unit_ids, u = np.unique(items, return_inverse=True)
    rater_ids, r = np.unique(raters, return_inverse=True)
    key = r.astype(np.int64) * len(unit_ids) + u
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        bad = uniq[counts > 1][0]
        raise ValueError(
            f"rater {rater_ids[bad // len(unit_ids)]!r} rated item {unit_ids[bad % len(unit_ids)]!r} "
            "more than once; keep one rating per (item, rater)"
        )
    out = np.full((len(rater_ids), len(unit_ids)), np.nan)
    out[r, u] = values
    return WideRatings(out, unit_ids, rater_ids)


def wide_to_long(ratings: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raters x units) matrix -> long format ``(unit_index, rater_index, label)``, sorted by unit."""
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (raters x units) array, got shape {x.shape}")
    u, r = np.nonzero(~np.isnan(x.T))
    return u, r, x[r, u]


@dataclass(frozen=True)
class ClassRatings:
    """The ratings of a (raters x units) matrix in long format, each label as an index into ``classes``:
    what ``prepare_ratings`` gives every consensus method (majority vote, Dawid–Skene, MACE)."""

    n_units: int
    n_raters: int
    classes: np.ndarray  # (K,) category values
    unit: np.ndarray  # (N,) index into rated units
    rater: np.ndarray  # (N,)
    label: np.ndarray  # (N,) class index
    rated_units: np.ndarray  # (U,) original column index of each rated unit
    n_ratings: np.ndarray  # (n_units,)

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def pair(self) -> np.ndarray:
        return self.rater * self.k + self.label

    def vote_counts(self) -> np.ndarray:
        k, n_u = self.k, len(self.rated_units)
        flat = np.bincount(self.unit * k + self.label, minlength=n_u * k)
        return flat.reshape(n_u, k).astype(float)

    def expand(self, per_rated: np.ndarray) -> np.ndarray:
        """Scatter per-rated-unit values into an all-units array (NaN for unrated units)."""
        out = np.full((self.n_units, *per_rated.shape[1:]), np.nan)
        out[self.rated_units] = per_rated
        return out

    def base_notes(self) -> list[str]:
        notes = []
        unrated = self.n_units - len(self.rated_units)
        if unrated:
            notes.append(f"{unrated} unit(s) have no ratings: label None")
        once = int((self.n_ratings == 1).sum())
        if once:
            notes.append(f"{once} unit(s) rated once: their label rests on a single rating")
        return notes

    def unrated(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(self.n_ratings == 0))


def prepare_ratings(ratings: Any, classes: Any = None) -> ClassRatings:
    """Check a (raters x units) matrix and index its labels by ``classes`` (default: the values that occur)."""
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (raters x units) array, got shape {x.shape}")
    if np.isinf(x).any():
        raise ValueError("ratings contain infinite values")
    u_all, r, values = wide_to_long(x)
    observed = np.unique(values)
    cls = observed if classes is None else np.unique(np.asarray(classes, dtype=float))
    label = np.searchsorted(cls, values)
    outside = label >= len(cls)
    if outside.any() or (cls[label[~outside]] != values[~outside]).any():
        raise ValueError(f"ratings contain values outside classes {cls.tolist()}")
    n_ratings = np.bincount(u_all, minlength=x.shape[1])
    rated_units = np.flatnonzero(n_ratings)
    compact = np.searchsorted(rated_units, u_all)
    return ClassRatings(x.shape[1], x.shape[0], cls, compact, r, label, rated_units, n_ratings)


# ------------------------------------------------------------------------------------ simple rules
@dataclass(frozen=True)
class MajorityVoteResult(ToDict):
    """Plurality label per unit; ``vote_share`` = share of the unit's ratings that agree with it."""

    classes: np.ndarray
    labels: np.ndarray
    vote_share: np.ndarray
    tied: np.ndarray
    n_ratings: np.ndarray
    unrated_units: tuple[int, ...]
    tie_break: str
    notes: tuple[str, ...] = ()
    method: str = "majority_vote"


def majority_vote(ratings: Any, classes: Any = None) -> MajorityVoteResult:
    """Majority (plurality) vote: the category chosen by most of a unit's raters.

    Method: ``label_u = argmax_c #{raters giving u category c}``; ``vote_share_u`` = that count / number
    of ratings of u.  Ties (``tied[u]``) are broken deterministically: first toward the category used
    most often in the whole data set, then toward the smallest category value.
    Reference: the baseline aggregation of Dawid & Skene (1979) and Snow et al. (2008).
    """
    d = prepare_ratings(ratings, classes)
    k = max(d.k, 1)  # k = 0 only when there are no ratings at all
    counts = np.zeros((len(d.rated_units), k))
    counts[:, : d.k] = d.vote_counts()
    overall = np.bincount(d.label, minlength=k)
    # priority 0 = most frequent overall, then smallest value; subtracting priority / k (< 1) only
    # reorders categories with equal counts.
    priority = np.empty(k)
    priority[np.lexsort((np.arange(k), -overall))] = np.arange(k)
    best = np.argmax(counts - priority / k, axis=1)
    top = counts.max(axis=1, initial=0.0)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    return MajorityVoteResult(
        classes=d.classes,
        labels=d.expand(d.classes[best]),
        vote_share=d.expand(top / d.n_ratings[d.rated_units]),
        tied=np.isin(np.arange(d.n_units), d.rated_units[tied]),
        n_ratings=d.n_ratings,
        unrated_units=d.unrated(),
        tie_break="most frequent category in the whole data set, then smallest category value",
        notes=tuple(d.base_notes()),
    )


@dataclass(frozen=True)
class NumericConsensusResult(ToDict):
    """Mean or median of each unit's ratings on a numeric (e.g. Likert) scale."""

    rule: str
    values: np.ndarray
    n_ratings: np.ndarray
    unrated_units: tuple[int, ...]
    notes: tuple[str, ...] = ()
    method: str = "numeric_consensus"


def numeric_consensus(ratings: Any, rule: str = "mean") -> NumericConsensusResult:
    """Mean or median rating per unit, for numeric scales.

    Method: ``mean``: arithmetic mean of the unit's non-missing ratings; ``median``: the numpy median
    (with an even number of ratings, the average of the two middle ones, which may fall between two
    scale points).  Units without ratings: NaN in ``values``, None in ``to_dict()``.
    """
    if rule not in ("mean", "median"):
        raise ValueError("rule must be 'mean' or 'median'")
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (raters x units) array, got shape {x.shape}")
    n = (~np.isnan(x)).sum(axis=0)
    vals = np.full(x.shape[1], np.nan)
    ok = n > 0
    vals[ok] = (np.nanmean if rule == "mean" else np.nanmedian)(x[:, ok], axis=0)
    unrated = tuple(int(i) for i in np.flatnonzero(~ok))
    notes = (f"{len(unrated)} unit(s) have no ratings: value None",) if unrated else ()
    return NumericConsensusResult(rule, vals, n, unrated, notes)

"""A quality run's consensus labels: one ``Label`` per unit and dimension, as the store writes them,
and ``LabelTable``, the run's labels kept as numpy columns and made into ``Label`` tuples only when the
store needs rows (``quality.services._replace_labels``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple, cast

import numpy as np


class Label(NamedTuple):
    """One unit's consensus on one dimension, as stored in a ``ConsensusLabel`` row (plain values: a
    run at a team's size makes tens of thousands, and model instances would cost most of its time)."""

    task_id: int
    response_id: int | None
    dimension_id: int
    n_ratings: int
    agreement: float | None
    split: bool
    mean: float | None
    median: float | None
    majority: float | None
    majority_share: float | None
    dawid_skene: float | None
    dawid_skene_posterior: float | None
    mace: float | None
    mace_posterior: float | None


_INT_FIELDS = ("task_id", "response_id", "dimension_id", "n_ratings")  # response_id 0: about the task
_SHARED_FIELDS = ("agreement", "mean", "median", "majority", "majority_share", "dawid_skene", "mace")


class LabelTable(Sequence[Label]):
    """A run's consensus labels as columns (numpy arrays in ``Label``'s field order; NaN where a figure is
    None, 0 for no response), made into ``Label`` tuples only when first read.

    A report refreshed with unchanged ratings gives the labels already stored; the store compares
    ``digest()`` with the stored run's and, when they match, never reads the rows, so the 240,000
    tuples of issue 18's data are not built at all (0.3 s).
    """

    def __init__(self, parts: list[dict[str, np.ndarray]]):
        self.columns: dict[str, np.ndarray] = {}
        for field in Label._fields:
            kind = np.int64 if field in _INT_FIELDS else bool if field == "split" else np.float64
            column = np.concatenate([p[field] for p in parts]).astype(kind) if parts else np.zeros(0, kind)
            if kind is np.float64:  # one NaN for every None (NaN, ±inf), as the tuples hold None
                column = np.where(np.isfinite(column), column, np.nan)
            self.columns[field] = column
        self._rows: list[Label] | None = None

    @classmethod
    def of(cls, labels: Iterable[Any]) -> LabelTable:
        """A table of given labels: ``Label`` tuples, or objects with ``Label``'s fields."""
        rows = [label if isinstance(label, tuple) else tuple(getattr(label, f) for f in Label._fields)
                for label in labels]
        if not rows:
            return cls([])
        columns = dict(zip(Label._fields, zip(*rows, strict=True), strict=True))
        columns["response_id"] = tuple(r or 0 for r in columns["response_id"])
        return cls([{f: np.array(c, dtype=float if f not in _INT_FIELDS and f != "split" else None)
                     for f, c in columns.items()}])

    def __len__(self) -> int:
        return int(self.columns["task_id"].size)

    def __getitem__(self, index):  # type: ignore[override]
        return self.rows()[index]

    def __iter__(self) -> Iterator[Label]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def digest(self) -> str:
        """The labels' values and order, as a hex digest: equal digests, equal labels."""
        h = hashlib.blake2b(digest_size=32)
        h.update(len(self).to_bytes(8, "little"))
        for field in Label._fields:
            h.update(np.ascontiguousarray(self.columns[field]).tobytes())
        return h.hexdigest()

    def rows(self) -> list[Label]:
        """The labels as ``Label`` tuples (built once)."""
        if self._rows is None:
            c = self.columns
            response = c["response_id"]
            responses = [r or None for r in response.tolist()] if response.any() else [None] * len(self)
            columns = {
                "task_id": c["task_id"].tolist(), "response_id": responses, "dimension_id": c["dimension_id"].tolist(),
                "n_ratings": c["n_ratings"].tolist(), "split": c["split"].tolist(),
                **{f: _shared_list(c[f]) for f in _SHARED_FIELDS},
                **{f: _finite_list(c[f]) for f in ("dawid_skene_posterior", "mace_posterior")},
            }
            # one C-level tuple per row (``Label._make`` is a Python call per row)
            self._rows = list(cast("Iterator[Label]", map(_new_label, zip(
                *(columns[f] for f in Label._fields), strict=True))))
        return self._rows


def _finite_list(values: Any) -> list[float | None]:
    """``[finite(v) for v in values]`` for a whole array: plain floats, None for NaN and ±inf."""
    arr = np.asarray(values, dtype=float)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr.tolist()
    out = arr.astype(object)  # the same Python floats as tolist() gives
    out[bad] = None
    return out.tolist()


def _shared_list(values: Any) -> list[float | None]:
    """``_finite_list(values)`` for a column of few distinct values (labels, vote shares, agreement,
    means of a few scores), where equal values share one float: the labels are kept until they are
    stored, and on issue 18's data their 240,000 rows hold 1.7 million floats (24 bytes each), most
    of them repeats.  A column with a negative zero is left to ``_finite_list`` (``np.unique``
    takes -0.0 for 0.0, and the stored figure would lose its sign)."""
    arr = np.asarray(values, dtype=float)
    if not arr.size or (np.signbit(arr) & (arr == 0)).any():
        return _finite_list(arr)
    finite = np.isfinite(arr)
    distinct, inverse = np.unique(arr[finite], return_inverse=True)
    table = np.empty(distinct.size + 1, dtype=object)
    table[:-1] = distinct.tolist()  # the same Python floats as tolist() gives, each made once
    table[-1] = None
    codes = np.full(arr.size, distinct.size, dtype=np.intp)
    codes[finite] = inverse.reshape(-1)
    return cast("list[float | None]", table[codes].tolist())


_new_label = partial(tuple.__new__, Label)

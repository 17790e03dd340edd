"""Long-format ratings (one row per rating) from rows, CSV or JSONL, as factor-coded columns.

A rating row is (item_id, rater, dimension, value, model or None).  ``LongRatings`` holds each column
as integer codes into its distinct labels, which is all ``summary.summarize`` needs to pivot the rows
into one (raters x units) matrix per dimension.  Missing values (an empty CSV field, JSON null, None)
get code -1.

CSV files are read by the platform's one CSV reader (``csvfile``: Apache Arrow for every well-formed
file, the ``csv`` module only to name a bad line): a 500,000-row file takes a fraction of a second.
Every error names the line (and field).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.csvfile import CsvFile
from evalplatform.stats.jsonlines import json_lines
from evalplatform.stats.matrix import RatingDataError

COLUMNS = ("item_id", "rater", "dimension", "value", "model")
REQUIRED = ("item_id", "rater", "value")


class RatingRow(NamedTuple):
    """One rating in long format."""

    item_id: Any
    rater: Any
    dimension: Any
    value: Any
    model: Any = None


class Place(TypedDict, total=False):
    """Where a row is, as ``RowError``'s keyword arguments: a file's ``line`` or an iterable's ``row``."""

    line: int
    row: int


class RowError(RatingDataError):
    """Bad input at a known place: ``line`` in a file (or ``row`` of an iterable) and ``field``."""

    def __init__(self, message: str, *, line: int | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.message, self.line, self.row, self.field = message, line, row, field
        where = f"line {line}" if line is not None else (f"row {row}" if row is not None else "")
        if field is not None:
            where = f"{where}, field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Factor:
    """A column as codes into ``labels`` (``labels[codes[i]]``); -1 = missing."""

    codes: NDArray[np.int64]
    labels: Sequence[Any]


@dataclass(frozen=True)
class LongRatings:
    """Long-format ratings as factor columns; ``model`` is None when the data names no models.

    ``lines[i]`` is the source line of row i; when ``lines`` is None and ``first_line`` is set, row i
    is line ``first_line + i``; when both are None the rows came from an iterable (messages say "row").
    """

    item: Factor
    rater: Factor
    dimension: Factor
    value: Factor
    model: Factor | None = None
    lines: NDArray[np.int64] | None = None
    first_line: int | None = None

    def __len__(self) -> int:
        return int(self.item.codes.shape[0])

    def locate(self, row: int) -> Place:
        """Keyword arguments for ``RowError`` pointing at row ``row``."""
        if self.lines is not None:
            return {"line": int(self.lines[row])}
        if self.first_line is not None:
            return {"line": self.first_line + int(row)}
        return {"row": int(row) + 1}


def _missing(x: Any) -> bool:
    return x is None or x == "" or (isinstance(x, float) and math.isnan(x))


def factor_objects(values: Sequence[Any], *, missing_ok: bool = False, field: str = "",
                   locate: Any = None) -> Factor:
    """Factor of Python objects by first appearance; missing entries -> -1 (an error unless ``missing_ok``)."""
    fast = _factor_hashable(values, missing_ok=missing_ok)
    if fast is not None:
        return fast
    index: dict[Any, int] = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if _missing(v):
            if not missing_ok:
                raise RowError("is empty", field=field, **(locate(i) if locate else {"row": i + 1}))
            codes[i] = -1
            continue
        try:
            codes[i] = index.setdefault(v, len(index))
        except TypeError:
            raise RowError(f"cannot use {type(v).__name__} {v!r} here", field=field,
                           **(locate(i) if locate else {"row": i + 1})) from None
    return Factor(codes, list(index))


def _factor_hashable(values: Sequence[Any], *, missing_ok: bool) -> Factor | None:
    """``factor_objects`` without a Python loop per value, when nothing is wrong: every value hashable and
    (unless ``missing_ok``) none missing.  Missing values are found among the few distinct ones, not per
    row.  None when the general loop must run (it raises the error at the right row)."""
    index: dict[Any, int] = {}
    try:
        codes = np.fromiter(map(index.setdefault, values, itertools.count()), dtype=np.int64, count=len(values))
    except TypeError:
        return None
    # setdefault(v, i) stores the row number i for a new value: number the distinct values 0, 1, ...
    # in order of first appearance, leaving out the missing ones.
    firsts = np.fromiter(index.values(), dtype=np.int64, count=len(index))
    keep = np.fromiter((not _missing(v) for v in index), dtype=bool, count=len(index))
    if not keep.all() and not missing_ok:
        return None
    labels = [v for v, k in zip(index, keep.tolist(), strict=True) if k]
    lookup = np.full(int(firsts.max()) + 1 if firsts.size else 0, -1, dtype=np.int64)
    lookup[firsts[keep]] = np.arange(int(keep.sum()))
    return Factor(lookup[codes] if codes.size else codes, labels)


def from_rows(rows: Iterable[RatingRow | Sequence[Any] | Mapping[str, Any]]) -> LongRatings:
    """LongRatings from rating rows: RatingRow, (item_id, rater, dimension, value[, model]) or mappings."""
    if isinstance(rows, list) and rows and all(type(r) is tuple and len(r) == 5 for r in rows):
        # the reports' rows, (item_id, rater, dimension, value, model) tuples: columns in one step
        return _assemble(dict(zip(COLUMNS, map(list, zip(*rows, strict=True)), strict=True)), locate=None)
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            for c in REQUIRED:
                if c not in row:
                    raise RowError(f"missing key {c!r}", row=i + 1)
            item = (row["item_id"], row["rater"], row.get("dimension", "value"), row["value"], row.get("model"))
        else:
            item = tuple(row)
            if len(item) not in (4, 5):
                raise RowError("a rating row is (item_id, rater, dimension, value[, model])", row=i + 1)
        for c, v in zip(COLUMNS, (*item, None)[:5], strict=True):
            cols[c].append(v)
    return _assemble(cols, locate=None)


def factor_array(values: Sequence[Any] | NDArray[Any], *, missing_ok: bool = False, field: str = "") -> Factor:
    """Factor of a column given as an array or sequence; numeric arrays are factorised without a loop."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf" and arr.ndim == 1:
        missing = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(arr.size, dtype=bool)
        if missing.any() and not missing_ok:
            raise RowError("is empty", field=field, row=int(np.argmax(missing)) + 1)
        labels, codes = np.unique(arr[~missing], return_inverse=True)
        out = np.full(arr.size, -1, dtype=np.int64)
        out[~missing] = codes.reshape(-1)
        return Factor(out, labels.tolist())
    return factor_objects(list(values), missing_ok=missing_ok, field=field)


def from_columns(columns: Mapping[str, Sequence[Any] | NDArray[Any]]) -> LongRatings:
    """LongRatings from equal-length columns item_id, rater, value (+ optional dimension, model)."""
    for c in REQUIRED:
        if c not in columns:
            raise RowError(f"missing column {c!r}")
    n = len(columns["item_id"])
    if any(len(v) != n for v in columns.values()):
        raise RowError("the columns have different lengths")
    dimension = columns.get("dimension")
    model = columns.get("model")
    model_factor = None
    if model is not None:
        model_list = list(model)
        if any(not _missing(m) for m in model_list):
            model_factor = _model_factor(model_list)
    return LongRatings(
        item=factor_array(columns["item_id"], field="item_id"),
        rater=factor_array(columns["rater"], field="rater"),
        dimension=factor_array(dimension, field="dimension") if dimension is not None
        else Factor(np.zeros(n, dtype=np.int64), ["value"]),
        value=factor_array(columns["value"], missing_ok=True, field="value"),
        model=model_factor,
    )


def _assemble(cols: dict[str, list[Any]], *, locate: Any, first_line: int | None = None,
              lines: NDArray[np.int64] | None = None) -> LongRatings:
    models = cols["model"]
    has_model = any(not _missing(m) for m in models)
    return LongRatings(
        item=factor_objects(cols["item_id"], field="item_id", locate=locate),
        rater=factor_objects(cols["rater"], field="rater", locate=locate),
        dimension=factor_objects(cols["dimension"], field="dimension", locate=locate),
        value=factor_objects(cols["value"], missing_ok=True, field="value", locate=locate),
        model=_model_factor(models) if has_model else None,
        lines=lines,
        first_line=first_line,
    )


def _model_factor(models: Sequence[Any]) -> Factor:
    f = factor_objects(models, missing_ok=True)
    if (f.codes < 0).any():  # rows without a model form their own group, labelled None
        codes = np.where(f.codes < 0, len(f.labels), f.codes)
        return Factor(codes, [*f.labels, None])
    return f


# --------------------------------------------------------------------------------------------------
# CSV


def read_csv(path: str | Path, *, default_dimension: str | None = None) -> LongRatings:
    """Read a CSV with columns item_id, rater, value (+ optional dimension, model; extra columns ignored).

    Without a ``dimension`` column all rows belong to one dimension named ``default_dimension``
    (default: the file's stem).  An empty ``value`` field is a missing rating.  Empty lines are skipped.

    The platform's one CSV reader (``csvfile.CsvFile``) reads it: Apache Arrow parses every well-formed
    file, quoted fields included, straight into factor columns; the ``csv`` module only names the bad line
    of a file Arrow refuses.
    """
    path = Path(path)
    file = CsvFile(path.read_bytes(), block_size=None)  # the whole file at once: Arrow factorises it in one go
    if file.header_error is not None:
        raise RowError("the header is not valid UTF-8", line=file.header_line)
    if file.header is None:
        raise RowError("the file is empty", line=1)
    names = [h.strip().lower() for h in file.header]
    for c in REQUIRED:
        if c not in names:
            raise RowError(f"missing column {c!r} (the header has: {', '.join(names) or 'nothing'})",
                           line=file.header_line)
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise RowError(f"column {dup!r} appears twice in the header", line=file.header_line)
    wanted = [c for c in COLUMNS if c in names]
    blocks = list(file.blocks(names, columns=wanted, dictionary=True))
    if not blocks:
        raise RowError("the file has a header but no ratings", line=file.header_line + 1)
    (block,) = blocks  # block_size=None: one block
    if block.bad:
        bad = block.bad[0]
        if bad.kind == "fields":
            raise RowError(f"expected {len(names)} fields ({', '.join(names)}), found {bad.found}", line=bad.line)
        if bad.kind == "encoding":
            raise RowError("the file is not valid UTF-8 text", line=bad.line)
        raise RowError(f"the file could not be read as CSV ({bad.reason})", line=bad.line)
    table = block.table.unify_dictionaries()
    factors: dict[str, Factor] = {}
    for c in wanted:
        chunks = table.column(c).chunks
        codes = np.concatenate([_codes(chunk) for chunk in chunks]).astype(np.int64)
        factors[c] = Factor(codes, chunks[0].dictionary.to_pylist())
    lines = block.lines
    if int(lines[-1]) - int(lines[0]) == len(lines) - 1:  # no empty line or multi-line record in between
        return _from_factors(factors, default_dimension or path.stem, lines=None, first_line=int(lines[0]))
    return _from_factors(factors, default_dimension or path.stem, lines=lines)


def _codes(chunk: Any) -> NDArray[np.integer]:
    """A dictionary-encoded Arrow chunk's codes, read from its buffer: Arrow's own conversions
    (``to_numpy``, ``np.asarray``) import pandas just to check for it, a third of a second of the
    ``agreement`` command's start-up."""
    indices = chunk.indices
    if indices.null_count:  # the CSV reader gives empty cells as "", never null; kept general all the same
        return np.asarray(indices.to_numpy(zero_copy_only=False))
    values = np.frombuffer(indices.buffers()[1], dtype=np.dtype(f"int{indices.type.bit_width}"))
    return values[indices.offset:indices.offset + len(indices)]


def _from_factors(factors: dict[str, Factor], dim_name: str, *, lines: NDArray[np.int64] | None,
                  first_line: int = 2) -> LongRatings:
    """LongRatings from factorised CSV columns: empty keys refused, empty values missing, no model = None.
    Row i is on line ``lines[i]``, or ``first_line + i`` when ``lines`` is None."""

    def locate(row: int) -> Place:
        return {"line": int(lines[row])} if lines is not None else {"line": first_line + row}

    n = factors["item_id"].codes.shape[0]
    for c in ("item_id", "rater", "dimension"):
        f = factors.get(c)
        if f is not None and "" in f.labels:
            bad = int(np.argmax(f.codes == f.labels.index("")))
            raise RowError("is empty", field=c, **locate(bad))
    value = factors["value"]
    if "" in value.labels:
        empty = value.labels.index("")
        value = Factor(np.where(value.codes == empty, -1, value.codes), value.labels)
    model = factors.get("model")
    if model is not None:
        labels = [None if m == "" else m for m in model.labels]
        model = None if all(m is None for m in labels) else Factor(model.codes, labels)
    dimension = factors.get("dimension") or Factor(np.zeros(n, dtype=np.int64), [dim_name])
    return LongRatings(factors["item_id"], factors["rater"], dimension, value, model,
                       lines=lines, first_line=first_line if lines is None else None)


# --------------------------------------------------------------------------------------------------
# JSONL


def read_jsonl(path: str | Path, *, default_dimension: str | None = None) -> LongRatings:
    """Read JSON Lines: one object per line with keys item_id, rater, value (+ optional dimension, model)."""
    path = Path(path)
    dim_name = default_dimension or path.stem
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    with path.open("rb") as fh:
        for number, obj, problem, strict, _text in json_lines(fh):
            if obj is None:
                raise RowError(problem or "unreadable", line=number)
            if not strict:
                raise RowError("holds NaN, Infinity, a number beyond 64 bits or text that is not Unicode", line=number)
            for c in REQUIRED:
                if c not in obj:
                    raise RowError(f"missing key {c!r}", line=number)
            cols["item_id"].append(obj["item_id"])
            cols["rater"].append(obj["rater"])
            cols["dimension"].append(obj.get("dimension", dim_name))
            cols["value"].append(obj["value"])
            cols["model"].append(obj.get("model"))
            lines.append(number)
    if not lines:
        raise RowError("the file is empty", line=1)
    line_arr = np.asarray(lines, dtype=np.int64)
    return _assemble(cols, locate=lambda i: {"line": int(line_arr[i])}, lines=line_arr)


def read_ratings(path: str | Path, *, default_dimension: str | None = None) -> LongRatings:
    """CSV or JSONL by the file's suffix (.jsonl/.ndjson/.json = JSON Lines, anything else CSV)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path, default_dimension=default_dimension)
    return read_csv(path, default_dimension=default_dimension)

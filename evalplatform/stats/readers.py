"""Long-format ratings (one row per rating) from rows, CSV or JSONL, as factor-coded columns.

A rating row is (item_id, rater, dimension, value, model or None).  ``LongRatings`` holds each column
as integer codes into its distinct labels, which is all ``summary.summarize`` needs to pivot the rows
into one (raters x units) matrix per dimension.  Missing values (an empty CSV field, JSON null, None)
get code -1.

CSV files without quote characters are parsed with numpy over the raw bytes (separator positions,
fixed-width field gathers, hashed factorisation): a 500,000-row file takes a fraction of a second.
Files with quotes go through the ``csv`` module.  Every error names the line (and field).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.matrix import RatingDataError, factorize

COLUMNS = ("item_id", "rater", "dimension", "value", "model")
REQUIRED = ("item_id", "rater", "value")
_BOM = b"\xef\xbb\xbf"
#: a column is factorised by repeated equality scans when a sample shows at most this many labels
_FEW_LABELS = 24
_MAX_GATHER_BYTES = 400_000_000


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


def from_rows(rows: Iterable[RatingRow | Sequence[Any] | Mapping[str, Any]]) -> LongRatings:
    """LongRatings from rating rows: RatingRow, (item_id, rater, dimension, value[, model]) or mappings."""
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


def _header(raw: bytes) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RowError("the header is not valid UTF-8", line=1) from None
    names = [h.strip().lower() for h in next(csv.reader([text]), [])]
    for c in REQUIRED:
        if c not in names:
            raise RowError(f"missing column {c!r} (the header has: {', '.join(names) or 'nothing'})", line=1)
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise RowError(f"column {dup!r} appears twice in the header", line=1)
    return names


def _drop_blank_lines(raw: bytes) -> tuple[bytes, NDArray[np.int64]]:
    """Remove empty lines; return the text and the original (1-based) number of each kept line."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], nl[:-1] + 1))
    blank = nl == starts
    keep = np.ones(buf.size, dtype=bool)
    keep[nl[blank]] = False
    return buf[keep].tobytes(), np.flatnonzero(~blank).astype(np.int64) + 1


def _labels_of(cells: NDArray[np.uint8], rows: NDArray[np.int64], locate: Any, field: str) -> list[str]:
    fixed = np.ascontiguousarray(cells[rows]).view(f"S{cells.shape[1]}").ravel()
    try:
        return fixed.astype("U").tolist()
    except UnicodeError:
        out = []
        for r, b in zip(rows, fixed.tolist(), strict=True):
            try:
                out.append(b.decode("utf-8"))
            except UnicodeDecodeError:
                raise RowError("is not valid UTF-8 text", field=field, **locate(int(r))) from None
        return out


_BYTE_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _factor_bytes(buf: NDArray[np.uint8], starts: NDArray[np.int64], ends: NDArray[np.int64],
                  locate: Any, field: str) -> Factor:
    """Factorise byte fields [starts, ends) of ``buf`` without a Python loop over rows.

    Each field is copied into a zero-padded fixed-width row of 64-bit words; one word is the exact
    key, longer fields are hashed (and the grouping checked byte for byte, falling back to an exact
    sort on a collision).  Columns with few distinct labels are coded by a search in a sample's keys.
    """
    n = starts.size
    lengths = ends - starts
    width = int(lengths.max()) if n else 0
    if width == 0:
        return Factor(np.zeros(n, dtype=np.int64), [""])
    w8 = -(-width // 8) * 8
    if n * w8 > _MAX_GATHER_BYTES:  # a few enormous fields: decode one by one
        data = buf.tobytes()
        return factor_objects([data[s:e].decode("utf-8", "replace") for s, e in zip(starts, ends, strict=True)],
                              missing_ok=True)
    cells = np.empty((n, w8), dtype=np.uint8)
    inside = int(np.searchsorted(starts, buf.size - w8, side="right"))  # rows are in file order
    if inside:
        cells[:inside] = np.lib.stride_tricks.sliding_window_view(buf, w8)[starts[:inside]]
    if inside < n:  # the last fields: windows over a zero-padded copy of the tail
        tail_at = int(starts[inside])
        tail = np.concatenate([buf[tail_at:], np.zeros(w8, dtype=np.uint8)])
        cells[inside:] = np.lib.stride_tricks.sliding_window_view(tail, w8)[starts[inside:] - tail_at]
    words = cells.view(np.uint64)
    n_words = words.shape[1]
    for j in range(n_words):  # zero the bytes past the end of each field
        words[:, j] &= _BYTE_MASKS[np.clip(lengths - 8 * j, 0, 8)]
    key = words[:, 0].copy()
    for j in range(1, n_words):  # fold longer fields into one 64-bit hash
        key = (key * np.uint64(0x9E3779B97F4A7C15)) ^ (words[:, j] + np.uint64(j))
    codes: NDArray[np.int64] | None = None
    sample = np.unique(key[:: max(1, n // 2000)])
    if sample.size == 1 and (key == sample[0]).all():  # a constant column
        codes = np.zeros(n, dtype=np.int64)
        first = np.zeros(1, dtype=np.int64)
    elif sample.size <= _FEW_LABELS:
        guess = np.minimum(np.searchsorted(sample, key), sample.size - 1)
        if (sample[guess] == key).all():
            codes = guess.astype(np.int64)
            first = np.empty(sample.size, dtype=np.int64)
            first[codes] = np.arange(n)  # any row showing the label
    if codes is None:
        first, codes, _ = factorize(key.view(np.int64))
    if n_words > 1 and not (words == words[first][codes]).all():  # hash collision: exact fallback
        _, first, codes = np.unique(cells.view(f"S{w8}").ravel(), return_index=True, return_inverse=True)
        codes = codes.reshape(-1)
    return Factor(codes, _labels_of(cells, first, locate, field))


def _split_fast(raw: bytes, k: int, locate: Any, names: Sequence[str], offset: int
                ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """(bytes from ``offset``, field starts, field ends) as (rows x k) arrays; every row must have k fields."""
    buf = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    seps = np.flatnonzero((buf == 44) | (buf == 10))
    is_nl = buf[seps] == 10
    n_rows = int(is_nl.sum())
    if seps.size != n_rows * k or not is_nl[k - 1 :: k].all():
        per_row = np.diff(np.concatenate(([-1], np.flatnonzero(is_nl))))
        bad = int(np.argmax(per_row != k))
        raise RowError(f"expected {k} fields ({', '.join(names)}), found {int(per_row[bad])}", **locate(bad))
    ends = seps.reshape(n_rows, k).astype(np.int64)
    starts = np.empty_like(ends)
    starts[:, 1:] = ends[:, :-1] + 1
    starts[0, 0] = 0
    starts[1:, 0] = ends[:-1, -1] + 1
    return buf, starts, ends


def _columns_slow(body: str, names: Sequence[str], lines: NDArray[np.int64] | None
                  ) -> tuple[dict[str, list[Any]], NDArray[np.int64]]:
    """Columns via the ``csv`` module (quoted fields), with the source line where each row starts."""
    k = len(names)
    cols: list[list[str]] = [[] for _ in names]
    starts: list[int] = []
    reader = csv.reader(io.StringIO(body))
    previous_end = 0
    for row in reader:
        start = previous_end + 1  # 1-based line of the body where this record starts
        previous_end = reader.line_num
        line = int(lines[start - 1]) if lines is not None else start + 1
        if len(row) != k:
            raise RowError(f"expected {k} fields ({', '.join(names)}), found {len(row)}", line=line)
        for j, v in enumerate(row):
            cols[j].append(v)
        starts.append(line)
    return dict(zip(names, cols, strict=True)), np.asarray(starts, dtype=np.int64)


def read_csv(path: str | Path, *, default_dimension: str | None = None) -> LongRatings:
    """Read a CSV with columns item_id, rater, value (+ optional dimension, model; extra columns ignored).

    Without a ``dimension`` column all rows belong to one dimension named ``default_dimension``
    (default: the file's stem).  An empty ``value`` field is a missing rating.
    """
    path = Path(path)
    raw = path.read_bytes()
    raw = raw.removeprefix(_BOM)
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not raw or raw.isspace():
        raise RowError("the file is empty", line=1)
    if not raw.endswith(b"\n"):
        raw += b"\n"
    dim_name = default_dimension or path.stem
    if not raw.startswith(b"\n"):
        # The fast path: a plain file (no quotes) that Arrow reads whole; it gives up on a blank line,
        # so row i is line i + 2 whenever it succeeds.
        header_end = raw.index(b"\n")
        names = _header(raw[:header_end])
        if header_end + 1 < len(raw) and raw.find(b'"', header_end) < 0:
            factors = _factors_arrow(raw, names)
            if factors is not None:
                return _from_factors(factors, dim_name, lines=None)
    line_of: NDArray[np.int64] | None = None
    if raw.startswith(b"\n") or b"\n\n" in raw:
        raw, line_of = _drop_blank_lines(raw)
    header_end = raw.index(b"\n")
    names = _header(raw[:header_end])
    lines = None if line_of is None else line_of[1:]

    def locate(row: int) -> Place:
        return {"line": int(lines[row])} if lines is not None else {"line": row + 2}

    if header_end + 1 >= len(raw):
        raise RowError("the file has a header but no ratings", line=2)
    if raw.find(b'"', header_end) >= 0:
        body = raw[header_end + 1 :]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RowError("the file is not valid UTF-8 text", line=body[: exc.start].count(b"\n") + 2) from None
        cols, row_lines = _columns_slow(text, names, lines)
        n = len(cols["item_id"])
        cols.setdefault("dimension", [dim_name] * n)
        cols.setdefault("model", [None] * n)
        return _assemble({c: cols[c] for c in COLUMNS}, locate=lambda i: {"line": int(row_lines[i])},
                         lines=row_lines)
    buf, starts, ends = _split_fast(raw, len(names), locate, names, header_end + 1)
    factors = {
        c: _factor_bytes(buf, starts[:, names.index(c)], ends[:, names.index(c)], locate, c)
        for c in COLUMNS if c in names
    }
    return _from_factors(factors, dim_name, lines=lines)


def _from_factors(factors: dict[str, Factor], dim_name: str, *, lines: NDArray[np.int64] | None) -> LongRatings:
    """LongRatings from factorised CSV columns: empty keys refused, empty values missing, no model = None."""

    def locate(row: int) -> Place:
        return {"line": int(lines[row])} if lines is not None else {"line": row + 2}

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
                       lines=lines, first_line=2 if lines is None else None)


def _factors_arrow(raw: bytes, names: list[str]) -> dict[str, Factor] | None:
    """Factorise the columns with Apache Arrow's CSV reader (C++, multithreaded), or None.

    Only for plain files: no quotes (checked by the caller) and no blank lines, so row i is line i + 2
    and every later message can name its line.  Arrow is told to keep empty lines, where it gives a
    row of empty fields: an empty ``item_id`` sends the file to the numpy parser, which drops blank
    lines and names the line of a truly empty field.  Anything Arrow refuses (ragged rows, invalid
    UTF-8) returns None too.  Arrow builds each column's dictionary as it parses.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a declared dependency
        return None
    wanted = [c for c in COLUMNS if c in names]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(quote_char=False, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types=dict.fromkeys(wanted, pa.dictionary(pa.int32(), pa.string())),
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        ).unify_dictionaries()
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if table.num_rows == 0:
        return None
    factors: dict[str, Factor] = {}
    for c in wanted:
        chunks = table.column(c).chunks
        codes = np.concatenate([np.asarray(chunk.indices) for chunk in chunks]).astype(np.int64)
        factors[c] = Factor(codes, chunks[0].dictionary.to_pylist())
    if "" in factors["item_id"].labels:
        return None  # a blank line (a row of empty fields here) or an empty id: the numpy parser sorts them out
    return factors


# --------------------------------------------------------------------------------------------------
# JSONL


def read_jsonl(path: str | Path, *, default_dimension: str | None = None) -> LongRatings:
    """Read JSON Lines: one object per line with keys item_id, rater, value (+ optional dimension, model)."""
    path = Path(path)
    try:
        import orjson

        loads: Any = orjson.loads
        errors: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        loads, errors = json.loads, (json.JSONDecodeError,)
    dim_name = default_dimension or path.stem
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except errors as exc:
                raise RowError(f"invalid JSON ({str(exc).splitlines()[0]})", line=number) from None
            except UnicodeDecodeError:
                raise RowError("is not valid UTF-8 text", line=number) from None
            if not isinstance(obj, dict):
                raise RowError(f"expected a JSON object, found {type(obj).__name__}", line=number)
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

"""Reading import files record by record: JSONL, CSV or a JSON list, with line numbers.

Used by every import (items, ratings), so each reports bad input the same way: which line, which
field, why.  Files are read as a stream; nothing here holds a whole file in memory except a JSON list
body, which the API caps in size, and a CSV file with quote characters (``stats.csvfile`` reads the
rest of a file whole once a quote shows: only a full parse knows where its records end).  CSV is read by
the platform's one CSV reader, ``evalplatform.stats.csvfile``, which the statistics engine uses too.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from evalplatform.input_rules import MAX_NESTING, column_range, unstorable, whole_number
from evalplatform.stats.jsonlines import json_lines

if TYPE_CHECKING:
    from evalplatform.stats.csvfile import BadLine

__all__ = ["MAX_NESTING", "column_range", "unstorable", "whole_number"]  # re-exported for the importers

FORMATS = ("jsonl", "csv", "json")
#: Records of a CSV block turned into Python values at a time.
ROWS_AT_ONCE = 10_000
MAX_LISTED_ERRORS = 200


@dataclass(frozen=True)
class LineError:
    """One problem in an import file.  ``line`` is 1-based (the record's first line in a CSV)."""

    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class ImportRejected(Exception):
    """The import was refused and nothing was written.  ``errors`` lists what was wrong."""

    def __init__(self, errors: list[LineError], *, total: int | None = None):
        self.errors = errors[:MAX_LISTED_ERRORS]
        self.total = total if total is not None else len(errors)
        more = f" (and {self.total - len(self.errors)} more)" if self.total > len(self.errors) else ""
        super().__init__(f"import refused, nothing written: {self.total} error(s){more}")

    def lines(self) -> list[str]:
        out = [str(e) for e in self.errors]
        if self.total > len(self.errors):
            out.append(f"... and {self.total - len(self.errors)} more errors")
        return out


class ErrorList:
    """Collects errors, keeping the first few hundred and counting the rest."""

    def __init__(self) -> None:
        self.items: list[LineError] = []
        self.total = 0

    def add(self, line: int | None, field: str | None, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_LISTED_ERRORS:
            self.items.append(LineError(line, field, message))

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRejected(self.items, total=self.total)


def guess_format(name: str = "", head: bytes | str = b"") -> str:
    """The format from a file name, else from the first non-blank character of the content."""
    lowered = name.lower()
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"), (".json", "json")):
        if lowered.endswith(ext):
            return fmt
    text = head.decode("utf-8", "ignore") if isinstance(head, bytes) else head
    first = text.lstrip("\ufeff \t\r\n")[:1]
    return {"[": "json", "{": "jsonl"}.get(first, "csv")


def _text_stream(stream: IO) -> IO[str]:
    if isinstance(stream, io.TextIOBase):
        return stream
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def read_records(stream: IO, fmt: str, errors: ErrorList) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, record)`` for each well-formed record; malformed ones go to ``errors``.

    A record is well-formed when it can be stored as it is: no NUL character, no lone surrogate
    (``\\ud800``: not Unicode text), no NaN or infinite number, nesting at most ``MAX_NESTING`` deep.
    """
    if fmt not in FORMATS:
        errors.add(None, None, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return
    if fmt == "csv":
        records = _csv(stream, errors)  # bytes: Arrow decodes (and checks) UTF-8 itself
    else:
        records = (_jsonl if fmt == "jsonl" else _json_list)(_text_stream(stream), errors)
    try:
        for line, record, clean in records:
            if not clean:
                problem = unstorable(record)
                if problem is not None:
                    errors.add(line, problem[0], problem[1])
                    continue
            yield line, record
    except UnicodeDecodeError as exc:
        errors.add(None, None, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")


# Each reader yields ``(line, record, clean)``: ``clean`` when the raw text already showed that the
# record holds nothing ``unstorable`` finds (else ``read_records`` looks through the record).
Read = Iterator[tuple[int, dict[str, Any], bool]]


def _jsonl(text: IO[str], errors: ErrorList) -> Read:
    seen_any = False
    for line_no, record, problem, strict, line in json_lines(text, nesting_limit=MAX_NESTING):
        seen_any = True
        if record is None:
            errors.add(line_no, None, problem or "unreadable")
            continue
        # No NUL (escaped or not), and too few brackets to nest too deep: nothing to look through.
        raw = line if isinstance(line, str) else line.decode("utf-8", "replace")
        clean = strict and "\\u0000" not in raw and "\x00" not in raw and (
            raw.count("{") + raw.count("[") <= MAX_NESTING)
        yield line_no, record, clean
    if not seen_any:
        errors.add(None, None, "the file is empty")


def _json_list(text: IO[str], errors: ErrorList) -> Read:
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        errors.add(exc.lineno, None, f"invalid JSON ({exc.msg} at column {exc.colno})")
        return
    except RecursionError:
        errors.add(None, None, f"nested more than {MAX_NESTING} levels deep")
        return
    except ValueError as exc:  # an integer of more digits than Python converts
        errors.add(None, None, f"invalid JSON ({str(exc)[:120]})")
        return
    if not isinstance(data, list):
        errors.add(1, None, "a JSON body must be a list of objects")
        return
    if not data:
        errors.add(None, None, "the list is empty")
    for index, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            errors.add(index, None, "each element must be a JSON object")
            continue
        yield index, record, False


def _csv(stream: IO, errors: ErrorList) -> Read:
    """Records of a CSV file by the one CSV reader (``stats.csvfile``): Arrow parses every well-formed
    block; the ``csv`` module only names the lines Arrow refuses.  A record of blank fields is skipped."""
    # Imported with the first CSV file: numpy and Arrow are most of a command's start-up otherwise.
    from evalplatform.stats.csvfile import CsvFile

    file = CsvFile(stream)
    if file.header_error is not None:
        errors.add(file.header_line, None, f"the file is not UTF-8 text ({file.header_error})")
        return
    if file.header is None:
        errors.add(None, None, "the file is empty")
        return
    header = [h.strip() for h in file.header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        errors.add(file.header_line, None, f"duplicate column(s) in the header: {', '.join(dupes)}")
        return
    for block in file.blocks(header, skip_blank_records=True):
        bad = iter(block.bad)  # named in line order among the records Arrow read
        pending = next(bad, None)
        table = block.table
        # A slice of the block at a time as Python values: a whole 8 MB block as lists of str is ~100 MB.
        for start in range(0, 0 if table is None else table.num_rows, ROWS_AT_ONCE):
            part = table.slice(start, ROWS_AT_ONCE)
            columns = [column.to_pylist() for column in part.columns]
            lines = block.lines[start:start + ROWS_AT_ONCE].tolist()
            for line, row in zip(lines, zip(*columns, strict=True), strict=True):
                while pending is not None and pending.line < line:
                    _bad_line(errors, pending, len(header))
                    pending = next(bad, None)
                if not "".join(row).strip():  # every cell blank (one join, not a generator per row)
                    continue
                yield line, dict(zip(header, row, strict=True)), not block.has_nul or "\x00" not in "\x01".join(row)
        while pending is not None:
            _bad_line(errors, pending, len(header))
            pending = next(bad, None)


def _bad_line(errors: ErrorList, bad: BadLine, width: int) -> None:
    if bad.kind == "fields":
        errors.add(bad.line, None, f"expected {width} columns as in the header, found {bad.found}")
    elif bad.kind == "encoding":
        errors.add(bad.line, None, f"the file is not UTF-8 text ({bad.reason})")
    else:
        errors.add(bad.line, None, f"unreadable CSV ({bad.reason})")


def sniff(stream: IO[bytes], name: str = "", fmt: str | None = None) -> tuple[IO[bytes], str]:
    """Pick the format without consuming the stream (peeks at the first bytes)."""
    if fmt:
        return stream, fmt
    if (name and guess_format(name) != "csv") or name.lower().endswith(".csv"):
        return stream, guess_format(name)
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(_RawAdapter(stream))
    head = buffered.peek(64)[:64]
    return buffered, guess_format("", codecs.decode(head, "utf-8", "ignore"))


class _RawAdapter(io.RawIOBase):
    """Lets ``io.BufferedReader`` wrap any object with ``read`` (Django's uploaded files, BytesIO)."""

    def __init__(self, inner: IO[bytes]):
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

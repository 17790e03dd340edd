"""Reading import files record by record: JSONL, CSV or a JSON list, with line numbers.

Used by every import (items, ratings), so each reports bad input the same way: which line, which
field, why.  Files are read as a stream; nothing here holds a whole file in memory except a JSON list
body, which the API caps in size.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

FORMATS = ("jsonl", "csv", "json")
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
    """Yield ``(line, record)`` for each well-formed record; malformed ones go to ``errors``."""
    if fmt not in FORMATS:
        errors.add(None, None, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return
    text = _text_stream(stream)
    reader = {"jsonl": _jsonl, "csv": _csv}.get(fmt, _json_list)
    try:
        for line, record in reader(text, errors):
            if _has_nul(record):
                errors.add(line, None, "contains a NUL character (\\u0000), which cannot be stored")
                continue
            yield line, record
    except UnicodeDecodeError as exc:
        errors.add(None, None, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _jsonl(text: IO[str], errors: ErrorList) -> Iterator[tuple[int, dict[str, Any]]]:
    seen_any = False
    for line_no, line in enumerate(text, start=1):
        if not line.strip():
            continue
        seen_any = True
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.add(line_no, None, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            errors.add(line_no, None, "each line must be a JSON object")
            continue
        yield line_no, record
    if not seen_any:
        errors.add(None, None, "the file is empty")


def _json_list(text: IO[str], errors: ErrorList) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        errors.add(exc.lineno, None, f"invalid JSON ({exc.msg} at column {exc.colno})")
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
        yield index, record


def _csv(text: IO[str], errors: ErrorList) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        errors.add(None, None, "the file is empty")
        return
    except csv.Error as exc:
        errors.add(1, None, f"unreadable CSV header ({exc})")
        return
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        errors.add(1, None, f"duplicate column(s) in the header: {', '.join(dupes)}")
        return
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(start, None, f"unreadable CSV ({exc})")
            break
        line_no, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.add(line_no, None, f"expected {len(header)} columns as in the header, found {len(row)}")
            continue
        yield line_no, dict(zip(header, row, strict=True))


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

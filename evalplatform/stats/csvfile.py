"""The one CSV reader: every CSV the platform reads (the engine's ratings files, item and rating imports).

Apache Arrow parses every well-formed block (C++, multithreaded), quoted fields and line breaks inside
them included.  Python's ``csv`` module only *names lines*: the bad lines of a block Arrow refuses
(wrong field count, bytes that are not UTF-8), and where each record starts in the rare block whose
quoted values hold line breaks.  Callers turn the problems into their own messages.

A file is read in blocks of about ``block_size`` bytes, each cut just after a line break, so a large
file without quote characters costs no more memory than a small one.  Once a quote character is seen,
the rest of the file is read as one block: only a full parse knows whether a line break lies inside a
quoted value, and a block cut inside one would be read wrong without any error.

Line numbers are 1-based and count every line break (``\\n``, ``\\r\\n`` or a lone ``\\r``), empty
lines included; empty lines hold no record and are skipped.  Pure Python, numpy and pyarrow: no Django.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK_SIZE", "BadLine", "Block", "CsvFile"]

BLOCK_SIZE = 8 << 20
_BOM = b"\xef\xbb\xbf"
_NL, _CR, _QUOTE = 10, 13, 34


@dataclass(frozen=True)
class BadLine:
    """A line Arrow could not read, named by the ``csv`` module.

    ``kind`` is ``"fields"`` (the record has ``found`` fields, not the header's number), ``"encoding"``
    (not UTF-8 text: ``reason``) or ``"unreadable"`` (``reason`` says why).
    """

    line: int
    kind: Literal["fields", "encoding", "unreadable"]
    found: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Block:
    """Consecutive records: ``table`` (an Arrow table, one string column per name asked for) with the line
    each record starts on, and the ``bad`` lines the block also held (left out of ``table``).  ``table``
    is None when nothing in the block could be read (bytes that are not UTF-8)."""

    table: Any  # pyarrow.Table | None (pyarrow is imported only when a file is read)
    lines: NDArray[np.int64]
    has_nul: bool = False
    bad: list[BadLine] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.lines.shape[0])


class CsvFile:
    """A CSV file (bytes, or a binary or text stream) read once: its ``header``, then its ``blocks``.

    ``header`` holds the header's cells as the ``csv`` module reads them and ``header_line`` its line;
    ``header`` is None for a file with nothing but empty lines, or when the header is not UTF-8 text
    (``header_error`` then says why).  A UTF-8 byte order mark is ignored.
    """

    def __init__(self, source: bytes | IO[Any], *, block_size: int | Literal["default"] | None = "default") -> None:
        """``block_size``: bytes per block (default ``BLOCK_SIZE``); None reads the whole file as one block."""
        if block_size == "default":
            block_size = BLOCK_SIZE
        self._stream = None if isinstance(source, bytes | bytearray | memoryview) else source
        self._block_size = block_size
        self._eof = self._stream is None
        buf = bytes(source) if self._stream is None else b""  # type: ignore[arg-type]
        if self._stream is not None:
            buf = self._read(-1 if block_size is None else block_size)
            while not self._eof and len(buf) < len(_BOM):
                buf += self._read(len(_BOM))
        buf = buf.removeprefix(_BOM)
        # the header: the first line that is not blank
        line, start = 1, 0
        self.header: list[str] | None = None
        self.header_error: str | None = None
        self.header_line = 1
        while True:
            end = _line_end(buf, start)
            while end < 0 and not self._eof:
                buf += self._read(self._block_size or -1)
                end = _line_end(buf, start)
            if end < 0:
                end = len(buf)
            text = buf[start:end].rstrip(b"\r\n")
            after = _skip_break(buf, end)
            if text.strip():  # a blank line above the header is no header
                self.header_line = line
                self._rest, self._next_line = buf[after:], line + 1
                try:
                    self.header = next(csv.reader([text.decode("utf-8")]), [])
                except UnicodeDecodeError as exc:
                    self.header_error = str(exc.reason)
                return
            if after >= len(buf) and self._eof:
                self._rest, self._next_line = b"", line + 1
                return
            line, start = line + 1, after

    def _read(self, n: int) -> bytes:
        assert self._stream is not None
        chunk = self._stream.read(n)
        if not chunk or n < 0:
            self._eof = True
        return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)

    def _raw_blocks(self) -> Iterator[tuple[int, bytes]]:
        """(first line, bytes) of each block, cut after a line break; once a quote shows, the rest whole."""
        buf, line = self._rest, self._next_line
        self._rest = b""
        while True:
            if not self._eof:
                while not self._eof and self._block_size is not None and len(buf) < self._block_size:
                    buf += self._read(self._block_size)
                if not self._eof and (self._block_size is None or b'"' in buf):
                    buf += self._read(-1)
            if self._eof:
                if buf:
                    yield line, buf
                return
            cut = buf.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block: read on
                buf += self._read(self._block_size or -1)
                continue
            block, buf = buf[:cut], buf[cut:]
            yield line, block
            line += _count_breaks(block)

    def blocks(self, names: Sequence[str], *, columns: Sequence[str] | None = None, dictionary: bool = False,
               skip_blank_records: bool = False) -> Iterator[Block]:
        """The records after the header, block by block, as Arrow string columns named ``names``.

        ``names`` (as many as the header has cells, all different) name the columns; ``columns`` picks
        those to keep (default all).  With ``dictionary`` each column is dictionary-encoded
        (``dictionary<int32, string>``: codes and labels, as a factor).  Empty fields are empty strings.
        With ``skip_blank_records``, a record whose every field is blank (spaces only, or a line of
        spaces) is dropped rather than reported when its field count is wrong.
        """
        import pyarrow as pa  # lazily: importing the engine does not load Arrow

        names = list(names)
        keep = list(columns) if columns is not None else names
        kind = pa.dictionary(pa.int32(), pa.string()) if dictionary else pa.string()
        for first_line, raw in self._raw_blocks():
            starts, empty = _lines(raw)
            nonempty = np.flatnonzero(~empty)
            if not nonempty.size:
                continue
            quoted = raw.find(b'"') >= 0
            table = _arrow(raw, names, keep, kind, quoted=quoted)
            has_nul = b"\x00" in raw
            if table is not None and table.num_rows == nonempty.size:
                yield Block(table, first_line + nonempty.astype(np.int64), has_nul)
                continue
            records, bad = _records(raw, first_line, len(names), skip_blank_records)
            if records.unreadable:  # not text the csv module reads: nothing more to name
                yield Block(None, np.empty(0, dtype=np.int64), has_nul, bad)
                continue
            if records.drop:  # Arrow reads the rest: the records named bad (or blank) left out
                table = _arrow(_drop_lines(raw, starts, records.drop, first_line), names, keep, kind, quoted=quoted)
            lines = np.asarray(records.lines, dtype=np.int64)
            if not lines.size:
                if bad:
                    yield Block(None, lines, has_nul, bad)
                continue
            if table is None or table.num_rows != lines.size:
                bad.append(BadLine(first_line, "unreadable", reason="the CSV parsers disagree on this block"))
                yield Block(None, np.empty(0, dtype=np.int64), has_nul, bad)
                continue
            yield Block(table, lines, has_nul, bad)


def _line_end(buf: bytes, start: int) -> int:
    """Where the line starting at ``start`` ends (its line break), or -1 when ``buf`` holds no break."""
    nl, cr = buf.find(b"\n", start), buf.find(b"\r", start)
    if cr >= 0 and (nl < 0 or cr < nl):
        return cr if cr + 1 < len(buf) or nl >= 0 else -1  # a final \r may be the start of \r\n
    return nl


def _skip_break(buf: bytes, end: int) -> int:
    if buf[end:end + 2] == b"\r\n":
        return end + 2
    return end + 1 if end < len(buf) else end


def _breaks(buf: NDArray[np.uint8]) -> NDArray[np.intp]:
    """Positions of the line breaks: each ``\\n``, and each ``\\r`` not followed by ``\\n``."""
    nl = buf == _NL
    cr = buf == _CR
    if cr.any():
        lone = cr.copy()
        lone[:-1] &= ~nl[1:]
        nl |= lone
    return np.flatnonzero(nl)


def _count_breaks(raw: bytes) -> int:
    n = raw.count(b"\n")
    return n + raw.count(b"\r") - raw.count(b"\r\n") if b"\r" in raw else n


def _lines(raw: bytes) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Start and emptiness of each line (a line holding nothing but its line break)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    brk = _breaks(buf)
    if not brk.size or brk[-1] != len(raw) - 1:
        brk = np.append(brk, len(raw))  # a last line without a line break
    starts = np.concatenate(([0], brk[:-1] + 1))
    ends = brk.copy()
    crlf = (ends > starts) & (buf[np.minimum(ends, len(raw) - 1)] == _NL)
    crlf &= buf[np.maximum(ends - 1, 0)] == _CR
    ends[crlf] -= 1
    return starts, ends <= starts


def _arrow(raw: bytes, names: list[str], keep: list[str], kind: Any, *, quoted: bool) -> Any:
    """Arrow's table of ``raw`` (records only, no header), or None when Arrow refuses it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=names, block_size=max(1 << 22, len(raw) + 1)),
            parse_options=pacsv.ParseOptions(quote_char='"' if quoted else False, newlines_in_values=quoted,
                                             ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(include_columns=keep, column_types=dict.fromkeys(keep, kind),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None


@dataclass
class _Records:
    lines: list[int] = field(default_factory=list)  # the first line of each record kept
    drop: list[tuple[int, int]] = field(default_factory=list)  # (first, last) line of each record left out
    unreadable: bool = False


def _records(raw: bytes, first_line: int, width: int, skip_blank: bool) -> tuple[_Records, list[BadLine]]:
    """Where each record starts, by the ``csv`` module, and the records that are not ``width`` fields."""
    out, bad = _Records(), []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + _count_breaks(raw[: exc.start])
        out.unreadable = True
        return out, [BadLine(line, "encoding", reason=str(exc.reason))]
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.unreadable = True
            bad.append(BadLine(first_line + previous_end, "unreadable", reason=str(exc)))
            break
        start, previous_end = first_line + previous_end, reader.line_num
        if not row:
            continue
        if len(row) != width:
            out.drop.append((start, first_line + previous_end - 1))
            if not (skip_blank and not any(cell.strip() for cell in row)):
                bad.append(BadLine(start, "fields", found=len(row)))
            continue
        out.lines.append(start)
    return out, bad


def _drop_lines(raw: bytes, starts: NDArray[np.intp], spans: list[tuple[int, int]], first_line: int) -> bytes:
    """``raw`` without the lines of ``spans`` (first and last line of each), so Arrow skips them."""
    parts, pos = [], 0
    for first, last in spans:
        end = last - first_line + 1
        parts.append(raw[pos:int(starts[first - first_line])])
        pos = int(starts[end]) if end < len(starts) else len(raw)
    parts.append(raw[pos:])
    return b"".join(parts)

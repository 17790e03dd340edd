"""Writing exported rows: CSV a spreadsheet cannot run as formulas, and JSON lines.

Shared by every app that offers a download (ratings, consensus labels, report tables).  Pure: no
Django, no app.  ``csv_lines`` and ``jsonl_lines`` turn rows into text pieces of a few hundred rows
each; every CSV cell goes through ``safe_cell`` (OWASP's advice against formula injection).
``CsvCells`` writes the same bytes from cells encoded once and reused (a rating's cells are repeated
on each of its scores' rows), for the large exports.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FORMULA_START = frozenset("=+-@\t\r\n")
# Spreadsheets read some look-alikes as the operator (full-width ＝＋－＠ and the small forms ﹦﹢﹣﹫
# fold to it under NFKC); the minus sign and the dashes below do not fold, so they are listed.
_LOOK_ALIKES = frozenset("\u2212\u2010\u2011\u2012\u2013\u2014\u2015\ufe58")
# Leading blanks some spreadsheets skip before deciding a cell is a formula.
_BLANKS = " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u202f\u205f\u3000\ufeff"


def _starts_like_formula(value: str) -> bool:
    if value[:1] in _FORMULA_START:
        return True
    first = value.lstrip(_BLANKS)[:1]
    return bool(first) and (first in _LOOK_ALIKES or unicodedata.normalize("NFKC", first)[:1] in _FORMULA_START)


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with =, +, -, @, tab, CR or LF (or a
    Unicode look-alike of one, such as a full-width ＝, also after leading blanks) gets a leading
    apostrophe (OWASP's advice against formula injection), except plain numbers such as ``-2``.
    Booleans are written as ``true``/``false``, as in JSONL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _starts_like_formula(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def _safe_row(row: Iterable[Any]) -> list[Any]:
    """``[safe_cell(c) for c in row]`` with the common cases inlined (an export calls it for every row):
    text starting with an ASCII letter or digit is never a formula, nor a look-alike of one."""
    return [
        (c if (head := c[:1]).isalnum() and head.isascii()
         else "'" + c if _starts_like_formula(c) and not _NUMBER.match(c) else c) if type(c) is str
        else ("true" if c else "false") if type(c) is bool
        else safe_cell(c)  # subclasses of str and bool (rare), and every other value as it was
        for c in row
    ]


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]], *, batch: int = 500) -> Iterator[str]:
    """CSV text in pieces of ``batch`` rows, every cell neutralised with ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([safe_cell(h) for h in header])
    yield take()
    pending: list[list[Any]] = []
    for row in rows:
        pending.append(_safe_row(row))
        if len(pending) >= batch:
            writer.writerows(pending)
            pending = []
            yield take()
    if pending:
        writer.writerows(pending)
        yield take()


def jsonl_lines(records: Iterable[dict[str, Any]], *, batch: int = 500) -> Iterator[str]:
    pending: list[str] = []
    for record in records:
        pending.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        if len(pending) >= batch:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)


# --- Cells encoded once (the large exports) -------------------------------------------------------

_QUOTED = re.compile(r'[,"\r\n]')  # what makes ``csv`` (QUOTE_MINIMAL, the default dialect) quote a field


def csv_cell(value: Any) -> str:
    """``value`` (neutralised with ``safe_cell``) exactly as ``csv_lines`` writes it inside a row of
    several cells, without the separator: ``",".join(csv_cell(c) for c in row) + "\\r\\n"`` is the bytes
    ``csv_lines`` gives for ``row`` (two cells or more).  A writer that repeats a cell on many rows
    encodes it once with this and joins the texts."""
    value = safe_cell(value)
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value if _QUOTED.search(value) is None else '"' + value.replace('"', '""') + '"'
    if kind is int:
        return str(value)
    # Anything else (floats, subclasses, ...) through the writer itself, in a two-cell row.
    buffer = io.StringIO()
    csv.writer(buffer).writerow([value, ""])
    return buffer.getvalue()[:-3]  # less ",\r\n"

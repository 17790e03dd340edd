"""The platform's one JSON Lines reader: the imports and the statistics engine both read through it.

Each non-blank line is parsed by orjson, which is several times faster than the standard library and
refuses NaN, infinities and lone surrogates; whatever orjson refuses is handed to ``json``, so that what
is accepted and how a bad line is described are the standard library's.  A line that ``json`` accepts
but orjson did not is reported as not ``strict``: the caller decides whether such a value may be kept
(the imports look through it for NaN and unencodable text; the engine does not care).

Django-free, like the rest of ``evalplatform.stats``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

BOM = b"\xef\xbb\xbf"
NESTING_LIMIT = 32  # the imports' limit (input_rules.MAX_NESTING passes the same); only named in a message


class JsonLine(NamedTuple):
    line: int  # 1-based line number in the file
    record: dict[str, Any] | None  # the object on the line, or None when ``error`` says why not
    error: str | None
    strict: bool  # orjson took the line as it is: no NaN, infinity or lone surrogate in it
    text: str | bytes  # the line as read, for callers that look at the raw text


def json_lines(lines: Iterable[str | bytes], *, nesting_limit: int = NESTING_LIMIT) -> Iterator[JsonLine]:
    """Yield one ``JsonLine`` per non-blank line of ``lines`` (text or bytes, as a file iterates)."""
    for number, line in enumerate(lines, start=1):
        if number == 1 and isinstance(line, bytes) and line.startswith(BOM):
            line = line[len(BOM):]  # a text stream opened as utf-8-sig drops it; do the same for bytes
        if not line.strip():
            continue
        strict = True
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            strict = False
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield JsonLine(number, None, f"invalid JSON ({exc.msg} at column {exc.colno})", False, line)
                continue
            except RecursionError:
                yield JsonLine(number, None, f"nested more than {nesting_limit} levels deep", False, line)
                continue
            except UnicodeDecodeError:
                yield JsonLine(number, None, "is not valid UTF-8 text", False, line)
                continue
            except ValueError as exc:  # an integer of more digits than Python converts
                yield JsonLine(number, None, f"invalid JSON ({str(exc)[:120]})", False, line)
                continue
        if not isinstance(record, dict):
            yield JsonLine(number, None, f"each line must be a JSON object, found {_json_type(record)}", strict, line)
            continue
        yield JsonLine(number, record, None, strict, line)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(type(value), type(value).__name__)

"""Rules every piece of outside input obeys before it is stored, whichever way it arrives (import
files, API bodies, forms, rubric documents): text that is Unicode and holds no NUL, numbers that are
finite, whole numbers within their column's range (so nothing wraps or overflows on PostgreSQL),
nesting of bounded depth, and one length limit per free-text field.

Pure functions of the values: no Django models are imported here, so any app may use them.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_NESTING = 32  # objects and lists inside one record (an item's metadata is a few levels at most)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    found = _SURROGATE.search(value)
    if found:
        return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not Unicode text"
    return None


def unstorable(record: Any) -> tuple[str | None, str] | None:
    """``(field, why)`` for the first part of a parsed record that cannot be stored, else None.

    Walks without recursion, so a record nested thousands deep is refused, not a crash.
    """
    stack: list[tuple[Any, int, str | None]] = [(record, 0, None)]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return where, problem
        elif isinstance(value, float):
            if not math.isfinite(value):
                return where, f"{value!r} is not a number that can be stored (NaN and infinities are not)"
        elif isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                return where, f"nested more than {MAX_NESTING} levels deep"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, inner in items:
                if isinstance(key, str):
                    problem = _text_problem(key)
                    if problem:
                        return where, f"a key {problem}"
                path = (f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}") if where else str(key)
                stack.append((inner, depth + 1, path[:100]))
    return None


def whole_number(raw: Any, low: int, high: int) -> int:
    """``raw`` (a number or its text) as a whole number within ``low``..``high``, else ``ValueError``
    with a message naming the range (a database column's, so nothing wraps or overflows)."""
    if isinstance(raw, bool):
        raise ValueError(f"must be a whole number (got {raw!r})")
    try:
        number = int(raw) if not isinstance(raw, float) else None
        if number is None:
            if not math.isfinite(raw) or not raw.is_integer():
                raise ValueError
            number = int(raw)
    except (TypeError, ValueError, OverflowError):
        shown = raw if not isinstance(raw, str) or len(raw) <= 40 else raw[:40] + "..."
        raise ValueError(f"must be a whole number (got {shown!r})") from None
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high} (got {number})")
    return number


def column_range(model, field_name: str) -> tuple[int, int]:
    """The values an integer column holds on every database (PostgreSQL's ranges; SQLite's are wider)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    field = model._meta.get_field(field_name)
    if field.is_relation:  # a foreign key holds the target's id
        field = field.target_field
    return BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]


def within_column(model, field_name: str, *, min_value: int | None = None, max_value: int | None = None) -> dict:
    """``min_value``/``max_value`` for a form or serializer ``IntegerField`` that fills ``model.field_name``:
    the given bounds narrowed to what the column holds, so a larger number is a clear error by field
    (400, form error) instead of a 500 or a wrapped value on PostgreSQL.  ``IntegerField(**within_column(...))``."""
    low, high = column_range(model, field_name)
    return {"min_value": low if min_value is None else max(low, min_value),
            "max_value": high if max_value is None else min(high, max_value)}




# Project and suite slugs: what ``slugify`` leaves unchanged, said as a pattern an OpenAPI client can
# follow (lowercase letters and digits, single hyphens or underscores between them).
SLUG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
SLUG_MESSAGE = "must be lowercase letters and digits, with single hyphens or underscores between them"


# One length limit per free-text field, shared by the rating page, the API and imports.
JUSTIFICATION_MAX = 20_000
TEXT_ANSWER_MAX = 20_000  # a free-text dimension's answer


def text_problem(value: str, *, limit: int) -> str | None:
    """Why ``value`` cannot be stored as free text of at most ``limit`` characters, or None."""
    if len(value) > limit:
        return f"at most {limit:,} characters (got {len(value):,})"
    return _text_problem(value)

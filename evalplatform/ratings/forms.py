"""The rating form's shape: turn a POST into what ``submit_rating`` takes.

Only the shape is read here (which fields, which are text); whether a value is on the scale, and
which dimensions are required, is the service's rule (``ratings.services.validate_scores``), so
the page, the JSON endpoint and the API refuse the same things with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from evalplatform.assignments.selectors import DimensionView

MAX_DURATION_MS = 2**31 - 1  # the column's range; a tab left open for weeks is clamped, not refused


@dataclass
class RatingInput:
    scores: dict[str, str] = field(default_factory=dict)
    justification: str = ""
    duration_ms: int | None = None

    def values(self) -> dict[str, Any]:
        """What to show back in the form after a refused submission."""
        return {**self.scores, "justification": self.justification}


def parse_duration(raw: str | None) -> int | None:
    """Milliseconds measured by the page's script; absent (no script) or garbled means unknown."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return min(value, MAX_DURATION_MS) if value >= 0 else None


def rating_input(data: QueryDict, dimensions: tuple[DimensionView, ...]) -> RatingInput:
    """The submitted scores keyed by dimension; blank answers are left out so "required" is judged
    by the service."""
    scores = {}
    for dim in dimensions:
        raw = data.get(dim.field_name, "")
        if raw.strip():
            scores[dim.key] = raw if dim.is_text else raw.strip()
    return RatingInput(
        scores=scores, justification=data.get("justification", "").strip(),
        duration_ms=parse_duration(data.get("duration_ms")),
    )


def skip_reason(data: QueryDict) -> str:
    return data.get("skip_reason", "").strip()[:500]

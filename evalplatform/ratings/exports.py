"""Ratings out of the platform: long-format rows, and preference pairs for training pipelines.

The API's streamed download and ``manage.py export`` both use these generators.  Each reads with one
set-based query (``values_list(...).iterator(chunk_size=...)``), so memory stays flat and the number
of queries does not grow with the number of ratings.

Long format is one row per (item, model, rater, dimension).  Values are in the task's own orientation:
for a pairwise preference, negative means ``model_a``'s response is better, whichever side each rater
saw it on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Count, Q, Sum

from evalplatform.projects.models import Project, Task
from evalplatform.ratings.models import Score
from rubrics.models import Dimension
from rubrics.scales import scales_for

CHUNK = 2000
FORMATS = ("csv", "jsonl", "preferences")
PREFERENCE_FIELDS = (
    "prompt", "chosen", "rejected", "chosen_model", "rejected_model", "margin", "n_votes", "agreement",
)


class ExportError(ValueError):
    """An export this project cannot give (the message says why)."""


def rating_columns(project: Project) -> list[str]:
    models = ["model_a", "model_b"] if project.kind == Project.Kind.PAIRWISE else ["model"]
    return [
        "item_id", *models, "rater", "automated", "dimension", "value", "value_label", "justification",
        "duration_ms", "created_at", "reference",
    ]


def rating_rows(project: Project, *, include_automated: bool = True) -> Iterator[tuple[Any, ...]]:
    """Every score of the project as a tuple in ``rating_columns`` order, rating by rating."""
    pairwise = project.kind == Project.Kind.PAIRWISE
    labels = {
        (key, value): label for key, scale in scales_for(project.rubric_version_id).items()
        for value, label in scale.labels.items()
    }
    scores = Score.objects.filter(rating__project=project)
    if not include_automated:
        scores = scores.filter(rating__rater__is_automated=False)
    rows = scores.order_by("rating_id", "dimension__position", "dimension_id").values_list(
        "rating__task__item__external_id", "rating__task__response_a__model", "rating__task__response_b__model",
        "rating__rater__username", "rating__rater__is_automated", "dimension__key", "dimension__kind",
        "value", "text", "rating__justification", "rating__duration_ms", "rating__created_at",
        "rating__task__item__reference",
    )
    for (ext, model_a, model_b, rater, automated, key, kind, value, text, justification, duration, created,
         reference) in rows.iterator(chunk_size=CHUNK):
        models = (model_a, model_b) if pairwise else (model_a,)
        shown = text if kind == Dimension.Kind.TEXT else value
        label = "" if kind == Dimension.Kind.TEXT else labels.get((key, value), "")
        yield (
            ext, *models, rater, automated, key, shown, label, justification, duration,
            created.isoformat(), reference,
        )


def preference_rows(
    project: Project, *, min_margin: float = 0.0, include_automated: bool = False
) -> Iterator[dict[str, Any]]:
    """One preference pair per rated task of a pairwise project, aggregated over its raters.

    The rule (deliberately simple; to be refined): each vote is normalised to [-1, 1] by the scale's
    end point; the mean decides the chosen side (negative: ``response_a``); a mean of 0 is a tie and
    dropped, as is a pair whose ``margin`` (the mean's size) is below ``min_margin``.  ``agreement``
    is the share of votes on the chosen side.
    """
    if project.kind != Project.Kind.PAIRWISE:
        raise ExportError("preference pairs come from pairwise projects; this project rates single responses")
    dim = (
        Dimension.objects.filter(version_id=project.rubric_version_id, kind=Dimension.Kind.PAIRWISE)
        .order_by("position", "id").first()
    )
    if dim is None:
        raise ExportError("this project's rubric has no pairwise preference dimension")
    end = max(abs(v) for v in scales_for(project.rubric_version_id)[dim.key].values) or 1
    votes = Q(ratings__scores__dimension=dim, ratings__scores__value__isnull=False)
    if not include_automated:
        votes &= Q(ratings__rater__is_automated=False)
    tasks = (
        Task.objects.filter(project=project, response_b__isnull=False)
        .annotate(
            total=Sum("ratings__scores__value", filter=votes),
            n=Count("ratings__scores", filter=votes),
            for_a=Count("ratings__scores", filter=votes & Q(ratings__scores__value__lt=0)),
            for_b=Count("ratings__scores", filter=votes & Q(ratings__scores__value__gt=0)),
        )
        .filter(n__gt=0)
        .order_by("id")
        .values_list(
            "item__prompt", "response_a__text", "response_b__text", "response_a__model", "response_b__model",
            "total", "n", "for_a", "for_b",
        )
    )
    for prompt, text_a, text_b, model_a, model_b, total, n, for_a, for_b in tasks.iterator(chunk_size=CHUNK):
        mean = total / (n * end)
        margin = abs(mean)
        if mean == 0 or margin < min_margin:
            continue
        a_wins = mean < 0
        yield {
            "prompt": prompt,
            "chosen": text_a if a_wins else text_b,
            "rejected": text_b if a_wins else text_a,
            "chosen_model": model_a if a_wins else model_b,
            "rejected_model": model_b if a_wins else model_a,
            "margin": round(margin, 4),
            "n_votes": n,
            "agreement": round((for_a if a_wins else for_b) / n, 4),
        }


# --- Writing --------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with =, +, -, @, tab or CR gets a leading
    apostrophe (OWASP's advice against formula injection), except plain numbers such as ``-2``.
    Booleans are written as ``true``/``false``, as in JSONL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]], *, batch: int = 500) -> Iterator[str]:
    """CSV text in pieces of ``batch`` rows, every cell neutralised with ``safe_cell``."""
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(h) for h in header])
    pending: list[str] = []
    for row in rows:
        pending.append(writer.writerow([safe_cell(cell) for cell in row]))
        if len(pending) >= batch:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)


def jsonl_lines(records: Iterable[dict[str, Any]], *, batch: int = 500) -> Iterator[str]:
    pending: list[str] = []
    for record in records:
        pending.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        if len(pending) >= batch:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)


def export_lines(project: Project, fmt: str, *, min_margin: float = 0.0) -> Iterator[str]:
    """The whole export of ``project`` in ``fmt`` (one of ``FORMATS``) as text pieces.

    Checks that the export is possible before the first piece, so a caller can still answer with an
    error instead of a half-written file.
    """
    if fmt == "csv":
        return csv_lines(rating_columns(project), rating_rows(project))
    if fmt == "jsonl":
        header = rating_columns(project)
        return jsonl_lines(dict(zip(header, row, strict=True)) for row in rating_rows(project))
    if fmt == "preferences":
        rows = preference_rows(project, min_margin=min_margin)
        first = next(rows, None)  # runs the checks (and the query) now
        return jsonl_lines(_prepend(first, rows))
    raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def _prepend(first, rest: Iterator) -> Iterator:
    if first is not None:
        yield first
    yield from rest

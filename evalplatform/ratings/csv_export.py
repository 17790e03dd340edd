"""The long-format ratings CSV (``export --format csv``), written at a team's size.

The bytes are those of ``csv_lines(rating_columns(...), rating_rows(...))`` with the item's metadata
as JSON text (a test holds the two to the same output), produced with far less work per score: a
row is a rating's cells (item, model, rater, ..., metadata), the same on each of its scores, around
the score's own (dimension, value, label).  So the ratings are read with one query and their cells
encoded once per rating (each distinct value once per column: ``bulk.converted_rows``), the scores
with a second query in the same order, and the two streams are merged: memory holds one rating at a
time, never the project.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, F, Func, TextField, Value
from django.db.models.functions import Coalesce

from evalplatform.bulk import converted_rows
from evalplatform.exporting import csv_cell
from evalplatform.projects.models import Membership, Project
from evalplatform.ratings.export_options import CHUNK, ExportOptions
from evalplatform.ratings.models import Rating, Score
from rubrics.models import Dimension
from rubrics.scales import Scale, scales_for

#: Rows per text piece (a piece is one write to the file or one chunk of the streamed download).
PIECE = 2000


def rating_csv_lines(project: Project, options: ExportOptions, header: list[str]) -> Iterator[str]:
    """The ratings CSV of ``project`` with ``options`` (``header``: ``rating_columns``) as text pieces."""
    yield ",".join(csv_cell(h) for h in header) + "\r\n"
    pairwise = project.kind == Project.Kind.PAIRWISE
    ratings = _rating_cells(project, options, pairwise)
    scales = scales_for(project.rubric_version_id).values()  # compiled once per process
    dimensions = {scale.dimension_id: scale.key for scale in scales}
    text_dimensions = {scale.dimension_id for scale in scales if scale.kind == Dimension.Kind.TEXT}
    labels = _labels(scales)
    scores = Score.objects.filter(rating__project=project).order_by(*_score_order(project))
    if pairwise:  # the response a per-response question was about, named in the "model" column
        score_rows = converted_rows(scores.values_list("rating_id", "dimension_id", "value", "text", "response__model"),
                                    (None, None, None, None, csv_cell), chunk_size=CHUNK)
    else:
        score_rows = converted_rows(scores.values_list("rating_id", "dimension_id", "value", "text"),
                                    (None, None, None, None), chunk_size=CHUNK)
    if pairwise:
        yield from _pieces(_pair_lines(ratings, score_rows, labels, dimensions, text_dimensions))
    else:
        yield from _pieces(_lines(ratings, score_rows, labels, dimensions, text_dimensions))


def _score_order(project: Project) -> tuple[Any, ...]:
    """The scores' order: by rating, then the dimension's position (then id), then the response.

    Where the dimension ids of every rubric version the project's ratings use follow their positions
    (dimensions are made in order; reordering a draft's dimensions before publishing breaks it), ordering by the dimension's id is the same order,
    and the database reads it straight from the index ``score_once_per_answer`` (rating, dimension,
    response or 0): PostgreSQL otherwise joins each of 720,000 scores to its dimension and sorts every
    rating's scores (1.07 s of server time against 0.41 s).  Within a (rating, dimension) the scores
    either all name a response or none does, so response-or-0 orders them as ``response_id`` does."""
    by_version: dict[int, list[tuple[int, int]]] = {}
    used = Rating.objects.filter(project=project).order_by().values("rubric_version_id")
    for version_id, position, dimension_id in (
        Dimension.objects.filter(version_id__in=used).order_by().values_list("version_id", "position", "id")
    ):
        by_version.setdefault(version_id, []).append((position, dimension_id))
    if all(sorted(ids) == sorted(ids, key=lambda pair: pair[1]) for ids in by_version.values()):
        return ("rating_id", "dimension_id", Coalesce("response_id", Value(0), output_field=BigIntegerField()))
    return ("rating_id", "dimension__position", "dimension_id", "response_id")


def _pieces(lines: Iterator[str]) -> Iterator[str]:
    pending: list[str] = []
    for line in lines:
        pending.append(line)
        if len(pending) >= PIECE:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)


def _lines(ratings, score_rows, labels, dimensions, text_dimensions) -> Iterator[str]:
    """Each score's line: its rating's ``head``, the (dimension, value, label) cells, the rating's ``tail``."""
    mids: dict[tuple[int, Any], str] = {}  # (dimension id, value) -> "dimension,value,label,"
    current = next_id = -1
    head = tail = ""
    for rating_id, dimension_id, value, text in score_rows:
        if rating_id != current:
            current = rating_id
            next_id, head, tail = _advance(ratings, rating_id, next_id, head, tail)
        if next_id != rating_id:
            continue  # a score of a rating this export leaves out
        mid = mids.get((dimension_id, value))
        if mid is None:
            mid = _mid(mids, labels, dimensions, text_dimensions, dimension_id, value, text)
        yield head + mid + tail


def _pair_lines(ratings, score_rows, labels, dimensions, text_dimensions) -> Iterator[str]:
    """As ``_lines``, with the response a per-response question was about after the pair's models."""
    mids: dict[tuple[int, Any], str] = {}
    current = next_id = -1
    head, tail = "", ("", "")
    for rating_id, dimension_id, value, text, response_model in score_rows:
        if rating_id != current:
            current = rating_id
            next_id, head, tail = _advance(ratings, rating_id, next_id, head, tail)
        if next_id != rating_id:
            continue
        mid = mids.get((dimension_id, value))
        if mid is None:
            mid = _mid(mids, labels, dimensions, text_dimensions, dimension_id, value, text)
        yield f"{head}{response_model},{tail[0]}{mid}{tail[1]}"


def _advance(ratings: Iterator, rating_id: int, next_id: int, head: Any, tail: Any) -> tuple[int, Any, Any]:
    """The rating stream moved on to ``rating_id`` (both streams are in rating order): the ratings the
    export leaves out are skipped; an id past ``rating_id`` means its scores are left out."""
    while next_id < rating_id:
        found = next(ratings, None)
        if found is None:
            return 1 << 62, head, tail
        next_id, head, tail = found
    return next_id, head, tail


def _mid(mids, labels, dimensions, text_dimensions, dimension_id: int, value: Any, text: str) -> str:
    key = dimensions[dimension_id]
    if dimension_id in text_dimensions:  # free text is the score's own: encoded each time, not remembered
        return f"{csv_cell(key)},{csv_cell(text)},,"
    mid = mids[(dimension_id, value)] = f"{csv_cell(key)},{csv_cell(value)},{csv_cell(labels.get((key, value), ''))},"
    return mid


def _rating_cells(project: Project, options: ExportOptions, pairwise: bool) -> Iterator[tuple[int, str, Any]]:
    """``(rating id, head, tail)`` in id order for each rating the export holds: ``head`` the encoded
    cells before the dimension (after the pair's models in a pairwise project, whose ``tail`` is the
    pair (rater cells, the cells after the label)), ``tail`` those after the value's label, with the
    line's end."""
    # Each rater's membership (paused; an external worker's id on their platform, Prolific or MTurk,
    # blank for everyone else) read once: as a subquery per rating PostgreSQL ran two lookups per row.
    members = {user_id: (csv_cell(external_id), csv_cell(paused)) for user_id, external_id, paused in
               Membership.objects.filter(project=project).values_list("user_id", "external_id", "paused")}
    outsider = (csv_cell(""), csv_cell(False))  # a rater no longer a member (imported judges, for one)
    fields = ["id", "task__item__external_id", "task__response_a__model"]
    fields += ["task__response_b__model"] if pairwise else []
    fields += ["rater__username", "rater_id", "rater__is_automated", "justification", "duration_ms", "created_at",
               "task__item__reference", "task__is_gold", "exclusion_id", "task__item__metadata"]
    if options.with_text:
        fields += ["task__item__prompt", "task__response_a__text"] + (["task__response_b__text"] if pairwise else [])
    rows = Rating.objects.filter(options.rating_q(project, prefix="")).order_by("id")
    if _times_as_utc_text():
        fields[fields.index("created_at")] = "created_text"
        rows = rows.annotate(created_text=_UTCText(F("created_at")))
    rows = rows.values_list(*fields)
    # Each column to its encoded cell (``converted_rows`` encodes each distinct value once).
    cell = csv_cell
    columns: list[Any] = [None, *([cell] * (len(fields) - 1))]
    columns[fields.index("rater_id")] = lambda rater_id: members.get(rater_id, outsider)
    created_at = fields.index("created_text" if "created_text" in fields else "created_at")
    columns[created_at] = lambda created: cell(_isoformat(created))
    columns[fields.index("exclusion_id")] = lambda exclusion: cell(exclusion is not None)
    columns[fields.index("task__item__metadata")] = lambda metadata: cell(
        json.dumps(metadata or {}, ensure_ascii=False, sort_keys=True))
    for row in converted_rows(rows, columns, chunk_size=CHUNK):
        if pairwise:
            (rating_id, item, model_a, model_b, rater, (external_id, rater_paused), automated, justification, duration,
             created, reference, gold, excluded, metadata, *texts) = row
            head = f"{item},{model_a},{model_b},"
            tail: Any = (f"{rater},{external_id},{automated},",
                         ",".join((justification, duration, created, reference, gold, rater_paused, excluded,
                                   metadata, *texts)) + "\r\n")
        else:
            (rating_id, item, model_a, rater, (external_id, rater_paused), automated, justification, duration, created,
             reference, gold, excluded, metadata, *texts) = row
            head = f"{item},{model_a},{rater},{external_id},{automated},"
            tail = ",".join((justification, duration, created, reference, gold, rater_paused, excluded, metadata,
                             *texts)) + "\r\n"
        yield rating_id, head, tail


def _times_as_utc_text() -> bool:
    """Whether the database can give a time as the text of its UTC time: SQLite and PostgreSQL, with
    aware times kept in UTC (``USE_TZ``, no other ``TIME_ZONE`` for the database), as settings.py has it.
    Otherwise each time is read as Django reads it and formatted in Python, as before."""
    return (settings.USE_TZ and connection.vendor in ("sqlite", "postgresql")
            and connection.timezone_name == "UTC")


class _UTCText(Func):
    """A time column as the text of its UTC time, ``YYYY-MM-DD HH:MM:SS[.ffffff]``, read as text.

    Each rating's time is its own, so ``converted_rows`` can't share the conversion: turning 180,000
    times into ``datetime`` objects (psycopg's parser, or Django's for SQLite's text) and back into
    ISO text was a third of the export's CPU on PostgreSQL.  SQLite stores exactly this text (Django
    writes UTC without an offset, when ``_times_as_utc_text``); PostgreSQL formats it with six decimals.
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"no UTC text of a time on {connection.vendor} (see _times_as_utc_text)")

    def as_sqlite(self, compiler, connection, **extra_context):
        # An expression, not the bare column: sqlite3 parses a column declared datetime into a time.
        return super().as_sql(compiler, connection, **extra_context, template="CAST(%(expressions)s AS text)")

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, **extra_context,
                              template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")


def _isoformat(created: Any) -> str:
    """``created.isoformat()``, from the UTC text ``_UTCText`` read or from the time Django read."""
    if not isinstance(created, str):
        return created.isoformat()
    if created.endswith(".000000"):  # isoformat leaves out a whole second's fraction
        created = created[:-7]
    return f"{created[:10]}T{created[11:]}+00:00"


def value_labels(project: Project) -> dict[tuple[str, int | None], str]:
    """(dimension key, value) -> the level's label, for every scored dimension of the project's rubric."""
    return _labels(scales_for(project.rubric_version_id).values())


def _labels(scales: Iterable[Scale]) -> dict[tuple[str, int | None], str]:
    return {(scale.key, value): label for scale in scales for value, label in scale.labels.items()}

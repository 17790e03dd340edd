"""Ratings out of the platform: long-format rows, and preference pairs for training pipelines.

The report page's and the API's streamed downloads and ``manage.py export`` all use these
generators.  Each reads with one set-based query (``values_list(...).iterator(chunk_size=...)``; a few
for consensus labels), so memory stays flat and the number of queries does not grow with the number
of ratings.

Long format is one row per (item, model, rater, dimension).  Values are in the task's own orientation:
for a pairwise preference, negative means ``model_a``'s response is better, whichever side each rater
saw it on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.db.models import Avg, Count, F, Q, Sum
from django.http import StreamingHttpResponse

from evalplatform.projects.models import Project, Response, Task
from evalplatform.ratings.models import Score
from rubrics.models import Dimension
from rubrics.scales import scales_for

CHUNK = 2000
CONSENSUS_FORMATS = ("consensus-csv", "consensus-jsonl")  # final labels: see consensus_rows
FORMATS = ("csv", "jsonl", "preferences", "reward", *CONSENSUS_FORMATS)


class ExportError(ValueError):
    """An export this project cannot give (the message says why)."""


def rating_columns(project: Project) -> list[str]:
    # In a pairwise project ``model`` names the response a per-response question was about (as in imports).
    models = ["model_a", "model_b", "model"] if project.kind == Project.Kind.PAIRWISE else ["model"]
    return [
        "item_id", *models, "rater", "automated", "dimension", "value", "value_label", "justification",
        "duration_ms", "created_at", "reference",
    ]


def _value_labels(project: Project) -> dict[tuple[str, int | None], str]:
    """(dimension key, value) -> the level's label, for every scored dimension of the project's rubric."""
    return {
        (key, value): label for key, scale in scales_for(project.rubric_version_id).items()
        for value, label in scale.labels.items()
    }


def rating_rows(project: Project, *, include_automated: bool = True) -> Iterator[tuple[Any, ...]]:
    """Every score of the project as a tuple in ``rating_columns`` order, rating by rating."""
    pairwise = project.kind == Project.Kind.PAIRWISE
    labels = _value_labels(project)
    scores = Score.objects.filter(rating__project=project)
    if not include_automated:
        scores = scores.filter(rating__rater__is_automated=False)
    rows = scores.order_by("rating_id", "dimension__position", "dimension_id", "response_id").values_list(
        "rating__task__item__external_id", "rating__task__response_a__model", "rating__task__response_b__model",
        "response__model", "rating__rater__username", "rating__rater__is_automated", "dimension__key", "dimension__kind",
        "value", "text", "rating__justification", "rating__duration_ms", "rating__created_at",
        "rating__task__item__reference",
    )
    for (ext, model_a, model_b, response_model, rater, automated, key, kind, value, text, justification, duration,
         created, reference) in rows.iterator(chunk_size=CHUNK):
        models = (model_a, model_b, response_model or "") if pairwise else (model_a,)
        shown = text if kind == Dimension.Kind.TEXT else value
        label = "" if kind == Dimension.Kind.TEXT else labels.get((key, value), "")
        yield (
            ext, *models, rater, automated, key, shown, label, justification, duration,
            created.isoformat(), reference,
        )


def preference_rows(
    project: Project, *, min_margin: float = 0.0, include_automated: bool = False
) -> Iterator[dict[str, Any]]:
    """One preference pair per rated pair task of a pairwise project, aggregated over its raters.

    The votes are the stored values of the rubric's first pairwise dimension, v in -k..k in the task's
    orientation (negative: ``response_a`` better, whichever side each rater saw it on), from human
    raters unless ``include_automated``:

    * ``n_votes`` = n, the number of votes on the pair;
    * the mean normalised preference m = (1/n) * sum(v / k), in [-1, 1];
    * ``chosen`` is ``response_a`` when m < 0 and ``response_b`` when m > 0; m = 0 is a tie and the
      pair is left out;
    * ``margin`` = |m| in (0, 1]: 1 when every rater chose the same side with the strongest level,
      1/(n*k) for the weakest lean;
    * ``agreement`` = the share of the n votes on the chosen side (a tie vote is not on it), in (0, 1].

    Pairs with ``margin < min_margin`` are left out.  One query, streamed.
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


REWARD_KINDS = (Dimension.Kind.LIKERT, Dimension.Kind.BINARY)


def reward_rows(project: Project, *, include_automated: bool = False) -> Iterator[dict[str, Any]]:
    """One row per scored response, for reward-model regression:
    ``{"prompt", "response", "model", "scores": {dimension: mean}, "n_ratings"}``.

    ``scores`` holds the mean value of each likert and yes/no dimension (a yes/no mean is the share
    of "yes") over the ratings that scored the response, in rubric order; ``n_ratings`` is the most
    ratings any of them had (every rating answers the required ones).  In a pairwise project these
    are the questions asked of each response of a pair (``Score.response``): a response shown in
    several pairs is scored once per pair.  Human raters only unless ``include_automated``.  One
    grouped query, plus one for the texts of each thousand responses.
    """
    dims = Dimension.objects.filter(version_id=project.rubric_version_id, kind__in=REWARD_KINDS)
    if not dims.exists():
        raise ExportError("this project's rubric has no likert or yes/no dimension to average")
    scores = Score.objects.filter(rating__project=project, dimension__in=dims, value__isnull=False)
    if project.kind == Project.Kind.PAIRWISE:
        scores = scores.filter(response__isnull=False).annotate(scored=F("response_id"))
    else:
        scores = scores.filter(rating__task__response_b__isnull=True).annotate(scored=F("rating__task__response_a_id"))
    if not include_automated:
        scores = scores.filter(rating__rater__is_automated=False)
    grouped = (
        scores.values("scored", "dimension__position", "dimension_id", "dimension__key")
        .annotate(mean=Avg("value"), n=Count("rating_id", distinct=True))
        .order_by("scored", "dimension__position", "dimension_id")
        .values_list("scored", "dimension__key", "mean", "n")
    )
    pending: list[tuple[int, dict[str, float], int]] = []
    current, most = None, 0
    means: dict[str, float] = {}
    for response_id, key, mean, n in grouped.iterator(chunk_size=CHUNK):
        if response_id != current:
            if current is not None:
                pending.append((current, means, most))
                if len(pending) >= 1000:
                    yield from _reward_records(pending)
                    pending = []
            current, means, most = response_id, {}, 0
        means[key] = round(float(mean), 4)
        most = max(most, n)
    if current is not None:
        pending.append((current, means, most))
    yield from _reward_records(pending)


def _reward_records(pending: list[tuple[int, dict[str, float], int]]) -> Iterator[dict[str, Any]]:
    if not pending:
        return
    texts = {
        pk: (prompt, text, model)
        for pk, prompt, text, model in Response.objects.filter(pk__in=[p[0] for p in pending]).values_list(
            "id", "item__prompt", "text", "model"
        )
    }
    for response_id, means, n in pending:
        prompt, text, model = texts[response_id]
        yield {"prompt": prompt, "response": text, "model": model, "scores": means, "n_ratings": n}


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
    if fmt in ("preferences", "reward"):
        rows = preference_rows(project, min_margin=min_margin) if fmt == "preferences" else reward_rows(project)
        first = next(rows, None)  # runs the checks (and the query) now
        return jsonl_lines(_prepend(first, rows))
    if fmt in CONSENSUS_FORMATS:
        return consensus_export_lines(project, fmt)
    raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def _prepend(first, rest: Iterator) -> Iterator:
    if first is not None:
        yield first
    yield from rest


# --- Per-item aggregates and downloads by name (the report page and ``manage.py export``) ---------

ITEM_FORMATS = ("items-csv", "items-jsonl")
DOWNLOAD_FORMATS = (*FORMATS, *ITEM_FORMATS)


def item_aggregate_columns(project: Project) -> list[str]:
    models = ["model_a", "model_b"] if project.kind == Project.Kind.PAIRWISE else ["model"]
    return ["item_id", *models, "response_model", "dimension", "n", "mean", "median", "min", "max", "counts"]


def _median(values: list[int]) -> float:
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def item_aggregate_rows(project: Project, *, include_automated: bool = False) -> Iterator[tuple[Any, ...]]:
    """One row per (task, response, dimension) with ratings: n, mean, median, min, max and the count of
    each value (``"1:0 2:1 ..."``; categorical dimensions get counts only, their mean means nothing).

    ``response_model`` names the response of a pair that a per-response question was about (empty
    otherwise).  One query ordered by task, so rows are grouped as they stream: memory holds one
    group at a time.  Automated judges' ratings are left out unless ``include_automated``.
    """
    pairwise = project.kind == Project.Kind.PAIRWISE
    scores = Score.objects.filter(rating__project=project, value__isnull=False).exclude(
        dimension__kind=Dimension.Kind.TEXT
    )
    if not include_automated:
        scores = scores.filter(rating__rater__is_automated=False)
    rows = scores.order_by("rating__task_id", "dimension__position", "dimension_id", "response_id").values_list(
        "rating__task_id", "dimension_id", "response_id", "rating__task__item__external_id",
        "rating__task__response_a__model", "rating__task__response_b__model", "response__model", "dimension__key",
        "dimension__kind", "value",
    )
    scales = {scale.key: scale for scale in scales_for(project.rubric_version_id).values()}
    group_key, head = None, None
    values: list[int] = []

    def emit():
        ext, model_a, model_b, response_model, key, kind = head
        values.sort()
        counts = dict.fromkeys(scales[key].values, 0) if key in scales else {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        numeric = kind != Dimension.Kind.CATEGORICAL
        models = (model_a, model_b) if pairwise else (model_a,)
        return (
            ext, *models, response_model or "", key, len(values),
            round(sum(values) / len(values), 4) if numeric else None, _median(values) if numeric else None,
            values[0] if numeric else None, values[-1] if numeric else None,
            " ".join(f"{v}:{c}" for v, c in counts.items()),
        )

    for task_id, dim_id, response_id, *rest, value in rows.iterator(chunk_size=CHUNK):
        key = (task_id, dim_id, response_id)
        if key != group_key:
            if group_key is not None:
                yield emit()
            group_key, head, values = key, rest, []
        values.append(cast(int, value))  # value__isnull=False
    if group_key is not None:
        yield emit()


def item_export_lines(project: Project, fmt: str) -> Iterator[str]:
    """Per-item aggregates as CSV (``items-csv``) or JSONL (``items-jsonl``) text pieces."""
    header = item_aggregate_columns(project)
    if fmt == "items-csv":
        return csv_lines(header, item_aggregate_rows(project))
    if fmt == "items-jsonl":
        return jsonl_lines(dict(zip(header, row, strict=True)) for row in item_aggregate_rows(project))
    raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(ITEM_FORMATS)}")


def download_lines(project: Project, fmt: str, *, min_margin: float = 0.0) -> Iterator[str]:
    """Any export of ``DOWNLOAD_FORMATS`` as text pieces (``ExportError`` for an unknown one);
    ``min_margin`` filters preference pairs."""
    if fmt in ITEM_FORMATS:
        return item_export_lines(project, fmt)
    return export_lines(project, fmt, min_margin=min_margin)


def download_name(project: Project, fmt: str) -> tuple[str, str]:
    """(file name, content type) of an export."""
    if fmt.endswith("csv"):
        ext, content_type = "csv", "text/csv; charset=utf-8"
    else:
        ext, content_type = "jsonl", "application/x-ndjson"
    stem = {"csv": "ratings", "jsonl": "ratings", "preferences": "preferences", "reward": "reward",
            "consensus-csv": "consensus", "consensus-jsonl": "consensus"}.get(fmt, "items")
    return f"{project.slug}-{stem}.{ext}", content_type


def download_response(project: Project, fmt: str, lines: Iterable[str]) -> StreamingHttpResponse:
    """``lines`` streamed as the export's file (the report page's downloads and the API's)."""
    name, content_type = download_name(project, fmt)
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- Consensus labels (quality control) -----------------------------------------------------------


def consensus_columns(project: Project) -> list[str]:
    models = ["model_a", "model_b", "response_model"] if project.kind == Project.Kind.PAIRWISE else ["model"]
    return [
        "item_id", *models, "dimension", "value", "value_label", "rule", "confidence", "confidence_kind",
        "n_ratings", "adjudicated",
    ]


def consensus_rows(project: Project) -> Iterator[tuple[Any, ...]]:
    """One final label per task and scored dimension, in ``consensus_columns`` order.

    The value is the lead's adjudication where there is one (``rule`` "adjudication"), else the
    project's consensus rule as the last quality run stored it (``quality.selectors.final_labels``;
    nothing is estimated here).  ``confidence``: the posterior of the label for Dawid–Skene and MACE,
    the vote share for a majority, the number of ratings for a mean or median; empty when adjudicated.
    Gold tasks are left out (their expected scores are their labels).
    """
    from evalplatform.quality.selectors import final_labels

    pairwise = project.kind == Project.Kind.PAIRWISE
    labels = _value_labels(project)
    for lb in final_labels(project):
        models = (lb.model_a, lb.model_b, lb.about or "") if pairwise else (lb.model_a,)
        value = None if lb.value is None else (int(lb.value) if float(lb.value).is_integer() else round(lb.value, 4))
        yield (
            lb.item_id, *models, lb.dimension, value, labels.get((lb.dimension, value), "") if isinstance(value, int) else "",
            str(lb.rule), None if lb.confidence is None else round(lb.confidence, 4), lb.confidence_kind, lb.n_ratings,
            lb.adjudicated,
        )


def consensus_export_lines(project: Project, fmt: str) -> Iterator[str]:
    """Final labels as CSV (``consensus-csv``) or JSONL (``consensus-jsonl``) text pieces."""
    from evalplatform.quality.models import Adjudication, QualitySnapshot

    if not (QualitySnapshot.objects.filter(project=project, data_seq__gte=0).exists()
            or Adjudication.objects.filter(project=project).exists()):
        raise ExportError("consensus labels are computed with the project's report, and there is none yet; "
                          "compute the report (or the quality figures) first")
    header = consensus_columns(project)
    if fmt == "consensus-csv":
        return csv_lines(header, consensus_rows(project))
    return jsonl_lines(dict(zip(header, row, strict=True)) for row in consensus_rows(project))

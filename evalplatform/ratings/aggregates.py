"""Per-item aggregates of the ratings an export holds: n, mean, median, min, max and counts per value.

The ``items-csv`` and ``items-jsonl`` downloads (the report page, the API, ``manage.py export``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from evalplatform.exporting import csv_lines, jsonl_lines
from evalplatform.projects.models import Project
from evalplatform.projects.references import read_scores
from evalplatform.ratings.export_options import CHUNK, ExportError, ExportOptions, export_options
from evalplatform.ratings.models import Score
from evalplatform.stats.reference import METRIC_KEYS
from rubrics.models import Dimension
from rubrics.scales import scales_for

ITEM_FORMATS = ("items-csv", "items-jsonl")


def item_aggregate_columns(project: Project, *, reference: bool = False) -> list[str]:
    """The per-item export's columns; with ``reference``, each reference metric's value for the row's
    response (``model``), or for each side of the pair (``rouge1_a`` ... ``chrf_b``)."""
    pairwise = project.kind == Project.Kind.PAIRWISE
    models = ["model_a", "model_b"] if pairwise else ["model"]
    metrics: list[str] = []
    if reference:
        metrics = [f"{k}_{side}" for side in ("a", "b") for k in METRIC_KEYS] if pairwise else list(METRIC_KEYS)
    return ["item_id", *models, "response_model", "dimension", "n", "mean", "median", "min", "max", "counts", *metrics]


def _with_reference_metrics(project: Project, rows: Iterator[tuple[Any, ...]],
                            scores: Mapping[tuple[str, str], Mapping[str, float]]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``item_aggregate_rows`` with the reference metrics of their response(s) appended (empty
    where a response has no stored score yet: a worker scores them after the import, or the next report)."""
    sides = 2 if project.kind == Project.Kind.PAIRWISE else 1
    for row in rows:
        values: list[float | None] = []
        for model in row[1:1 + sides]:
            metrics = scores.get((row[0], model))
            values.extend(round(metrics[k], 4) if metrics else None for k in METRIC_KEYS)
        yield (*row, *values)


def _median(values: list[int]) -> float:
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def item_aggregate_rows(project: Project, *, options: ExportOptions | None = None) -> Iterator[tuple[Any, ...]]:
    """One row per (task, response, dimension) with ratings: n, mean, median, min, max and the count of
    each value (``"1:0 2:1 ..."``; categorical dimensions get counts only, their mean means nothing).

    ``response_model`` names the response of a pair that a per-response question was about (empty
    otherwise).  One query ordered by task, so rows are grouped as they stream: memory holds one
    group at a time.  The ratings are those the export holds (``options``: by default what the
    report counted: no gold tasks, no automated judges, no excluded ratings, ...).
    """
    options = options or export_options(project)
    pairwise = project.kind == Project.Kind.PAIRWISE
    scores = Score.objects.filter(options.rating_q(project), value__isnull=False).exclude(
        dimension__kind=Dimension.Kind.TEXT
    )
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


def item_export_lines(project: Project, fmt: str, *, options: ExportOptions | None = None) -> Iterator[str]:
    """Per-item aggregates as CSV (``items-csv``) or JSONL (``items-jsonl``) text pieces; a project with
    reference answers gets each response's reference metrics beside its means (stored ones only:
    nothing is computed here, ``projects.references``)."""
    if fmt not in ITEM_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(ITEM_FORMATS)}")
    return _item_export_lines(project, fmt, options)


def _item_export_lines(project: Project, fmt: str, options: ExportOptions | None) -> Iterator[str]:
    read = read_scores(project, compute_missing=False)  # one query, when the download starts
    header = item_aggregate_columns(project, reference=read.with_reference > 0)
    rows = item_aggregate_rows(project, options=options)
    if read.with_reference:
        rows = _with_reference_metrics(project, rows, read.scores)
    if fmt == "items-csv":
        yield from csv_lines(header, rows)
    else:
        yield from jsonl_lines(dict(zip(header, row, strict=True)) for row in rows)

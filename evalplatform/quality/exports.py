"""Consensus labels out of the platform: the final label per task and dimension, as CSV or JSONL.

Registered with ``ratings.exports.register_export`` in ``QualityConfig.ready()``, so the API's export,
the report page's downloads and ``manage.py export`` offer ``consensus-csv`` and ``consensus-jsonl``
while ratings, below quality, import nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evalplatform.exporting import csv_lines, jsonl_lines
from evalplatform.projects.models import Project
from evalplatform.quality.models import Adjudication, QualitySnapshot
from evalplatform.quality.selectors import final_labels
from evalplatform.ratings.exports import ExportError, ExportFormat, value_labels


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
    pairwise = project.kind == Project.Kind.PAIRWISE
    labels = value_labels(project)
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
    if not (QualitySnapshot.objects.filter(project=project, data_seq__gte=0).exists()
            or Adjudication.objects.filter(project=project).exists()):
        raise ExportError("consensus labels are computed with the project's report, and there is none yet; "
                          "compute the report (or the quality figures) first")
    header = consensus_columns(project)
    if fmt == "consensus-csv":
        return csv_lines(header, consensus_rows(project))
    return jsonl_lines(dict(zip(header, row, strict=True)) for row in consensus_rows(project))


def consensus_source(project: Project) -> dict[str, Any]:
    """What the consensus rows come from, for the export's manifest: the newest quality run (its
    ``data_seq``: the rows match the manifest's ratings hash when it equals the manifest's ``data_seq``)
    and the lead's adjudications, which replace its labels."""
    run = (QualitySnapshot.objects.filter(project=project, data_seq__gte=0).order_by("-data_seq", "-id")
           .values_list("data_seq", flat=True).first())
    return {
        "consensus_rule": str(project.consensus_rule),
        "quality_run_data_seq": run,
        "adjudications": Adjudication.objects.filter(project=project).count(),
        "note": "labels as the newest quality run stored them, adjudications applied; that run read the ratings "
                "as they were at quality_run_data_seq",
    }


def _lines(fmt: str):
    return lambda project: consensus_export_lines(project, fmt)


EXPORTS = (
    ExportFormat("consensus-csv", _lines("consensus-csv"), stem="consensus", source=consensus_source),
    ExportFormat("consensus-jsonl", _lines("consensus-jsonl"), stem="consensus", source=consensus_source),
)

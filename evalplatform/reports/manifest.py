"""The report's manifest: what it was computed from, with what, and an independent check of its alphas.

``build_manifest`` runs in the report's worker after the sections (``compute.build_result`` stores it
as ``result["manifest"]``): the SHA-256 of the exact ratings the report used (the bytes of its
``report-ratings-csv`` download, ``stats.manifest.ratings_csv``), each dimension's level and scale, the
parameters with the seed, the software versions, how many of the project's ratings were left out and
why (gold tasks, paused raters, automated judges: a rating can be left out for more than one reason),
and every alpha recomputed with the ``krippendorff`` package.  ``manage.py agreement FILE --manifest
REPORT.json`` reads the levels, scales, bootstrap and seed from it and reproduces the report's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Q

from evalplatform.projects.models import Membership, Project
from evalplatform.ratings.models import Rating
from evalplatform.reports.data import ReportData, load_data
from evalplatform.stats.manifest import alpha_crosscheck, ratings_sha256, software_versions

MANIFEST_VERSION = 1


def report_ratings_csv(data: ReportData) -> str:
    """The exact ratings a report used, as the CSV the ``agreement`` command reads."""
    return data.ratings_csv()


def _rating_counts(project: Project) -> dict[str, int]:
    """The project's ratings in all, and of gold tasks, automated judges, paused raters and excluded by a
    lead (one query)."""
    paused = Membership.objects.filter(project=project, paused=True).values("user_id")
    return Rating.objects.filter(project=project).aggregate(
        total=Count("id"), gold=Count("id", filter=Q(task__is_gold=True)),
        automated=Count("id", filter=Q(rater__is_automated=True)),
        paused=Count("id", filter=Q(rater_id__in=paused)), excluded=Count("id", filter=Q(exclusion__isnull=False)),
    )


def left_out(project: Project, parameters: Mapping[str, Any], data: ReportData, *,
             counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The project's ratings the report did not use, by reason (each counted on its own)."""
    counts = counts if counts is not None else _rating_counts(project)
    total = counts["total"]
    out: dict[str, Any] = {"total_ratings": total, "used": data.n_ratings, "left_out": total - data.n_ratings}
    reasons: dict[str, int] = {}
    if not parameters.get("include_gold", False):
        reasons["gold"] = counts["gold"]
    if not parameters.get("include_automated", False):
        reasons["automated"] = counts["automated"]
    if not parameters.get("include_paused", True):
        reasons["paused"] = counts["paused"]
    out["by_reason"] = reasons
    out["note"] = "a rating can be left out for more than one reason (an automated judge's rating of a gold task)"
    return out


def build_manifest(project: Project, parameters: Mapping[str, Any], data: ReportData,
                   result: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of a report whose sections are in ``result`` (see the module docstring)."""
    text = data.ratings_csv()
    n_scores = sum(d.n_scores for d in data.dimensions)
    dims = result.get("dimensions") or []
    crosscheck = alpha_crosscheck(data.long_ratings(), dims) if n_scores else {
        "package": "krippendorff", "dimensions": [], "max_abs_diff": None, "n_checked": 0}
    return {
        "version": MANIFEST_VERSION,
        "ratings_sha256": ratings_sha256(text),
        "ratings_format": "CSV: item_id,rater,dimension,value,model (the report-ratings-csv download)",
        "n_scores": n_scores,
        "data_seq": data.data_seq,
        "parameters": {"bootstrap": 1000, "seed": 0, **parameters},
        "levels": {d.key: d.level for d in data.dimensions},
        "scales": {d.key: list(d.scale) for d in data.dimensions},
        "software": software_versions(),
        "ratings": left_out(project, parameters, data),
        "alpha_crosscheck": crosscheck,
        "reproduce": "manage.py agreement RATINGS.csv --manifest REPORT.json",
    }


def export_manifest(project: Project, fmt: str, options: Any, **parameters: Any) -> dict[str, Any]:
    """The manifest of a project-level export (``ratings.exports.export_manifest``; ``options`` an
    ``ExportOptions``): format, project, rubric version, the options and what they left out with counts
    by reason, the SHA-256 of the ratings the export holds, software versions and the time.

    The hash is over the exact ratings the export was made from, written as the report's ratings CSV
    (``report_ratings_csv``), so an export holding what a report counted has that report's
    ``ratings_sha256``, and a changed rating changes it.  Read in one transaction before the rows
    stream (a fixed number of queries: the report's four reads and one count); ``data_seq`` says which
    state of the project's ratings it describes.
    """
    chosen = dict(options.parameters())
    data = load_data(project, chosen)
    text = data.ratings_csv()
    n_scores = sum(d.n_scores for d in data.dimensions)
    counts = _rating_counts(project)
    ratings = left_out(project, chosen, data, counts=counts)
    if not chosen.get("include_excluded", False):
        ratings["by_reason"]["excluded"] = counts["excluded"]
    return {
        "version": MANIFEST_VERSION,
        "kind": "export",
        "format": fmt,
        "project": project.slug,
        "rubric_version": project.rubric_version_id,
        "options": {**chosen, "with_text": bool(getattr(options, "with_text", False))},
        "parameters": dict(parameters),
        "left_out": options.describe(),
        "ratings": ratings,
        "ratings_sha256": ratings_sha256(text),
        "ratings_format": "CSV: item_id,rater,dimension,value,model (as the report-ratings-csv download)",
        "n_scores": n_scores,
        "data_seq": data.data_seq,
        "software": software_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

"""The report's judge calibration section: each automated judge against the human panel, per dimension.

The human panel is the report's snapshot (``ReportData``: its raters minus any automated ones, which
are there only when the lead includes them).  The snapshot leaves judges out by default, so their
scores are read here with one set-based query for all dimensions; ``stats.judge_summary`` does the
numbers.  The value has the shape of ``manage.py agreement --judge``'s ``judges`` key: one entry per
judge with one per dimension it scored.  A project without automated ratings gets ``[]``, and the
page shows no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from evalplatform.projects.models import Project
from evalplatform.ratings.models import Rating, Score
from evalplatform.reports.data import ReportData
from evalplatform.stats.judge_summary import judges_report
from evalplatform.stats.readers import from_rows

JudgeRow = tuple[str, str, str, float, str]  # (item_id, rater, dimension, value, model), as long_rows


def judge_rows(project: Project, data: ReportData) -> list[JudgeRow]:
    """Every automated judge's score on the snapshot's tasks and scored dimensions (one query).

    Units are named as in ``ReportData.dimensions``: a per-response question of a pair task counts
    for that response's model, the judge's first score of a unit counting.
    """
    keys = [d.key for d in data.dimensions]
    scores = (
        Score.objects.filter(
            # the judges' ratings as a subquery: the planner starts from them (usually few), not from the
            # rubric's scores (with a dimension index: 0.26 s on 720,000 human scores and no judge; 0.02 s)
            rating__in=Rating.objects.filter(project=project, rater__is_automated=True).values("id"),
            value__isnull=False, dimension__version_id=project.rubric_version_id, dimension__key__in=keys,
        )
        .order_by("rating_id", "id")
        .values_list("dimension__key", "rating__task_id", "rating__rater__username", "response__model", "value")
    )
    rows: list[JudgeRow] = []
    seen: set[tuple[str, str, str, str]] = set()
    # Read as a plain query, not ``iterator()``: PostgreSQL plans a server-side cursor for its first
    # tenth and took a nested loop over every human score to find no judge (0.95 s, against 5 ms
    # planned for the whole result; twice per report, for this section and reference metrics).  The
    # judges' scores are a small part of a project's, and all of them are kept below anyway.
    for key, task_id, rater, response_model, value in scores:
        info = data.tasks.get(task_id)
        if info is None:  # a task created after the snapshot's tasks were read
            continue
        unit = (key, info.item, rater, response_model or info.model)
        if unit in seen:
            continue
        seen.add(unit)
        rows.append((info.item, rater, key, float(cast(int, value)), unit[3]))  # value__isnull=False
    return rows


def judges_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Calibration of every automated judge against the human raters of the report (see
    ``stats.judges.judge_calibration``): kappa and alpha with intervals, every human's kappa against
    the rest next to the judge's, the verdict, Spearman, the offset and the largest disagreements."""
    judged = judge_rows(project, data)
    if not judged:
        return []
    judges = sorted({row[1] for row in judged})
    named = set(judges)  # in the snapshot too when the lead included automated raters
    humans = [row for row in data.long_rows() if row[1] not in named]
    rows = sorted(humans + judged, key=lambda r: (r[2], r[0], r[4], r[1]))  # a fixed order: seeded intervals
    return judges_report(
        from_rows(rows), judges, levels={d.key: d.level for d in data.dimensions},
        scales={d.key: list(d.scale) for d in data.dimensions}, bootstrap=int(parameters.get("bootstrap", 1000)),
        seed=parameters.get("seed", 0),
    )

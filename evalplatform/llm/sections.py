"""The report's judge runs section: for each automated judge, the runs that produced its ratings.

Shown beside the judge calibration (``reports.judges``): which run, with which prompt version and
endpoint model, what it cost, and how many outputs were invalid (kept, not scored).  Judges whose
ratings were imported have no run and do not appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from evalplatform.llm.models import Call, Run
from evalplatform.projects.models import Project
from evalplatform.ratings.importing import AUTOMATED_PREFIX
from evalplatform.reports.data import ReportData


def judge_runs_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    rows = (
        Call.objects.filter(run__project=project, run__kind=Run.Kind.JUDGE)
        .values("run_id", "run__prompt_version", "run__status", "run__created_at", "endpoint__name", "endpoint__model")
        .annotate(
            calls=Count("id"), done=Count("id", filter=Q(status=Call.Status.DONE)),
            invalid=Count("id", filter=Q(status=Call.Status.INVALID)),
            failed=Count("id", filter=Q(status=Call.Status.FAILED)),
            cost=Sum("cost"), prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens"),
        )
        .order_by("endpoint__name", "run_id")
    )
    out = []
    for row in rows:
        out.append({
            "judge": f"{AUTOMATED_PREFIX}{row['endpoint__name']}", "run": row["run_id"],
            "prompt_version": row["run__prompt_version"], "status": row["run__status"],
            "started": row["run__created_at"].isoformat(), "model": row["endpoint__model"],
            "calls": row["calls"], "rated": row["done"], "invalid": row["invalid"], "failed": row["failed"],
            "cost": float(row["cost"] or Decimal(0)), "prompt_tokens": row["prompt_tokens"] or 0,
            "completion_tokens": row["completion_tokens"] or 0,
        })
    return out

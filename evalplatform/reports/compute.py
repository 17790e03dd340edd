"""What a report contains: the project's scores loaded with set-based queries, handed to ``stats``.

Loading is one query for the tasks and one per scored dimension, whatever the number of ratings.
Everything numeric is computed by ``evalplatform.stats``; this module only shapes inputs and adds the
project's own context (models, metadata groups, coverage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from evalplatform.projects.models import Membership, Project, Task
from evalplatform.ratings.models import Rating, Score
from evalplatform.stats.summary import summarize
from rubrics.models import Dimension


@dataclass(frozen=True)
class TaskInfo:
    unit: str  # the unit's name in the report: "ticket-001" or "ticket-001:model-a-vs-model-b"
    item: str
    model: str | None
    metadata: dict


def load_tasks(project: Project) -> dict[int, TaskInfo]:
    rows = Task.objects.filter(project=project).values_list(
        "id", "item__external_id", "item__metadata", "response_a__model", "response_b__model"
    )
    tasks = {}
    for task_id, ext, metadata, model_a, model_b in rows.iterator(chunk_size=5000):
        if model_b is None:
            tasks[task_id] = TaskInfo(ext, ext, model_a, metadata or {})
        else:
            tasks[task_id] = TaskInfo(f"{ext}:{model_a}-vs-{model_b}", ext, None, metadata or {})
    return tasks


def rating_filter(project: Project, parameters: dict[str, Any]) -> Q:
    """Which ratings a report covers, by its parameters (automated judges, paused raters)."""
    q = Q(rating__project=project)
    if not parameters.get("include_automated", False):
        q &= Q(rating__rater__is_automated=False)
    if not parameters.get("include_paused", True):
        paused = Membership.objects.filter(project=project, paused=True).values("user_id")
        q &= ~Q(rating__rater_id__in=paused)
    return q


def load_scores(project: Project, parameters: dict[str, Any]):
    """Yield ``(dimension, rows)`` per scored dimension; rows are (task_id, rater, value)."""
    where = rating_filter(project, parameters)
    dims = Dimension.objects.filter(version_id=project.rubric_version_id).exclude(kind=Dimension.Kind.TEXT)
    for dim in dims.prefetch_related("levels"):
        rows = Score.objects.filter(where, dimension=dim, value__isnull=False).values_list(
            "rating__task_id", "rating__rater__username", "value"
        )
        yield dim, list(rows.iterator(chunk_size=10000))


def build_result(
    project: Project, parameters: dict[str, Any], *, progress: Callable[[float], None] | None = None
) -> tuple[dict[str, Any], int]:
    """The report's JSON and the number of ratings it covers."""
    tasks = load_tasks(project)
    dims = list(load_scores(project, parameters))
    long_rows = []
    levels: dict[str, str] = {}
    scales: dict[str, list[float]] = {}
    for dim, rows in dims:
        levels[dim.key] = dim.level
        scales[dim.key] = [lv.value for lv in dim.levels.all()]
        for task_id, rater, value in rows:
            info = tasks[task_id]
            long_rows.append((info.unit, rater, dim.key, float(value), info.model))
    if progress:
        progress(0.2)
    result = summarize(
        long_rows, levels=levels, scales=scales, bootstrap=int(parameters.get("bootstrap", 1000)),
        seed=parameters.get("seed", 0),
    )
    if progress:
        progress(0.9)
    ratings = Rating.objects.filter(project=project)
    if not parameters.get("include_automated", False):
        ratings = ratings.filter(rater__is_automated=False)
    n_ratings = ratings.count()
    result["project"] = {"slug": project.slug, "name": project.name, "kind": project.kind,
                         "overlap": project.overlap}
    result["coverage"] = coverage(project)
    result["parameters"] = {**result.get("parameters", {}), **parameters}
    return result, n_ratings


def coverage(project: Project) -> dict[str, int]:
    counts = Task.objects.filter(project=project).aggregate(
        tasks=Count("id"),
        complete=Count("id", filter=Q(rated_count__gte=project.overlap)),
        started=Count("id", filter=Q(rated_count__gt=0)),
    )
    return counts

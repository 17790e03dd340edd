"""A report's input: the project's ratings read once, with a few set-based queries, into ``ReportData``.

``load_data`` runs one query for the tasks (with item, models and metadata), one for the rubric's
scales (cached per process), one for every covered score and one for every covered rating (rater,
duration, the sides the queue showed), whatever the number of ratings.  The sections read this same
snapshot, so they describe the same data; two read more, set-based: the judges section the automated
judges' scores (left out of the snapshot by default), the quality section its own load of the
ratings (``quality.analysis``, stored with the snapshot's ``data_seq``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import Q

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.ratings.models import Rating, Score
from rubrics.models import Dimension
from rubrics.scales import scales_for

CHUNK = 10_000


@dataclass(frozen=True)
class TaskInfo:
    """What a task is about.  ``model`` names the response (single) or the pair ("m1 vs m2")."""

    item: str  # the item's external id
    model: str
    metadata: dict
    pair: tuple[str, str] | None = None


@dataclass(frozen=True)
class DimensionData:
    """One scored rubric dimension and its covered scores, ``(task_id, model, rater, value)`` each.

    ``model`` is the task's model, or on a pair task the response a per-response question was about.
    """

    key: str
    label: str
    kind: str
    level: str
    scale: tuple[int, ...]
    labels: dict[int, str]
    rows: list[tuple[int, str, str, int]] = field(default_factory=list)

    @property
    def numeric(self) -> bool:
        """Whether a mean of the values means something (not for categorical labels)."""
        return self.kind != Dimension.Kind.CATEGORICAL


@dataclass(frozen=True)
class RatingInfo:
    task_id: int
    rater: str
    duration_ms: int | None
    #: the queue's ``Assignment.swapped`` (True: ``response_b`` was shown on the left as "A"); None for
    #: imported and automated ratings, whose sides are not known
    swapped: bool | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything a section may read.  Build it with ``load_data``."""

    tasks: dict[int, TaskInfo]
    dimensions: list[DimensionData]
    ratings: list[RatingInfo]
    data_seq: int

    @property
    def raters(self) -> list[str]:
        return sorted({r.rater for r in self.ratings})

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    def long_rows(self) -> list[tuple[str, str, str, float, str]]:
        """Every covered score as ``(item_id, rater, dimension, value, model)`` for ``stats.summarize``,
        in a fixed order (so bootstrap resamples, and with them the intervals, do not depend on the
        database's row order)."""
        rows = []
        for dim in self.dimensions:
            for task_id, model, rater, value in dim.rows:
                rows.append((self.tasks[task_id].item, rater, dim.key, float(value), model))
        rows.sort(key=lambda r: (r[2], r[0], r[4], r[1]))
        return rows


def rating_filter(project: Project, parameters: Mapping[str, Any], *, prefix: str = "rating__") -> Q:
    """Which ratings a report covers, by its parameters (automated judges, paused raters, gold tasks).

    A ``Q`` on ``Score`` by default; ``prefix=""`` gives the same rule on ``Rating``.
    """
    q = Q(**{f"{prefix}project": project})
    if not parameters.get("include_automated", False):
        q &= Q(**{f"{prefix}rater__is_automated": False})
    if not parameters.get("include_paused", True):
        paused = Membership.objects.filter(project=project, paused=True).values("user_id")
        q &= ~Q(**{f"{prefix}rater_id__in": paused})
    if not parameters.get("include_gold", False):  # gold tasks measure raters, not the models
        q &= Q(**{f"{prefix}task__is_gold": False})
    return q


def load_tasks(project: Project, *, include_gold: bool = True) -> dict[int, TaskInfo]:
    """Every task of the project (one query); gold tasks only with ``include_gold``."""
    rows = Task.objects.filter(project=project, **({} if include_gold else {"is_gold": False})).values_list(
        "id", "item__external_id", "item__metadata", "response_a__model", "response_b__model"
    )
    tasks = {}
    for task_id, ext, metadata, model_a, model_b in rows.iterator(chunk_size=CHUNK):
        if model_b is None:
            tasks[task_id] = TaskInfo(ext, model_a, metadata or {})
        else:
            tasks[task_id] = TaskInfo(ext, f"{model_a} vs {model_b}", metadata or {}, (model_a, model_b))
    return tasks


def load_scores(project: Project, parameters: Mapping[str, Any], tasks: dict[int, TaskInfo]) -> list[DimensionData]:
    """Each scored dimension (rubric order) with its covered scores: one query for all of them.

    A per-response question of a pair task counts for that response's model.  A response can be in
    several pairs, so a rater may have scored it more than once; their first score counts (a unit
    takes one value per rater).
    """
    dims: dict[int, DimensionData] = {}
    for scale in scales_for(project.rubric_version_id).values():
        if scale.kind != Dimension.Kind.TEXT:
            dims[scale.dimension_id] = DimensionData(
                scale.key, scale.label, scale.kind, scale.level, tuple(scale.values), dict(scale.labels)
            )
    scores = (
        Score.objects.filter(rating_filter(project, parameters), dimension_id__in=list(dims), value__isnull=False)
        .order_by("rating_id", "id")
        .values_list("dimension_id", "rating__task_id", "rating__rater__username", "response__model", "value")
    )
    seen: set[tuple[int, str, str, str]] = set()
    for dim_id, task_id, rater, response_model, value in scores.iterator(chunk_size=CHUNK):
        info = tasks.get(task_id)
        if info is None:  # a task created after the tasks were read
            continue
        model = response_model or info.model
        if response_model is not None:
            key = (dim_id, info.item, rater, model)
            if key in seen:
                continue
            seen.add(key)
        dims[dim_id].rows.append((task_id, model, rater, cast(int, value)))  # value__isnull=False
    return list(dims.values())


def load_ratings(project: Project, parameters: Mapping[str, Any]) -> list[RatingInfo]:
    """Every covered rating's task, rater, duration and the sides it was shown (one query)."""
    rows = (
        Rating.objects.filter(rating_filter(project, parameters, prefix=""))
        .order_by("id")
        .values_list("task_id", "rater__username", "duration_ms", "assignment__source", "assignment__swapped")
    )
    return [
        RatingInfo(task_id, rater, duration, swapped if source == Assignment.Source.QUEUE else None)
        for task_id, rater, duration, source, swapped in rows.iterator(chunk_size=CHUNK)
    ]


def load_data(project: Project, parameters: Mapping[str, Any]) -> ReportData:
    """The report's snapshot of the project.  Call inside one transaction for a consistent read."""
    data_seq = Project.objects.values_list("ratings_seq", flat=True).get(pk=project.pk)
    tasks = load_tasks(project, include_gold=parameters.get("include_gold", False))
    ratings = [r for r in load_ratings(project, parameters) if r.task_id in tasks]
    return ReportData(tasks=tasks, dimensions=load_scores(project, parameters, tasks), ratings=ratings,
                      data_seq=data_seq)

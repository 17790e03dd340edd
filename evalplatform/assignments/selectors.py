"""Reads for the rating queue: what a rater is shown, and how far raters and projects have got.

Every read that serves a rater takes the rater and filters by them, so another rater's assignment
is simply not found.  The lead's dashboard reads counts only, never anyone's scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Project, Response, Task
from rubrics.models import Dimension
from rubrics.scales import SIDES, asked_per_response
from rubrics.selectors import once_per_published_version

# --- The rubric as a rater sees it -----------------------------------------------------------


@dataclass(frozen=True)
class LevelView:
    value: int
    label: str
    anchor: str
    keys: tuple[str, ...]  # keyboard shortcuts that pick this level, the first one shown

    @property
    def hint(self) -> str:
        return self.keys[0] if self.keys else ""


@dataclass(frozen=True)
class DimensionView:
    key: str
    label: str
    description: str
    kind: str
    required: bool
    levels: tuple[LevelView, ...]

    @property
    def is_text(self) -> bool:
        return self.kind == Dimension.Kind.TEXT

    @property
    def field_name(self) -> str:
        return f"score-{self.key}"


def shortcut_keys(kind: str, values: list[int]) -> list[tuple[str, ...]]:
    """The keys that pick each level, in level order.

    Likert: the digit of the value (a 1-10 scale takes 0 for 10).  Yes/no: 1 or y, 0 or n.
    Categorical and pairwise: the level's position, 1 for the first (so on a five-point preference
    1 is "A much better" and 5 "B much better"), 0 for the tenth.  Levels past that have no key and
    are reached with the arrow keys.
    """
    if kind == Dimension.Kind.BINARY:
        return [("1", "y") if v == 1 else ("0", "n") for v in values]
    if kind == Dimension.Kind.LIKERT:
        keys: list[tuple[str, ...]] = []
        for v in values:
            if 0 <= v <= 9:
                keys.append((str(v),))
            elif v == 10 and 0 not in values:
                keys.append(("0",))
            else:
                keys.append(())
        return keys
    return [(str(n % 10),) if n <= 10 else () for n in range(1, len(values) + 1)]


_forms: dict[tuple[int, datetime], tuple[DimensionView, ...]] = {}


def rubric_form(version_id: int) -> tuple[DimensionView, ...]:
    """The dimensions of a rubric version with their levels and shortcuts, in rubric order; read once
    per process for a published version (``rubrics.selectors.once_per_published_version``)."""
    return once_per_published_version(_forms, version_id, _read_form)


def _read_form(version_id: int) -> tuple[DimensionView, ...]:
    dims = []
    for dim in Dimension.objects.filter(version_id=version_id).prefetch_related("levels").order_by("position", "id"):
        levels = list(dim.levels.all())
        keys = shortcut_keys(dim.kind, [lv.value for lv in levels])
        dims.append(
            DimensionView(
                key=dim.key, label=dim.label, description=dim.description, kind=dim.kind, required=dim.required,
                levels=tuple(
                    LevelView(value=lv.value, label=lv.label, anchor=lv.anchor, keys=k)
                    for lv, k in zip(levels, keys, strict=True)
                ),
            )
        )
    return tuple(dims)


def task_form(version_id: int, *, pair: bool) -> tuple[DimensionView, ...]:
    """The questions of one task: ``rubric_form``, with each question that a pair task asks of
    each response (``rubrics.scales.asked_per_response``) split into ``key.a`` and ``key.b``."""
    form = rubric_form(version_id)
    if not pair:
        return form
    out: list[DimensionView] = []
    for dim in form:
        if asked_per_response(dim.kind, pair=True):
            out += [replace(dim, key=f"{dim.key}.{side}", label=f"{dim.label}: response {side.upper()}") for side in SIDES]
        else:
            out.append(dim)
    return tuple(out)


# --- One rater's work ------------------------------------------------------------------------


def assignment_for(*, user, project: Project, pk: int) -> Assignment:
    """The user's own assignment in this project, else 404 (another rater's is never found)."""
    return get_object_or_404(
        Assignment.objects.select_related("task__item", "task__response_a", "task__response_b"),
        pk=pk, project=project, rater=user,
    )


@dataclass(frozen=True)
class ShownResponse:
    side: str  # "A" / "B" for a pair, "" for a single response
    text: str


def shown_responses(assignment: Assignment) -> list[ShownResponse]:
    """The responses in the order this rater sees them.  Model names are never shown (blind rating);
    in a pair, ``swapped`` puts ``response_b`` on the left as "A"."""
    task = assignment.task
    if task.response_b is None:
        return [ShownResponse("", task.response_a.text)]
    left, right = (task.response_b, task.response_a) if assignment.swapped else (task.response_a, task.response_b)
    return [ShownResponse("A", left.text), ShownResponse("B", right.text)]


@dataclass(frozen=True)
class ItemPosition:
    """Where a task sits among its item's: "response 2 of 3" (or "pair 1 of 3") for the rater's bearings."""

    noun: str  # "response" or "pair"
    index: int  # from 1
    total: int


def position_in_item(task: Task) -> ItemPosition:
    """The task's place among its item's responses (single-response tasks, by position) or pairs (by id).

    One query of ids; a task not found among them (it cannot happen) counts as the last."""
    if task.response_b_id is None:
        ids = list(Response.objects.filter(item_id=task.item_id).order_by("position", "id").values_list("id", flat=True))
        key, noun = task.response_a_id, "response"
    else:
        ids = list(Task.objects.filter(item_id=task.item_id, response_b__isnull=False).order_by("id")
                   .values_list("id", flat=True))
        key, noun = task.pk, "pair"
    index = ids.index(key) + 1 if key in ids else len(ids)
    return ItemPosition(noun=noun, index=index, total=max(len(ids), 1))


# --- The lead's dashboard --------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectProgress:
    tasks: int
    tasks_complete: int
    ratings: int
    needed: int
    leased: int
    skipped: int

    @property
    def percent(self) -> int:
        return int(100 * self.ratings / self.needed) if self.needed else 0


def project_progress(project: Project, *, now: datetime | None = None) -> ProjectProgress:
    """How much of the project is rated: one aggregate over tasks, one over assignments.  Gold tasks
    (quality checks served to every rater) are not part of the work to finish."""
    now = now or timezone.now()
    tasks = Task.objects.filter(project=project, is_gold=False).aggregate(
        n=Count("id"), complete=Count("id", filter=Q(rated_count__gte=F("capacity"))),
        ratings=Sum("rated_count"), needed=Sum("capacity"),
    )
    queue = Assignment.objects.filter(project=project).aggregate(
        leased=Count("id", filter=Q(status=Assignment.Status.ACTIVE, lease_expires_at__gt=now)),
        skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
    )
    return ProjectProgress(
        tasks=tasks["n"], tasks_complete=tasks["complete"], ratings=tasks["ratings"] or 0,
        needed=tasks["needed"] or 0, leased=queue["leased"], skipped=queue["skipped"],
    )


def progress_data(project: Project) -> dict[str, Any]:
    """``project_progress`` as JSON (the project API's ``progress``); registered in ``apps.py``."""
    progress = project_progress(project)
    return {**asdict(progress), "percent": progress.percent}


# --- The API's reads of assignments ----------------------------------------------------------


def assignments_visible_to(user):
    """Assignments the user may open by id: their own (all of them for admins); others' are 404.

    Joined with what the rater is shown (item, responses, project) and their rating, if any.
    """
    assignments = Assignment.objects.select_related(
        "project__rubric_version", "task__item", "task__response_a", "task__response_b", "rating"
    )
    if user.is_staff:
        return assignments
    return assignments.filter(rater_id=user.pk)

"""Reads for the rating queue: what a rater is shown, and how far raters and projects have got.

Every read that serves a rater takes the rater and filters by them, so another rater's assignment
is simply not found.  The lead's dashboard reads counts only, never anyone's scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.ratings.models import SIDES, Rating, asked_per_response
from rubrics.models import Dimension
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
    each response (``ratings.models.asked_per_response``) split into ``key.a`` and ``key.b``."""
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
class RaterProgress:
    done_today: int
    done_project: int
    left: int  # tasks this rater could still be served, counting the one they hold


def _start_of_day(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


def rater_progress(*, project: Project, rater, now: datetime | None = None) -> RaterProgress:
    """Three small counts for the rating page's header."""
    now = now or timezone.now()
    done = Rating.objects.filter(project=project, rater=rater).aggregate(
        total=Count("id"), today=Count("id", filter=Q(created_at__gte=_start_of_day(now)))
    )
    # Open tasks less the open ones this rater has had (at most one assignment per task and rater):
    # two counts over indexes, where one count with NOT EXISTS per task took 15-30 ms on PostgreSQL.
    open_tasks = Task.objects.filter(project=project, is_gold=False, claimed_count__lt=F("capacity")).count()
    open_seen = Assignment.objects.filter(
        project=project, rater=rater, task__is_gold=False, task__claimed_count__lt=F("task__capacity")
    ).count()
    open_unseen = open_tasks - open_seen
    holding = Assignment.objects.filter(
        project=project, rater=rater, status=Assignment.Status.ACTIVE, lease_expires_at__gt=now
    ).exists()
    return RaterProgress(done_today=done["today"], done_project=done["total"], left=open_unseen + int(holding))


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


@dataclass(frozen=True)
class RaterRow:
    user_id: int
    username: str
    role: str  # "lead", "rater", or "" for someone with ratings but no membership (an imported judge)
    paused: bool
    ratings: int
    today: int
    skipped: int
    holding: int
    avg_seconds: float | None
    last_rating_at: datetime | None


def rater_rows(project: Project, *, now: datetime | None = None) -> list[RaterRow]:
    """Each member and each other rater of the project with their counts: three grouped queries."""
    now = now or timezone.now()
    members = {
        m["user_id"]: m
        for m in Membership.objects.filter(project=project).values("user_id", "user__username", "role", "paused")
    }
    ratings: dict[int, Mapping[str, Any]] = {
        r["rater_id"]: r
        for r in Rating.objects.filter(project=project).values("rater_id").annotate(
            n=Count("id"), today=Count("id", filter=Q(created_at__gte=_start_of_day(now))),
            avg_ms=Avg("duration_ms"), last=Max("created_at"),
        )
    }
    queue: dict[int, Mapping[str, Any]] = {
        a["rater_id"]: a
        for a in Assignment.objects.filter(project=project, source=Assignment.Source.QUEUE).values("rater_id").annotate(
            skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
            holding=Count("id", filter=Q(status=Assignment.Status.ACTIVE, lease_expires_at__gt=now)),
        )
    }
    extra = set(ratings) - set(members)
    names = dict(
        Rating.objects.filter(project=project, rater_id__in=extra).values_list("rater_id", "rater__username").distinct()
    ) if extra else {}
    rows = []
    for user_id in [*members, *sorted(extra)]:
        m, r, q = members.get(user_id), ratings.get(user_id, {}), queue.get(user_id, {})
        if m is not None and m["role"] == Membership.Role.LEAD and not r:
            continue  # a lead who does not rate is listed with the members, not here
        rows.append(
            RaterRow(
                user_id=user_id, username=m["user__username"] if m else names[user_id], role=m["role"] if m else "",
                paused=bool(m and m["paused"]), ratings=r.get("n", 0), today=r.get("today", 0),
                skipped=q.get("skipped", 0), holding=q.get("holding", 0),
                avg_seconds=r["avg_ms"] / 1000 if r.get("avg_ms") is not None else None,
                last_rating_at=r.get("last"),
            )
        )
    rows.sort(key=lambda row: (-row.ratings, row.username))
    return rows


def members(project: Project):
    """The project's memberships with their users, leads first."""
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")


def ratings_per_day(project: Project, *, days: int = 30, now: datetime | None = None) -> list[tuple[date, int]]:
    """Ratings submitted on each of the last ``days`` days (today last), zero-filled, in the
    project's time zone: one grouped query."""
    now = now or timezone.now()
    first = timezone.localtime(now).date() - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    counts = dict(
        Rating.objects.filter(project=project, created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]


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

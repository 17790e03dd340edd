"""Reads of ratings, scoped by who asks: raters see their own, leads their projects', admins all;
and the counts of ratings that the rater's page and the lead's dashboard show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Max, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.ratings.models import Rating, Score


def included_ratings(project: Project, parameters: Mapping[str, Any], *, prefix: str = "rating__") -> Q:
    """Which of the project's ratings count, by a report's (or an export's) parameters: automated
    judges only with ``include_automated``, paused raters unless ``include_paused`` is false, gold
    tasks only with ``include_gold``, and ratings a lead excluded only with ``include_excluded``.

    A ``Q`` on ``Score`` by default; ``prefix=""`` gives the same rule on ``Rating``.
    """
    q = Q(**{f"{prefix}project": project})
    if not parameters.get("include_excluded", False):  # a lead excluded them (ratings.RaterExclusion)
        q &= Q(**{f"{prefix}exclusion__isnull": True})
    if not parameters.get("include_automated", False):
        q &= Q(**{f"{prefix}rater__is_automated": False})
    if not parameters.get("include_paused", True):
        paused = Membership.objects.filter(project=project, paused=True).values("user_id")
        q &= ~Q(**{f"{prefix}rater_id__in": paused})
    if not parameters.get("include_gold", False):  # gold tasks measure raters, not the models
        q &= Q(**{f"{prefix}task__is_gold": False})
    return q


def ratings_visible_to(user) -> QuerySet[Rating]:
    """Ratings the user may open: another rater's rating in a project they only rate in is not found.

    Joined with the item, rater and assignment, scores prefetched with their dimensions: a page of
    ratings costs two queries.
    """
    ratings = Rating.objects.select_related("task__item", "rater", "assignment").prefetch_related(
        Prefetch("scores", queryset=Score.objects.select_related("dimension").order_by("dimension__position", "id"))
    )
    if not user.is_authenticated:
        return ratings.none()
    if user.is_staff:
        return ratings
    led = Membership.objects.filter(user=user, role=Membership.Role.LEAD).values("project_id")
    return ratings.filter(Q(rater=user) | Q(project_id__in=led))


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
    # Gold tasks count like any other, so the figure drops by one with every item served, gold or
    # not (counting ordinary work only, it stayed flat on each gold item and gave them away).  Gold
    # is only served while ordinary work remains, so it counts only then.
    open_tasks = dict(
        Task.objects.filter(project=project, claimed_count__lt=F("capacity"))
        .values_list("is_gold").annotate(n=Count("id")).values_list("is_gold", "n")
    )
    open_seen = dict(
        Assignment.objects.filter(project=project, rater=rater, task__claimed_count__lt=F("task__capacity"))
        .values_list("task__is_gold").annotate(n=Count("id")).values_list("task__is_gold", "n")
    )
    open_unseen = open_tasks.get(False, 0) - open_seen.get(False, 0)
    if open_unseen > 0:
        open_unseen += open_tasks.get(True, 0) - open_seen.get(True, 0)
    holding = Assignment.objects.filter(
        project=project, rater=rater, status=Assignment.Status.ACTIVE, lease_expires_at__gt=now
    ).exists()
    return RaterProgress(done_today=done["today"], done_project=done["total"], left=open_unseen + int(holding))



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



def ratings_per_day(project: Project, *, days: int = 30, now: datetime | None = None) -> list[tuple[date, int]]:
    """Ratings submitted on each of the last ``days`` days (today last), zero-filled, in the
    project's time zone: one grouped query.  Counted as the completion cards count them: people's
    ratings of ordinary tasks, not automated judges' and not gold items'."""
    now = now or timezone.now()
    first = timezone.localtime(now).date() - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    counts = dict(
        Rating.objects.filter(project=project, created_at__gte=start, rater__is_automated=False, task__is_gold=False)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]

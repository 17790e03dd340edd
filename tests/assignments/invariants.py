"""The queue's invariants, checked from the database alone (used after every scenario)."""

from __future__ import annotations

from django.db.models import Count, Q

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Task
from evalplatform.ratings.models import Rating

LIVE = (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED)


def assert_queue_invariants(project) -> None:
    """No task over its overlap (gold tasks: over their capacity), no rater twice on a task, counters
    equal to the rows they count, and a rating for exactly the submitted assignments.

    A rating a lead excluded (``Rating.exclusion``) gave its place back: it counts in neither the
    ratings nor the live assignments of its task.
    """
    excluded = Q(assignments__rating__exclusion__isnull=False)
    tasks = Task.objects.filter(project=project).annotate(
        n_ratings=Count("ratings", filter=Q(ratings__exclusion__isnull=True), distinct=True),
        n_live=Count("assignments", filter=Q(assignments__status__in=LIVE) & ~excluded, distinct=True),
    )
    for task in tasks:
        assert task.n_ratings <= task.capacity, f"{task}: {task.n_ratings} ratings, capacity {task.capacity}"
        if not task.is_gold:  # a gold task is served to every rater once: no overlap limit
            assert task.n_ratings <= project.overlap, f"{task}: {task.n_ratings} ratings, overlap {project.overlap}"
        assert task.rated_count == task.n_ratings, f"{task}: rated_count {task.rated_count} != {task.n_ratings}"
        assert task.claimed_count == task.n_live, f"{task}: claimed_count {task.claimed_count} != {task.n_live}"
    twice = (
        Assignment.objects.filter(project=project).values("task", "rater").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not twice.exists(), list(twice)
    rated_twice = Rating.objects.filter(project=project).values("task", "rater").annotate(n=Count("id")).filter(n__gt=1)
    assert not rated_twice.exists(), list(rated_twice)
    submitted = set(
        Assignment.objects.filter(project=project, status=Assignment.Status.SUBMITTED).values_list("id", flat=True)
    )
    rated = set(Rating.objects.filter(project=project).values_list("assignment_id", flat=True))
    assert submitted == rated, (submitted ^ rated)

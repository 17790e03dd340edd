"""Reads of ratings, scoped by who asks: raters see their own, leads their projects', admins all."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from evalplatform.projects.models import Membership
from evalplatform.ratings.models import Rating, Score


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

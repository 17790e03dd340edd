"""Reads about rubrics, scoped by who asks.

Admins see every version, drafts included.  Leads choose rubrics for new projects, so they see every
published version.  Raters see the versions their own projects use, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.db.models import Prefetch, QuerySet

from rubrics.models import Dimension, Rubric, RubricVersion, ScaleLevel

T = TypeVar("T")


def visible_versions(user) -> QuerySet[RubricVersion]:
    if not user.is_authenticated:
        return RubricVersion.objects.none()
    if user.is_staff:
        return RubricVersion.objects.all()
    published = RubricVersion.objects.filter(status=RubricVersion.Status.PUBLISHED)
    if user.memberships.filter(role="lead").exists():  # projects.Membership, by its related name
        return published
    return published.filter(projects__memberships__user=user).distinct()


def visible_rubrics(user) -> QuerySet[Rubric]:
    """Rubrics with at least one visible version, each with those versions prefetched (in order)."""
    versions = visible_versions(user)
    return (
        Rubric.objects.filter(pk__in=versions.values("rubric_id"))
        .prefetch_related(Prefetch("versions", queryset=versions.order_by("number")))
        .order_by("slug")
    )


def with_dimensions(versions: QuerySet[RubricVersion]) -> QuerySet[RubricVersion]:
    """The versions with their dimensions and scale levels prefetched: three queries in all."""
    return versions.select_related("rubric").prefetch_related(
        Prefetch(
            "dimensions",
            queryset=Dimension.objects.order_by("position", "id").prefetch_related(
                Prefetch("levels", queryset=ScaleLevel.objects.order_by("value"))
            ),
        )
    )


def rubric_with_versions(user, pk: int) -> Rubric | None:
    """One visible rubric with its visible versions, dimensions and levels prefetched."""
    versions = with_dimensions(visible_versions(user)).order_by("number")
    return (
        Rubric.objects.filter(pk=pk, pk__in=visible_versions(user).values("rubric_id"))
        .prefetch_related(Prefetch("versions", queryset=versions))
        .first()
    )


def once_per_published_version(cache: dict[tuple[int, datetime], T], version: int | RubricVersion,
                               build: Callable[[int], T]) -> T:
    """``build(version_id)``, kept in ``cache`` for the life of the process once the version is published.

    A published version never changes, so what is built from it holds for good; a draft is built
    anew on every call.  The key holds the publication time too, so a database that reuses ids (as
    tests do) never sees a stale entry.  Given an id this costs one small query per call; given a
    ``RubricVersion`` already read (say, joined to the project in the caller's own query) it costs none.
    """
    if isinstance(version, RubricVersion):
        version_id = version.pk
        published_at = version.published_at if version.status == RubricVersion.Status.PUBLISHED else None
    else:
        version_id = version
        published_at = (
            RubricVersion.objects.filter(pk=version_id, status=RubricVersion.Status.PUBLISHED)
            .values_list("published_at", flat=True).first()
        )
    if published_at is None:
        return build(version_id)
    key = (version_id, published_at)
    if key not in cache:
        cache[key] = build(version_id)
    return cache[key]

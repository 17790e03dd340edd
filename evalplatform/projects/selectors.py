"""Reads about projects, scoped by who asks: a project a user may not see does not exist for them."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from evalplatform.projects.models import Membership, Project


def visible_projects(user) -> QuerySet[Project]:
    """Projects the user may open: all for admins, their memberships for everyone else."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def role_in(project: Project, user) -> str | None:
    """``"admin"``, ``"lead"``, ``"rater"`` or None."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return "admin"
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def project_for(user, *, slug: str | None = None, pk: int | None = None, roles: tuple[str, ...] | None = None) -> Project:
    """The project if ``user`` may see it (with one of ``roles``, when given), else 404.

    A rater asking for a lead-only page of their own project gets ``PermissionDenied`` from the
    caller's permission class; a project they are not in is simply not found.
    """
    lookup = {"slug": slug} if slug is not None else {"pk": pk}
    project = visible_projects(user).select_related("rubric_version__rubric").filter(**lookup).first()
    if project is None:
        raise Http404("No such project.")
    if roles is not None and role_in(project, user) not in (*roles, "admin"):
        raise Http404("No such project.")
    return project


def project_rows(user) -> list[dict]:
    """The home page's rows: each visible project with the user's role and its progress."""
    projects = visible_projects(user).annotate(
        tasks_total=Count("tasks", distinct=True),
        ratings_done=Sum("tasks__rated_count"),
    ).order_by("name")
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role")) if user.is_authenticated else {}
    rows = []
    for project in projects:
        role = roles.get(project.pk) or ("admin" if user.is_staff else None)
        rows.append(
            {
                "project": project,
                "role": role,
                "rated": project.ratings_done or 0,
                "needed": (project.tasks_total or 0) * project.overlap,
            }
        )
    return rows


def lead_projects(user) -> QuerySet[Project]:
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(Q(memberships__user=user, memberships__role=Membership.Role.LEAD)).distinct()

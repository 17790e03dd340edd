"""Reads about projects, scoped by who asks: a project a user may not see does not exist for them."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from evalplatform.projects.models import Item, Membership, Project, Task


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
    ordinary = Q(tasks__is_gold=False)  # gold tasks are quality checks, not work to finish
    projects = visible_projects(user).annotate(
        tasks_total=Count("tasks", filter=ordinary, distinct=True),
        ratings_done=Sum("tasks__rated_count", filter=ordinary),
    ).order_by("name")
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role")) if user.is_authenticated else {}
    rows = []
    for project in projects:
        role = roles.get(project.pk) or ("admin" if user.is_staff else None)
        # The project's progress is the lead's figure.  Raters see their own counts on the rating page:
        # gold ratings are left out of this one, so a rater watching it move would tell gold items apart.
        leads = role in ("lead", "admin")
        rows.append(
            {
                "project": project,
                "role": role,
                "rated": project.ratings_done or 0 if leads else None,
                "needed": (project.tasks_total or 0) * project.overlap if leads else None,
            }
        )
    return rows


def lead_projects(user) -> QuerySet[Project]:
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(Q(memberships__user=user, memberships__role=Membership.Role.LEAD)).distinct()


def project_items(project: Project):
    """The project's items for listing: responses prefetched, plus ``ratings`` (ratings given over
    all the item's tasks) and ``complete`` (every task has its overlap of ratings), set-based."""
    tasks = Task.objects.filter(item=OuterRef("pk"))
    rated = tasks.values("item").annotate(total=Sum("rated_count")).values("total")
    return (
        Item.objects.filter(project=project)
        .annotate(
            ratings=Coalesce(Subquery(rated, output_field=IntegerField()), Value(0)),
            complete=~Exists(tasks.filter(rated_count__lt=project.overlap)),
        )
        .prefetch_related("responses")
        .order_by("id")
    )


def filter_by_metadata(items, conditions: dict[tuple[str, ...], str]):
    """Items whose metadata has each key path equal to the value, given as text.

    A value that reads as a number or a boolean also matches the JSON number or boolean, so
    ``?metadata__turns=3`` finds ``{"turns": 3}`` as well as ``{"turns": "3"}``.
    """
    for path, value in conditions.items():
        lookup = "metadata__" + "__".join(path) + "__exact"
        match = Q(**{lookup: value})
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            match |= Q(**{lookup: lowered == "true"})
        else:
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if number.is_integer() and abs(number) < 2**53:
                    match |= Q(**{lookup: int(number)})
                elif number == number and abs(number) != float("inf"):
                    match |= Q(**{lookup: number})
        items = items.filter(match)
    return items


def members(project: Project):
    """The project's memberships with their users, leads first."""
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")

"""Project pages: thin views over the selectors and services.

Lead pages find their project with ``project_for(..., roles=("lead",))``: a rater of the project and
a stranger alike get 404, staff always pass.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from evalplatform.projects import selectors
from evalplatform.projects.dashboard import dashboard_context
from evalplatform.projects.forms import ItemsForm, MemberForm, ProjectForm
from evalplatform.projects.links import links_for
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import (
    ImportSummary,
    ProjectError,
    add_member,
    create_project,
    import_items,
    set_paused,
)

LEAD = ("lead",)


def can_create_projects(user) -> bool:
    """Staff, holders of the ``projects.add_project`` permission, and anyone who already leads a project."""
    return user.is_authenticated and (
        user.is_staff or user.has_perm("projects.add_project") or selectors.lead_projects(user).exists()
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    rows = selectors.project_rows(request.user)
    for row in rows:
        row["links"] = links_for(row["project"], row["role"])
    return render(request, "projects/home.html", {"rows": rows, "can_create": can_create_projects(request.user)})


# --- Creating a project ----------------------------------------------------------------------


def _create_with_items(data: dict, user) -> tuple[Project, ImportSummary | None]:
    """The project and its items in one transaction: a refused items file leaves no project behind."""
    with transaction.atomic():
        project = create_project(
            slug=data["slug"], name=data["name"], rubric_version=data["rubric_version"], overlap=data["overlap"],
            kind=data["kind"], lease_seconds=data["lease_minutes"] * 60, order=data["order"],
            description=data["description"], show_reference=data["show_reference"], created_by=user,
        )
        upload = data.get("items")
        summary = import_items(project=project, stream=upload, name=upload.name) if upload else None
    return project, summary


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    if not can_create_projects(request.user):
        raise PermissionDenied("Only staff and project leads can create projects.")
    import_errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = ProjectForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                project, summary = _create_with_items(form.cleaned_data, request.user)
            except ProjectError as exc:
                form.add_error(None, exc.messages)
            except ImportRejected as exc:
                import_errors = exc.lines()
                form.add_error("items", f"The items file was refused ({exc.total} problem{pluralize(exc.total)}); nothing was created.")
            else:
                messages.success(request, f"Project {project.name!r} created" + (f": {summary}." if summary else "."))
                return redirect("project-dashboard", project.slug)
        status = 400
    else:
        form = ProjectForm()
    return render(request, "projects/new.html", {"form": form, "import_errors": import_errors}, status=status)


# --- The lead's dashboard --------------------------------------------------------------------


def bar_chart(series: list, *, width: int = 1000, height: int = 150, top: int = 20, bottom: int = 22) -> dict:
    """The geometry of a bar chart of ``(day, count)`` as plain numbers for the SVG template."""
    peak = max((n for _, n in series), default=0)
    slot = width / max(len(series), 1)
    base = top + height
    bars = []
    for i, (day, n) in enumerate(series):
        h = height * n / peak if peak else 0
        bars.append({
            "x": f"{i * slot + 1:.1f}", "y": f"{base - h:.1f}", "w": f"{max(slot - 2, 1):.1f}", "h": f"{h:.1f}",
            "day": day, "n": n,
        })
    return {
        "bars": bars, "peak": peak, "total": sum(n for _, n in series), "width": width, "height": base + bottom,
        "base": base, "label_y": base + 16, "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
    }


def _dashboard(request: HttpRequest, project: Project, *, member_form=None, items_form=None,
               import_errors=(), status: int = 200) -> HttpResponse:
    figures = dashboard_context(project)  # progress, raters, gold alerts: registered by the apps above
    members = list(selectors.members(project))
    n_raters = sum(1 for m in members if m.role == Membership.Role.RATER and not m.paused)
    context = {
        **figures,
        "project": project,
        "members": members,
        "n_active_raters": n_raters, "raters_missing": max(project.overlap - n_raters, 0),
        "chart": bar_chart(figures.get("ratings_per_day", [])),
        "member_form": member_form or MemberForm(),
        "items_form": items_form or ItemsForm(),
        "import_errors": import_errors,
    }
    return render(request, "projects/dashboard.html", context, status=status)


@login_required
@require_GET
def project_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    return _dashboard(request, selectors.project_for(request.user, slug=slug, roles=LEAD))


@login_required
@require_POST
def project_add_member(request: HttpRequest, slug: str) -> HttpResponse:
    project = selectors.project_for(request.user, slug=slug, roles=LEAD)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            add_member(project=project, user=form.user, role=form.cleaned_data["role"])
        except ProjectError as exc:
            form.add_error("username", exc.messages)
        else:
            messages.success(request, f"{form.user.username} is now a {form.cleaned_data['role']} of this project.")
            return redirect("project-dashboard", project.slug)
    return _dashboard(request, project, member_form=form, status=400)


@login_required
@require_POST
def project_pause_member(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    project = selectors.project_for(request.user, slug=slug, roles=LEAD)
    membership = get_object_or_404(Membership.objects.select_related("user"), project=project, user_id=user_id)
    paused = request.POST.get("paused") == "1"
    set_paused(project=project, user=membership.user, paused=paused)
    state = "paused: they get no new items" if paused else "working again"
    messages.success(request, f"{membership.user.username} is {state}.")
    return redirect("project-dashboard", project.slug)


@login_required
@require_POST
def project_import_items(request: HttpRequest, slug: str) -> HttpResponse:
    project = selectors.project_for(request.user, slug=slug, roles=LEAD)
    form = ItemsForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["items"]
        try:
            summary = import_items(project=project, stream=upload, name=upload.name, update=form.cleaned_data["update"])
        except ImportRejected as exc:
            form.add_error("items", f"The items file was refused ({exc.total} problem{pluralize(exc.total)}); nothing was written.")
            return _dashboard(request, project, items_form=form, import_errors=exc.lines(), status=400)
        messages.success(request, f"Imported: {summary}.")
        return redirect("project-dashboard", project.slug)
    return _dashboard(request, project, items_form=form, status=400)

"""The rater's pages: the scoring page, and its submit and skip.

Submit and skip answer two ways.  A plain form POST (no script) gets the usual redirect back to
the scoring page, which shows the next item.  The page's script posts the same form with
``Accept: application/json`` and gets the next item's HTML fragment in the same response, so the
rater never waits for a page load.  Both go through the same services.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from evalplatform.assignments import selectors
from evalplatform.assignments.forms import rating_input, skip_reason
from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import NotARater, QueueError, RaterPaused, claim_next, skip
from evalplatform.projects.models import Project, Task
from evalplatform.projects.selectors import project_for
from evalplatform.ratings.services import SubmitConflict, SubmitError, submit_rating

FRAGMENT = "assignments/_task.html"


def wants_json(request: HttpRequest) -> bool:
    # Browsers' own navigations send "text/html,...,*/*", so only an explicit first choice counts.
    return request.headers.get("Accept", "").split(",")[0].strip() == "application/json"


def _task_context(
    request: HttpRequest, project: Project, assignment: Assignment, *, values=None, errors=None
) -> dict:
    values, errors = values or {}, dict(errors or {})
    dimensions = selectors.task_form(project.rubric_version_id, pair=assignment.task.response_b_id is not None)
    fields = [
        {"dim": dim, "value": str(values.get(dim.key, "")), "error": errors.pop(dim.key, "")} for dim in dimensions
    ]
    item = assignment.task.item
    return {
        "project": project,
        "state": "task",
        "assignment": assignment,
        "item": item,
        "responses": selectors.shown_responses(assignment),
        "pair": assignment.task.response_b_id is not None,
        "fields": fields,
        "justification_rule": project.rubric_version.justification,
        "justification": values.get("justification", ""),
        "justification_error": errors.pop("justification", ""),
        "form_errors": list(errors.values()),
        "show_reference": project.show_reference and bool(item.reference.strip()),
        "progress": selectors.rater_progress(project=project, rater=request.user),
    }


def _next_context(request: HttpRequest, project: Project) -> dict:
    """Claim (or get back) the rater's item and build what the page shows for it."""
    try:
        assignment = claim_next(project=project, rater=request.user)
    except NotARater as exc:
        raise PermissionDenied(str(exc)) from exc
    except RaterPaused as exc:
        return {"project": project, "state": "paused", "reason": str(exc),
                "progress": selectors.rater_progress(project=project, rater=request.user)}
    if assignment is None:
        return {"project": project, "state": "empty",
                "progress": selectors.rater_progress(project=project, rater=request.user)}
    if not Task.item.is_cached(assignment.task):  # a lease held from before: read it with what it shows
        assignment = selectors.assignment_for(user=request.user, project=project, pk=assignment.pk)
    return _task_context(request, project, assignment)


def _moved_on(request: HttpRequest, project: Project, *, notice: str, level: int = messages.SUCCESS,
              status: int = 200) -> HttpResponse:
    """After a submit or skip: the next item, as a fragment for the script or as a redirect."""
    if wants_json(request):
        context = _next_context(request, project)
        html = render_to_string(FRAGMENT, context, request=request)
        return JsonResponse(
            {"status": context["state"], "notice": notice, "level": messages.DEFAULT_TAGS[level], "html": html},
            status=status,
        )
    messages.add_message(request, level, notice)
    return redirect("rate", project.slug)


@login_required
@require_GET
def rate(request: HttpRequest, slug: str) -> HttpResponse:
    """The scoring page: the rater's current item (claiming the next one if they hold none)."""
    project = project_for(request.user, slug=slug)
    return render(request, "assignments/rate.html", _next_context(request, project))


@login_required
@require_POST
def submit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_for(request.user, slug=slug)
    assignment = selectors.assignment_for(user=request.user, project=project, pk=pk)
    pair = assignment.task.response_b_id is not None
    data = rating_input(request.POST, selectors.task_form(project.rubric_version_id, pair=pair))
    try:
        _rating, created = submit_rating(
            assignment=assignment, scores=data.scores, justification=data.justification,
            duration_ms=data.duration_ms,
        )
    except SubmitConflict as exc:
        return _moved_on(request, project, notice=exc.errors.get("detail", str(exc)), level=messages.WARNING,
                         status=409)
    except SubmitError as exc:
        if wants_json(request):
            return JsonResponse({"status": "invalid", "errors": exc.errors}, status=400)
        context = _task_context(request, project, assignment, values=data.values(), errors=exc.errors)
        return render(request, "assignments/rate.html", context, status=400)
    notice = "Rating saved." if created else "This item was already rated; your first rating stands."
    return _moved_on(request, project, notice=notice)


@login_required
@require_POST
def skip_item(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_for(request.user, slug=slug)
    assignment = selectors.assignment_for(user=request.user, project=project, pk=pk)
    try:
        skip(assignment=assignment, reason=skip_reason(request.POST))
    except QueueError as exc:
        return _moved_on(request, project, notice=str(exc), level=messages.WARNING, status=409)
    return _moved_on(request, project, notice="Skipped; you will not be shown that item again.", level=messages.INFO)

"""The rater's pages: the scoring page, and its submit and skip.

Submit and skip answer two ways.  A plain form POST (no script) gets the usual redirect back to
the scoring page, which shows the next item.  The page's script posts the same form with
``Accept: application/json`` and gets the next item's HTML fragment in the same response, so the
rater never waits for a page load.  Both go through the same services.

"Previous" (the ``u`` key) goes back through the items the rater rated in this browser session,
newest first, with their answers filled in; submitting there revises the rating
(``services.revise_rating``: the old answers are kept in its history) and returns to the queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from evalplatform.assignments import selectors
from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import ItemPosition, ShownResponse
from evalplatform.assignments.services import NotARater, NotCleared, QueueError, RaterPaused, claim_next, skip
from evalplatform.projects.models import Item, Project, Response, Task
from evalplatform.projects.selectors import project_for
from evalplatform.ratings.forms import rating_input, skip_reason
from evalplatform.ratings.models import Rating
from evalplatform.ratings.selectors import RaterProgress, rater_progress
from evalplatform.ratings.services import (
    SubmitConflict,
    SubmitError,
    SubmitRefused,
    answers_of,
    revise_rating,
    submit_rating,
)
from rubrics.models import RubricVersion
from rubrics.scales import scales_for

FRAGMENT = "ratings/_task.html"


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
        "position": selectors.position_in_item(assignment.task),
        "pair": assignment.task.response_b_id is not None,
        "fields": fields,
        "justification_rule": project.rubric_version.justification,
        "justification": values.get("justification", ""),
        "justification_error": errors.pop("justification", ""),
        "form_errors": list(errors.values()),
        "show_reference": project.show_reference and bool(item.reference.strip()),
        "progress": rater_progress(project=project, rater=request.user),
    }


#: The session key holding when this browser session started rating: "previous" goes back to then.
SESSION_STARTED = "rate_session_started"


def _session_started(request: HttpRequest):
    started = request.session.get(SESSION_STARTED)
    if started is None:
        started = timezone.now().isoformat()
        request.session[SESSION_STARTED] = started
    return datetime.fromisoformat(started)


def _previous_url(project: Project, before: int | None = None) -> str:
    url = reverse("rate-previous", args=[project.slug])
    return f"{url}?before={before}" if before else url


def _next_context(request: HttpRequest, project: Project) -> dict:
    """Claim (or get back) the rater's item and build what the page shows for it."""
    try:
        claim = claim_next(project=project, rater=request.user)
    except NotARater as exc:
        raise PermissionDenied(str(exc)) from exc
    except RaterPaused as exc:
        return {"project": project, "state": "paused", "reason": str(exc),
                "progress": rater_progress(project=project, rater=request.user)}
    except NotCleared as exc:  # training or guidelines first (assignments.gates): the page sends them there
        return {"project": project, "state": "not_cleared", "reason": str(exc), "url": exc.url,
                "navigate": exc.refusal.navigate,
                "progress": rater_progress(project=project, rater=request.user)}
    if claim is None:
        return {"project": project, "state": "empty", "previous_url": _previous_url(project),
                "progress": rater_progress(project=project, rater=request.user)}
    assignment = claim.assignment
    if not claim.new:  # a lease held from before: read it with what it shows
        assignment = selectors.assignment_for(user=request.user, project=project, pk=assignment.pk)
    return {**_task_context(request, project, assignment), "previous_url": _previous_url(project)}


def _moved_on(request: HttpRequest, project: Project, *, notice: str, level: int = messages.SUCCESS,
              status: int = 200) -> HttpResponse:
    """After a submit or skip: the next item, as a fragment for the script or as a redirect."""
    if wants_json(request):
        context = _next_context(request, project)
        if context.get("navigate"):  # e.g. an external worker's quota met: the script goes to the completion page
            return JsonResponse({"status": "redirect", "notice": notice, "level": messages.DEFAULT_TAGS[level],
                                 "redirect": context["url"], "html": ""}, status=status)
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
    _session_started(request)
    context = _next_context(request, project)
    if context["state"] == "not_cleared":
        return redirect(context["url"])
    return render(request, "ratings/rate.html", context)


def _revise_context(request: HttpRequest, project: Project, rating: Rating, *, values=None, errors=None) -> dict:
    assignment = selectors.assignment_for(user=request.user, project=project, pk=cast(int, rating.assignment_id))
    if values is None:
        answers = answers_of(rating, scales=scales_for(rating.rubric_version_id), swapped=assignment.swapped,
                             task=assignment.task)
        values = {key: str(value) for key, value in answers["scores"].items()}
        values["justification"] = answers["justification"]
    context = _task_context(request, project, assignment, values=values, errors=errors)
    context.update(revising=rating, revise_url=reverse("rate-revise", args=[project.slug, rating.pk]),
                   previous_url=_previous_url(project, rating.pk))
    return context


@login_required
@require_GET
def previous(request: HttpRequest, slug: str) -> HttpResponse:
    """The rater's last rating of this session before ``?before=`` (a rating id), to revise."""
    project = project_for(request.user, slug=slug)
    ratings = Rating.objects.filter(
        project=project, rater_id=request.user.pk, assignment__isnull=False, created_at__gte=_session_started(request)
    ).order_by("-id")
    before = request.GET.get("before", "")
    if before.isascii() and before.isdigit() and len(before) <= 19:  # an id; "²" is a digit int() refuses
        ratings = ratings.filter(pk__lt=int(before))
    rating = ratings.first()
    if rating is None:
        messages.info(request, "Nothing earlier was rated in this session.")
        return redirect("rate", project.slug)
    return render(request, "ratings/rate.html", _revise_context(request, project, rating))


@login_required
@require_POST
def revise(request: HttpRequest, slug: str, rating_id: int) -> HttpResponse:
    """Revise one of the rater's ratings from the scoring page, then back to the queue."""
    project = project_for(request.user, slug=slug)
    rating = get_object_or_404(Rating, pk=rating_id, project=project, rater_id=request.user.pk, assignment__isnull=False)
    pair = rating.task.response_b_id is not None
    data = rating_input(request.POST, selectors.task_form(rating.rubric_version_id, pair=pair))
    try:
        _rating, changed = revise_rating(rating=rating, by=request.user, scores=data.scores,
                                         justification=data.justification)
    except SubmitConflict as exc:
        return _moved_on(request, project, notice=exc.errors.get("detail", str(exc)), level=messages.WARNING,
                         status=409)
    except SubmitError as exc:
        if wants_json(request):
            return JsonResponse({"status": "invalid", "errors": exc.errors}, status=400)
        context = _revise_context(request, project, rating, values=data.values(), errors=exc.errors)
        return render(request, "ratings/rate.html", context, status=400)
    notice = ("Rating revised; its earlier answers are kept in its history." if changed
              else "No change: that rating stands as it was.")
    return _moved_on(request, project, notice=notice)


@login_required
@require_POST
def submit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_for(request.user, slug=slug)
    assignment = selectors.assignment_for(user=request.user, project=project, pk=pk)
    pair = assignment.task.response_b_id is not None
    data = rating_input(request.POST, selectors.task_form(project.rubric_version_id, pair=pair))
    try:
        submitted = submit_rating(
            assignment=assignment, scores=data.scores, justification=data.justification,
            duration_ms=data.duration_ms,
        )
    except SubmitRefused as exc:
        return _moved_on(request, project, notice=exc.refusal.message, level=messages.WARNING, status=403)
    except SubmitConflict as exc:
        return _moved_on(request, project, notice=exc.errors.get("detail", str(exc)), level=messages.WARNING,
                         status=409)
    except SubmitError as exc:
        if wants_json(request):
            return JsonResponse({"status": "invalid", "errors": exc.errors}, status=400)
        context = _task_context(request, project, assignment, values=data.values(), errors=exc.errors)
        return render(request, "ratings/rate.html", context, status=400)
    notice = "Rating saved." if submitted.created else "This item was already rated; your first rating stands."
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


@staff_member_required
@require_GET
def rubric_preview(request: HttpRequest, version_id: int) -> HttpResponse:
    """A rubric version's rating form exactly as raters get it (the scoring page's own template and
    questions), on a sample item; nothing can be submitted.  For admins, from the version's admin page."""
    version = get_object_or_404(RubricVersion.objects.select_related("rubric"), pk=version_id)
    project = Project(slug="preview", name=f"Preview: {version.rubric.name} v{version.number}",
                      rubric_version=version, show_reference=True)
    item = Item(external_id="sample-item", prompt="A sample prompt: the item raters read appears here.",
                reference="A sample reference answer, shown when the project shows references.")
    response = Response(model="hidden from raters", text="A sample response: the model's answer appears here.")
    assignment = Assignment(pk=0, project=project, task=Task(item=item, response_a=response), swapped=False)
    fields = [{"dim": dim, "value": "", "error": ""} for dim in selectors.task_form(version.pk, pair=False)]
    return render(request, "ratings/rate.html", {
        "project": project, "state": "task", "assignment": assignment, "item": item,
        "responses": [ShownResponse("", response.text)], "position": ItemPosition("response", 1, 1),
        "pair": False, "fields": fields, "justification_rule": version.justification, "justification": "",
        "justification_error": "", "form_errors": [], "show_reference": True,
        "progress": RaterProgress(done_today=0, done_project=0, left=1), "preview": version,
    })

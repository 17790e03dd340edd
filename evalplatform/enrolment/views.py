"""Enrolment pages: accepting an invitation, a worker's entry and completion, and the lead's access page.

Lead pages find their project with ``project_for(..., roles=("lead",))``: a rater or a stranger gets 404.
A token that opens nothing gets a page saying which case it is (unknown 404, expired/used/withdrawn 410).
"""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evalplatform.enrolment import onboarding, selectors, services, workforce
from evalplatform.enrolment.forms import (
    AcceptForm,
    EmailInviteForm,
    EntryLinkForm,
    LinkInviteForm,
    WorkerListForm,
)
from evalplatform.enrolment.models import EntryLink, Invitation
from evalplatform.projects.models import Project
from evalplatform.projects.selectors import project_for

LEAD = ("lead",)
#: The session key holding a just-made invitation link, shown once on the access page.
NEW_LINK_KEY = "enrolment_new_link"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def accept_url(request: HttpRequest):
    return lambda token: request.build_absolute_uri(reverse("invitation-accept", args=[token]))


def _after_joining(user, project: Project) -> str:
    return onboarding.onboarding_url(user, project) or reverse("rate", args=[project.slug])


# --- Invitations (the invitee) -----------------------------------------------------------------


def _unusable(request: HttpRequest, exc: services.InvitationUnusable) -> HttpResponse:
    status = 404 if exc.reason == "unknown" else 410
    return render(request, "enrolment/unusable.html", {"reason": exc.reason, "message": str(exc)}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Join a project through an invitation: a new account, or the logged-in one."""
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationUnusable as exc:
        return _unusable(request, exc)
    project = invitation.project
    user = request.user
    if user.is_authenticated:
        if request.method == "POST":
            try:
                services.accept_invitation(token=token, user=user)
            except services.InvitationUnusable as exc:
                return _unusable(request, exc)
            messages.success(request, f"You joined {project.name} as a rater.")
            return redirect(_after_joining(user, project))
        return render(request, "enrolment/accept.html", {"invitation": invitation, "project": project})
    form = AcceptForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                new_user = services.accept_with_new_account(
                    token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password"],
                )
            except services.InvitationUnusable as exc:
                return _unusable(request, exc)
            except ValidationError as exc:
                for field, problems in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                login(request, new_user, backend=MODEL_BACKEND)
                messages.success(request, f"Welcome, {new_user.username}: you are a rater in {project.name}.")
                return redirect(_after_joining(new_user, project))
        status = 400
    return render(request, "enrolment/accept.html",
                  {"invitation": invitation, "project": project, "form": form,
                   "login_url": f"{reverse('login')}?next={request.path}"}, status=status)


# --- External workers ----------------------------------------------------------------------------


@never_cache
@require_GET
def enter(request: HttpRequest, token: str) -> HttpResponse:
    """A worker arriving from their platform: made or resumed, logged in by this session, sent on."""
    try:
        link = workforce.link_for_token(token)
        worker, _created = workforce.enter(link=link, params=request.GET)
    except workforce.EntryRefused as exc:
        status = {"link": 404, "closed": 410, "worker_token": 403}.get(exc.reason, 400)
        return render(request, "enrolment/refused.html", {"reason": exc.reason, "message": str(exc)}, status=status)
    # Someone else's session in this browser (a lead trying the link) is ended: login() starts afresh.
    login(request, worker.user, backend=MODEL_BACKEND)
    request.session[workforce.SESSION_KEY] = worker.project_id
    return redirect(_after_joining(worker.user, worker.project))


@never_cache
@login_required
@require_GET
def complete(request: HttpRequest) -> HttpResponse:
    """The worker's completion code, and the way back to their platform."""
    worker = workforce.worker_of(request.user)
    if worker is None:
        return redirect("home")
    if not workforce.is_finished(worker):  # no code before the work is done
        return redirect("rate", worker.project.slug)
    workforce.finish(worker=worker)
    screened = workforce.screened_out(worker)
    code = workforce.completion_code(worker, screened=screened)
    return render(request, "enrolment/complete.html", {
        "worker": worker, "project": worker.project, "code": code, "screened_out": screened,
        "completion_url": workforce.completion_url(worker, code), "done": workforce.ratings_done(worker),
    })


# --- The lead's access page ----------------------------------------------------------------------


def _access(request: HttpRequest, project: Project, *, status: int = 200, **forms) -> HttpResponse:
    context = {
        "project": project,
        "invitations": selectors.invitations(project),
        "entry_links": selectors.entry_links(project, base_url=request.build_absolute_uri("/")),
        "email_form": forms.get("email_form") or EmailInviteForm(),
        "link_form": forms.get("link_form") or LinkInviteForm(),
        "entry_form": forms.get("entry_form") or EntryLinkForm(),
        "worker_form": forms.get("worker_form") or WorkerListForm(),
        "worker_form_link": forms.get("worker_form_link"),
        "blank_worker_form": WorkerListForm(),
        "new_link": request.session.pop(NEW_LINK_KEY, None),
    }
    return render(request, "enrolment/access.html", context, status=status)


def _form_errors(form, exc: ValidationError) -> None:
    for field, problems in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@login_required
@require_GET
def access(request: HttpRequest, slug: str) -> HttpResponse:
    return _access(request, project_for(request.user, slug=slug, roles=LEAD))


@login_required
@require_POST
def invite_email(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = EmailInviteForm(request.POST)
    if form.is_valid():
        try:
            services.invite_by_email(project=project, email=form.cleaned_data["email"], invited_by=request.user,
                                     accept_url=accept_url(request), expires_in_days=form.cleaned_data["expires_in_days"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("enrolment-access", project.slug)
    return _access(request, project, email_form=form, status=400)


@login_required
@require_POST
def invite_link(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = LinkInviteForm(request.POST)
    if form.is_valid():
        try:
            issued = services.create_invitation_link(project=project, seats=form.cleaned_data["seats"],
                                                     created_by=request.user,
                                                     expires_in_days=form.cleaned_data["expires_in_days"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            request.session[NEW_LINK_KEY] = accept_url(request)(issued.token)
            return redirect("enrolment-access", project.slug)
    return _access(request, project, link_form=form, status=400)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    invitation = get_object_or_404(Invitation, pk=pk, project=project)
    services.revoke_invitation(invitation=invitation)
    messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("enrolment-access", project.slug)


@login_required
@require_POST
def entry_link_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = EntryLinkForm(request.POST)
    if form.is_valid():
        try:
            workforce.create_entry_link(project=project, created_by=request.user, **form.service_arguments())
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Entry link opened: give its URL to your platform.")
            return redirect("enrolment-access", project.slug)
    return _access(request, project, entry_form=form, status=400)


@login_required
@require_POST
def entry_link_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    link = get_object_or_404(EntryLink, pk=pk, project=project)
    workforce.revoke_entry_link(link=link)
    messages.success(request, "Entry link closed: workers who open it now see that the study is closed.")
    return redirect("enrolment-access", project.slug)


@login_required
@require_POST
def entry_link_workers(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A CSV of per-worker entry URLs for the worker ids given, one a line."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    link = get_object_or_404(EntryLink, pk=pk, project=project, revoked_at__isnull=True)
    form = WorkerListForm(request.POST)
    if form.is_valid():
        try:
            rows = workforce.worker_urls(link=link, worker_ids=form.cleaned_data["worker_ids"].splitlines(),
                                         base_url=request.build_absolute_uri("/"))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["worker_id", "url"])
            writer.writerows(rows)
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{project.slug}-entry-{link.pk}-workers.csv"'
            return response
    return _access(request, project, worker_form=form, worker_form_link=link.pk, status=400)

"""A project's model runs page (leads and admins): start, watch, cancel and resume runs; the demo judge."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from evalplatform.llm import prompts, selectors, services
from evalplatform.llm.demo import demo_endpoint
from evalplatform.llm.forms import StartRunForm
from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.projects.models import Project
from evalplatform.projects.selectors import project_for

LEAD = ("lead",)


def demo_enabled() -> bool:
    return bool(getattr(settings, "EVAL_FAKE_LLM_DEMO", settings.DEBUG))


def _page(request: HttpRequest, project: Project, form: StartRunForm | None = None, status: int = 200) -> HttpResponse:
    runs = list(selectors.runs_of(project)[:50])
    progress = selectors.progress_of(runs)
    context = {
        "project": project, "rows": [(run, progress[run.pk]) for run in runs], "form": form or StartRunForm(),
        "has_endpoints": ModelEndpoint.objects.exists(), "demo": demo_enabled(),
        "running": any(run.status == Run.Status.RUNNING for run in runs),
    }
    return render(request, "llm/runs.html", context, status=status)


@login_required
@require_GET
def runs_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _page(request, project_for(request.user, slug=slug, roles=LEAD))


@login_required
@require_GET
def runs_status(request: HttpRequest, slug: str) -> JsonResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    runs = list(selectors.runs_of(project)[:50])
    progress = selectors.progress_of(runs)
    return JsonResponse({"runs": [
        {"id": run.pk, "status": run.status, "finished": progress[run.pk]["finished"], "total": progress[run.pk]["total"],
         "invalid": progress[run.pk]["invalid"], "failed": progress[run.pk]["failed"],
         "cost": str(progress[run.pk]["cost"])}
        for run in runs
    ]})


@login_required
@require_POST
def runs_start(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = StartRunForm(request.POST)
    if not form.is_valid():
        return _page(request, project, form, status=400)
    data = form.cleaned_data
    try:
        if data["kind"] == Run.Kind.GENERATION:
            run = services.start_generation(project=project, endpoints=list(data["endpoints"]), user=request.user,
                                             template=data["template"] or prompts.DEFAULT_GENERATION_TEMPLATE)
        else:
            run = services.start_judge(project=project, endpoints=list(data["endpoints"]), user=request.user,
                                       template=data["template"] or None)
    except services.RunError as exc:
        form.add_error(None, str(exc))
        return _page(request, project, form, status=400)
    messages.success(request, f"Started {run.kind} run {run.pk} ({run.calls.count()} calls).")
    return redirect("llm-runs", project.slug)


@login_required
@require_POST
def run_action(request: HttpRequest, slug: str, pk: int, action: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    run = get_object_or_404(Run, pk=pk, project=project)
    if action == "cancel":
        services.cancel_run(run=run)
        messages.success(request, f"Run {run.pk} cancelled; what was answered is kept.")
    else:
        services.resume_run(run=run)
        messages.success(request, f"Run {run.pk} resumed.")
    return redirect("llm-runs", project.slug)


@login_required
@require_POST
def demo_judge(request: HttpRequest, slug: str) -> HttpResponse:
    """One click: the fake model on this machine judges every task of the project."""
    if not demo_enabled():
        raise Http404("The demo judge is off (EVAL_FAKE_LLM_DEMO).")
    project = project_for(request.user, slug=slug, roles=LEAD)
    try:
        run = services.start_judge(project=project, endpoints=[demo_endpoint()], user=request.user)
    except services.RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The demo judge is rating {run.calls.count()} tasks (run {run.pk}); "
                         "its ratings appear in the report as judge:demo-judge.")
    return redirect("llm-runs", project.slug)

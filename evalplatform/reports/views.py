"""The lead's report pages: thin views over stored reports.  Nothing here computes statistics.

Every page finds its project with ``project_for(..., roles=("lead",))``: a rater of the project and a
stranger alike get 404, staff always pass.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from evalplatform.projects.links import links_for
from evalplatform.projects.selectors import project_for
from evalplatform.ratings import exports
from evalplatform.reports import selectors, services
from evalplatform.reports.compute import SECTIONS
from evalplatform.reports.models import AgreementReport

LEAD = ("lead",)
#: A lead pressing "recompute" while a report younger than this is still pending gets that one.
PENDING_IS_FRESH = timedelta(minutes=10)
DOWNLOADS = (
    ("csv", "Ratings (CSV)"), ("jsonl", "Ratings (JSONL)"), ("items-csv", "Per-item means (CSV)"),
    ("items-jsonl", "Per-item means (JSONL)"), ("consensus-csv", "Consensus labels (CSV)"),
    ("reward", "Reward-model scores (JSONL)"), ("preferences", "Preference pairs (JSONL)"),
    ("report", "This report (JSON)"),
)


def _offered(project, fmt: str, report) -> bool:
    if fmt == "report":
        return report is not None
    if fmt == "preferences":
        return project.kind == project.Kind.PAIRWISE
    return True


def _status(report: AgreementReport | None) -> dict | None:
    if report is None:
        return None
    return {"id": report.pk, "status": report.status, "progress": round(report.progress, 3),
            "error": report.error, "created_at": report.created_at.isoformat()}


@login_required
@require_GET
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    state = selectors.report_state(project)
    report = state["report"]
    result = report.result if report is not None else None
    parts = []
    if result:
        for section in SECTIONS:
            # A section with nothing to show for this project (None, or an empty list such as the
            # leaderboard of a single-response project) gets no include and no contents entry.
            if section.template and result.get(section.key):
                parts.append({"key": section.key, "title": section.title, "template": section.template,
                              "data": result[section.key]})
    context = {
        "project": project, "report": report, "result": result, "parts": parts, **state,
        "new_ratings": max(project.ratings_seq - report.data_seq, 0) if report is not None else None,
        "poll": {"url": reverse("report-status", args=[project.slug]),
                 "pending": state["pending"].pk if state["pending"] else None,
                 "shown": report.pk if report else None},
        "downloads": [{"url": reverse("report-export", args=[project.slug, fmt]), "label": label}
                      for fmt, label in DOWNLOADS if _offered(project, fmt, report)],
        "links": [link for link in links_for(project, "admin") if link["url"] != request.path],
    }
    return render(request, "reports/report.html", context)


@login_required
@require_GET
def report_status(request: HttpRequest, slug: str) -> JsonResponse:
    """The page's poller: the report in progress (status, progress) and the id of the shown one."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    state = selectors.report_state(project)
    latest = state["report"]
    return JsonResponse({
        "pending": _status(state["pending"]), "failed": _status(state["failed"]),
        "latest_done": latest.pk if latest else None,
        "new_ratings": max(project.ratings_seq - latest.data_seq, 0) if latest else None,
    })


@login_required
@require_POST
def report_recompute(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask a worker for a fresh report with the shown report's parameters."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    pending = selectors.pending_report(project)
    if pending is not None and pending.created_at > timezone.now() - PENDING_IS_FRESH:
        messages.info(request, "A report is already being computed; this page shows it when it is done.")
        return redirect("report", project.slug)
    parameters = services.inherited_parameters(services.latest_done(project))
    services.request_report(project=project, requested_by=request.user, trigger="manual", **parameters)
    messages.success(request, "A new report was requested; a worker is computing it.")
    return redirect("report", project.slug)


@login_required
@require_GET
def report_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponseBase:
    """Downloads: every rating (CSV/JSONL, long format), per-item aggregates, or the shown report."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    if fmt == "report":
        report = services.latest_done(project)
        if report is None:
            raise Http404("No report of this project is done yet.")
        response = HttpResponse(json.dumps(selectors.report_document(report), indent=2, ensure_ascii=False),
                                content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-report-{report.pk}.json"'
        return response
    try:
        lines = exports.download_lines(project, fmt)
    except exports.ExportError as exc:
        raise Http404(str(exc)) from exc
    return exports.download_response(project, fmt, lines)


@login_required
@require_GET
def item_page(request: HttpRequest, slug: str, external_id: str) -> HttpResponse:
    """One item's ratings side by side: each rater's scores and justification, per response or pair."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    comparison = selectors.item_comparison(project, external_id)
    return render(request, "reports/item.html", {"project": project, "comparison": comparison,
                                                 "item": comparison.item})

"""The lead's report pages: thin views over stored reports.  Nothing here computes statistics.

Every page finds its project with ``project_for(..., roles=("lead",))``: a rater of the project and a
stranger alike get 404, staff always pass.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evalplatform.projects.selectors import project_for
from evalplatform.ratings import exports
from evalplatform.reports import selectors, services, tracking
from evalplatform.reports.compute import SECTIONS
from evalplatform.reports.data import load_data
from evalplatform.reports.forms import ReportParametersForm, TrackingSettingsForm
from evalplatform.reports.manifest import report_ratings_csv
from evalplatform.reports.models import AgreementReport
from evalplatform.stats.manifest import ratings_sha256

LEAD = ("lead",)
#: A lead pressing "recompute" while a report younger than this is still pending gets that one.
PENDING_IS_FRESH = timedelta(minutes=10)
DOWNLOADS = (
    ("csv", "Ratings (CSV)"), ("jsonl", "Ratings (JSONL)"), ("items-csv", "Per-item means (CSV)"),
    ("items-jsonl", "Per-item means (JSONL)"), ("consensus-csv", "Consensus labels (CSV)"),
    ("reward", "Reward-model scores (JSONL)"), ("preferences", "Preference pairs (JSONL)"),
    ("report", "This report (JSON)"), ("report-ratings-csv", "This report's ratings (CSV)"),
    ("fairness-csv", "Fairness audit (CSV)"),
    ("reference-csv", "Reference metrics with the humans' means per response (CSV)"),
)


def _offered(project, fmt: str, report) -> bool:
    if fmt == "report":
        return report is not None
    if fmt == "fairness-csv":
        return report is not None and bool((report.result or {}).get("fairness"))
    if fmt == "report-ratings-csv":
        return report is not None and bool((report.result or {}).get("manifest"))
    if fmt == "reference-csv":
        return report is not None and bool((report.result or {}).get("reference_metrics"))
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
        "parameters_form": ReportParametersForm.shown(result.get("parameters") if result else None),
        "poll": {"url": reverse("report-status", args=[project.slug]),
                 "pending": state["pending"].pk if state["pending"] else None,
                 "shown": report.pk if report else None},
        "downloads": [{"url": reverse("report-export", args=[project.slug, fmt]), "label": label}
                      for fmt, label in DOWNLOADS if _offered(project, fmt, report)],
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
    """Ask a worker for a fresh report: with the shown report's parameters, or the form's."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    pending = selectors.pending_report(project)
    if pending is not None and pending.created_at > timezone.now() - PENDING_IS_FRESH:
        messages.info(request, "A report is already being computed; this page shows it when it is done.")
        return redirect("report", project.slug)
    parameters = services.inherited_parameters(services.latest_done(project))
    if request.POST.get("parameters"):  # the page's parameters form: every parameter the API takes
        form = ReportParametersForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(f"{form.fields[k].label}: {' '.join(str(e) for e in v)}" if k in form.fields
                                 else " ".join(str(e) for e in v) for k, v in form.errors.items())
            messages.error(request, f"Nothing was requested: {problems}")
            return redirect("report", project.slug)
        parameters = form.cleaned_data
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
    if fmt == "report-ratings-csv":
        return _report_ratings(project)
    if fmt == "fairness-csv":  # the shown report's audit: stored figures, nothing computed here
        report = services.latest_done(project)
        if report is None or not (report.result or {}).get("fairness"):
            raise Http404("No report of this project has a fairness audit yet.")
        response = HttpResponse("".join(exports.csv_lines(selectors.FAIRNESS_COLUMNS,
                                                          selectors.fairness_rows(report.result or {}))),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-fairness-{report.pk}.csv"'
        manifest = (report.result or {}).get("manifest") or {}
        if manifest.get("ratings_sha256"):  # which ratings the audit was computed from (the report's manifest)
            response["X-Ratings-SHA256"] = manifest["ratings_sha256"]
        response["X-Report-Id"] = str(report.pk)
        return response
    if fmt == "reference-csv":  # the shown report's per-response metrics and human means, as stored
        report = services.latest_done(project)
        if report is None or not (report.result or {}).get("reference_metrics"):
            raise Http404("No report of this project has reference metrics yet.")
        header, rows = selectors.reference_rows(report.result or {})
        response = HttpResponse("".join(exports.csv_lines(header, rows)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-reference-metrics-{report.pk}.csv"'
        response["X-Report-Id"] = str(report.pk)
        return response
    options = exports.export_options(project)
    try:
        lines = exports.download_lines(project, fmt, options=options)
    except exports.ExportError as exc:
        raise Http404(str(exc)) from exc
    return exports.download_response(project, fmt, lines, left_out=options.describe(),
                                     manifest=exports.export_manifest(project, fmt, options))


def _report_ratings(project) -> HttpResponse:
    """The exact ratings the shown report used (the CSV its manifest's hash is of), or 409 when the
    project's ratings changed since: the file would not be the report's any more."""
    report = services.latest_done(project)
    manifest = (report.result or {}).get("manifest") if report is not None else None
    if report is None or not manifest:
        raise Http404("No report of this project has a manifest yet.")
    with transaction.atomic():
        data = load_data(project, report.parameters or {})
    text = report_ratings_csv(data)
    digest = ratings_sha256(text)
    if digest != manifest["ratings_sha256"]:
        return HttpResponse(
            "The project's ratings changed since this report was computed, so its exact ratings cannot be "
            "exported any more. Recompute the report, then download again.\n", status=409,
            content_type="text/plain; charset=utf-8")
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-report-{report.pk}-ratings.csv"'
    response["X-Ratings-SHA256"] = digest
    return response


ITEMS_PER_PAGE = 100


@login_required
@require_GET
def items_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Every item of the project, a page at a time, each linking to its ratings side by side."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    search = request.GET.get("q", "").strip()[:200]
    paginator = Paginator(selectors.item_rows(project, search=search), ITEMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "reports/items.html", {"project": project, "page": page, "search": search})


@login_required
@require_GET
def item_page(request: HttpRequest, slug: str, external_id: str) -> HttpResponse:
    """One item's ratings side by side: each rater's scores and justification, per response or pair."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    comparison = selectors.item_comparison(project, external_id)
    return render(request, "reports/item.html", {"project": project, "comparison": comparison,
                                                 "item": comparison.item})


def _tracking_page(request: HttpRequest, project, form: TrackingSettingsForm, status: int = 200) -> HttpResponse:
    effective = [(tracking.SETTING_LABELS[name], s) for name, s in tracking.effective_settings(project).items()]
    context = {"project": project, "form": form, "effective": effective,
               "runs": selectors.tracking_runs(project), "env_tracking": tracking.backends_from_environment()}
    return render(request, "reports/tracking.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tracking_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Where this project's reports are logged (MLflow, W&B): the form, and what is in force."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    if request.method == "GET":
        return _tracking_page(request, project, TrackingSettingsForm.for_project(project))
    form = TrackingSettingsForm(request.POST)
    if not form.is_valid():
        return _tracking_page(request, project, form, status=400)
    try:
        tracking.update_tracking_settings(project=project, **form.cleaned_data)
    except tracking.TrackingSettingsError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _tracking_page(request, project, form, status=400)
    messages.success(request, "Tracking settings saved; the next logged report uses them.")
    return redirect("report-tracking", project.slug)

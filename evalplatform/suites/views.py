"""Suite pages: the rounds, their drift alerts and the trends chart.  Nothing here computes statistics:
alerts come from each round's stored report, trends from the reports' figures."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from evalplatform.suites import selectors, trends
from evalplatform.suites.models import WebhookDelivery


@login_required
@require_GET
def suite_list(request: HttpRequest) -> HttpResponse:
    suites = selectors.visible_suites(request.user).prefetch_related("rounds__project").order_by("slug")
    return render(request, "suites/list.html", {"suites": suites})


@login_required
@require_GET
def suite_page(request: HttpRequest, slug: str) -> HttpResponse:
    suite = selectors.suite_for(request.user, slug=slug)
    rounds = selectors.rounds_of(suite)
    reports = selectors.latest_reports(rounds)
    rows = []
    for r in rounds:
        report = reports.get(r.pk)
        section = ((report.result or {}).get("round") if report else None) or {}
        rows.append({"round": r, "report": report, "alerts": section.get("alerts", []),
                     "stale": report is not None and (report.data_seq or 0) < r.project.ratings_seq})
    latest = rows[-1] if rows else None
    return render(request, "suites/suite.html", {
        "suite": suite, "rows": rows, "latest": latest, "trends": trends.trend_rows(suite),
        "deliveries": WebhookDelivery.objects.filter(suite=suite).order_by("-created_at", "-id")[:10],
    })

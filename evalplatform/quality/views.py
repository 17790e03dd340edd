"""Quality pages for leads: settings and scorecards, gold items, the adjudication queue.

Every page finds its project with ``project_for(..., roles=("lead",))``: a rater of the project and a
stranger alike get 404.  Pages read stored results only; "Recompute" enqueues a worker run.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evalplatform.assignments.selectors import rubric_form
from evalplatform.pagination import page_number
from evalplatform.projects.selectors import project_for
from evalplatform.quality import selectors, services
from evalplatform.quality.forms import AdjudicationForm, GoldForm, QualitySettingsForm
from evalplatform.quality.models import Adjudication
from evalplatform.reports.services import latest_done
from evalplatform.training.selectors import training_results

LEAD = ("lead",)


def _lead_project(request: HttpRequest, slug: str):
    return project_for(request.user, slug=slug, roles=LEAD)


def _refused(form: forms.Form, exc: services.QualityError, prefix: str = "") -> None:
    """Show a service's refusal on the form: each message on the field it names (``prefix`` + key),
    else on the whole form."""
    for key, errors in exc.message_dict.items():
        field = prefix + key
        form.add_error(field if field in form.fields else None, errors)


def _overview(request: HttpRequest, project, *, form=None, status: int = 200) -> HttpResponse:
    snap = selectors.snapshot(project)
    context = {
        "project": project,
        "form": form or QualitySettingsForm.for_project(project),
        "alerts": selectors.gold_alerts(project),
        "snapshot": snap,
        "cards": snap.result.get("raters", []) if snap else [],
        "stale": snap is not None and snap.data_seq < project.ratings_seq,
        "queue_total": selectors.queue_size(project),
        "training": training_results(project),  # each rater's onboarding result, beside their scorecard
    }
    return render(request, "quality/overview.html", context, status=status)


@login_required
@require_GET
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    return _overview(request, _lead_project(request, slug))


@login_required
@require_POST
def update_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = _lead_project(request, slug)
    form = QualitySettingsForm(request.POST)
    if not form.is_valid():
        return _overview(request, project, form=form, status=400)
    try:
        services.update_quality_settings(project=project, **form.cleaned_data)
    except services.QualityError as exc:
        _refused(form, exc)
        return _overview(request, project, form=form, status=400)
    messages.success(request, "Quality settings saved; scorecard flags follow at the next computation.")
    return redirect("quality-overview", project.slug)


@login_required
@require_POST
def recompute(request: HttpRequest, slug: str) -> HttpResponse:
    project = _lead_project(request, slug)
    latest = latest_done(project)  # the same ratings as the report the lead reads
    services.request_quality_run(project=project, parameters=dict(latest.parameters) if latest else None)
    messages.success(request, "Scorecards and consensus labels are being computed.")
    return redirect("quality-overview", project.slug)


# --- Gold -------------------------------------------------------------------------------------


def _gold_page(request: HttpRequest, project, form: GoldForm, status: int = 200) -> HttpResponse:
    context = {"project": project, "form": form, "tasks": selectors.gold_tasks(project)}
    return render(request, "quality/gold.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def gold(request: HttpRequest, slug: str) -> HttpResponse:
    project = _lead_project(request, slug)
    if request.method == "GET":
        return _gold_page(request, project, GoldForm(project=project))
    form = GoldForm(request.POST, project=project)
    if form.is_valid():
        try:
            task = selectors.task_for_item(project, form.cleaned_data["item_id"].strip(),
                                           form.cleaned_data["model"].strip())
        except Http404:
            form.add_error("item_id", "No single task matches: check the item id, and give the model if the "
                                      "item has several responses.")
        else:
            try:
                services.set_gold(task=task, expectations=form.expectations(), created_by=request.user)
            except services.QualityError as exc:
                _refused(form, exc, prefix="score-")
            else:
                messages.success(request, f"Item {task.item.external_id} is now a gold item.")
                if not project.gold_rate:
                    messages.warning(request, "The gold rate is 0, so no rater will be served this gold item: set a "
                                              "gold rate under Quality → Settings.")
                return redirect("quality-gold", project.slug)
    return _gold_page(request, project, form, status=400)


@login_required
@require_POST
def gold_remove(request: HttpRequest, slug: str, task_id: int) -> HttpResponse:
    project = _lead_project(request, slug)
    task = selectors.gold_tasks(project).filter(pk=task_id).first()
    if task is not None:
        services.unset_gold(task=task)
        messages.success(request, f"Item {task.item.external_id} is an ordinary item again.")
    return redirect("quality-gold", project.slug)


# --- Adjudication -----------------------------------------------------------------------------


def consensus_initial(project, consensus: dict) -> dict[str, str]:
    """The adjudication form's starting values: each question's consensus label under the project's
    rule (the majority where a mean or median is missing), moved to the nearest level of its scale,
    since a mean need not be one.  Questions without a stored label start empty."""
    column = selectors.RULE_COLUMNS[project.consensus_rule][0]
    fallback = selectors.RULE_COLUMNS[project.ConsensusRule.MAJORITY][0]
    initial = {}
    for dim in rubric_form(project.rubric_version_id):
        label = consensus.get(dim.key)
        if label is None or dim.is_text or not dim.levels:
            continue
        value = getattr(label, column)
        if value is None:
            value = getattr(label, fallback)
        if value is None:
            continue
        nearest = min(dim.levels, key=lambda level: (abs(level.value - value), level.value))
        initial[dim.field_name] = str(nearest.value)
    return initial


#: Tasks per page of the adjudication list (``?page=``), most disputed first.
ADJUDICATION_PAGE = 200


@login_required
@require_GET
def adjudication_queue(request: HttpRequest, slug: str) -> HttpResponse:
    project = _lead_project(request, slug)
    page = page_number(request.GET.get("page")) or 1
    rows, total = selectors.adjudication_queue(project, limit=ADJUDICATION_PAGE, offset=(page - 1) * ADJUDICATION_PAGE)
    snap = selectors.snapshot(project)
    context = {
        "project": project, "rows": rows, "total": total, "snapshot": snap,
        "recent": selectors.recent_adjudications(project),
        "page": page, "first_shown": (page - 1) * ADJUDICATION_PAGE + 1,
        "last_shown": (page - 1) * ADJUDICATION_PAGE + len(rows),
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page * ADJUDICATION_PAGE < total else None,
    }
    return render(request, "quality/adjudication_queue.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def adjudicate(request: HttpRequest, slug: str, task_id: int) -> HttpResponse:
    project = _lead_project(request, slug)
    task = selectors.task_to_adjudicate(project, task_id)
    existing = Adjudication.objects.filter(task=task).prefetch_related("scores__dimension").first()
    status = 200
    if request.method == "POST":
        form = AdjudicationForm(request.POST, project=project)
        if form.is_valid():
            try:
                services.adjudicate(task=task, scores=form.scores(), note=form.cleaned_data["note"],
                                    decided_by=request.user)
            except services.QualityError as exc:
                _refused(form, exc, prefix="score-")
            else:
                messages.success(request, f"Adjudicated {task.item.external_id}: its final label is recorded.")
                return redirect("quality-adjudication", project.slug)
        status = 400
    consensus = selectors.task_consensus(task)
    prefilled = False
    if request.method != "POST":
        if existing is not None:
            initial = {f"score-{s.dimension.key}": str(s.value) for s in existing.scores.all()}
            initial["note"] = existing.note
        else:  # start from what the exports say now: the consensus under the project's rule
            initial = consensus_initial(project, consensus)
            prefilled = bool(initial)
        form = AdjudicationForm(initial=initial, project=project)
    ratings = list(selectors.task_ratings(task))
    dims = rubric_form(project.rubric_version_id)
    labels = {d.key: {lv.value: lv.label for lv in d.levels} for d in dims}
    rows = []
    for rating in ratings:
        by_key = {s.dimension.key: s for s in rating.scores.all()}
        cells = []
        for d in dims:
            score = by_key.get(d.key)
            if score is None:
                cells.append({"dim": d, "missing": True})
            elif d.is_text:
                cells.append({"dim": d, "text": score.text})
            else:
                cells.append({"dim": d, "value": score.value, "label": labels[d.key].get(score.value, "")})
        rows.append({"rating": rating, "cells": cells})
    context = {
        "project": project, "task": task, "form": form, "existing": existing, "dims": dims, "rows": rows,
        "consensus": [(d, consensus.get(d.key)) for d in dims if not d.is_text], "prefilled": prefilled,
    }
    return render(request, "quality/adjudicate.html", context, status=status)

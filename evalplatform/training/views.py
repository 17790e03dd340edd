"""Training pages: the rater's (guidelines, training items, feedback, verdict) and the lead's (settings,
training items with expected answers, everyone's results).

Raters reach only their own attempts and answers; an expected answer is shown only on the feedback
page of an answer the rater has submitted.  Lead pages find their project with ``roles=("lead",)``, so
a rater of the project and a lead of another project alike get 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evalplatform.assignments.selectors import task_form
from evalplatform.projects.models import Item, Project
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.selectors import project_for
from evalplatform.ratings.forms import rating_input
from evalplatform.ratings.services import answer_keys
from evalplatform.training import selectors, services
from evalplatform.training.forms import (
    ExpectationsForm,
    MakeTrainingItemForm,
    TrainingImportForm,
    TrainingSettingsForm,
)
from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingAnswer, TrainingItem
from rubrics.scales import scales_for

RATER = ("rater",)
LEAD = ("lead",)


def _guidelines_due(project: Project, user) -> bool:
    policy = selectors.policy_for(project)
    return bool(policy and policy.require_guidelines_ack and not selectors.guidelines_acknowledged(project, user.pk))


# --- The rater's pages ---------------------------------------------------------------------------


def _item_context(project: Project, attempt, item: TrainingItem, *, values=None, errors=None) -> dict:
    values, errors = values or {}, dict(errors or {})
    fields = [{"dim": dim, "value": str(values.get(dim.key, "")), "error": errors.pop(dim.key, "")}
              for dim in task_form(project.rubric_version_id, pair=item.is_pair)]
    answered, total = selectors.attempt_progress(attempt)
    sides = ("A", "B") if item.is_pair else ("",)
    return {
        "project": project, "state": "item", "attempt": attempt, "item": item, "fields": fields,
        "responses": [{"side": side, "text": r["text"]} for side, r in zip(sides, item.responses, strict=False)],
        "form_errors": list(errors.values()), "answered": answered, "total": total,
        "show_reference": project.show_reference and bool(item.reference.strip()),
    }


@login_required
@require_GET
def training(request: HttpRequest, slug: str) -> HttpResponse:
    """Where the rater stands: the next training item, the invitation to (re)start, or the verdict."""
    project = project_for(request.user, slug=slug, roles=RATER)
    if _guidelines_due(project, request.user):
        return redirect("training-guidelines", project.slug)
    policy = selectors.policy_for(project)
    state = selectors.qualification(project, request.user.pk, policy)
    if state.state == selectors.IN_PROGRESS and state.open_attempt is not None:
        item = selectors.next_training_item(state.open_attempt)
        if item is not None:
            return render(request, "training/train.html", _item_context(project, state.open_attempt, item))
        services.finish_if_done(attempt=state.open_attempt)  # its remaining items were removed: grade it now
        state = selectors.qualification(project, request.user.pk, policy)
    return render(request, "training/train.html", {
        "project": project, "state": state.state, "qualification": state, "policy": policy,
        "n_items": selectors.training_items(project).count(),
    })


@login_required
@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=RATER)
    if _guidelines_due(project, request.user):
        return redirect("training-guidelines", project.slug)
    try:
        services.start_attempt(project=project, rater=request.user)
    except services.TrainingError as exc:
        messages.warning(request, " ".join(exc.messages))
    return redirect("training", project.slug)


@login_required
@require_POST
def answer(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """Submit an answer to a training item, then see how it compares (the feedback page)."""
    project = project_for(request.user, slug=slug, roles=RATER)
    item = get_object_or_404(TrainingItem, pk=item_id, project=project)
    state = selectors.qualification(project, request.user.pk)
    if state.open_attempt is None:
        messages.warning(request, "Start the training first.")
        return redirect("training", project.slug)
    data = rating_input(request.POST, task_form(project.rubric_version_id, pair=item.is_pair))
    try:
        given = services.submit_training_answer(attempt=state.open_attempt, item=item, scores=data.scores)
    except services.TrainingError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
        context = _item_context(project, state.open_attempt, item, values=data.scores,
                                errors={key: " ".join(msgs) if isinstance(msgs, list) else msgs
                                        for key, msgs in errors.items()})
        return render(request, "training/train.html", context, status=400)
    return redirect("training-feedback", project.slug, given.pk)


@login_required
@require_GET
def feedback(request: HttpRequest, slug: str, answer_id: int) -> HttpResponse:
    """One of the rater's own answers beside the expected one, with the lead's explanations."""
    project = project_for(request.user, slug=slug, roles=RATER)
    given = get_object_or_404(
        TrainingAnswer.objects.select_related("attempt__project", "item"),
        pk=answer_id, attempt__project=project, attempt__rater=request.user,
    )
    attempt = given.attempt
    return render(request, "training/feedback.html", {
        "project": project, "answer": given, "item": given.item, "rows": services.feedback_rows(given),
        "attempt": attempt, "finished": attempt.finished_at is not None,
        "qualification": selectors.qualification(project, request.user.pk),
    })


@login_required
@require_http_methods(["GET", "POST"])
def guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    """The rubric guidelines to read and confirm, with what changed since the version the rater last confirmed."""
    project = project_for(request.user, slug=slug, roles=RATER)
    if request.method == "POST":
        services.acknowledge_guidelines(project=project, rater=request.user)
        messages.success(request, "Thank you: guidelines confirmed.")
        return redirect("rate", project.slug)
    return render(request, "training/guidelines.html", {
        "project": project, "version": project.rubric_version,
        "acknowledged": selectors.guidelines_acknowledged(project, request.user.pk),
        "change": selectors.guidelines_change(project, request.user.pk),
    })


# --- The lead's pages ----------------------------------------------------------------------------


def questions(project: Project, *, pair: bool) -> list[tuple[str, str, list[tuple[int, str]] | None]]:
    """(answer key, label, levels or None for free text) of a training item of this shape."""
    out = []
    for key, scale in answer_keys(scales_for(project.rubric_version_id), pair=pair):
        label = scale.label if "." not in key else f"{scale.label}: response {key.rpartition('.')[2].upper()}"
        out.append((key, label, None if scale.is_text else [(v, scale.labels[v]) for v in scale.values]))
    return out


def _manage_page(request: HttpRequest, project: Project, *, status: int = 200, settings_form=None,
                 import_form=None, import_errors=(), make_form=None, make_expectations=None) -> HttpResponse:
    policy = selectors.policy_for(project)
    pair = project.kind == Project.Kind.PAIRWISE
    return render(request, "training/manage.html", {
        "project": project,
        "settings_form": settings_form or TrainingSettingsForm(instance=policy),
        "import_form": import_form or TrainingImportForm(),
        "import_errors": import_errors,
        "make_form": make_form or MakeTrainingItemForm(),
        "make_expectations": make_expectations or ExpectationsForm(questions=questions(project, pair=pair),
                                                                    prefix="new"),
        "items": selectors.training_items(project),
        "results": selectors.training_results(project),
        "active": selectors.training_active(project, policy),
    }, status=status)


@login_required
@require_GET
def manage(request: HttpRequest, slug: str) -> HttpResponse:
    return _manage_page(request, project_for(request.user, slug=slug, roles=LEAD))


@login_required
@require_POST
def manage_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = TrainingSettingsForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, project, settings_form=form, status=400)
    try:
        services.update_policy(project=project, **{k: form.cleaned_data[k] for k in services.POLICY_FIELDS})
    except services.TrainingError as exc:
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
        return _manage_page(request, project, settings_form=form, status=400)
    messages.success(request, "Training settings saved.")
    return redirect("training-manage", project.slug)


@login_required
@require_POST
def manage_import(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = TrainingImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _manage_page(request, project, import_form=form, status=400)
    upload = form.cleaned_data["items"]
    try:
        summary = import_training_items(project=project, stream=upload, name=upload.name,
                                        update=form.cleaned_data["update"])
    except ImportRejected as exc:
        return _manage_page(request, project, import_form=form, import_errors=exc.lines(), status=400)
    messages.success(request, f"Training items: {summary.items_created} created, {summary.items_updated} updated.")
    return redirect("training-manage", project.slug)


@login_required
@require_POST
def manage_make(request: HttpRequest, slug: str) -> HttpResponse:
    """Make an unseen item of the project a training item, with its expected answers."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    form = MakeTrainingItemForm(request.POST)
    expectations = ExpectationsForm(request.POST, prefix="new",
                                    questions=questions(project, pair=project.kind == Project.Kind.PAIRWISE))
    if not (form.is_valid() and expectations.is_valid()):
        return _manage_page(request, project, make_form=form, make_expectations=expectations, status=400)
    item = Item.objects.filter(project=project, external_id=form.cleaned_data["item_id"].strip()).first()
    if item is None:
        form.add_error("item_id", "No item of this project has that id.")
        return _manage_page(request, project, make_form=form, make_expectations=expectations, status=400)
    try:
        services.make_training_item(item=item, expected=expectations.expected(),
                                    explanations=expectations.explanations())
    except services.TrainingError as exc:
        for key, errors in exc.message_dict.items():
            form.add_error("item_id" if key == "item_id" else None, [f"{key}: {e}" for e in errors]
                           if key != "item_id" else errors)
        return _manage_page(request, project, make_form=form, make_expectations=expectations, status=400)
    messages.success(request, f"Item {item.external_id} is now a training item.")
    return redirect("training-manage", project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def manage_item(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """Edit a training item's expected answers and explanations."""
    project = project_for(request.user, slug=slug, roles=LEAD)
    item = get_object_or_404(TrainingItem, pk=item_id, project=project)
    kwargs = {"questions": questions(project, pair=item.is_pair), "initial_expected": item.expected,
              "initial_explanations": item.explanations}
    form = ExpectationsForm(request.POST if request.method == "POST" else None, **kwargs)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.set_expectations(item=item, expected=form.expected(), explanations=form.explanations())
            except services.TrainingError as exc:
                for key, errors in exc.message_dict.items():
                    form.add_error(None, [f"{key}: {e}" for e in errors])
            else:
                messages.success(request, f"Training item {item.external_id} saved.")
                return redirect("training-manage", project.slug)
        status = 400
    return render(request, "training/item.html", {"project": project, "item": item, "form": form}, status=status)


@login_required
@require_POST
def manage_item_delete(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for(request.user, slug=slug, roles=LEAD)
    item = get_object_or_404(TrainingItem, pk=item_id, project=project)
    services.delete_training_item(item=item)
    messages.success(request, f"Training item {item.external_id} removed.")
    return redirect("training-manage", project.slug)

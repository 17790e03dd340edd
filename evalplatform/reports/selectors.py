"""Reads for the report pages: the report to show, the one in progress, and one item's ratings side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import Http404

from evalplatform.projects.models import Item, Project, Response, Task
from evalplatform.ratings.models import Rating
from evalplatform.reports.models import AgreementReport, TrackingRun
from evalplatform.reports.services import PENDING, latest_done
from rubrics.models import Dimension
from rubrics.scales import Scale, asked_per_response, scales_for

__all__ = ["ItemComparison", "item_comparison", "item_rows", "latest_done", "pending_report", "report_document", "report_state",
           "tracking_runs"]


def tracking_runs(project: Project, *, limit: int = 20) -> list[TrackingRun]:
    """The project's newest logged runs (any tracker), newest first."""
    return list(TrackingRun.objects.filter(report__project=project).order_by("-logged_at", "-id")[:limit])


def pending_report(project: Project) -> AgreementReport | None:
    """The newest report still queued or running, if any."""
    return project.reports.filter(status__in=PENDING).order_by("-created_at", "-id").first()


def report_state(project: Project) -> dict[str, Any]:
    """What the report page (and its poller) needs to know: the shown report, the one in progress
    and the newest failure since the shown one (a pending report has no result yet, and a failed
    one's is not loaded)."""
    shown = latest_done(project)
    pending = pending_report(project)
    failed = project.reports.defer("result").filter(status=AgreementReport.Status.FAILED)
    if shown is not None:
        failed = failed.filter(created_at__gt=shown.created_at)
    return {"report": shown, "pending": pending, "failed": failed.order_by("-created_at", "-id").first()}


def report_document(report: AgreementReport) -> dict[str, Any]:
    """A stored report as one JSON document (the page's and ``manage.py export``'s download)."""
    when = {k: (v.isoformat() if v else None) for k, v in
            (("created_at", report.created_at), ("started_at", report.started_at), ("finished_at", report.finished_at))}
    return {
        "id": report.pk, "project": report.project.slug, "status": report.status, "trigger": report.trigger,
        "parameters": report.parameters, "data_seq": report.data_seq, "n_ratings": report.n_ratings, **when,
        "result": report.result,
    }


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    scale: Scale
    response: Response | None = None  # a per-response question of a pair: the response it is about

    @property
    def is_text(self) -> bool:
        return self.scale.is_text


@dataclass
class RaterRow:
    rating: Rating
    cells: list[dict[str, Any]]


@dataclass
class TaskRatings:
    task: Task
    label: str
    columns: list[Column]
    rows: list[RaterRow] = field(default_factory=list)
    spread: list[int | None] = field(default_factory=list)  # max - min per column over humans (None: text)


@dataclass
class ItemComparison:
    item: Item
    tasks: list[TaskRatings]


def _columns(scales: dict[str, Scale], task: Task) -> list[Column]:
    columns = []
    for key, scale in scales.items():
        if asked_per_response(scale.kind, pair=task.is_pair):
            for response in task.responses:
                columns.append(Column(key, f"{scale.label} ({response.model})", scale, response))
        else:
            columns.append(Column(key, scale.label, scale))
    return columns


def _cell(column: Column, scores: dict[tuple[int, int | None], Any]) -> dict[str, Any]:
    score = scores.get((column.scale.dimension_id, column.response.pk if column.response else None))
    if score is None:
        return {"missing": True}
    if column.is_text:
        return {"text": score.text}
    label = column.scale.labels.get(score.value, "")
    return {"value": score.value, "label": label if label != str(score.value) else ""}


def item_comparison(project: Project, external_id: str) -> ItemComparison:
    """Every rating of one item, per task (response or pair), with every rater's scores and
    justification in one row each; a few queries whatever the number of raters."""
    item = Item.objects.filter(project=project, external_id=external_id).first()
    if item is None:
        raise Http404("No such item in this project.")
    scales = scales_for(project.rubric_version_id)
    tasks = list(Task.objects.filter(item=item).select_related("response_a", "response_b").order_by("id"))
    ratings = (
        Rating.objects.filter(task__in=tasks).select_related("rater").prefetch_related("scores")
        .order_by("rater__username", "id")
    )
    by_task: dict[int, list[Rating]] = {}
    for rating in ratings:
        by_task.setdefault(rating.task_id, []).append(rating)
    out = []
    for task in tasks:
        label = " vs ".join(response.model for response in task.responses)
        entry = TaskRatings(task, label, _columns(scales, task))
        for rating in by_task.get(task.pk, []):
            scores = {(s.dimension_id, s.response_id): s for s in rating.scores.all()}
            entry.rows.append(RaterRow(rating, [_cell(c, scores) for c in entry.columns]))
        for i, column in enumerate(entry.columns):
            values = [row.cells[i]["value"] for row in entry.rows
                      if "value" in row.cells[i] and not row.rating.rater.is_automated]
            numeric = not column.is_text and column.scale.kind != Dimension.Kind.CATEGORICAL
            entry.spread.append(max(values) - min(values) if values and numeric else None)
        out.append(entry)
    return ItemComparison(item, out)


def item_rows(project: Project, *, search: str = ""):
    """The project's items for the lead's item list: responses, gold tasks and ratings counted in the
    database (one query per page of rows), newest import last, optionally only ids containing ``search``."""
    from django.db.models import Count, Q

    items = Item.objects.filter(project=project)
    if search:
        items = items.filter(external_id__icontains=search)
    return items.annotate(
        n_responses=Count("responses", distinct=True),
        n_gold=Count("tasks", filter=Q(tasks__is_gold=True), distinct=True),
        n_ratings=Count("tasks__ratings", distinct=True),
    ).order_by("id")


FAIRNESS_COLUMNS = ("row", "field", "model", "dimension", "group", "other_group", "n", "mean", "ci_low", "ci_high",
                    "rate", "rate_ci_low", "rate_ci_high", "difference", "p_value", "p_adjusted", "flagged")


def reference_rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The stored report's reference metrics as CSV: one row per response (item, model), each metric,
    and the human panel's mean score on every numeric dimension (``human_<dimension>``, empty when unrated)."""
    section = result.get("reference_metrics") or {}
    metrics = [m["key"] for m in section.get("metrics", [])]
    responses = section.get("responses", [])
    dims = sorted({d for r in responses for d in r.get("human", {})})
    header = ["item_id", "model", *metrics, *(f"human_{d}" for d in dims)]
    rows = [[r["item"], r["model"], *(r.get(k) for k in metrics), *(r.get("human", {}).get(d) for d in dims)]
            for r in responses]
    return header, rows


def fairness_rows(result: dict[str, Any]) -> list[list[Any]]:
    """The stored report's fairness audit as CSV rows (``FAIRNESS_COLUMNS``): one ``group`` row per
    group, one ``gap`` row (the largest gap, with its interval), one ``omnibus`` row and one ``pair`` row
    per pairwise test, for every (field, model, dimension)."""
    audit = result.get("fairness") or {}
    rows: list[list[Any]] = []
    for cell in audit.get("cells", []):
        base = [cell["field"], cell["model"], cell["dimension"]]
        for g in cell["groups"]:
            ci = g.get("ci95") or [None, None]
            rate_ci = g.get("rate_ci95") or [None, None]
            rows.append(["group", *base, g["value"], None, g["n"], g["mean"], ci[0], ci[1], g.get("rate"),
                         rate_ci[0], rate_ci[1], None, None, None, None])
        gap = cell.get("gap")
        if gap:
            ci = gap.get("ci95") or [None, None]
            rows.append(["gap", *base, gap["high"], gap["low"], None, None, ci[0], ci[1], None, None, None,
                         gap["difference"], None, None, None])
        omnibus = cell.get("omnibus")
        if omnibus:
            rows.append(["omnibus", *base, None, None, None, None, None, None, None, None, None, None,
                         omnibus.get("p_value"), omnibus.get("p_adjusted"), None])
        for pair in cell["pairs"]:
            rows.append(["pair", *base, pair["a"], pair["b"], None, None, None, None, None, None, None,
                         pair["difference"], pair["p_value"], pair["p_adjusted"], pair["flagged"]])
    return rows

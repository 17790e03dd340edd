"""Quality control: is each rater reliable, and what is each task's final label?

Leads mark gold tasks with the scores they expect (the queue mixes them in at the project's
``gold_rate``; each rater's accuracy on them is tracked), set the thresholds that flag raters and
send disagreed tasks to adjudication, pick the project's consensus rule, and adjudicate.  A quality
run (in the report computation, or ``tasks.compute_quality``) computes the scorecards and every
rule's consensus labels and stores them here, so pages and exports only read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from evalplatform.dispatch import enqueue
from evalplatform.projects.models import GOLD_CAPACITY, Project, Task
from evalplatform.quality.models import (
    AdjudicatedScore,
    Adjudication,
    ConsensusLabel,
    GoldExpectation,
    QualitySnapshot,
)
from evalplatform.ratings.models import asked_per_response
from evalplatform.reports.services import note_ratings_changed
from rubrics.models import Dimension
from rubrics.scales import Scale, scales_for

log = logging.getLogger(__name__)
BATCH = 2000


class QualityError(ValidationError):
    """A quality-control request its rules refuse (the message says which rule)."""


# --- Settings ---------------------------------------------------------------------------------

SETTINGS = {"gold_rate", "gold_min_accuracy", "min_seconds_per_item", "adjudication_threshold", "consensus_rule"}


@transaction.atomic
def update_quality_settings(*, project: Project, **changes: Any) -> Project:
    """Change the project's quality settings (gold rate, thresholds, consensus rule).

    The consensus rule takes effect at once (every rule's labels are stored); thresholds apply to
    the flags the next time they are read, the scorecards' flags at the next quality run.
    """
    unknown = set(changes) - SETTINGS
    if unknown:
        raise QualityError(f"not quality settings: {', '.join(sorted(unknown))}")
    errors: dict[str, str] = {}
    if "gold_rate" in changes and not 0 <= float(changes["gold_rate"]) <= 0.5:
        errors["gold_rate"] = "must be between 0 and 0.5 (at most half of what a rater sees is gold)"
    for name in ("gold_min_accuracy", "adjudication_threshold"):
        if name in changes and not 0 <= float(changes[name]) <= 1:
            errors[name] = "must be between 0 and 1"
    if "min_seconds_per_item" in changes and int(changes["min_seconds_per_item"]) < 0:
        errors["min_seconds_per_item"] = "must be 0 (off) or more seconds"
    if "consensus_rule" in changes and changes["consensus_rule"] not in Project.ConsensusRule.values:
        errors["consensus_rule"] = f"must be one of {', '.join(Project.ConsensusRule.values)}"
    if errors:
        raise QualityError(errors)
    project = Project.objects.select_for_update().get(pk=project.pk)
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=sorted(changes))
    return project


# --- Gold -------------------------------------------------------------------------------------


def task_scales(task: Task) -> dict[str, Scale]:
    """The scored questions asked of the task as a whole: on a pair, the preference (questions asked
    of each response have a value per response and are neither gold nor adjudicated)."""
    return {
        key: scale for key, scale in scales_for(task.project.rubric_version_id).items()
        if not scale.is_text and not asked_per_response(scale.kind, pair=task.response_b_id is not None)
    }


def _expectation_rows(task: Task, expectations: Mapping[str, Any]) -> list[tuple[int, int, int]]:
    """(dimension id, value, tolerance) per expectation, or ``QualityError`` listing every problem."""
    scales = task_scales(task)
    errors: dict[str, str] = {}
    rows = []
    if not expectations:
        raise QualityError({"expectations": "give the expected score of at least one dimension"})
    for key, spec in expectations.items():
        scale = scales.get(key)
        if scale is None:
            errors[key] = f"not a scored question of this task; expected one of {', '.join(scales)}"
            continue
        raw, tolerance = (spec.get("value"), spec.get("tolerance", 0)) if isinstance(spec, Mapping) else (spec, 0)
        try:
            value = int(scale.coerce(raw))
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
            errors[key] = "the tolerance must be a whole number, 0 or more"
        elif tolerance and scale.level == Dimension.Level.NOMINAL:
            errors[key] = "a tolerance needs an ordered scale; on a nominal dimension only the exact value is right"
        else:
            rows.append((scale.dimension_id, value, tolerance))
    if errors:
        raise QualityError(errors)
    return rows


@transaction.atomic
def set_gold(*, task: Task, expectations: Mapping[str, Any], created_by=None) -> list[GoldExpectation]:
    """Make ``task`` a gold task with these expected scores (``{key: value}`` or ``{key: {"value",
    "tolerance"}}``), replacing any it had.  The queue then serves it to every rater once."""
    task = Task.objects.select_for_update().select_related("project").get(pk=task.pk)
    project = task.project
    rows = _expectation_rows(task, expectations)
    GoldExpectation.objects.filter(task=task).delete()
    created = GoldExpectation.objects.bulk_create(
        GoldExpectation(project=project, task=task, dimension_id=d, value=v, tolerance=t, created_by=created_by)
        for d, v, t in rows
    )
    if not task.is_gold:
        Task.objects.filter(pk=task.pk).update(is_gold=True, capacity=GOLD_CAPACITY)
        # The report's data changed (gold ratings leave the agreement figures): refresh it.
        note_ratings_changed(project_id=project.pk, count=1)
    return created


@transaction.atomic
def unset_gold(*, task: Task) -> Task:
    """Make a gold task ordinary again: its expectations go, its capacity returns to the overlap
    (or to the raters it already has, if more)."""
    task = Task.objects.select_for_update().select_related("project").get(pk=task.pk)
    if task.is_gold:
        GoldExpectation.objects.filter(task=task).delete()
        Task.objects.filter(pk=task.pk).update(
            is_gold=False, capacity=Greatest(F("claimed_count"), task.project.overlap, 1)
        )
        note_ratings_changed(project_id=task.project_id, count=1)
    task.refresh_from_db()
    return task


# --- Adjudication -----------------------------------------------------------------------------


@transaction.atomic
def adjudicate(
    *, task: Task, scores: Mapping[str, Any], note: str = "", decided_by=None, now: datetime | None = None
) -> Adjudication:
    """Record the lead's final scores of an ordinary task (replacing an earlier adjudication).

    Every required scored dimension needs a value on its scale; optional ones may be left out.
    """
    task = Task.objects.select_for_update().select_related("project").get(pk=task.pk)
    if task.is_gold:
        raise QualityError("gold tasks are not adjudicated: their expected scores are their labels")
    errors: dict[str, str] = {}
    values: dict[int, int] = {}
    scales = task_scales(task)
    for key in scores:
        if key not in scales:
            errors[str(key)] = f"not a scored question of this task; expected one of {', '.join(scales)}"
    for key, scale in scales.items():
        raw = scores.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if scale.required:
                errors[key] = f"required; expected {scale.describe()}"
            continue
        try:
            values[scale.dimension_id] = int(scale.coerce(raw))
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise QualityError(errors)
    adjudication, _ = Adjudication.objects.update_or_create(
        task=task,
        defaults={"project": task.project, "note": (note or "").strip(), "decided_by": decided_by,
                  "decided_at": now or timezone.now()},
    )
    adjudication.scores.all().delete()
    AdjudicatedScore.objects.bulk_create(
        AdjudicatedScore(adjudication=adjudication, dimension_id=d, value=v) for d, v in values.items()
    )
    return adjudication


# --- Quality runs -----------------------------------------------------------------------------


def compute_quality(
    *, project: Project, parameters: dict[str, Any] | None = None, data_seq: int | None = None
) -> dict[str, Any]:
    """Run the quality analysis of ``project`` and store it; returns the result (scorecards).

    Call from a worker only (statistics never run in a web request).  A run computed from older data
    than the stored one leaves the stored one alone.  ``data_seq``: the project's ``ratings_seq`` the
    caller read its snapshot at (the report's), else read here.
    """
    from evalplatform.quality.analysis import run_quality

    run = run_quality(project, parameters, data_seq=data_seq)
    store_quality(project=project, data_seq=run.data_seq, parameters=run.parameters, result=run.result,
                  labels=run.labels)
    return run.result


@transaction.atomic
def store_quality(
    *, project: Project, data_seq: int, parameters: dict[str, Any], result: dict[str, Any],
    labels: list[ConsensusLabel],
) -> bool:
    """Replace the project's scorecards and consensus labels, unless newer ones are stored."""
    QualitySnapshot.objects.get_or_create(
        project=project, defaults={"data_seq": -1, "computed_at": timezone.now()}
    )
    current = QualitySnapshot.objects.select_for_update().get(project=project)
    if current.data_seq > data_seq:
        log.info("quality run of project %s at seq %s is older than the stored one; dropped", project.pk, data_seq)
        return False
    ConsensusLabel.objects.filter(project=project).delete()
    ConsensusLabel.objects.bulk_create(labels, batch_size=BATCH)
    current.data_seq, current.parameters, current.result = data_seq, parameters, result
    current.computed_at = timezone.now()
    current.save()
    return True


def request_quality_run(*, project: Project, parameters: dict[str, Any] | None = None) -> None:
    """Enqueue a quality run after the current transaction commits."""
    from evalplatform.quality.tasks import compute_quality as task

    transaction.on_commit(lambda: enqueue(task, project.pk, parameters or {}))

"""Quality control: is each rater reliable, and what is each task's final label?

Leads mark gold tasks with the scores they expect (the queue mixes them in at the project's
``gold_rate``; each rater's accuracy on them is tracked), set the thresholds that flag raters and
send disagreed tasks to adjudication, pick the project's consensus rule, and adjudicate.  A quality
run (in the report computation, or ``tasks.compute_quality``) computes the scorecards and every
rule's consensus labels and stores them here, so pages and exports only read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from evalplatform.bulk import delete_ids, insert_rows, refresh_statistics, update_rows
from evalplatform.dispatch import enqueue
from evalplatform.input_rules import column_range
from evalplatform.projects.models import GOLD_CAPACITY, Project, Task
from evalplatform.quality.models import (
    AdjudicatedScore,
    Adjudication,
    ConsensusLabel,
    GoldExpectation,
    QualitySnapshot,
)
from evalplatform.ratings.changes import note_ratings_changed
from rubrics.models import Dimension
from rubrics.scales import Scale, asked_per_response, scales_for

if TYPE_CHECKING:
    from evalplatform.reports.data import ReportData

log = logging.getLogger(__name__)
BATCH = 2000
#: The task ``request_quality_run`` enqueues, by name (``tasks.py`` imports this module, not the reverse).
COMPUTE_TASK = "evalplatform.quality.tasks.compute_quality"


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
    if "min_seconds_per_item" in changes:
        # the column's own range: PostgreSQL would otherwise wrap a 10-digit value into a negative one
        high = column_range(Project, "min_seconds_per_item")[1]
        if not 0 <= int(changes["min_seconds_per_item"]) <= high:
            errors["min_seconds_per_item"] = f"must be 0 (off) or more seconds, at most {high}"
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


TOLERANCE_MAX = column_range(GoldExpectation, "tolerance")[1]


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
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= TOLERANCE_MAX:
            errors[key] = f"the tolerance must be a whole number from 0 to {TOLERANCE_MAX}"
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
    *, project: Project, parameters: dict[str, Any] | None = None, data_seq: int | None = None,
    data: ReportData | None = None,
) -> dict[str, Any]:
    """Run the quality analysis of ``project`` and store it; returns the result (scorecards).

    Call from a worker only (statistics never run in a web request).  A run computed from older data
    than the stored one leaves the stored one alone.  ``data_seq``: the project's ``ratings_seq`` the
    caller read its snapshot at (the report's), else read here; ``data``: that snapshot, whose scores
    the run takes instead of reading them again when they are the ones it counts.
    """
    from evalplatform.quality.analysis import run_quality

    run = run_quality(project, parameters, data_seq=data_seq, data=data)
    store_quality(project=project, data_seq=run.data_seq, parameters=run.parameters, result=run.result,
                  labels=run.labels)
    return run.result


#: What a consensus label holds besides its project (``labels.Label``'s fields, in its order).
LABEL_FIELDS = (
    "task_id", "response_id", "dimension_id", "n_ratings", "agreement", "split", "mean", "median", "majority",
    "majority_share", "dawid_skene", "dawid_skene_posterior", "mace", "mace_posterior",
)


@transaction.atomic
def store_quality(
    *, project: Project, data_seq: int, parameters: dict[str, Any], result: dict[str, Any],
    labels: Sequence[Any],
) -> bool:
    """Replace the project's scorecards and consensus labels, unless newer ones are stored."""
    QualitySnapshot.objects.get_or_create(
        project=project, defaults={"data_seq": -1, "computed_at": timezone.now()}
    )
    current = QualitySnapshot.objects.select_for_update().get(project=project)
    if current.data_seq > data_seq:
        log.info("quality run of project %s at seq %s is older than the stored one; dropped", project.pk, data_seq)
        return False
    current.labels_digest = _replace_labels(project, labels, current.labels_digest)
    current.data_seq, current.parameters, current.result = data_seq, parameters, result
    current.computed_at = timezone.now()
    current.save()
    return True


def _replace_labels(project: Project, labels: Sequence[Any], stored_digest: str = "") -> str:
    """Make the project's stored consensus labels exactly ``labels``, writing only what changed;
    returns their digest.  When ``stored_digest`` (the last stored run's) is theirs and the project
    still holds as many rows, the rows are these labels already and are not read back (0.4 s of a
    report on PostgreSQL at issue 18's size); only this function writes them.

    A run at a team's size makes hundreds of thousands of labels, and the next run (the report after a
    few more ratings, or with other parameters) gives most of them again: deleting and inserting every
    row updates five indexes per row (seconds on SQLite), while a row found by its (task, response,
    dimension) keeps its id and is rewritten in place only if a figure changed (no index holds them).
    Rows whose unit is gone are deleted, new ones inserted.  Readers see the same rows either way.
    """
    quote = connection.ops.quote_name
    stored_sql = (f"SELECT {quote('id')}, {', '.join(quote(f) for f in LABEL_FIELDS)} "  # noqa: S608
                  f"FROM {quote(ConsensusLabel._meta.db_table)} WHERE {quote('project_id')} = %s ORDER BY 1")
    from evalplatform.quality.labels import LabelTable

    # A run's table digests its columns without making its rows; given rows are made a table first.
    table = labels if isinstance(labels, LabelTable) else LabelTable.of(labels)
    digest = table.digest()
    if digest == stored_digest and ConsensusLabel.objects.filter(project=project).count() == len(table):
        return digest
    given = table.rows()  # ``Label`` tuples, exactly LABEL_FIELDS: indexed per row below
    # What to write, as (row id, position in ``given``) and positions: no second copy of the figures.
    changed: list[tuple[int, int]] = []
    rest: list[tuple[Any, ...]] = []  # stored rows past the first that does not line up
    same = 0
    with connection.cursor() as cursor:
        cursor.execute(stored_sql, [project.pk])  # rows: (id, *LABEL_FIELDS)
        # The last run stored its labels in the order a run gives them: while the units line up,
        # compare row by row as they are read (a stored bool reads 0/1 on SQLite, equal to False/True).
        while rows := cursor.fetchmany(BATCH):
            at = 0
            if not rest:
                for row in rows:
                    if same == len(given):
                        break
                    if row[1:] != given[same]:
                        if row[1:4] != given[same][:3]:
                            break
                        changed.append((row[0], same))
                    same += 1
                    at += 1
            rest.extend(rows[at:])
    # the rest by (task, response, dimension), the fields LABEL_FIELDS starts with
    stored = {row[1:4]: row for row in rest}
    new = []
    for i in range(same, len(given)):
        row = stored.pop(given[i][:3], None)
        if row is None:
            new.append(i)
        elif row[1:] != given[i]:
            changed.append((row[0], i))
    delete_ids(ConsensusLabel, [row[0] for row in stored.values()])
    if changed:
        update_rows(ConsensusLabel, LABEL_FIELDS[3:], ((pk, *given[i][3:]) for pk, i in changed))
    project_id = project.pk
    insert_rows(ConsensusLabel, ("project_id", *LABEL_FIELDS), ((project_id, *given[i]) for i in new))
    refresh_statistics(len(new) + len(changed), ConsensusLabel)
    return digest


def request_quality_run(*, project: Project, parameters: dict[str, Any] | None = None) -> None:
    """Enqueue a quality run after the current transaction commits."""
    transaction.on_commit(lambda: enqueue(COMPUTE_TASK, project.pk, parameters or {}))

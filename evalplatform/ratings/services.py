"""Ratings: recording raters' scores, from the queue or imported from elsewhere.

A rating is the product the whole platform exists to collect, so its write is the most guarded:
validated against the rubric version the rater saw, idempotent (a double click or a retried
request returns the first rating), committed together with the queue counters, and followed by a
debounced report refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import reclaim_for_late_submit
from evalplatform.projects.models import Task
from evalplatform.ratings.models import SIDES, Rating, Score, asked_per_response
from evalplatform.reports.services import note_ratings_changed
from rubrics.models import Dimension, RubricVersion
from rubrics.scales import Scale, scales_for


class SubmitError(Exception):
    """A submission refused.  ``errors`` maps a field (a dimension key, ``justification``, ...) to why."""

    status = 400

    def __init__(self, errors: Mapping[str, str] | str):
        self.errors = dict(errors) if isinstance(errors, Mapping) else {"detail": errors}
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class SubmitConflict(SubmitError):
    """The submission is well-formed but the task's state refuses it (skipped, or filled after expiry)."""

    status = 409


def answer_keys(scales: Mapping[str, Scale], *, pair: bool) -> list[tuple[str, Scale]]:
    """The keys a submission answers, in rubric order: a dimension's key, or on a pair task
    ``key.a`` and ``key.b`` for a question asked of each response (A and B as the rater saw them)."""
    keys = []
    for key, scale in scales.items():
        if asked_per_response(scale.kind, pair=pair):
            keys += [(f"{key}.{side}", scale) for side in SIDES]
        else:
            keys.append((key, scale))
    return keys


def validate_scores(
    *, version: RubricVersion | int, scores: Mapping[str, Any], justification: str = "",
    justification_rule: str | None = None, pair: bool = False, scales: dict[str, Scale] | None = None,
) -> dict[str, int | str]:
    """The stored values of ``scores`` for this rubric version, or ``SubmitError`` listing every problem.

    On a pair task (``pair``) likert, yes/no and categorical questions are answered for each
    response, keyed ``<dimension>.a`` and ``<dimension>.b`` (A = the response shown on the left).
    """
    scales = scales if scales is not None else scales_for(version)
    errors: dict[str, str] = {}
    if not isinstance(scores, Mapping):
        raise SubmitError({"scores": "must be an object of dimension key -> value"})
    expected = answer_keys(scales, pair=pair)
    known = {key for key, _ in expected}
    for key in scores:
        if key in known:
            continue
        if key in scales:
            errors[str(key)] = f"{key} is asked of each response of a pair: give {key}.a and {key}.b"
        else:
            errors[str(key)] = f"unknown dimension {key!r}; this rubric has {', '.join(k for k, _ in expected)}"
    values: dict[str, int | str] = {}
    for key, scale in expected:
        raw = scores.get(key)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if scale.required:
                errors[key] = f"{key}: required" + ("" if scale.is_text else f"; expected {scale.describe()}")
            continue
        try:
            values[key] = scale.coerce(raw)
        except ValueError as exc:
            errors[key] = str(exc)
    if justification_rule is None:
        vid = version if isinstance(version, int) else version.pk
        justification_rule = RubricVersion.objects.values_list("justification", flat=True).get(pk=vid)
    if justification_rule == RubricVersion.Justification.REQUIRED and not (justification or "").strip():
        errors["justification"] = "this rubric asks for a justification with every rating"
    elif "\x00" in (justification or ""):
        errors["justification"] = "the text contains a NUL character, which cannot be stored"
    if errors:
        raise SubmitError(errors)
    return values


def _score_rows(
    scales: dict[str, Scale], values: dict[str, int | str], *, swapped: bool,
    responses: tuple[int, int | None] = (0, None),
) -> list[Score]:
    rows = []
    # The response shown as "A" (left) and as "B": response_b is on the left when swapped.
    shown = dict(zip(SIDES, reversed(responses) if swapped else responses, strict=True))
    for answer, value in values.items():
        key, _, side = answer.partition(".")
        scale = scales[key]
        if scale.is_text:
            rows.append(Score(dimension_id=scale.dimension_id, text=str(value)))
        else:
            number = int(value)
            if swapped and scale.kind == Dimension.Kind.PAIRWISE:
                number = -number  # the rater saw response_b as "A": store in the task's orientation
            rows.append(Score(dimension_id=scale.dimension_id, value=number, response_id=shown[side] if side else None))
    return rows


def submit_rating(
    *, assignment: Assignment | int, scores: Mapping[str, Any], justification: str = "",
    duration_ms: int | None = None, now: datetime | None = None,
) -> tuple[Rating, bool]:
    """Record the rater's scores for their assignment (an object or its id).  Returns ``(rating, created)``.

    Submitting again returns the first rating unchanged (``created`` False).  Pairwise values are
    given as the rater saw them (negative = the left response, "A") and stored in the task's own
    orientation; per-response answers of a pair (``accuracy.a``, ``accuracy.b``) are stored with the
    response the rater saw on that side.  A rating after the lease lapsed is accepted while the task
    has room.  A new rating comes back with its project, task (with item), assignment and scores
    (``rating.scores.all()``) loaded, so showing it needs no further query.
    """
    now = now or timezone.now()
    if duration_ms is not None and (not isinstance(duration_ms, int) or isinstance(duration_ms, bool) or duration_ms < 0):
        raise SubmitError({"duration_ms": "must be a whole number of milliseconds, 0 or more"})
    with transaction.atomic():
        # Joined with what the rating is checked against; only the assignment row is locked.
        locked = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("project__rubric_version", "task__item")
            .get(pk=assignment if isinstance(assignment, int) else assignment.pk)
        )
        # Not joined above: a statement that waited for the lock sees the locked row as it is now but
        # joined rows as they were when it started, so a rating committed while it waited would be
        # missed (and the repeat would fail on the unique constraint).  A new statement sees it.
        existing = Rating.objects.filter(assignment=locked).first()
        if existing is not None:
            return existing, False
        if locked.status == Assignment.Status.SKIPPED:
            raise SubmitConflict("you skipped this task, so it can no longer be rated")
        project = locked.project
        task = locked.task
        scales = scales_for(project.rubric_version)
        values = validate_scores(
            version=project.rubric_version_id, scores=scores, justification=justification,
            justification_rule=project.rubric_version.justification, pair=task.response_b_id is not None,
            scales=scales,
        )
        if not reclaim_for_late_submit(assignment=locked):
            raise SubmitConflict(
                "your lease on this task expired and other raters have since filled it, so this rating "
                "is not needed; your work is not lost elsewhere - please take the next task"
            )
        rating = Rating.objects.create(
            project=project, task_id=locked.task_id, rater_id=locked.rater_id, assignment=locked,
            rubric_version_id=project.rubric_version_id, justification=justification or "",
            duration_ms=duration_ms,
        )
        rows = _score_rows(
            scales, values, swapped=locked.swapped,
            responses=(task.response_a_id, task.response_b_id),
        )
        for row in rows:
            row.rating = rating
        Score.objects.bulk_create(rows)
        rating.task = task
        # As prefetch_related leaves it: rating.scores.all() gives these rows without a query.
        written = rating.scores.all()
        written._result_cache = rows
        written._prefetch_done = True  # type: ignore[attr-defined]
        rating._prefetched_objects_cache = {"scores": written}  # type: ignore[attr-defined]
        Assignment.objects.filter(pk=locked.pk).update(status=Assignment.Status.SUBMITTED, finished_at=now)
        Task.objects.filter(pk=locked.task_id).update(rated_count=F("rated_count") + 1)
        note_ratings_changed(project_id=project.pk, count=1)
    return rating, True

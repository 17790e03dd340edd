"""Ratings: recording raters' scores, from the queue or imported from elsewhere.

A rating is the product the whole platform exists to collect, so its write is the most guarded:
validated against the rubric version the rater saw, idempotent (a double click or a retried
request returns the first rating), committed together with the queue counters, and followed by a
debounced report refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Abs, Greatest
from django.utils import timezone

from evalplatform.assignments import gates
from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import reclaim_for_late_submit
from evalplatform.input_rules import JUSTIFICATION_MAX, text_problem
from evalplatform.projects.models import Membership, Task
from evalplatform.ratings.changes import note_ratings_changed
from evalplatform.ratings.models import RaterExclusion, Rating, RatingRevision, Score
from rubrics.models import Dimension, RubricVersion
from rubrics.scales import SIDES, Scale, asked_per_response, scales_for


class SubmitError(Exception):
    """A submission refused.  ``errors`` maps a field (a dimension key, ``justification``, ...) to why."""

    status = 400

    def __init__(self, errors: Mapping[str, str] | str):
        self.errors = dict(errors) if isinstance(errors, Mapping) else {"detail": errors}
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class SubmitConflict(SubmitError):
    """The submission is well-formed but the task's state refuses it (skipped, or filled after expiry)."""

    status = 409


class SubmitRefused(SubmitError):
    """The rater may not rate real tasks yet (``assignments.gates``: training, guidelines); ``url`` says where to go."""

    status = 403

    def __init__(self, refusal: gates.Refusal):
        self.refusal = refusal
        self.url = refusal.url
        super().__init__({"detail": refusal.message})


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
    elif (problem := text_problem(justification or "", limit=JUSTIFICATION_MAX)) is not None:
        errors["justification"] = f"justification: {problem}"
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


def revise_path(rating_id: int) -> str:
    return f"/api/ratings/{rating_id}/revise/"


def _same_as_existing(existing: Rating, assignment: Assignment, *, scores: Mapping[str, Any], justification: str) -> None:
    """A repeat submit of an assignment already rated: the same answers are a harmless retry (the
    first rating stands); other answers (or invalid ones) are a correction, which takes the explicit
    revise call, so ``SubmitConflict`` says where."""
    project = assignment.project
    task = assignment.task
    scales = scales_for(project.rubric_version)
    try:
        values = validate_scores(
            version=existing.rubric_version_id, scores=scores, justification=justification,
            justification_rule=project.rubric_version.justification, pair=task.response_b_id is not None,
            scales=scales,
        )
    except SubmitError:
        values = None  # not the same answers either: the task is rated, so this is a conflict, not a 400
    old = answers_of(existing, scales=scales, swapped=assignment.swapped, task=task)
    if values is not None and old["scores"] == _comparable(values) and old["justification"] == (justification or ""):
        return
    raise SubmitConflict(
        f"this task is already rated (rating {existing.pk}) with other values; a re-submit does not change it. "
        f"To correct a rating, revise it: POST {revise_path(existing.pk)} (or go back with \"previous\" on the "
        "rating page)"
    )


def _comparable(values: Mapping[str, int | str]) -> dict[str, int | str]:
    """Validated values as ``answers_of`` gives stored ones (yes/no as 1/0, text as text)."""
    return {key: (int(v) if isinstance(v, bool) else v) for key, v in values.items()}


def answers_of(rating: Rating, *, scales: Mapping[str, Scale], swapped: bool, task: Task) -> dict[str, Any]:
    """A rating's answers as the rater gave them: ``{"scores": {key: value}, "justification": ...}``,
    keyed and signed as the rater saw the task (the inverse of ``_score_rows``)."""
    by_dimension = {scale.dimension_id: (key, scale) for key, scale in scales.items()}
    left = task.response_b_id if swapped else task.response_a_id
    answers: dict[str, int | str] = {}
    for score in Score.objects.filter(rating=rating).order_by("id"):
        key, scale = by_dimension[score.dimension_id]
        if score.response_id is not None:
            answers[f"{key}.{'a' if score.response_id == left else 'b'}"] = cast(int, score.value)
        elif scale.is_text:
            answers[key] = score.text
        else:
            value = cast(int, score.value)
            answers[key] = -value if swapped and scale.kind == Dimension.Kind.PAIRWISE else value
    return {"scores": answers, "justification": rating.justification}


class RevisionRefused(SubmitConflict):
    """A revision the rules refuse: not the rater's own rating, or the lead locked revisions."""


def revise_rating(
    *, rating: Rating | int, by, scores: Mapping[str, Any], justification: str | None = None,
    now: datetime | None = None,
) -> tuple[Rating, bool]:
    """Correct a rating: its rater gives the full answers again.  Returns ``(rating, changed)``.

    The answers are validated as a submit's are (``SubmitError``); the old and new answers go to
    ``RatingRevision`` (who, when, old, new), the scores are replaced, and the report is refreshed
    (``note_ratings_changed``), all in one transaction.  The same answers again change nothing and
    write no history.  ``justification`` None keeps the rating's.  Refused (``RevisionRefused``) for
    anyone but the rater, and once the project's lead has locked revisions.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Rating.objects.select_for_update(of=("self",))
            .select_related("project__rubric_version", "task", "assignment")
            .get(pk=rating if isinstance(rating, int) else rating.pk)
        )
        if locked.rater_id != getattr(by, "pk", None):
            raise RevisionRefused("only the rater who gave a rating may revise it")
        project = locked.project
        if project.revisions_locked:
            raise RevisionRefused("the project's lead has locked revisions (after adjudication); this rating "
                                  "can no longer be changed")
        task = locked.task
        swapped = locked.assignment is not None and locked.assignment.swapped
        scales = scales_for(locked.rubric_version_id)
        justification = locked.justification if justification is None else justification
        values = validate_scores(
            version=locked.rubric_version_id, scores=scores, justification=justification,
            pair=task.response_b_id is not None, scales=scales,
        )
        old = answers_of(locked, scales=scales, swapped=swapped, task=task)
        new = {"scores": _comparable(values), "justification": justification}
        if old == new:
            return locked, False
        Score.objects.filter(rating=locked).delete()
        rows = _score_rows(scales, values, swapped=swapped, responses=(task.response_a_id, task.response_b_id))
        for row in rows:
            row.rating = locked
        Score.objects.bulk_create(rows)
        RatingRevision.objects.create(rating=locked, revised_by=by, revised_at=now, old=old, new=new)
        Rating.objects.filter(pk=locked.pk).update(justification=justification, revised_at=now)
        locked.justification, locked.revised_at = justification, now
        note_ratings_changed(project_id=project.pk, count=1)
    return locked, True


def set_revisions_locked(*, project, locked: bool):
    """A lead locks (or unlocks) raters' revisions of the project's ratings.  Returns the project."""
    from evalplatform.projects.models import Project

    Project.objects.filter(pk=project.pk).update(revisions_locked=locked)
    project.revisions_locked = locked
    return project


@dataclass(frozen=True)
class Submitted:
    """What ``submit_rating`` and ``submit_automated_rating`` give: the rating, whether this call
    ``created`` it, and its ``scores``.

    A new rating comes with its project, task (with item) and assignment loaded and ``scores`` holds
    the rows just written, so showing it needs no further query.  A repeat submit returns the first
    rating with ``scores`` empty: read it back to show it.
    """

    rating: Rating
    created: bool
    scores: tuple[Score, ...] = ()


def submit_rating(
    *, assignment: Assignment | int, scores: Mapping[str, Any], justification: str = "",
    duration_ms: int | None = None, now: datetime | None = None,
) -> Submitted:
    """Record the rater's scores for their assignment (an object or its id).

    Submitting again returns the first rating unchanged (``created`` False).  Pairwise values are
    given as the rater saw them (negative = the left response, "A") and stored in the task's own
    orientation; per-response answers of a pair (``accuracy.a``, ``accuracy.b``) are stored with the
    response the rater saw on that side.  A rating after the lease lapsed is accepted while the task
    has room.
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
            _same_as_existing(existing, locked, scores=scores, justification=justification)
            return Submitted(existing, created=False)
        if locked.status == Assignment.Status.SKIPPED:
            raise SubmitConflict("you skipped this task, so it can no longer be rated")
        project = locked.project
        refusal = gates.refusal_for(project, locked.rater_id)
        if refusal is not None:
            raise SubmitRefused(refusal)
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
        Assignment.objects.filter(pk=locked.pk).update(status=Assignment.Status.SUBMITTED, finished_at=now)
        Task.objects.filter(pk=locked.task_id).update(rated_count=F("rated_count") + 1)
        note_ratings_changed(project_id=project.pk, count=1)
    return Submitted(rating, created=True, scores=tuple(rows))


def submit_automated_rating(
    *, task: Task, rater, scores: Mapping[str, Any], justification: str = "",
) -> Submitted:
    """Record an automated judge's scores for a task.  Returns a ``Submitted`` (rating, created, the score
    rows written; a repeat gives the first rating, ``created`` False and ``scores`` empty).

    Validated exactly like a rater's submission (``validate_scores``; pair answers keyed ``.a`` and
    ``.b`` with A = ``response_a``).  Like imported judge ratings, it takes no place on the task and
    has no assignment: judges are never served tasks and never count toward overlap.  A second
    rating of the same task by the same judge returns the first (the unique constraint decides).
    """
    if not getattr(rater, "is_automated", False):
        raise SubmitError({"rater": f"{rater} is not an automated judge"})
    project = task.project
    scales = scales_for(project.rubric_version)
    values = validate_scores(
        version=project.rubric_version_id, scores=scores, justification=justification,
        justification_rule=project.rubric_version.justification, pair=task.response_b_id is not None,
        scales=scales,
    )
    with transaction.atomic():
        existing = Rating.objects.filter(task=task, rater=rater).first()
        if existing is not None:
            return Submitted(existing, created=False)
        try:
            with transaction.atomic():
                rating = Rating.objects.create(
                    project=project, task=task, rater=rater, assignment=None,
                    rubric_version_id=project.rubric_version_id, justification=justification or "",
                )
        except IntegrityError:  # another worker's rating of the same task won the race
            return Submitted(Rating.objects.get(task=task, rater=rater), created=False)
        rows = _score_rows(scales, values, swapped=False, responses=(task.response_a_id, task.response_b_id))
        for row in rows:
            row.rating = rating
        Score.objects.bulk_create(rows)
        note_ratings_changed(project_id=project.pk, count=1)
    return Submitted(rating, created=True, scores=tuple(rows))


# --- Removing a rater's work ----------------------------------------------------------------------


class ExclusionError(Exception):
    """An exclusion the rules refuse; ``field`` names what is wrong (for a form or an API answer)."""

    def __init__(self, message: str, *, field: str = "detail"):
        self.field = field
        super().__init__(message)


def _failed_gold(project_id: int) -> Q:
    """Ratings of gold tasks with a score off its expectation by more than the tolerance (a ``Q`` on
    ``Rating``); the same rule as the gold accuracy (``quality.selectors.gold_accuracy``)."""
    off = Score.objects.filter(
        rating=OuterRef("pk"), response__isnull=True, value__isnull=False,
        rating__task__gold_expectations__dimension_id=F("dimension_id"),
    ).annotate(
        off=Abs(F("value") - F("rating__task__gold_expectations__value")),
        tolerance=F("rating__task__gold_expectations__tolerance"),
    ).filter(off__gt=F("tolerance"))
    return Q(task__is_gold=True) & Q(Exists(off))


def _recount(task_ids: list[int], *, delta: int) -> None:
    """Give (``delta`` -1) or take back (+1) each task's place of one counted rating, tasks locked in
    id order (so two exclusions never deadlock).  Taking a place back on a task the queue topped up
    meanwhile grows its capacity to hold it: the rating counts again, and nothing is over capacity."""
    if not task_ids:
        return
    locked = Task.objects.filter(pk__in=task_ids).order_by("pk")
    if connection.features.has_select_for_update:
        locked = locked.select_for_update(no_key=connection.features.has_select_for_update_of)
    list(locked.values_list("pk", flat=True))
    changes: dict[str, Any] = {"claimed_count": F("claimed_count") + delta, "rated_count": F("rated_count") + delta}
    if delta > 0:
        changes["capacity"] = Greatest(F("capacity"), F("claimed_count") + delta)
    Task.objects.filter(pk__in=task_ids).update(**changes)


def exclude_ratings(
    *, project, rater, scope: str, reason: str, by, since: datetime | None = None, pause: bool | None = None,
    now: datetime | None = None,
) -> RaterExclusion:
    """Leave out a rater's ratings of ``project`` (``scope``: ``all``, ``since`` a date, or those that
    ``failed_gold``), on the record (``RaterExclusion``: who, when, why).

    The ratings stop counting at once, in one transaction: each gives back its place on its task (so
    the task reopens and the queue tops it up to the overlap with another rater, never with one who
    already had it), progress, reports and exports leave it out, and the report is refreshed.  A
    rating already excluded stays with its exclusion.  ``pause`` (default: yes, except for failed
    gold) also pauses the rater so they are served nothing new; a lease they hold may still be
    submitted, and counts.  ``restore_ratings`` undoes it.
    """
    now = now or timezone.now()
    if scope not in RaterExclusion.Scope.values:
        raise ExclusionError(f"unknown scope {scope!r}; use one of {', '.join(RaterExclusion.Scope.values)}",
                             field="scope")
    reason = (reason or "").strip()
    if not reason:
        raise ExclusionError("say why (the reason is kept with the exclusion)", field="reason")
    if scope == RaterExclusion.Scope.SINCE and since is None:
        raise ExclusionError("excluding ratings from a date on needs the date (since)", field="since")
    if scope != RaterExclusion.Scope.SINCE:
        since = None
    if pause is None:
        pause = scope != RaterExclusion.Scope.FAILED_GOLD
    with transaction.atomic():
        # The rater's membership row serialises this with their own queue requests (claim_next locks it).
        membership = Membership.objects.select_for_update().filter(project=project, user=rater).first()
        ratings = Rating.objects.filter(project=project, rater=rater, exclusion__isnull=True)
        if scope == RaterExclusion.Scope.SINCE:
            ratings = ratings.filter(created_at__gte=since)
        elif scope == RaterExclusion.Scope.FAILED_GOLD:
            ratings = ratings.filter(_failed_gold(project.pk))
        chosen = list(ratings.select_for_update(of=("self",)).order_by("pk").values_list("pk", "task_id", "assignment_id"))
        if not chosen:
            raise ExclusionError(f"{rater} has no ratings in this project that this would exclude", field="rater")
        exclusion = RaterExclusion.objects.create(
            project=project, rater=rater, scope=scope, since=since, reason=reason, n_ratings=len(chosen),
            created_by=by, created_at=now,
        )
        Rating.objects.filter(pk__in=[pk for pk, _, _ in chosen]).update(exclusion=exclusion)
        # Ratings that held a place within the overlap (queue and imported human ratings) give it back.
        _recount([task_id for _, task_id, assignment_id in chosen if assignment_id is not None], delta=-1)
        if pause and membership is not None and not membership.paused:
            Membership.objects.filter(pk=membership.pk).update(paused=True)
        note_ratings_changed(project_id=project.pk, count=1)
    return exclusion


def restore_ratings(*, exclusion: RaterExclusion | int, by, now: datetime | None = None) -> RaterExclusion:
    """Revoke an exclusion: its ratings count again (their tasks take them back, growing a task's
    capacity if the queue filled it meanwhile), and the exclusion stays on the record as revoked.
    Does not unpause the rater."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = RaterExclusion.objects.select_for_update().get(
            pk=exclusion if isinstance(exclusion, int) else exclusion.pk
        )
        if locked.revoked_at is not None:
            raise ExclusionError("this exclusion is already revoked")
        rows = list(Rating.objects.filter(exclusion=locked).order_by("pk").values_list("pk", "task_id", "assignment_id"))
        Rating.objects.filter(exclusion=locked).update(exclusion=None)
        _recount([task_id for _, task_id, assignment_id in rows if assignment_id is not None], delta=+1)
        RaterExclusion.objects.filter(pk=locked.pk).update(revoked_at=now, revoked_by=by)
        locked.revoked_at, locked.revoked_by = now, by
        note_ratings_changed(project_id=locked.project_id, count=1)
    return locked

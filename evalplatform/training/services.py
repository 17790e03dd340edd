"""Rater onboarding: training with feedback, qualification, and acknowledged guidelines.

A lead gives a project training items (imported, entered, or made from an item nobody has rated yet),
each with the expected answer and an explanation per dimension, and a policy: pass mark, tolerance,
attempts, re-qualification on a new rubric version, guidelines to confirm.  A new rater works through
the training items; after each answer they see where they differed and why.  Until they pass, the
queue's gate (``selectors.refusal``, registered with ``assignments.gates``) refuses them real items,
on the page and the API alike.

Training answers are ``TrainingAnswer`` rows of training items, never ratings of tasks, so no report,
agreement figure, consensus label, export or progress count can include them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.input_rules import text_problem
from evalplatform.projects.models import Item, Project
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import SubmitError, answer_keys, validate_scores
from evalplatform.training import selectors
from evalplatform.training.grading import grade, within
from evalplatform.training.models import (
    GuidelinesAck,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
    TrainingPolicy,
)
from rubrics.models import RubricVersion
from rubrics.scales import Scale, scales_for

EXPLANATION_MAX = 10_000


class TrainingError(ValidationError):
    """A request about training that its rules refuse (the message, or each field's, says why)."""


# --- The policy -------------------------------------------------------------------------------

POLICY_FIELDS = ("training_required", "pass_mark", "per_dimension", "tolerance", "max_attempts",
                 "requalify_on_new_version", "require_guidelines_ack")


@transaction.atomic
def update_policy(*, project: Project, **changes: Any) -> TrainingPolicy:
    """Set the project's onboarding rules (any of ``POLICY_FIELDS``); creates the policy on first use."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TrainingError({key: "not a training setting" for key in sorted(unknown)})
    errors = {}
    if "pass_mark" in changes and not 0 <= changes["pass_mark"] <= 1:
        errors["pass_mark"] = "a share from 0 to 1"  # noqa: S105 (a message, not a password)
    if "max_attempts" in changes and not 1 <= changes["max_attempts"] <= 100:
        errors["max_attempts"] = "from 1 to 100"
    if "tolerance" in changes and not 0 <= changes["tolerance"] <= 100:
        errors["tolerance"] = "from 0 to 100 scale points"
    if errors:
        raise TrainingError(errors)
    policy, _ = TrainingPolicy.objects.select_for_update().get_or_create(project=project)
    for key, value in changes.items():
        setattr(policy, key, value)
    policy.save()
    Project.objects.filter(pk=project.pk).update(
        onboarding_required=policy.training_required or policy.require_guidelines_ack
    )
    project.onboarding_required = policy.training_required or policy.require_guidelines_ack
    return policy


# --- Training items ---------------------------------------------------------------------------


def expectation_scales(project: Project, *, pair: bool) -> dict[str, Scale]:
    """The answer keys a training item of this shape may have an expected value for (no free-text questions)."""
    return {key: scale for key, scale in answer_keys(scales_for(project.rubric_version_id), pair=pair)
            if not scale.is_text}


def clean_expectations(
    project: Project, *, pair: bool, expected: Any, explanations: Any,
) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """``(expected, explanations, errors)``: stored values by answer key, and each problem by field
    (``expected.<key>``, ``explanation.<key>``): unknown dimension, value off the scale, free text."""
    scales = expectation_scales(project, pair=pair)
    every = dict(answer_keys(scales_for(project.rubric_version_id), pair=pair))
    known = ", ".join(scales) or "none"
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    notes: dict[str, str] = {}
    if expected is None:
        expected = {}
    if not isinstance(expected, Mapping):
        errors["expected"] = "must be an object of dimension key -> expected value"
        expected = {}
    for key, raw in expected.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        scale = scales.get(str(key))
        if scale is None:
            if str(key) in every:
                errors[f"expected.{key}"] = f"{key} is a free-text question: it has no expected value"
            else:
                errors[f"expected.{key}"] = f"unknown dimension {key!r}; expected values may be given for {known}"
            continue
        try:
            values[str(key)] = int(scale.coerce(raw))
        except ValueError as exc:
            errors[f"expected.{key}"] = str(exc)
    if explanations is None:
        explanations = {}
    if not isinstance(explanations, Mapping):
        errors["explanation"] = "must be an object of dimension key -> explanation text"
        explanations = {}
    for key, text in explanations.items():
        if text is None or (isinstance(text, str) and not text.strip()):
            continue
        if str(key) not in every:
            errors[f"explanation.{key}"] = f"unknown dimension {key!r}; this rubric has {', '.join(every)}"
        elif not isinstance(text, str):
            errors[f"explanation.{key}"] = "must be text"
        elif (problem := text_problem(text, limit=EXPLANATION_MAX)) is not None or "\x00" in text:
            errors[f"explanation.{key}"] = problem or "the text contains a NUL character"
        else:
            notes[str(key)] = text.strip()
    return values, notes, errors


def _next_position(project: Project) -> int:
    top = TrainingItem.objects.filter(project=project).aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def set_expectations(*, item: TrainingItem, expected: Mapping[str, Any],
                     explanations: Mapping[str, Any]) -> TrainingItem:
    """Replace a training item's expected answers and explanations."""
    values, notes, errors = clean_expectations(item.project, pair=item.is_pair, expected=expected,
                                               explanations=explanations)
    if errors:
        raise TrainingError(errors)
    item.expected, item.explanations = values, notes
    item.save(update_fields=["expected", "explanations"])
    return item


@transaction.atomic
def make_training_item(*, item: Item, expected: Mapping[str, Any], explanations: Mapping[str, Any]) -> TrainingItem:
    """Turn an item nobody has been served yet into a training item (its content moves over; the item,
    its responses and tasks are removed, so it can never reach the queue or a report)."""
    project = item.project
    if Assignment.objects.filter(task__item=item).exists() or Rating.objects.filter(task__item=item).exists():
        raise TrainingError({"item_id": f"item {item.external_id!r} has already been served to raters; "
                                        "only unseen items can become training items"})
    responses = [{"model": r.model, "text": r.text} for r in item.responses.order_by("position", "id")]
    if len(responses) not in (1, 2):
        raise TrainingError({"item_id": f"item {item.external_id!r} has {len(responses)} responses; a training "
                                        "item shows one response, or one pair"})
    if TrainingItem.objects.filter(project=project, external_id=item.external_id).exists():
        raise TrainingError({"item_id": f"a training item {item.external_id!r} exists already"})
    values, notes, errors = clean_expectations(project, pair=len(responses) == 2, expected=expected,
                                               explanations=explanations)
    if errors:
        raise TrainingError(errors)
    training = TrainingItem.objects.create(
        project=project, external_id=item.external_id, prompt=item.prompt, reference=item.reference,
        responses=responses, expected=values, explanations=notes, position=_next_position(project),
    )
    item.delete()
    return training


@transaction.atomic
def delete_training_item(*, item: TrainingItem) -> None:
    """Remove a training item (and raters' answers to it; graded attempts keep their grades)."""
    item.delete()


# --- A rater's training -----------------------------------------------------------------------


@transaction.atomic
def start_attempt(*, project: Project, rater, now=None) -> TrainingAttempt:
    """Open the rater's next attempt at the training, or give back the one they have open."""
    now = now or timezone.now()
    policy = selectors.policy_for(project)
    state = selectors.qualification(project, rater.pk, policy)
    if state.state == selectors.IN_PROGRESS and state.open_attempt is not None:
        return state.open_attempt
    if state.state != selectors.TO_START:
        raise TrainingError({
            selectors.NOT_REQUIRED: "this project has no training",
            selectors.PASSED: "you have passed this project's training already",
            selectors.FAILED: "you have used every attempt at this project's training",
        }.get(state.state, "training cannot start now"))
    # An attempt left open on an earlier rubric version (re-qualification) no longer counts: close it.
    TrainingAttempt.objects.filter(project=project, rater=rater, finished_at__isnull=True).update(finished_at=now)
    try:
        with transaction.atomic():
            return TrainingAttempt.objects.create(
                project=project, rater=rater, rubric_version_id=project.rubric_version_id,
                number=state.attempts_used + 1, started_at=now,
            )
    except IntegrityError:  # a double click opened it a moment ago
        return TrainingAttempt.objects.get(project=project, rater=rater, finished_at__isnull=True)


@dataclass(frozen=True)
class FeedbackRow:
    key: str
    label: str
    given: str
    expected: str | None
    explanation: str
    correct: bool | None


def _shown(scale: Scale | None, value: Any) -> str:
    if value is None or value == "":
        return "–"
    if scale is None or scale.is_text:
        return str(value)
    label = scale.labels.get(int(value), "")
    return f"{value} ({label})" if label and label != str(value) else str(value)


def feedback_rows(answer: TrainingAnswer) -> list[FeedbackRow]:
    """Per question: the rater's answer, the expected one and the lead's explanation."""
    item = answer.item
    scales = dict(answer_keys(scales_for(answer.attempt.project.rubric_version_id), pair=item.is_pair))
    rows = []
    for key, scale in scales.items():
        expected = item.expected.get(key)
        explanation = item.explanations.get(key, "")
        if expected is None and not explanation:
            continue
        label = scale.label
        if "." in key:
            label = f"{label}: response {key.rpartition('.')[2].upper()}"
        rows.append(FeedbackRow(key=key, label=label, given=_shown(scale, answer.values.get(key)),
                                expected=None if expected is None else _shown(scale, expected),
                                explanation=explanation, correct=answer.correct.get(key)))
    return rows


@transaction.atomic
def submit_training_answer(*, attempt: TrainingAttempt, item: TrainingItem, scores: Mapping[str, Any],
                           now=None) -> TrainingAnswer:
    """Record the rater's answer to a training item and compare it with the expected one; the last
    item's answer grades the attempt (pass or fail, by the project's pass mark and tolerance).

    The same item answered again in the same attempt gives back the first answer unchanged.
    """
    now = now or timezone.now()
    attempt = TrainingAttempt.objects.select_for_update().select_related("project__rubric_version").get(pk=attempt.pk)
    if item.project_id != attempt.project_id:
        raise TrainingError("this training item belongs to another project")
    existing = TrainingAnswer.objects.filter(attempt=attempt, item=item).first()
    if existing is not None:
        return existing
    if attempt.finished_at is not None:
        raise TrainingError("this training attempt is over")
    project = attempt.project
    policy = selectors.policy_for(project) or TrainingPolicy(project=project)
    try:
        values = validate_scores(version=project.rubric_version_id, scores=scores, justification="",
                                 justification_rule=RubricVersion.Justification.NONE, pair=item.is_pair)
    except SubmitError as exc:
        raise TrainingError(exc.errors) from exc
    scales = dict(answer_keys(scales_for(project.rubric_version_id), pair=item.is_pair))
    correct = {key: within(scales[key], int(expected), values.get(key), policy.tolerance)
               for key, expected in item.expected.items() if key in scales and not scales[key].is_text}
    answer = TrainingAnswer.objects.create(attempt=attempt, item=item, values=values, correct=correct)
    _grade_if_done(attempt, policy, now)
    return answer


def _grade_if_done(attempt: TrainingAttempt, policy: TrainingPolicy, now) -> bool:
    if selectors.next_training_item(attempt) is not None:
        return False
    result = grade((a.correct for a in attempt.answers.all()), pass_mark=policy.pass_mark,
                   per_dimension=policy.per_dimension)
    attempt.n_scored, attempt.n_correct = result.n_scored, result.n_correct
    attempt.by_dimension, attempt.passed, attempt.finished_at = result.by_dimension, result.passed, now
    attempt.save(update_fields=["n_scored", "n_correct", "by_dimension", "passed", "finished_at"])
    return True


@transaction.atomic
def finish_if_done(*, attempt: TrainingAttempt, now=None) -> bool:
    """Grade an open attempt that has no item left to answer (the lead removed the ones it had not reached)."""
    attempt = TrainingAttempt.objects.select_for_update().select_related("project").get(pk=attempt.pk)
    if attempt.finished_at is not None:
        return False
    policy = selectors.policy_for(attempt.project) or TrainingPolicy(project=attempt.project)
    return _grade_if_done(attempt, policy, now or timezone.now())


# --- Guidelines -------------------------------------------------------------------------------


def acknowledge_guidelines(*, project: Project, rater, now=None) -> GuidelinesAck:
    """Record that the rater has read the guidelines of the project's current rubric version (idempotent)."""
    ack, _ = GuidelinesAck.objects.get_or_create(
        rater=rater, rubric_version_id=project.rubric_version_id,
        defaults={"acknowledged_at": now or timezone.now()},
    )
    return ack


# --- Carrying training into a project that continues another (a suite's next round) -------------


@transaction.atomic
def copy_training(*, source: Project, target: Project) -> list[str]:
    """Give ``target`` the training of ``source``: its policy and its training items (content, expected
    answers, explanations, order), checked against ``target``'s rubric version.  Returns notes for the lead.

    An expected answer or explanation for a dimension the target's version no longer scores (removed, or
    now a free-text question) is dropped, with a note naming the training item and the dimension: the
    rubric moved on, nothing can be graded on it, and refusing would make the lead edit the earlier round.
    An expected value no longer on a dimension's scale is refused (``TrainingError`` naming the item and
    the dimension): silently changing what raters are graded against is worse than stopping.
    A source without a policy or training items copies nothing.  Raters' attempts stay with ``source``
    (``selectors.relevant_attempts`` counts their passes in the continuing project).
    """
    notes: list[str] = []
    policy = selectors.policy_for(source)
    if policy is not None:
        update_policy(project=target, **{key: getattr(policy, key) for key in POLICY_FIELDS})
    sources = list(TrainingItem.objects.filter(project=source).order_by("position", "id"))
    copies, problems = [], []
    for item in sources:
        every = dict(answer_keys(scales_for(target.rubric_version_id), pair=item.is_pair))
        scored = {key for key, scale in every.items() if not scale.is_text}
        expected, explanations = {}, {}
        for key, value in item.expected.items():
            if key in scored:
                expected[key] = value
            else:
                notes.append(f"training item {item.external_id!r}: the expected answer for {key!r} was dropped "
                             f"({_why_gone(key, every)})")
        for key, text in item.explanations.items():
            if key in every:
                explanations[key] = text
            else:
                notes.append(f"training item {item.external_id!r}: the explanation for {key!r} was dropped "
                             f"({_why_gone(key, every)})")
        values, cleaned, errors = clean_expectations(target, pair=item.is_pair, expected=expected,
                                                     explanations=explanations)
        for field_name, message in errors.items():
            problems.append(f"training item {item.external_id!r}, {field_name.partition('.')[2] or field_name}: "
                            f"{message} on {target.rubric_version}")
        copies.append(TrainingItem(
            project=target, external_id=item.external_id, prompt=item.prompt, reference=item.reference,
            responses=item.responses, expected=values, explanations=cleaned, position=item.position,
        ))
    if problems:
        raise TrainingError("the training items cannot be carried over: " + "; ".join(problems))
    TrainingItem.objects.bulk_create(copies)
    return notes


def _why_gone(key: str, scales: Mapping[str, Scale]) -> str:
    return "it is a free-text question now" if key in scales else "the new rubric version has no such dimension"

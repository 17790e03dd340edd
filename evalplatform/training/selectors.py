"""Reads of onboarding: is this rater cleared for real work, what is their next training item, and
what leads see of everyone's training.

Public questions other apps may ask:

- ``refusal(project, rater_id)``: None when the rater may take real items, else why not and where to go
  (the queue's gate, registered in ``apps.py``).
- ``qualification(project, rater_id)``: the rater's training state, attempts used and left.
- ``next_training_item(attempt)``: the next unanswered training item of an open attempt.
- ``guidelines_acknowledged(project, rater_id)`` and ``guidelines_change(project, rater_id)``.
- ``training_results(project)``: one row per rater for the lead's scorecards.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from evalplatform.assignments.gates import Refusal
from evalplatform.projects.models import Membership, Project
from evalplatform.training import lineage
from evalplatform.training.models import (
    GuidelinesAck,
    TrainingAnswer,
    TrainingAttempt,
    TrainingItem,
    TrainingPolicy,
)
from rubrics.models import RubricVersion

NOT_REQUIRED = "not_required"  # no training in this project
TO_START = "to_start"  # training due: no attempt open (none yet, or a failed one with attempts left)
IN_PROGRESS = "in_progress"
PASSED = "passed"
FAILED = "failed"  # out of attempts


def policy_for(project: Project | int) -> TrainingPolicy | None:
    project_id = project if isinstance(project, int) else project.pk
    return TrainingPolicy.objects.filter(project_id=project_id).first()


def training_items(project: Project) -> Any:
    return TrainingItem.objects.filter(project=project).order_by("position", "id")


def training_active(project: Project, policy: TrainingPolicy | None) -> bool:
    """Training is due when the policy asks for it and the project has training items."""
    return bool(policy and policy.training_required and TrainingItem.objects.filter(project=project).exists())


@dataclass(frozen=True)
class Qualification:
    state: str
    attempts_used: int = 0
    max_attempts: int = 0
    open_attempt: TrainingAttempt | None = None
    last_finished: TrainingAttempt | None = None

    @property
    def attempts_left(self) -> int:
        return max(self.max_attempts - self.attempts_used, 0)

    @property
    def cleared(self) -> bool:
        return self.state in (NOT_REQUIRED, PASSED)


def counted_attempts(project: Project, policy: TrainingPolicy) -> Any:
    """Every rater's attempts that count in ``project`` now (see ``relevant_attempts``)."""
    counted = Q(project=project)
    for earlier in lineage.earlier_projects(project):
        counted |= Q(project_id__in=earlier, passed=True)
    attempts = TrainingAttempt.objects.filter(counted)
    if policy.requalify_on_new_version:
        attempts = attempts.filter(rubric_version_id=project.rubric_version_id)
    return attempts


def relevant_attempts(project: Project, rater_id: int | None, policy: TrainingPolicy) -> Any:
    """The attempts that count now: the rater's attempts in this project, and the ones they passed in the
    projects this one continues (the earlier rounds of its suite, ``lineage``), so a rater qualified in
    round 1 is qualified in round 2.  Failed or unfinished attempts of earlier rounds do not carry: a new
    round gives a rater who did not pass a fresh set of attempts.  When raters requalify on a new rubric
    version, only attempts on the project's current version count (a pass in a round on an older version
    no longer qualifies); otherwise all of them."""
    return counted_attempts(project, policy).filter(rater_id=rater_id)


def qualification(project: Project, rater_id: int | None, policy: TrainingPolicy | None = None) -> Qualification:
    """Where the rater stands with the project's training (see the states at the top of the module)."""
    policy = policy if policy is not None else policy_for(project)
    if policy is None or not training_active(project, policy):
        return Qualification(NOT_REQUIRED)
    attempts = list(relevant_attempts(project, rater_id, policy).order_by("started_at", "id"))
    finished = [a for a in attempts if a.finished_at is not None]
    last = finished[-1] if finished else None
    opened = next((a for a in attempts if a.finished_at is None), None)
    if any(a.passed for a in finished):
        state = PASSED
    elif opened is not None:
        state = IN_PROGRESS
    elif len(finished) >= policy.max_attempts:
        state = FAILED
    else:
        state = TO_START
    return Qualification(state, attempts_used=len(attempts), max_attempts=policy.max_attempts,
                         open_attempt=opened if state == IN_PROGRESS else None, last_finished=last)


def next_training_item(attempt: TrainingAttempt) -> TrainingItem | None:
    """The first training item (in the lead's order) the attempt has not answered yet."""
    answered = TrainingAnswer.objects.filter(attempt=attempt, item=OuterRef("pk"))
    return training_items(attempt.project).filter(~Exists(answered)).first()


def attempt_progress(attempt: TrainingAttempt) -> tuple[int, int]:
    """(answered, total) training items of this attempt."""
    return attempt.answers.count(), TrainingItem.objects.filter(project_id=attempt.project_id).count()


# --- Guidelines --------------------------------------------------------------------------------


def _acked_versions(rubric_version: RubricVersion, rater_id: int | None) -> Any:
    return GuidelinesAck.objects.filter(rater_id=rater_id, rubric_version__rubric_id=rubric_version.rubric_id)


def guidelines_acknowledged(project: Project, rater_id: int | None) -> bool:
    """The rater confirmed these guidelines: on this rubric version, or on a version of the same rubric
    with the very same guideline text (a new version that changed only a scale needs no new confirmation)."""
    version = project.rubric_version
    if not version.guidelines.strip():
        return True
    return _acked_versions(version, rater_id).filter(rubric_version__guidelines=version.guidelines).exists()


@dataclass(frozen=True)
class GuidelinesChange:
    """What the rater last confirmed and how the current guidelines differ from it (line diff)."""

    previous: RubricVersion | None
    lines: list[tuple[str, str]] = field(default_factory=list)  # ("added" | "removed" | "same", text)

    @property
    def changed(self) -> bool:
        return any(kind != "same" for kind, _ in self.lines)


def guideline_diff(old: str, new: str) -> list[tuple[str, str]]:
    """A line diff of two guideline texts (``difflib.ndiff``), as (kind, line) pairs; the page escapes the text."""
    kinds = {"+ ": "added", "- ": "removed", "  ": "same"}
    out = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        kind = kinds.get(line[:2])
        if kind is not None:  # "? " hint lines of ndiff are left out
            out.append((kind, line[2:]))
    return out


def guidelines_change(project: Project, rater_id: int | None) -> GuidelinesChange:
    """The latest version of the project's rubric whose guidelines the rater confirmed, and the diff to now."""
    version = project.rubric_version
    ack = (_acked_versions(version, rater_id).exclude(rubric_version=version).select_related("rubric_version")
           .order_by("-rubric_version__number").first())
    if ack is None:
        return GuidelinesChange(None)
    previous = ack.rubric_version
    return GuidelinesChange(previous, guideline_diff(previous.guidelines, version.guidelines))


# --- The gate ----------------------------------------------------------------------------------


def refusal(project: Project, rater_id: int) -> Refusal | None:
    """Whether the rater may take real items of ``project`` now; if not, what to tell them and where to send them.

    No query for a project without onboarding (``Project.onboarding_required``, read with the project).
    """
    if not project.onboarding_required:
        return None
    policy = policy_for(project)
    if policy is None:
        return None
    if policy.require_guidelines_ack and not guidelines_acknowledged(project, rater_id):
        return Refusal("guidelines", "please read and confirm the rubric guidelines before you rate.",
                       reverse("training-guidelines", args=[project.slug]))
    state = qualification(project, rater_id, policy).state
    if state in (TO_START, IN_PROGRESS):
        return Refusal("training", "finish this project's training first: you rate real items once you pass it.",
                       reverse("training", args=[project.slug]))
    if state == FAILED:
        return Refusal("training_failed", "you did not pass this project's training, so it serves you no items; "
                       "its lead sees your results.", reverse("training", args=[project.slug]))
    return None


# --- What leads see ----------------------------------------------------------------------------


def training_results(project: Project) -> list[dict[str, Any]]:
    """Each rater's training: state, attempts, their latest graded attempt's share overall and per dimension.

    A fixed number of queries whatever the number of raters.
    """
    policy = policy_for(project)
    User = get_user_model()
    raters = list(User.objects.filter(memberships__project=project, memberships__role=Membership.Role.RATER)
                  .order_by("username").values_list("id", "username"))
    if policy is None or not training_active(project, policy):
        return []
    attempts: dict[int, list[TrainingAttempt]] = {}
    for attempt in (counted_attempts(project, policy).annotate(n_answers=Count("answers"))
                    .order_by("started_at", "id")):
        attempts.setdefault(attempt.rater_id, []).append(attempt)
    n_items = TrainingItem.objects.filter(project=project).count()
    rows = []
    for rater_id, username in raters:
        mine = attempts.get(rater_id, [])
        finished = [a for a in mine if a.finished_at is not None]
        passed = next((a for a in finished if a.passed), None)
        opened = next((a for a in mine if a.finished_at is None), None)
        if passed:
            state = PASSED
        elif opened:
            state = IN_PROGRESS
        elif len(finished) >= policy.max_attempts:
            state = FAILED
        else:
            state = TO_START
        shown = passed or (finished[-1] if finished else None)
        rows.append({
            "rater": username, "state": state, "attempts": len(mine), "max_attempts": policy.max_attempts,
            "share": shown.share if shown else None, "n_scored": shown.n_scored if shown else 0,
            "n_correct": shown.n_correct if shown else 0,
            "by_dimension": shown.by_dimension if shown else {},
            "finished_at": shown.finished_at if shown else None,
            "in_progress": {"answered": opened.n_answers, "total": n_items} if opened else None,  # type: ignore[attr-defined]
        })
    return rows

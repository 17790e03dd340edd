"""The rating queue: serve each rater the next task they have not seen, lease it, take it back.

Three invariants hold under any number of concurrent raters, on PostgreSQL and SQLite alike:
no task gets more than its capacity of claims (a conditional ``F()`` update backed by a
``CheckConstraint``), no rater is served a task twice (a unique ``(task, rater)`` constraint), and no
submission is lost (the rating and the counters commit together).  On PostgreSQL
``SELECT ... FOR NO KEY UPDATE SKIP LOCKED`` keeps raters from queueing behind each other's candidate row;
SQLite serialises writers with ``BEGIN IMMEDIATE``.

Gold tasks (``Task.is_gold``, expected scores known to the lead) are mixed in at the project's
``gold_rate``: each new claim draws gold with that probability, while the rater still has ordinary
work (so the gold never outlasts the real tasks and stands out).  They go through the same claim, so
the same invariants hold; their capacity is large enough for every rater to get each one once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from evalplatform.assignments import gates
from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership, Project, Task


class QueueError(Exception):
    """A queue request the rules refuse; the message is meant for the rater."""


class NotARater(QueueError):
    pass


class RaterPaused(QueueError):
    pass


class NotCleared(QueueError):
    """A gate (``assignments.gates``: training, guidelines) holds the rater back from real work."""

    def __init__(self, refusal: gates.Refusal):
        self.refusal = refusal
        self.url = refusal.url
        super().__init__(refusal.message)


MAX_CLAIM_ATTEMPTS = 20


@dataclass(frozen=True)
class Claim:
    """What ``claim_next`` gives a rater: their assignment, and whether its lease is ``new``.

    A new lease comes with everything the rater is shown already loaded (project with its rubric
    version, task with its item and responses), so showing it needs no further query.  A lease the
    rater already held comes with its task only: read it again with what it shows
    (``selectors.assignment_for``).
    """

    assignment: Assignment
    new: bool


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def claim_next(*, project: Project | int, rater, now: datetime | None = None) -> Claim | None:
    """The rater's current lease in this project, or a new lease on the next task (``Claim.new``), or None.

    Order: highest priority first, then tasks other raters have started (so started tasks finish
    before new ones open), then import order; or random order if the project says so.

    ``project`` may be a bare id: the project's settings are read with the rater's locked membership
    either way (one query).  A new lease comes back with ``project`` (and its rubric version) and
    ``task`` (with its item and responses) filled in, so showing it needs no further query.
    """
    now = _now(now)
    project_id = project if isinstance(project, int) else project.pk
    if getattr(rater, "is_automated", False):
        raise NotARater("automated raters are never served tasks")
    if Assignment.objects.filter(
        project_id=project_id, status=Assignment.Status.ACTIVE, lease_expires_at__lte=now
    ).exists():
        expire_leases(project=project_id, now=now)
    # A lost race on a candidate means that task just filled, so each retry looks at a shorter list;
    # the bound only guards against a bug turning this into a busy loop.
    for attempt in range(MAX_CLAIM_ATTEMPTS):
        with transaction.atomic():
            # Locking the rater's membership serialises one rater's own requests (a double click
            # gets the same lease back) without making different raters wait for each other.  The
            # project comes with it, unlocked (OF self), read inside this transaction.
            membership = (
                Membership.objects.select_for_update(of=("self",)).select_related("project__rubric_version")
                .filter(project_id=project_id, user=rater, role=Membership.Role.RATER).first()
            )
            if membership is None:
                raise NotARater("you are not a rater in this project")
            project = membership.project
            # Before any lease, a held one too: training or guidelines that became due (a new rubric
            # version) apply at once.
            refusal = gates.refusal_for(project, rater.pk)
            if refusal is not None:
                raise NotCleared(refusal)
            held = _current_lease(project, rater, now)
            if held is not None:
                return Claim(held, new=False)
            if membership.paused:
                # A lease held when the lead paused them is theirs to finish (returned above); no new ones.
                raise RaterPaused("your work on this project is paused by its lead")
            # First look past rows other raters hold for an instant (SKIP LOCKED); if that finds
            # nothing while open tasks remain, they were all locked (the end of a project, when few
            # are left): wait for those locks instead of telling the rater the queue is empty.
            task = _pick_task(project, rater, gold=_draw_gold(project), wait=attempt > 0)
            if task is None:
                if _candidates(project, rater, gold=False).exists():
                    continue
                emptied = gates.refusal_when_empty(project, rater.pk)  # an external worker: to the completion page
                if emptied is not None:
                    raise NotCleared(emptied)
                return None
            grabbed = Task.objects.filter(pk=task.pk, claimed_count__lt=F("capacity")).update(
                claimed_count=F("claimed_count") + 1
            )
            if not grabbed:
                continue  # filled between our read and our write (SQLite only); try the next one
            leased = Assignment.objects.create(
                project=project, task=task, rater=rater, status=Assignment.Status.ACTIVE,
                swapped=task.response_b_id is not None and random.random() < 0.5,
                leased_at=now, lease_expires_at=now + timedelta(seconds=project.lease_seconds),
            )
            return Claim(leased, new=True)
    return None


def _current_lease(project: Project, rater, now: datetime) -> Assignment | None:
    return (
        Assignment.objects.filter(
            project=project, rater=rater, status=Assignment.Status.ACTIVE, lease_expires_at__gt=now
        )
        .select_related("task")
        .order_by("leased_at")
        .first()
    )


def _draw_gold(project: Project) -> bool:
    return project.gold_rate > 0 and random.random() < project.gold_rate


def _candidates(project: Project, rater, *, gold: bool):
    seen = Assignment.objects.filter(task=OuterRef("pk"), rater=rater)
    candidates = Task.objects.filter(project=project, is_gold=gold, claimed_count__lt=F("capacity")).filter(
        ~Exists(seen)
    )
    if gold:
        # Few rows (a partial index); a fresh random order per claim, so raters meet gold in no fixed order.
        return candidates.order_by("?")
    if project.order == Project.Order.RANDOM:
        return candidates.order_by("shuffle_key", "id")
    return candidates.order_by("-priority", "-claimed_count", "id")


def _locked_first(candidates, *, wait: bool = False) -> Task | None:
    if connection.features.has_select_for_update_skip_locked:
        # FOR NO KEY UPDATE: we only change counters, so rows that other transactions merely
        # reference (a rating or a consensus label being inserted takes FOR KEY SHARE on its task)
        # are not skipped; FOR UPDATE would skip them and tell raters the queue is empty.
        candidates = candidates.select_for_update(skip_locked=not wait, no_key=True, of=("self",))
    # With the item and responses (what the rater is shown) joined in; only the task row is locked.
    return candidates.select_related("item", "response_a", "response_b").first()


def _pick_task(project: Project, rater, *, gold: bool = False, wait: bool = False) -> Task | None:
    """The next ordinary task, or a gold one when ``gold`` is drawn and the rater still has ordinary work.

    ``wait``: block on rows other transactions hold instead of skipping them.
    """
    if gold and _candidates(project, rater, gold=False).exists():
        task = _locked_first(_candidates(project, rater, gold=True), wait=wait)
        if task is not None:
            return task
    return _locked_first(_candidates(project, rater, gold=False), wait=wait)


@transaction.atomic
def skip(*, assignment: Assignment, reason: str = "", now: datetime | None = None) -> Assignment:
    """Give a task back.  The rater is not offered it again; the task returns to the queue."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status == Assignment.Status.SKIPPED:
        return assignment
    if assignment.status == Assignment.Status.SUBMITTED:
        raise QueueError("this task is already rated; it cannot be skipped")
    if assignment.status == Assignment.Status.ACTIVE:
        Task.objects.filter(pk=assignment.task_id).update(claimed_count=F("claimed_count") - 1)
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = (reason or "").strip()[:500]
    assignment.finished_at = _now(now)
    assignment.save(update_fields=["status", "skip_reason", "finished_at"])
    return assignment


def expire_leases(*, project: Project | int | None = None, now: datetime | None = None, batch: int = 500) -> int:
    """Return lapsed leases to the queue (of one project, by object or id, or of all).  Safe to run
    from many places at once: each lease is expired by a conditional update, so a lease is counted
    back exactly once."""
    now = _now(now)
    expired = 0
    while True:
        with transaction.atomic():
            lapsed = Assignment.objects.filter(status=Assignment.Status.ACTIVE, lease_expires_at__lte=now)
            if project is not None:
                lapsed = lapsed.filter(project_id=project if isinstance(project, int) else project.pk)
            if connection.features.has_select_for_update_skip_locked:
                lapsed = lapsed.select_for_update(skip_locked=True)
            rows = list(lapsed.values_list("id", "task_id")[:batch])
            if not rows:
                return expired
            for assignment_id, task_id in rows:
                if Assignment.objects.filter(pk=assignment_id, status=Assignment.Status.ACTIVE).update(
                    status=Assignment.Status.EXPIRED
                ):
                    Task.objects.filter(pk=task_id).update(claimed_count=F("claimed_count") - 1)
                    expired += 1
        if len(rows) < batch:
            return expired


def reclaim_for_late_submit(*, assignment: Assignment) -> bool:
    """A rating arrives after its lease lapsed: take a place on the task again if one is free.

    Call inside the submit transaction with the assignment row locked.
    """
    if assignment.status != Assignment.Status.EXPIRED:
        return True
    return bool(
        Task.objects.filter(pk=assignment.task_id, claimed_count__lt=F("capacity")).update(
            claimed_count=F("claimed_count") + 1
        )
    )

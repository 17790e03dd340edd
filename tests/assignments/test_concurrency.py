"""Many raters at once, each thread on its own database connection, on SQLite (the first pass) and
PostgreSQL (the second pass, plus the ``postgres``-marked tests).  After each scenario the three
invariants are checked from the database: no task over its overlap, no rater twice on a task, no
submission lost."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import expire_leases, skip
from evalplatform.projects.models import Project, Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import SubmitConflict, submit_rating
from tests.assignments.invariants import assert_queue_invariants
from tests.fixtures import GOOD, next_assignment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
User = get_user_model()



def run_at_once(n: int, work: Callable[[int], Any], timeout: float = 120) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    failures: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()  # each thread opened its own connection

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a rater thread hung"
    if failures:
        raise failures[0]
    return results


def rater_session(project_id: int, rater_id: int, *, seed: int, skip_rate: float = 0.0) -> dict:
    """One rater working through the queue until it is empty for them."""
    rng = random.Random(seed)
    project = Project.objects.get(pk=project_id)
    rater = User.objects.get(pk=rater_id)
    done = {"rated": [], "skipped": [], "tasks": []}
    while (a := next_assignment(project=project, rater=rater)) is not None:
        assert next_assignment(project=project, rater=rater).pk == a.pk  # asking again: the same lease
        done["tasks"].append(a.task_id)
        if rng.random() < skip_rate:
            skip(assignment=a, reason="busy")
            done["skipped"].append(a.pk)
            continue
        scores = {**GOOD, "accuracy": rng.randint(1, 5)}
        submitted = submit_rating(assignment=a, scores=scores, duration_ms=rng.randint(1, 9999))
        rating, created = submitted.rating, submitted.created
        assert created
        done["rated"].append((a.pk, rating.pk, scores["accuracy"]))
    return done


def crowd(make_project, *, items: int, overlap: int, raters: int, **kwargs):
    names = [f"c{i:02d}" for i in range(raters)]
    project = make_project("crowd", items=items, overlap=overlap, raters=names, **kwargs)
    ids = list(project.memberships.filter(role="rater").order_by("user__username").values_list("user_id", flat=True))
    return project, ids


def check_crowd(project, sessions: list[dict], *, expect_full: bool) -> None:
    assert_queue_invariants(project)
    rated = {rating_id: (assignment_id, accuracy) for s in sessions for assignment_id, rating_id, accuracy in s["rated"]}
    stored = {r.pk: r for r in Rating.objects.filter(project=project).select_related("assignment")}
    assert set(stored) == set(rated), "a submission was lost, or a rating appeared from nowhere"
    for rating_id, (assignment_id, accuracy) in rated.items():
        assert stored[rating_id].assignment_id == assignment_id
        assert stored[rating_id].scores.get(dimension__key="accuracy").value == accuracy
    for s in sessions:
        assert len(s["tasks"]) == len(set(s["tasks"])), "a rater was served a task twice"
    if expect_full:  # every rater drained the queue, so every task got its full overlap
        assert set(Task.objects.filter(project=project).values_list("rated_count", flat=True)) == {project.overlap}
    assert not Assignment.objects.filter(project=project, status=Assignment.Status.ACTIVE).exists()


def test_many_raters_at_once_fill_every_task_exactly_to_its_overlap(make_project):
    project, ids = crowd(make_project, items=12, overlap=3, raters=8)
    sessions = run_at_once(len(ids), lambda i: rater_session(project.pk, ids[i], seed=i))
    check_crowd(project, sessions, expect_full=True)
    assert sum(len(s["rated"]) for s in sessions) == 12 * 3


def test_many_raters_with_skips_keep_the_invariants(make_project):
    project, ids = crowd(make_project, items=10, overlap=2, raters=8)
    sessions = run_at_once(len(ids), lambda i: rater_session(project.pk, ids[i], seed=100 + i, skip_rate=0.3))
    check_crowd(project, sessions, expect_full=False)
    skipped = {pk for s in sessions for pk in s["skipped"]}
    assert skipped
    assert (set(
        Assignment.objects.filter(status=Assignment.Status.SKIPPED).values_list("pk", flat=True)
    ) == skipped)


def test_many_raters_in_random_order_keep_the_invariants(make_project):
    project, ids = crowd(make_project, items=10, overlap=3, raters=6, order=Project.Order.RANDOM)
    sessions = run_at_once(len(ids), lambda i: rater_session(project.pk, ids[i], seed=200 + i))
    check_crowd(project, sessions, expect_full=True)


def test_one_rater_asking_from_many_tabs_at_once_gets_one_lease(make_project):
    project, ids = crowd(make_project, items=5, overlap=5, raters=5)
    for rater_id in ids:  # a few rounds, so a race that only sometimes shows is likely to show

        def ask(_i, rater_id=rater_id):
            return next_assignment(project=Project.objects.get(pk=project.pk), rater=User.objects.get(pk=rater_id)).pk

        assert len(set(run_at_once(8, ask))) == 1
        assert Assignment.objects.filter(project=project, rater_id=rater_id).count() == 1
    assert_queue_invariants(project)


def test_the_same_assignment_submitted_from_two_threads_at_once_makes_one_rating(make_project):
    project, ids = crowd(make_project, items=3, overlap=1, raters=1)
    a = next_assignment(project=project, rater=User.objects.get(pk=ids[0]))

    def submit(i):
        # Two answers among six threads: a repeat of the winner's answer gets its rating back, the
        # other answer is told to revise instead (409), never a second rating.
        accuracy = 1 + i % 2
        try:
            submitted = submit_rating(
                assignment=Assignment.objects.get(pk=a.pk), scores={**GOOD, "accuracy": accuracy}
            )
            rating, created = submitted.rating, submitted.created
        except SubmitConflict:
            return None, False, accuracy
        return rating.pk, created, accuracy

    outcomes = run_at_once(6, submit)
    assert len({pk for pk, _, _ in outcomes if pk is not None}) == 1
    assert sum(created for _, created, _ in outcomes) == 1
    winner = Rating.objects.get(assignment=a).scores.get(dimension__key="accuracy").value
    assert all((pk is not None) == (accuracy == winner) for pk, _, accuracy in outcomes)
    assert Rating.objects.filter(assignment=a).count() == 1
    assert Task.objects.get(pk=a.task_id).rated_count == 1
    assert_queue_invariants(project)


def test_skip_and_submit_racing_on_one_assignment_leave_one_consistent_outcome(make_project):
    project, ids = crowd(make_project, items=2, overlap=1, raters=1)
    a = next_assignment(project=project, rater=User.objects.get(pk=ids[0]))

    def act(i):
        fresh = Assignment.objects.get(pk=a.pk)
        try:
            if i % 2:
                skip(assignment=fresh)
                return "skipped"
            submit_rating(assignment=fresh, scores=GOOD)
            return "rated"
        except Exception as exc:  # the loser is told why; it must be one of the service's refusals
            return type(exc).__name__

    outcomes = run_at_once(4, act)
    status = Assignment.objects.get(pk=a.pk).status
    assert status in (Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED)
    assert set(outcomes) <= {"rated", "skipped", "SubmitConflict", "QueueError"}
    assert Rating.objects.filter(assignment=a).exists() == (status == Assignment.Status.SUBMITTED)
    assert_queue_invariants(project)


def test_late_submits_racing_new_raters_and_sweeps_never_overfill(make_project):
    project, ids = crowd(make_project, items=4, overlap=1, raters=8, lease_seconds=30)
    first = [next_assignment(project=project, rater=User.objects.get(pk=ids[i])) for i in range(4)]
    later = timezone.now() + timezone.timedelta(seconds=31)

    def act(i):
        if i < 4:  # the first raters submit after their leases lapsed
            try:
                submit_rating(assignment=Assignment.objects.get(pk=first[i].pk), scores=GOOD, now=later)
                return "late-accepted"
            except SubmitConflict:
                return "late-refused"
        if i == 4:
            expire_leases(project=Project.objects.get(pk=project.pk), now=later)
            return "swept"
        a = next_assignment(project=Project.objects.get(pk=project.pk), rater=User.objects.get(pk=ids[i]), now=later)
        if a is None:
            return "none"
        submit_rating(assignment=a, scores=GOOD, now=later)
        return "new"

    outcomes = run_at_once(8, act)
    assert_queue_invariants(project)
    assert outcomes.count("late-accepted") + outcomes.count("new") == Rating.objects.filter(project=project).count()
    assert Rating.objects.filter(project=project).count() <= 4


@pytest.mark.postgres
def test_on_postgresql_many_raters_and_a_crowd_of_sweepers(make_project):
    project, ids = crowd(make_project, items=30, overlap=3, raters=16)

    def work(i):
        if i >= len(ids):
            return [expire_leases(project=Project.objects.get(pk=project.pk)) for _ in range(20)]
        return rater_session(project.pk, ids[i], seed=300 + i, skip_rate=0.1)

    results = run_at_once(len(ids) + 2, work)
    check_crowd(project, results[: len(ids)], expect_full=False)
    assert Rating.objects.filter(project=project).count() >= 30 * 3 - sum(len(s["skipped"]) for s in results[:16])


@pytest.mark.postgres
def test_on_postgresql_a_rater_never_waits_behind_another_raters_claim(make_project):
    """SKIP LOCKED: while one transaction holds the first task's row, another rater is served the
    next task at once instead of queueing behind the lock."""
    project, ids = crowd(make_project, items=3, overlap=1, raters=2)
    first_task = Task.objects.filter(project=project).order_by("id").first()
    locked, release = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            Task.objects.select_for_update().get(pk=first_task.pk)
            locked.set()
            release.wait(30)
        connections.close_all()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert locked.wait(10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait would fail this test rather than hang it
        a = next_assignment(project=project, rater=User.objects.get(pk=ids[0]))
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    finally:
        release.set()
        thread.join(10)
    assert a is not None
    assert a.task_id != first_task.pk

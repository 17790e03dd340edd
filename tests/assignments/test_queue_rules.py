"""The queue's rules beyond the basics: order, pausing, lease expiry, skips, pairwise sides, and a
seeded random walk of many operations with the invariants checked after every step."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import QueueError, RaterPaused, expire_leases, skip
from evalplatform.projects.models import Project, Task
from evalplatform.projects.services import set_paused, update_project
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import SubmitConflict, submit_rating
from tests.assignments.invariants import assert_queue_invariants
from tests.fixtures import GOOD, next_assignment

pytestmark = pytest.mark.django_db


def member(project, name):
    return project.memberships.get(user__username=name).user


def drain(project, rater, now=None) -> list[int]:
    """Rate everything the queue serves this rater; the tasks in serving order."""
    served = []
    while (a := next_assignment(project=project, rater=rater, now=now)) is not None:
        served.append(a.task_id)
        submit_rating(assignment=a, scores=GOOD, now=now)
    return served


def test_serving_order_is_priority_then_started_tasks_then_import_order(make_project):
    project = make_project(items=6, raters=("r1", "r2"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    Task.objects.filter(pk__in=[tasks[4].pk, tasks[1].pk]).update(priority=2)
    Task.objects.filter(pk=tasks[5].pk).update(priority=-1)
    r1, r2 = member(project, "r1"), member(project, "r2")
    started = next_assignment(project=project, rater=r2)  # the first of the priority-2 tasks: tasks[1]
    assert started.task_id == tasks[1].pk
    submit_rating(assignment=started, scores=GOOD)
    s2 = next_assignment(project=project, rater=r2)
    submit_rating(assignment=s2, scores=GOOD)  # tasks[4], then r2 has started tasks[1] and tasks[4]
    Task.objects.filter(pk=tasks[3].pk).update(claimed_count=1)  # another rater is on tasks[3] now
    expected = [tasks[1].pk, tasks[4].pk, tasks[3].pk, tasks[0].pk, tasks[2].pk, tasks[5].pk]
    assert drain(project, r1) == expected


def test_random_order_follows_the_shuffle_key(make_project):
    project = make_project(items=8, raters=("r1",), order=Project.Order.RANDOM)
    keys = [7, 3, 99, 1, 50, 2, 64, 8]
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for task, key in zip(tasks, keys, strict=True):
        Task.objects.filter(pk=task.pk).update(shuffle_key=key, priority=100 if key == 99 else 0)
    served = drain(project, member(project, "r1"))
    assert served == [t.pk for t, _ in sorted(zip(tasks, keys, strict=True), key=lambda pair: pair[1])]
    assert served != [t.pk for t in tasks]


def test_shuffle_keys_differ_between_tasks(make_project):
    project = make_project(items=30, raters=("r1",), order=Project.Order.RANDOM)
    assert len(set(Task.objects.filter(project=project).values_list("shuffle_key", flat=True))) > 25


def test_a_paused_rater_gets_no_new_items_and_may_finish_the_one_held(project):
    alice = member(project, "alice")
    held = next_assignment(project=project, rater=alice)
    set_paused(project=project, user=alice, paused=True)
    assert next_assignment(project=project, rater=alice).pk == held.pk
    submit_rating(assignment=held, scores=GOOD)
    with pytest.raises(RaterPaused):
        next_assignment(project=project, rater=alice)
    assert Assignment.objects.filter(rater=alice).count() == 1
    set_paused(project=project, user=alice, paused=False)
    assert next_assignment(project=project, rater=alice) is not None


def test_a_lapsed_lease_returns_to_the_queue_at_the_next_claim(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = member(project, "r1"), member(project, "r2")
    a = next_assignment(project=project, rater=r1)
    assert next_assignment(project=project, rater=r2) is None
    later = timezone.now() + timedelta(seconds=project.lease_seconds + 1)
    b = next_assignment(project=project, rater=r2, now=later)  # no sweep ran: the claim itself expires it
    assert b.task_id == a.task_id
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.EXPIRED
    assert next_assignment(project=project, rater=r1, now=later) is None  # never offered again to r1
    assert_queue_invariants(project)


def test_expiring_twice_counts_each_lease_back_once(make_project):
    project = make_project(items=2, overlap=2, raters=("r1", "r2"))
    for name in ("r1", "r2"):
        next_assignment(project=project, rater=member(project, name))
    later = timezone.now() + timedelta(hours=2)
    assert expire_leases(project=project, now=later) == 2
    assert expire_leases(project=project, now=later) == 0
    assert sum(Task.objects.filter(project=project).values_list("claimed_count", flat=True)) == 0
    assert_queue_invariants(project)


def test_expire_leases_leaves_other_projects_and_live_leases_alone(make_project):
    p1 = make_project("p1", items=1, raters=("r1",), lease_seconds=60)
    p2 = make_project("p2", items=1, raters=("r2",), lease_seconds=3600)
    a1 = next_assignment(project=p1, rater=member(p1, "r1"))
    a2 = next_assignment(project=p2, rater=member(p2, "r2"))
    assert expire_leases(project=p2, now=timezone.now() + timedelta(minutes=5)) == 0
    assert expire_leases(now=timezone.now() + timedelta(minutes=5)) == 1
    assert Assignment.objects.get(pk=a1.pk).status == Assignment.Status.EXPIRED
    assert Assignment.objects.get(pk=a2.pk).status == Assignment.Status.ACTIVE


def test_skipping_an_expired_lease_does_not_give_the_place_back_twice(make_project):
    project = make_project(items=1, overlap=2, raters=("r1", "r2"))
    r1 = member(project, "r1")
    a = next_assignment(project=project, rater=r1)
    expire_leases(project=project, now=timezone.now() + timedelta(hours=2))
    skip(assignment=a, reason="too late anyway")
    skip(assignment=a)  # and again: a no-op
    assert Task.objects.get(pk=a.task_id).claimed_count == 0
    assert Assignment.objects.get(pk=a.pk).skip_reason == "too late anyway"
    assert_queue_invariants(project)


def test_a_rated_task_cannot_be_skipped_and_a_long_reason_is_cut(project):
    alice, bob = member(project, "alice"), member(project, "bob")
    a = next_assignment(project=project, rater=alice)
    submit_rating(assignment=a, scores=GOOD)
    with pytest.raises(QueueError, match="already rated"):
        skip(assignment=a)
    b = next_assignment(project=project, rater=bob)
    assert len(skip(assignment=b, reason="x" * 900).skip_reason) == 500


def test_pairwise_sides_are_random_per_rater_and_stored_in_task_orientation(make_project, pairwise_version):
    raters = [f"r{i}" for i in range(24)]
    project = make_project("duel", kind="pairwise", version=pairwise_version, items=1, models=("m1", "m2"),
                           overlap=24, raters=raters)
    stored = {}
    for name in raters:
        a = next_assignment(project=project, rater=member(project, name))
        submitted = submit_rating(assignment=a, scores={"preference": -2})  # "A (left) much better"
        rating = submitted.rating
        stored[a.swapped] = rating.scores.get().value
    assert stored == {False: -2, True: 2}  # both sides occurred; a flip when response_b was "A"


def test_raising_the_overlap_opens_finished_tasks_again(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    drain(project, member(project, "r1"))
    assert next_assignment(project=project, rater=member(project, "r2")) is None
    update_project(project=project, overlap=2)
    assert next_assignment(project=project, rater=member(project, "r2")) is not None
    assert_queue_invariants(Project.objects.get(pk=project.pk))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_walk_of_claims_submits_skips_and_expiries_keeps_the_invariants(make_project, seed):
    rng = random.Random(seed)
    names = [f"r{i}" for i in range(5)]
    project = make_project(items=6, overlap=2, raters=names, lease_seconds=60)
    raters = [member(project, n) for n in names]
    now = timezone.now()
    for _step in range(160):
        rater = rng.choice(raters)
        mine = list(Assignment.objects.filter(project=project, rater=rater, status__in=["active", "expired"]))
        op = rng.random()
        if op < 0.4 or not mine:
            next_assignment(project=project, rater=rater, now=now)
        elif op < 0.75:
            try:
                submit_rating(assignment=rng.choice(mine), scores=GOOD, now=now)
            except SubmitConflict:
                pass  # expired and filled meanwhile: refused, and nothing written
        elif op < 0.85:
            skip(assignment=rng.choice(mine), now=now)
        else:
            now += timedelta(seconds=rng.choice([10, 30, 61]))
            if rng.random() < 0.5:
                expire_leases(project=project, now=now)
        assert_queue_invariants(project)
    assert Rating.objects.filter(project=project).exists()

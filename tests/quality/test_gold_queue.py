"""Gold items in the queue: mixed in at the lead's rate, never twice to one rater, every rater once,
outside the project's completion, and the queue's invariants intact (also with many raters at once)."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import project_progress
from evalplatform.assignments.services import skip
from evalplatform.projects.models import GOLD_CAPACITY, Task
from evalplatform.projects.selectors import project_rows
from evalplatform.projects.services import update_project
from evalplatform.quality.services import set_gold, unset_gold, update_quality_settings
from evalplatform.ratings.selectors import rater_progress
from evalplatform.ratings.services import submit_rating
from tests.assignments.invariants import assert_queue_invariants
from tests.fixtures import GOOD, next_assignment
from tests.quality.conftest import member

pytestmark = pytest.mark.django_db



def make_gold(project, n: int) -> list[Task]:
    tasks = list(Task.objects.filter(project=project).order_by("id")[:n])
    for task in tasks:
        set_gold(task=task, expectations={"accuracy": {"value": 4, "tolerance": 1}})
    return tasks


def drain(project, rater, *, limit: int = 10_000) -> list[Assignment]:
    served = []
    while len(served) < limit and (a := next_assignment(project=project, rater=rater)) is not None:
        served.append(a)
        submit_rating(assignment=a, scores=GOOD, duration_ms=1000)
    return served


def test_gold_items_are_served_at_the_projects_rate(make_project):
    project = make_project(items=400, overlap=1, raters=("alice",))
    gold = {t.pk for t in make_gold(project, 100)}
    project = update_quality_settings(project=project, gold_rate=0.2)
    random.seed(8)
    served = drain(project, member(project, "alice"), limit=250)
    share = sum(a.task_id in gold for a in served) / len(served)
    # 250 draws at 0.2: the standard error is 0.025; three of them is the tolerance.
    assert len(served) == 250, share
    assert abs(share - 0.2) < 0.075, share


def test_no_gold_is_served_at_rate_zero(make_project):
    project = make_project(items=30, overlap=1, raters=("alice",))
    gold = {t.pk for t in make_gold(project, 10)}
    served = drain(project, member(project, "alice"))
    assert len(served) == 20
    assert not any(a.task_id in gold for a in served)


def test_each_rater_gets_each_gold_item_at_most_once_and_gold_ignores_the_overlap(make_project):
    project = make_project(items=20, overlap=2, raters=("alice", "bob", "carol", "dave"))
    gold = {t.pk for t in make_gold(project, 4)}
    project = update_quality_settings(project=project, gold_rate=0.5)
    raters = [member(project, n) for n in ("alice", "bob", "carol", "dave")]
    random.seed(3)
    served: dict[int, list[int]] = {r.pk: [] for r in raters}
    active = list(raters)
    while active:  # round robin, as raters work side by side
        for rater in list(active):
            a = next_assignment(project=project, rater=rater)
            if a is None:
                active.remove(rater)
                continue
            served[rater.pk].append(a.task_id)
            submit_rating(assignment=a, scores=GOOD)
    for tasks in served.values():
        assert len(tasks) == len(set(tasks)), "a rater was served a task twice"
    gold_counts = Task.objects.filter(pk__in=gold).values_list("rated_count", flat=True)
    assert max(gold_counts) > project.overlap  # more raters than the overlap rated a gold item
    assert all(n <= len(raters) for n in gold_counts)
    ordinary = Task.objects.filter(project=project, is_gold=False)
    assert set(ordinary.values_list("rated_count", flat=True)) == {project.overlap}  # the real work got done
    assert_queue_invariants(project)


def test_gold_is_not_served_once_the_rater_has_no_ordinary_work(make_project):
    project = make_project(items=5, overlap=1, raters=("alice",))
    gold = {t.pk for t in make_gold(project, 3)}
    project = update_quality_settings(project=project, gold_rate=0.5)
    random.seed(1)
    served = drain(project, member(project, "alice"))
    ordinary = [a for a in served if a.task_id not in gold]
    assert len(ordinary) == 2
    assert served[-1].task_id not in gold  # the last item served is real work
    assert next_assignment(project=project, rater=member(project, "alice")) is None


def test_gold_tasks_are_not_part_of_the_projects_completion(make_project, lead):
    project = make_project(items=6, overlap=2, raters=("alice",))
    make_gold(project, 2)
    progress = project_progress(project)
    assert (progress.tasks, progress.needed) == (4, 8)
    row = next(r for r in project_rows(lead) if r["project"].pk == project.pk)
    assert row["needed"] == 8
    # The rater's own count includes gold (it must move alike for both kinds; see test_gold_is_invisible).
    assert rater_progress(project=project, rater=member(project, "alice")).left == 6


def test_gold_capacity_survives_overlap_changes_and_returns_when_unmarked(make_project):
    project = make_project(items=3, overlap=2, raters=("alice",))
    (task,) = make_gold(project, 1)
    update_project(project=project, overlap=3)
    task.refresh_from_db()
    assert task.capacity == GOLD_CAPACITY
    assert task.is_gold
    task = unset_gold(task=task)
    assert task.capacity == 3
    assert not task.is_gold
    assert not task.gold_expectations.exists()


def test_a_skipped_gold_item_is_not_served_again(make_project):
    project = make_project(items=40, overlap=1, raters=("alice",))
    (gold,) = make_gold(project, 1)
    project = update_quality_settings(project=project, gold_rate=0.5)
    alice = member(project, "alice")
    random.seed(5)
    seen = []
    while (a := next_assignment(project=project, rater=alice)) is not None:
        seen.append(a.task_id)
        skip(assignment=a, reason="unsure")
    assert seen.count(gold.pk) == 1
    assert len(seen) == len(set(seen))


@pytest.mark.django_db(transaction=True)
def test_many_raters_at_once_with_gold_keep_the_queue_invariants(make_project):
    from tests.assignments.test_concurrency import rater_session, run_at_once

    names = [f"g{i:02d}" for i in range(6)]
    project = make_project("goldcrowd", items=12, overlap=2, raters=names)
    gold = {t.pk for t in make_gold(project, 3)}
    project = update_quality_settings(project=project, gold_rate=0.3)
    ids = list(project.memberships.filter(role="rater").order_by("user__username").values_list("user_id", flat=True))
    sessions = run_at_once(len(ids), lambda i: rater_session(project.pk, ids[i], seed=40 + i, skip_rate=0.1))
    assert_queue_invariants(project)
    for s in sessions:
        assert len(s["tasks"]) == len(set(s["tasks"]))
    assert any(t in gold for s in sessions for t in s["tasks"])
    assert not Assignment.objects.filter(project=project, status=Assignment.Status.ACTIVE,
                                         lease_expires_at__gt=timezone.now()).exists()
    assert get_user_model().objects.filter(pk__in=ids).count() == 6

"""Excluding a rater while the others work: the queue's invariants hold, the reopened tasks are topped
up to their overlap, and no rater is served a task twice (PostgreSQL, threads on their own connections)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from evalplatform.projects.models import Project, Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import exclude_ratings, restore_ratings, submit_rating
from tests.assignments.invariants import assert_queue_invariants
from tests.assignments.test_concurrency import crowd, rater_session, run_at_once
from tests.fixtures import GOOD, next_assignment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
User = get_user_model()


def spam_some(project, rater, n: int) -> None:
    for _ in range(n):
        a = next_assignment(project=project, rater=rater)
        submit_rating(assignment=a, scores={**GOOD, "accuracy": 1})


def run_with_an_exclusion(make_project, *, restore: bool) -> Project:
    project, ids = crowd(make_project, items=16, overlap=2, raters=6)
    lead = project.created_by
    spammer = User.objects.get(pk=ids[0])
    spam_some(project, spammer, 10)
    workers = ids[1:]

    def work(i: int):
        if i == len(workers):  # the lead, while the raters work
            time.sleep(0.05)
            exclusion = exclude_ratings(project=Project.objects.get(pk=project.pk), rater=spammer, scope="all",
                                        reason="clicks through", by=lead)
            if restore:
                time.sleep(0.05)
                restore_ratings(exclusion=exclusion, by=lead)
            return exclusion.pk
        return rater_session(project.pk, workers[i], seed=300 + i)

    results = run_at_once(len(workers) + 1, work)
    # Whatever the interleaving, a last pass of every rater leaves no open task a rater could take.
    for rater_id in workers:
        rater_session(project.pk, rater_id, seed=1)
    if not restore:  # restored ratings may put a topped-up task over the overlap (its capacity grew): see below
        assert_queue_invariants(project)
    for s in results[:-1]:
        assert len(s["tasks"]) == len(set(s["tasks"])), "a rater was served a task twice"
    return project


@pytest.mark.postgres
def test_on_postgresql_excluding_while_raters_work_tops_every_task_up(make_project):
    project = run_with_an_exclusion(make_project, restore=False)
    included = Rating.objects.filter(project=project, exclusion__isnull=True)
    assert set(Task.objects.filter(project=project).values_list("rated_count", flat=True)) == {2}
    assert included.count() == 16 * 2
    assert not included.filter(rater__username="c00").exists()
    assert Rating.objects.filter(project=project, rater__username="c00", exclusion__isnull=False).count() == 10


@pytest.mark.postgres
def test_on_postgresql_restoring_while_raters_work_keeps_the_counters_true(make_project):
    project = run_with_an_exclusion(make_project, restore=True)
    # Restored ratings may sit on tasks the queue had topped up: those tasks grew their capacity.
    for task in Task.objects.filter(project=project):
        n = Rating.objects.filter(task=task, exclusion__isnull=True).count()
        assert task.rated_count == task.claimed_count == n
        assert n <= task.capacity
        assert n >= 2
    assert not Rating.objects.filter(project=project, exclusion__isnull=False).exists()

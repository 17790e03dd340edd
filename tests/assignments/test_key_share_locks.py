"""A task that another transaction merely references is still served (PostgreSQL row locks)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction

from evalplatform.projects.models import Task
from tests.fixtures import next_assignment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def another_transaction_running(sql: str, params: list, *, commits_after: float) -> Iterator[threading.Event]:
    """Run ``sql`` in a transaction on another connection and keep it open (its row locks held) until
    the block ends or ``commits_after`` seconds have passed; yields an event set once it has committed."""
    holding, release, committed = threading.Event(), threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                holding.set()
                release.wait(commits_after)
            committed.set()
        finally:
            connections.close_all()

    other = threading.Thread(target=run)
    other.start()
    try:
        assert holding.wait(10)
        yield committed
    finally:
        release.set()
        other.join()


def claim_for_r1(project):
    return next_assignment(project=project, rater=project.memberships.get(user__username="r1").user)


def test_claim_is_not_blocked_by_rows_that_reference_the_task(make_project):
    project = make_project(items=1, raters=("r1",))
    task = Task.objects.get(project=project)
    # FOR KEY SHARE is what inserting a row with a foreign key to the task takes.
    with another_transaction_running("SELECT id FROM projects_task WHERE id = %s FOR KEY SHARE", [task.pk],
                                     commits_after=10) as committed:
        assignment = claim_for_r1(project)
        assert not committed.is_set(), "the claim waited for the referencing transaction"
        assert assignment is not None
        assert assignment.task_id == task.pk


def test_a_task_locked_for_a_moment_by_another_write_is_waited_for_not_reported_empty(make_project):
    """A submit updating the last open task locks its row; the claim must not say "nothing left"."""
    project = make_project(items=1, raters=("r1",))
    task = Task.objects.get(project=project)
    # A slow submit, committing after a second, while the claim runs.
    with another_transaction_running("UPDATE projects_task SET priority = priority WHERE id = %s", [task.pk],
                                     commits_after=1.0):
        assignment = claim_for_r1(project)
        assert assignment is not None
        assert assignment.task_id == task.pk

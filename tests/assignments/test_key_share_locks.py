"""A task that another transaction merely references is still served (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections, transaction

from evalplatform.assignments.services import claim_next
from evalplatform.projects.models import Task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_claim_is_not_blocked_by_rows_that_reference_the_task(make_project):
    project = make_project(items=1, raters=("r1",))
    task = Task.objects.get(project=project)
    holding, release = threading.Event(), threading.Event()

    def reference_the_task() -> None:
        # FOR KEY SHARE is what inserting a row with a foreign key to the task takes.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM projects_task WHERE id = %s FOR KEY SHARE", [task.pk])
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=reference_the_task)
    other.start()
    try:
        assert holding.wait(10)
        rater = project.memberships.get(user__username="r1").user
        assignment = claim_next(project=project, rater=rater)
        assert assignment is not None and assignment.task_id == task.pk
    finally:
        release.set()
        other.join()


def test_a_task_locked_for_a_moment_by_another_write_is_waited_for_not_reported_empty(make_project):
    """A submit updating the last open task locks its row; the claim must not say "nothing left"."""
    project = make_project(items=1, raters=("r1",))
    task = Task.objects.get(project=project)
    holding = threading.Event()

    def update_the_task() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE projects_task SET priority = priority WHERE id = %s", [task.pk])
                holding.set()
                threading.Event().wait(1.0)  # a slow submit, committing after a second
        finally:
            connections.close_all()

    other = threading.Thread(target=update_the_task)
    other.start()
    try:
        assert holding.wait(10)
        rater = project.memberships.get(user__username="r1").user
        assignment = claim_next(project=project, rater=rater)
        assert assignment is not None and assignment.task_id == task.pk
    finally:
        other.join()

"""Reports refresh themselves after new ratings, debounced: a burst of submissions shares one computation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.projects.models import Membership, Project
from evalplatform.ratings.changes import note_ratings_changed
from evalplatform.ratings.services import submit_rating
from evalplatform.reports import services, tasks
from tests.fixtures import GOOD, next_assignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Record what the services send to workers instead of running it."""
    sent = []
    def record(task, *args, **kwargs):  # services name their tasks; the name must be a real task's
        sent.append((task if isinstance(task, str) else task.name, args, kwargs))

    monkeypatch.setattr(services, "enqueue", record)
    return sent


def refreshes(sent) -> list:
    return [s for s in sent if s[0] == tasks.refresh_project_report.name]


def test_a_burst_of_a_thousand_submissions_enqueues_one_refresh(project, enqueued, settings):
    settings.EVAL_REPORT_REFRESH_DELAY = 10
    for _ in range(1000):  # what each submission's on_commit does
        note_ratings_changed(project_id=project.pk)
        services.schedule_refresh(project_id=project.pk)
    assert refreshes(enqueued) == [(tasks.refresh_project_report.name, (project.pk,), {"countdown": 10})]
    project.refresh_from_db()
    assert project.ratings_seq == 1000
    assert project.refresh_due_at is not None


def test_real_submissions_share_one_refresh_until_it_starts(project, enqueued, django_capture_on_commit_callbacks):
    raters = [m.user for m in Membership.objects.filter(project=project, role="rater")]
    with django_capture_on_commit_callbacks(execute=True):
        for rater in raters:
            while (assignment := next_assignment(project=project, rater=rater)) is not None:
                submit_rating(assignment=assignment, scores=GOOD)
    assert len(refreshes(enqueued)) == 1  # 15 submissions, one computation scheduled

    services.refresh(project_id=project.pk)  # the worker starts it: the pending mark clears...
    report = project.reports.get()
    assert report.trigger == "refresh"
    assert report.status == "done"
    assert report.n_ratings == 15
    note_ratings_changed(project_id=project.pk)
    services.schedule_refresh(project_id=project.pk)
    services.schedule_refresh(project_id=project.pk)
    assert len(refreshes(enqueued)) == 2  # ...so the next burst schedules exactly one more


def test_a_burst_during_a_long_run_costs_a_handful_of_computations(project, enqueued, settings):
    """Simulated clock: 1,000 submissions spread over 100 s with a 10 s window: about ten computations."""
    settings.EVAL_REPORT_REFRESH_DELAY = 10
    computations = 0
    due_runs: list[float] = []
    for i in range(1000):
        now = i * 0.1
        while due_runs and due_runs[0] <= now:  # a worker picks a due refresh up and clears the mark
            due_runs.pop(0)
            Project.objects.filter(pk=project.pk).update(refresh_due_at=None)
            computations += 1
        before = len(refreshes(enqueued))
        note_ratings_changed(project_id=project.pk)
        services.schedule_refresh(project_id=project.pk)
        if len(refreshes(enqueued)) > before:
            due_runs.append(now + 10)
    assert 5 <= len(refreshes(enqueued)) == computations + len(due_runs) <= 11


def test_a_lost_refresh_is_enqueued_again_by_the_sweep(project, enqueued):
    services.schedule_refresh(project_id=project.pk)
    assert len(refreshes(enqueued)) == 1
    services.sweep_refreshes()
    assert len(refreshes(enqueued)) == 1  # still within its window: not lost
    Project.objects.filter(pk=project.pk).update(refresh_due_at=timezone.now() - timedelta(minutes=5))
    services.sweep_refreshes()
    assert len(refreshes(enqueued)) == 2
    assert refreshes(enqueued)[-1][2] == {"countdown": 0}


def test_a_rolled_back_submission_schedules_nothing(project, enqueued, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            note_ratings_changed(project_id=project.pk)
            raise RuntimeError
    assert enqueued == []


def test_in_the_test_settings_the_refresh_runs_in_process(project, django_capture_on_commit_callbacks):
    rater = Membership.objects.filter(project=project, role="rater").first().user
    with django_capture_on_commit_callbacks(execute=True):
        submit_rating(assignment=next_assignment(project=project, rater=rater), scores=GOOD)
    report = project.reports.get()
    assert report.status == "done"
    assert report.data_seq == 1
    project.refresh_from_db()
    assert project.refresh_due_at is None

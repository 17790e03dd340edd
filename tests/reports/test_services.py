"""The report lifecycle: idempotent computation, retries, failures, redelivery of a report left running,
lost reports, and which report counts as the latest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from evalplatform.projects.models import Project
from evalplatform.reports import compute as compute_module
from evalplatform.reports import services, tasks
from evalplatform.reports.models import AgreementReport

pytestmark = pytest.mark.django_db


def fail_once(monkeypatch, exc: Exception):
    """Make the next ``build_result`` raise ``exc``; later calls work."""
    real = compute_module.build_result
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(compute_module, "build_result", flaky)
    return calls


def test_compute_stores_the_result_once_and_is_idempotent(rated_project):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    done = services.compute(report_id=report.pk)
    assert done.status == "done"
    assert done.progress == 1.0
    assert done.attempts == 1
    assert done.data_seq == project.ratings_seq
    assert done.n_ratings == 36
    assert done.started_at <= done.finished_at
    again = services.compute(report_id=report.pk)  # a duplicate delivery
    assert again.attempts == 1
    assert again.finished_at == done.finished_at
    assert again.result == done.result


def test_a_report_left_running_by_a_dead_worker_is_finished_on_redelivery(rated_project):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    AgreementReport.objects.filter(pk=report.pk).update(status="running", progress=0.4, attempts=1,
                                                        started_at=timezone.now())
    tasks.compute_report.apply(args=[report.pk])  # the redelivered message
    report.refresh_from_db()
    assert report.status == "done"
    assert report.attempts == 2
    assert report.result["dimensions"]


def test_a_database_error_leaves_the_report_running_and_the_retry_finishes_it(rated_project, monkeypatch):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    fail_once(monkeypatch, OperationalError("gone"))
    with pytest.raises(OperationalError):
        services.compute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "running"
    assert report.result is None  # never done with part of a result
    assert services.compute(report_id=report.pk).status == "done"


def run_as_worker(task, *args, retries: int = 0):
    """Run ``task`` as a worker would (not eagerly), as its ``retries``-th retry."""
    task.push_request(id=f"test-{retries}", args=args, kwargs={}, retries=retries, is_eager=False,
                      called_directly=False)
    try:
        return task.run(*args)
    finally:
        task.pop_request()


def always_fail(monkeypatch, exc: Exception):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(compute_module, "build_result", fail)


def test_the_task_retries_database_errors(rated_project, monkeypatch):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    calls = fail_once(monkeypatch, OperationalError("server closed the connection"))
    # On a worker the failed attempt sends the retry with a backoff countdown; in the test settings
    # (no broker) that retry runs at once, then the first attempt ends with Retry.
    with pytest.raises(Retry):
        run_as_worker(tasks.compute_report, report.pk)
    report.refresh_from_db()
    assert len(calls) == 2
    assert report.status == "done"
    assert report.attempts == 2


def test_the_task_fails_the_report_when_retries_run_out(rated_project, monkeypatch):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    always_fail(monkeypatch, OperationalError("database is down"))
    with pytest.raises(OperationalError):
        run_as_worker(tasks.compute_report, report.pk, retries=tasks.compute_report.max_retries)
    report.refresh_from_db()
    assert report.status == "failed"
    assert report.error == "gave up after 8 retries: OperationalError: database is down"


def test_in_process_a_database_error_fails_the_report_at_once(rated_project, monkeypatch):
    # Without a broker (embedded mode, tests) nobody would retry, so nothing is left running.
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    always_fail(monkeypatch, OperationalError("database is locked"))
    with pytest.raises(Exception):  # noqa: B017  (Retry or the error itself, by Celery version)
        tasks.compute_report.apply(args=[report.pk])
    report.refresh_from_db()
    assert report.status == "failed"
    assert report.error.startswith("in-process run")


def test_any_other_error_fails_the_report_with_the_reason(rated_project, monkeypatch):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    fail_once(monkeypatch, ValueError("no such scale"))
    with pytest.raises(ValueError):
        tasks.compute_report.apply(args=[report.pk])
    report.refresh_from_db()
    assert report.status == "failed"
    assert report.error == "ValueError: no such scale"
    assert report.finished_at
    assert services.compute(report_id=report.pk).status == "failed"  # a failed report stays failed


def test_a_result_that_is_not_strict_json_fails_instead_of_saving(rated_project, monkeypatch):
    project = rated_project()
    report = services.create_report(project=project, bootstrap=20)
    monkeypatch.setattr(compute_module, "build_result", lambda *a, **k: ({"x": float("nan")}, 1))
    with pytest.raises(ValueError):
        services.compute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "failed"
    assert "Out of range float" in report.error


def test_a_refresh_whose_compute_raises_marks_its_report_failed(rated_project, monkeypatch):
    project = rated_project()
    fail_once(monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        tasks.refresh_project_report.apply(args=[project.pk])
    report = project.reports.get()
    assert report.trigger == "refresh"
    assert report.status == "failed"
    assert "boom" in report.error


def test_a_retried_refresh_finishes_its_own_report_instead_of_starting_another(rated_project, monkeypatch):
    project = rated_project()
    calls = fail_once(monkeypatch, OperationalError("connection reset"))
    with pytest.raises(Retry):
        run_as_worker(tasks.refresh_project_report, project.pk)
    report = project.reports.get()
    assert len(calls) == 2
    assert report.status == "done"
    assert report.attempts == 2


def test_a_refresh_out_of_retries_fails_its_report(rated_project, monkeypatch):
    project = rated_project()
    always_fail(monkeypatch, OperationalError("too many connections"))
    with pytest.raises(OperationalError):
        run_as_worker(tasks.refresh_project_report, project.pk, retries=8)
    assert project.reports.get().status == "failed"


def test_refresh_skips_when_nothing_changed_and_inherits_parameters(rated_project):
    project = rated_project()
    first = services.compute(report_id=services.create_report(project=project, bootstrap=30, seed=4).pk)
    assert services.refresh(project_id=project.pk) == first
    assert project.reports.count() == 1
    Project.objects.filter(pk=project.pk).update(ratings_seq=project.ratings_seq + 1)
    second = services.refresh(project_id=project.pk)
    assert second.pk != first.pk
    assert second.trigger == "refresh"
    assert second.status == "done"
    assert second.parameters == {**services.DEFAULT_PARAMETERS, "bootstrap": 30, "seed": 4}


def test_latest_done_is_the_one_computed_from_the_newest_data(rated_project):
    project = rated_project()
    newer = services.compute(report_id=services.create_report(project=project, bootstrap=10).pk)
    older = services.compute(report_id=services.create_report(project=project, bootstrap=10).pk)
    AgreementReport.objects.filter(pk=older.pk).update(data_seq=newer.data_seq - 1)  # a late, stale run
    assert services.latest_done(project) == newer


def test_reports_nobody_finishes_are_failed_by_the_sweep(rated_project, settings):
    project = rated_project()
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60}
    queued = services.create_report(project=project)
    running = services.create_report(project=project)
    recent = services.create_report(project=project)
    long_ago = timezone.now() - timedelta(minutes=5)
    AgreementReport.objects.filter(pk=queued.pk).update(created_at=long_ago)
    AgreementReport.objects.filter(pk=running.pk).update(status="running", started_at=long_ago)
    assert tasks.sweep_report_refreshes.apply().get() == 0
    states = dict(AgreementReport.objects.values_list("pk", "status"))
    assert states == {queued.pk: "failed", running.pk: "failed", recent.pk: "queued"}
    assert "lost" in AgreementReport.objects.get(pk=queued.pk).error


def test_parameters_are_validated(rated_project):
    project = rated_project()
    for bad in ({"bootstrap": -1}, {"bootstrap": True}, {"seed": "x"}, {"include_paused": "no"}, {"sleep": 5}):
        with pytest.raises(ValueError):
            services.create_report(project=project, **bad)
    assert not project.reports.exists()


def test_a_broker_that_cannot_be_reached_fails_the_request_instead_of_raising(
    rated_project, monkeypatch, django_capture_on_commit_callbacks
):
    project = rated_project()

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(services, "enqueue", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.request_report(project=project)
    report.refresh_from_db()
    assert report.status == "failed"
    assert "redis is down" in report.error

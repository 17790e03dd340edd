"""Celery tasks for reports: thin wrappers that take ids and call the services.

Every task is ``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-task leaves the
message unacknowledged, so the broker hands it to another worker (Redis: once the visibility
timeout has passed, at the next worker's start or its periodic restore), and the service finishes
the report it left running.  Database errors that may pass are retried with exponential backoff;
when the retries run out the report is marked failed instead of being left running.
"""

from __future__ import annotations

from celery import shared_task

import evalplatform.celery_app  # noqa: F401  (the app these shared tasks bind to, loaded with them)
from evalplatform.reports import services

RETRY = {
    "autoretry_for": services.RETRYABLE, "retry_backoff": True, "retry_backoff_max": 60, "max_retries": 8,
}


def _giving_up(task) -> str | None:
    """Why this failed attempt is the last one, or None when the task will be retried."""
    if task.request.is_eager:
        return "in-process run (no worker to retry it)"
    if task.request.retries >= task.max_retries:
        return f"gave up after {task.max_retries} retries"
    return None


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, **RETRY)
def compute_report(self, report_id: int) -> None:
    """Compute one stored report.  A retry (or a redelivery after a worker died) finishes it."""
    try:
        services.compute(report_id=report_id)
    except services.RETRYABLE as exc:
        if why := _giving_up(self):
            services.mark_failed(report_id=report_id, error=f"{why}: {services.describe(exc)}")
        raise


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, **RETRY)
def refresh_project_report(self, project_id: int) -> None:
    """The debounced refresh that new ratings schedule."""
    try:
        services.refresh(project_id=project_id)
    except services.RETRYABLE as exc:
        if why := _giving_up(self):
            services.fail_pending_refresh(project_id=project_id, error=f"{why}: {services.describe(exc)}")
        raise


@shared_task(acks_late=True)
def sweep_report_refreshes() -> int:
    """Periodic: re-enqueue refreshes whose message never reached a worker, fail lost reports."""
    return services.sweep_refreshes()


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300,
             max_retries=5)
def log_report_run(self, report_id: int, backend: str) -> str | None:
    """Log a stored report to an experiment tracker (``reports.tracking``); retried on any failure.
    The report itself is done already: a failure here never touches it."""
    from evalplatform.reports import tracking
    from evalplatform.reports.models import AgreementReport

    report = AgreementReport.objects.select_related("project").filter(pk=report_id).first()
    if report is None:
        return None
    return tracking.log_report(report, to=backend).run_id

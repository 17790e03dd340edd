"""Celery tasks for reports: thin wrappers that take ids and call the services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from evalplatform.reports import services

RETRYABLE = (OperationalError, InterfaceError)


@shared_task(
    bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=RETRYABLE, retry_backoff=True,
    retry_backoff_max=60, max_retries=8,
)
def compute_report(self, report_id: int) -> None:
    """Compute one stored report.  A retry (or a redelivery after a worker died) finishes it."""
    try:
        services.compute(report_id=report_id)
    except RETRYABLE:
        raise
    except DatabaseError as exc:
        services.mark_failed(report_id=report_id, error=f"database error: {exc}")
        raise
    except Exception as exc:
        services.mark_failed(report_id=report_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(
    bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=RETRYABLE, retry_backoff=True,
    max_retries=8,
)
def refresh_project_report(self, project_id: int) -> None:
    """The debounced refresh that new ratings schedule."""
    services.refresh(project_id=project_id)


@shared_task(acks_late=True)
def sweep_report_refreshes() -> int:
    """Periodic: re-enqueue refreshes whose message never reached a worker (broker was down)."""
    return services.sweep_refreshes()

"""Celery tasks for quality control: thin wrappers that take ids and call the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

import evalplatform.celery_app  # noqa: F401  (the app these shared tasks bind to, loaded with them)
from evalplatform.projects.models import Project
from evalplatform.quality import services
from evalplatform.reports.services import RETRYABLE


@shared_task(
    bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8,
)
def compute_quality(self, project_id: int, parameters: dict[str, Any] | None = None) -> None:
    """Compute and store a project's scorecards and consensus labels.  Idempotent: a rerun replaces
    the stored result with one from the same or newer data."""
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        services.compute_quality(project=project, parameters=parameters)

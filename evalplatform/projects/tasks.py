"""Celery tasks of projects: thin wrappers that take ids and call the services."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

import evalplatform.celery_app  # noqa: F401  (the app these shared tasks bind to, loaded with them)
from evalplatform.projects import references


# A time limit reached mid-way retries too: every batch is stored as it is scored, so the retry goes on
# from where this run stopped.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError, SoftTimeLimitExceeded), retry_backoff=True,
             retry_backoff_max=60, max_retries=8)
def score_references(self, project_id: int) -> int:
    """Score (ROUGE, BLEU, chrF) and store every response of the project without a current score, in
    batches that are tasks of their own (``score_reference_batch``) when there is more than one.
    Idempotent: a retry or a second run scores only what is still missing."""
    return references.fan_out_scoring(project_id=project_id)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError, SoftTimeLimitExceeded), retry_backoff=True,
             retry_backoff_max=60, max_retries=8)
def score_reference_batch(self, project_id: int, response_ids: list[int]) -> int:
    """Score and store those of ``response_ids`` that still have no current score (one batch of
    ``score_references``)."""
    return references.score_batch(project_id=project_id, response_ids=response_ids)

"""Celery tasks for model runs: thin wrappers that take ids and call the services.

``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-run leaves its message to be
redelivered, and the calls it held are taken over once their lease lapses (``services.process_run``).
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

import evalplatform.celery_app  # noqa: F401  (the app these shared tasks bind to, loaded with them)
from evalplatform.llm import services


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=60, max_retries=8)
def process_run(run_id: int) -> int:
    return services.process_run(run_id=run_id)

"""Celery tasks for the queue: thin wrappers over the services."""

from celery import shared_task

import evalplatform.celery_app  # noqa: F401  (the app these shared tasks bind to, loaded with them)
from evalplatform.assignments import services


@shared_task(acks_late=True)
def expire_leases() -> int:
    """Periodic: return lapsed leases of every project to the queue (claims also do it lazily)."""
    return services.expire_leases()

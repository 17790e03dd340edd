"""Celery tasks of suites: thin wrappers that take ids and call the services."""

from __future__ import annotations

from celery import shared_task

from evalplatform.suites import webhooks


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=(webhooks.WebhookError,),
             retry_backoff=True, retry_backoff_max=300, max_retries=6)
def send_webhook(self, delivery_id: int) -> None:
    """POST one signed event; retried with backoff while the receiver fails, then marked failed."""
    try:
        webhooks.deliver(delivery_id=delivery_id)
    except webhooks.WebhookError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            webhooks.give_up(delivery_id=delivery_id, error=f"gave up after {self.request.retries + 1} attempts: {exc}")
            if self.request.is_eager:
                return
        raise

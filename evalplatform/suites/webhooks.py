"""Signed webhook events: a pipeline waits for "round.report_ready" instead of polling.

Each event is a ``WebhookDelivery`` row written in the transaction that decides to send it; a Celery
task (``suites.tasks.send_webhook``) enqueued on commit POSTs it, retrying with backoff.  The request
carries:

* ``X-Eval-Event``: the event name, ``X-Eval-Delivery``: the delivery id (a receiver dedupes on it);
* ``X-Eval-Timestamp``: Unix seconds when the attempt was signed;
* ``X-Eval-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed by the suite's secret, of
  ``"<timestamp>." + body`` (the raw body bytes).  A receiver recomputes it over the bytes it got,
  compares in constant time (``verify``) and refuses stale timestamps, so a replayed request fails.

Sent with the standard library (``urllib``), redirects not followed (a redirect would re-send the
signed body somewhere the lead did not name).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from evalplatform.dispatch import enqueue
from evalplatform.reports.models import AgreementReport
from evalplatform.suites.models import Round, Suite, WebhookDelivery

log = logging.getLogger(__name__)
TIMEOUT = 10  # seconds per attempt
SIGNATURE_HEADER = "X-Eval-Signature"
#: The task that sends a delivery, by name (``tasks.py`` imports this module, not the reverse).
SEND_TASK = "evalplatform.suites.tasks.send_webhook"
TIMESTAMP_HEADER = "X-Eval-Timestamp"


class WebhookError(Exception):
    """The receiver did not take the event (network error or a non-2xx answer): retried."""


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``timestamp + "." + body`` keyed by ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, body: bytes, timestamp: str, signature: str, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does: the signature matches and the timestamp is within ``tolerance`` seconds."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, body, timestamp), signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx surfaces as an HTTPError: a failed attempt


_opener = urllib.request.build_opener(_NoRedirect)


def queue_event(*, suite: Suite, event: str, payload: dict[str, Any]) -> WebhookDelivery | None:
    """Record one event for the suite's webhook and send it after commit (None: no webhook set)."""
    if not suite.webhook_url:
        return None
    delivery = WebhookDelivery.objects.create(
        suite=suite, event=event, url=suite.webhook_url, payload={"event": event, **payload}
    )
    transaction.on_commit(lambda: _enqueue(SEND_TASK, delivery.pk))
    return delivery


def _enqueue(task: str, delivery_id: int) -> None:
    try:
        enqueue(task, delivery_id)
    except Exception:  # broker down: the row stays pending, and says so
        log.warning("webhook delivery %s: could not enqueue", delivery_id, exc_info=True)
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
            error="could not enqueue the delivery (broker unreachable)"
        )


def deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """POST one pending delivery; ``WebhookError`` when the receiver did not take it (the task retries)."""
    delivery = WebhookDelivery.objects.select_related("suite").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery  # sent already (a redelivered task), or gone
    body = body_of(delivery.payload)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(delivery.url, data=body, method="POST", headers={  # noqa: S310 (http/https only: URLField)
        "Content-Type": "application/json",
        "User-Agent": "evalplatform-webhook",
        "X-Eval-Event": delivery.event,
        "X-Eval-Delivery": str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(delivery.suite.webhook_secret, body, timestamp),
    })
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        _failed(delivery, f"HTTP {exc.code} from the receiver", exc.code)
        raise WebhookError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        _failed(delivery, f"could not reach the receiver: {exc}", None)
        raise WebhookError(str(exc)) from exc
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.SENT, response_status=status, sent_at=timezone.now(), error=""
    )
    return WebhookDelivery.objects.get(pk=delivery.pk)


def _failed(delivery: WebhookDelivery, error: str, status: int | None) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(error=error[:2000], response_status=status)


def give_up(*, delivery_id: int, error: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, error=error[:2000]
    )


def report_done(report: AgreementReport) -> None:
    """The reports app's done hook: when the report is a round's, tell the suite's webhook (and raise
    its drift alerts)."""
    round_ = Round.objects.select_related("suite", "project").filter(project_id=report.project_id).first()
    if round_ is None or not round_.suite.webhook_url:
        return
    section = (report.result or {}).get("round") or {}
    payload = {
        "suite": {"id": round_.suite.pk, "slug": round_.suite.slug},
        "round": {"number": round_.number, "project": round_.project.slug},
        "report": {"id": report.pk, "data_seq": report.data_seq, "n_ratings": report.n_ratings,
                   "api_url": reverse("api-report", args=[report.pk])},
        "gate_api_url": reverse("api-suite-gate", args=[round_.suite.pk]),
        "alerts": section.get("alerts", []),
    }
    with transaction.atomic():
        queue_event(suite=round_.suite, event="round.report_ready", payload=payload)
        if payload["alerts"]:
            queue_event(suite=round_.suite, event="round.drift_alert", payload=payload)

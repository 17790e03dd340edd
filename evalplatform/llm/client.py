"""Calling an endpoint: the maintained ``openai`` client, within the endpoint's limits, with retries.

The client's own retries are off (``max_retries=0``): every attempt here first takes a rate slot
(``limits``), so a retry counts against the endpoint's rate like any request, and a 429's
``Retry-After`` is honoured across workers.  429, 5xx, timeouts and connection errors are retried with
exponential backoff and jitter, up to the endpoint's ``max_retries``; any other error (400, 401, 404)
fails the call at once.  No key ever reaches a log line or an error text: errors are redacted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from evalplatform.llm.limits import wait_for_rate_slot
from evalplatform.llm.models import ModelEndpoint
from evalplatform.llm.secrets import api_key_for, redact

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
_clients: dict[tuple[int, str, str, float], openai.OpenAI] = {}
_clients_lock = threading.Lock()


class CallFailed(Exception):
    """The endpoint did not answer usefully; ``retryable`` says whether a later run may try again."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Completion:
    content: str
    model_name: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int
    attempts: int


def max_backoff() -> float:
    return float(getattr(settings, "EVAL_LLM_MAX_BACKOFF", 30.0))


def client_for(endpoint: ModelEndpoint) -> openai.OpenAI:
    """One client (and connection pool) per endpoint configuration per process."""
    import openai  # here, not at the top: every `generate`/`judge --help` would load it (~0.5 s)

    key = api_key_for(endpoint)
    ident = (endpoint.pk, endpoint.base_url, key, endpoint.timeout_seconds)
    with _clients_lock:
        client = _clients.get(ident)
        if client is None:
            client = openai.OpenAI(base_url=endpoint.base_url, api_key=key, max_retries=0,
                                   timeout=endpoint.timeout_seconds)
            _clients[ident] = client
        return client


def _retry_after(exc: openai.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def complete(
    endpoint: ModelEndpoint, messages: list[dict[str, str]], *, response_format: dict[str, Any] | None = None,
    before_attempt: Callable[[int], None] | None = None, sleep: Callable[[float], None] = time.sleep,
) -> Completion:
    """One chat completion from the endpoint, within its limits, retried on 429 and 5xx.

    ``before_attempt(n)`` runs before each attempt (the caller extends its leases there).
    """
    import openai

    client = client_for(endpoint)
    secret = api_key_for(endpoint)
    params: dict[str, Any] = endpoint.parameters()
    if response_format is not None:
        params["response_format"] = response_format
    cap = max_backoff()
    attempt = 0
    while True:
        attempt += 1
        if before_attempt is not None:
            before_attempt(attempt)
        wait_for_rate_slot(endpoint.pk, endpoint.requests_per_minute, sleep=sleep)
        started = time.monotonic()
        try:
            answer = client.chat.completions.create(model=endpoint.model, messages=messages, **params)  # type: ignore[arg-type]
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status == 429 or status >= 500
            body = exc.body if isinstance(exc.body, dict) else {}
            reason = redact(f"HTTP {status}: {body.get('message') or exc.message}", secret)
            if not retryable or attempt > endpoint.max_retries:
                raise CallFailed(reason, retryable=retryable, status=status) from None
            pause = _retry_after(exc) if status == 429 else None
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            reason = redact(f"{type(exc).__name__}: {exc}", secret)
            if attempt > endpoint.max_retries:
                raise CallFailed(reason, retryable=True) from None
            pause = None
        else:
            latency = int((time.monotonic() - started) * 1000)
            choice = answer.choices[0] if answer.choices else None
            content = (choice.message.content or "") if choice is not None else ""
            usage = answer.usage
            return Completion(
                content=content, model_name=answer.model or endpoint.model,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                latency_ms=latency, attempts=attempt,
            )
        if pause is None:
            pause = min(cap, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        log.info("endpoint %s: %s; retry %d of %d in %.2fs", endpoint.name, reason, attempt,
                 endpoint.max_retries, pause)
        sleep(min(pause, cap))

"""Per-endpoint rate and concurrency limits that hold across every worker process and machine.

Both live in Django's cache, which is Redis in production (``REDIS_URL``) and shared memory of one
process in the embedded mode; each step is a single atomic ``cache.add`` (Redis ``SET NX``), so two
workers can never both take the same place:

- **rate**: time is cut into slots of ``60 / requests_per_minute`` seconds and a request may start
  only after taking its slot's key.  At most one request starts per slot, so any window of ``T``
  seconds sees at most ``T / interval + 1`` requests.
- **concurrency**: ``max_concurrency`` numbered keys; a call in flight holds one.  Each key expires on
  its own (``lease``), so the place of a worker killed mid-call comes back without anyone's help.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.cache import cache

PREFIX = "llm:limit"


def wait_for_rate_slot(endpoint_id: int, per_minute: int, *, sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.time) -> float:
    """Block until this process may start a request to the endpoint; returns the seconds waited."""
    interval = 60.0 / per_minute
    waited = 0.0
    while True:
        now = clock()
        slot = int(now // interval)
        if cache.add(f"{PREFIX}:rate:{endpoint_id}:{slot}", 1, timeout=max(1, int(interval * 2) + 1)):
            return waited
        pause = max(0.001, (slot + 1) * interval - now)
        sleep(pause)
        waited += pause


class ConcurrencySlot:
    """One of the endpoint's ``limit`` places for a call in flight, or ``None`` from ``take``."""

    def __init__(self, key: str, token: str):
        self.key, self.token = key, token

    @classmethod
    def take(cls, endpoint_id: int, limit: int, lease: float) -> ConcurrencySlot | None:
        token = uuid.uuid4().hex
        for i in range(limit):
            key = f"{PREFIX}:busy:{endpoint_id}:{i}"
            if cache.add(key, token, timeout=max(1, int(lease) + 1)):
                return cls(key, token)
        return None

    def extend(self, lease: float) -> None:
        """Keep holding the place for another ``lease`` seconds (before each attempt of a long call)."""
        if cache.get(self.key) == self.token:
            cache.touch(self.key, max(1, int(lease) + 1))

    def release(self) -> None:
        # Only our own: if the lease lapsed and another worker took the place, leave theirs alone.
        if cache.get(self.key) == self.token:
            cache.delete(self.key)

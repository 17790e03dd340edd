"""A brake on password guessing, shared by every way to log in: the login page and the API's token.

Failures are counted in three places, each slowing down what it stands for with a delay that
doubles with every failure past a free allowance, never with a hard block:

- one account from one client (``pair``): someone guessing a password from their own address;
- one client, whatever the account (``address``): someone trying many accounts;
- one account, whatever the client (``account``): guessing spread over many addresses.  Its delay
  stops growing at ``EVAL_LOGIN_ACCOUNT_MAX_DELAY`` (a minute by default), so nobody can lock an
  account's owner out by failing on purpose; the owner waits at most that long.

The client is ``REMOTE_ADDR``, or with ``EVAL_NUM_PROXIES`` set (the number of trusted proxies in
front, as DRF's ``NUM_PROXIES``), the address those proxies put in ``X-Forwarded-For``
(``EVAL_CLIENT_IP_HEADER``); a client cannot forge it, since the proxies append what they saw.
Counters live in the ``login`` cache, which is Redis when ``REDIS_URL`` is set and a directory under
``var/`` otherwise, so every web process (gunicorn workers included) counts into the same ones.
A success clears the account's and the pair's counts.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

MAX_FAILURES = getattr(settings, "EVAL_LOGIN_MAX_FAILURES", 10)  # free failures before any delay
WINDOW_SECONDS = getattr(settings, "EVAL_LOGIN_WINDOW_SECONDS", 900)  # a count lasts this long after its last failure
MAX_DELAY = getattr(settings, "EVAL_LOGIN_MAX_DELAY", 900)
ACCOUNT_MAX_DELAY = getattr(settings, "EVAL_LOGIN_ACCOUNT_MAX_DELAY", 60)


@dataclass(frozen=True)
class Counter:
    key: str
    cap: float  # the longest delay this counter imposes, in seconds


def _cache():
    return caches["login"] if "login" in settings.CACHES else caches["default"]


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or the one the trusted proxies recorded."""
    remote = request.META.get("REMOTE_ADDR") or "?"
    proxies = int(getattr(settings, "EVAL_NUM_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    header = getattr(settings, "EVAL_CLIENT_IP_HEADER", "HTTP_X_FORWARDED_FOR")
    hops = [part.strip() for part in (request.META.get(header) or "").split(",") if part.strip()]
    if not hops:
        return remote
    # Each trusted proxy appends the address it saw: the client is the last one the nearest
    # ``proxies`` did not add.  Anything further left came from the client and proves nothing.
    return hops[-min(proxies, len(hops))][:64]


def _digest(text: str) -> str:
    # Hashed: a username typed at the login form may hold anything, and cache keys may not.
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:40]


def failure_keys(request, username: str) -> list[Counter]:
    """The counters an attempt to log in as ``username`` from this request's client adds to."""
    name = _digest(username.strip().lower()[:150])
    address = _digest(client_address(request))
    return [
        Counter(f"login-fail:pair:{name}:{address}", MAX_DELAY),
        Counter(f"login-fail:ip:{address}", MAX_DELAY),
        Counter(f"login-fail:user:{name}", ACCOUNT_MAX_DELAY),
    ]


def delay_after(failures: int, cap: float) -> float:
    """Seconds to wait after the ``failures``-th failure: none within the allowance, then 1, 2, 4, ..."""
    if failures < MAX_FAILURES:
        return 0.0
    return float(min(cap, 2 ** min(failures - MAX_FAILURES, 30)))


def wait_seconds(keys: list[Counter], *, now: float | None = None) -> int:
    """How long this attempt must wait (0: it may go ahead)."""
    now = time.time() if now is None else now
    until = _cache().get_many([f"{c.key}:until" for c in keys])
    longest = max((float(t) - now for t in until.values()), default=0.0)
    return math.ceil(longest) if longest > 0 else 0


def blocked(keys: list[Counter]) -> bool:
    return wait_seconds(keys) > 0


def count_failure(keys: list[Counter], *, now: float | None = None) -> None:
    cache = _cache()
    now = time.time() if now is None else now
    for counter in keys:
        if cache.add(counter.key, 1, WINDOW_SECONDS):
            failures = 1
        else:
            try:
                failures = cache.incr(counter.key)
            except ValueError:  # expired between add and incr
                cache.add(counter.key, 1, WINDOW_SECONDS)
                failures = 1
            cache.touch(counter.key, WINDOW_SECONDS)
        delay = delay_after(failures, counter.cap)
        if delay:
            cache.set(f"{counter.key}:until", now + delay, int(delay) + 1)


def count_success(keys: list[Counter]) -> None:
    pair, _address, account = keys
    _cache().delete_many([pair.key, f"{pair.key}:until", account.key, f"{account.key}:until"])

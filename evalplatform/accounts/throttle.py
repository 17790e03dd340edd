"""A brake on password guessing, shared by every way to log in: the login page and the API's token.

Failed attempts are counted per address and per username: the address stops one client trying many
passwords or many accounts, the username stops many addresses trying one account.  A success clears
the username's count.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

MAX_FAILURES = getattr(settings, "EVAL_LOGIN_MAX_FAILURES", 10)
WINDOW_SECONDS = getattr(settings, "EVAL_LOGIN_WINDOW_SECONDS", 300)


def failure_keys(request, username: str) -> list[str]:
    """The counters an attempt to log in as ``username`` from this request's address adds to."""
    address = request.META.get("REMOTE_ADDR", "?")
    # Hashed: a username typed at the login form may hold anything, and cache keys may not.
    name = hashlib.sha256(username.strip().lower()[:150].encode("utf-8", "replace")).hexdigest()
    return [f"login-fail:ip:{address}", f"login-fail:user:{name}"]


def blocked(keys: list[str]) -> bool:
    return any((cache.get(key) or 0) >= MAX_FAILURES for key in keys)


def count_failure(keys: list[str]) -> None:
    for key in keys:
        if not cache.add(key, 1, WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, WINDOW_SECONDS)


def count_success(keys: list[str]) -> None:
    cache.delete(keys[1])

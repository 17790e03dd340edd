"""Login with a brake on guessing: failed attempts are counted per address and per username."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpResponse
from django.template.loader import render_to_string

MAX_FAILURES = getattr(settings, "EVAL_LOGIN_MAX_FAILURES", 10)
WINDOW_SECONDS = getattr(settings, "EVAL_LOGIN_WINDOW_SECONDS", 300)


def _keys(request) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "?")
    username = (request.POST.get("username") or "").strip().lower()[:150]
    return [f"login-fail:ip:{address}", f"login-fail:user:{username}"]


def _blocked(keys: list[str]) -> bool:
    return any((cache.get(key) or 0) >= MAX_FAILURES for key in keys)


def _count_failure(keys: list[str]) -> None:
    for key in keys:
        if not cache.add(key, 1, WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, WINDOW_SECONDS)


class ThrottledLoginView(auth_views.LoginView):
    """Django's login, refusing further attempts for a while after repeated failures.

    Counting both the address and the username stops one address trying many passwords and many
    addresses trying one account; a successful login clears the username's count.
    """

    def post(self, request, *args, **kwargs):
        keys = _keys(request)
        if _blocked(keys):
            body = render_to_string("registration/throttled.html", {"minutes": WINDOW_SECONDS // 60}, request)
            response = HttpResponse(body, status=429)
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            cache.delete(keys[1])
        else:
            _count_failure(keys)
        return response

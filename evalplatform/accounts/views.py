"""Login with a brake on guessing (``accounts.throttle``): failed attempts slow down further ones, per
account, per client and per account from one client."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.template.loader import render_to_string

from evalplatform.accounts import throttle
from evalplatform.accounts.throttle import MAX_FAILURES, WINDOW_SECONDS

__all__ = ["MAX_FAILURES", "WINDOW_SECONDS", "ThrottledLoginView"]


class ThrottledLoginView(auth_views.LoginView):
    """Django's login, refusing further attempts for a while after repeated failures."""

    def post(self, request, *args, **kwargs):
        keys = throttle.failure_keys(request, request.POST.get("username") or "")
        wait = throttle.wait_seconds(keys)
        if wait:
            body = render_to_string("registration/throttled.html", {"seconds": wait}, request)
            response = HttpResponse(body, status=429)
            response["Retry-After"] = str(wait)
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.count_success(keys)
        else:
            throttle.count_failure(keys)
        return response

"""Answers given before or instead of a view: a body too large to read (413), a lost database (503).

A connection dropped mid-request (a database restart, a failover, a network blip) rolls the
transaction back, so nothing half-written remains; the client is told to retry, and the retry is
safe because submitting is idempotent.  Django closes the broken connection at the end of the
request, so the retry gets a fresh one.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse

from evalplatform.projects.uploads import size_text

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
DJANGO_DEFAULT_FIELDS_LIMIT = 2_621_440  # Django's own DATA_UPLOAD_MAX_MEMORY_SIZE default


class RequestSizeLimitMiddleware:
    """Refuse, with 413, a request body larger than any page or endpoint takes, before anything reads it.

    Django's CSRF check reads a POSTed form, file parts included, before any view runs, so without this
    anyone (logged in or not) could make the server spool a body of any size to disk.  The largest body
    accepted is one upload (``EVAL_MAX_UPLOAD_BYTES``) plus the other fields of its form
    (``DATA_UPLOAD_MAX_MEMORY_SIZE``); a file over the upload limit but within that margin reaches the
    view, which refuses it with a form error (pages) or 413 (API), naming the limit.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        upload_limit = settings.EVAL_MAX_UPLOAD_BYTES
        if length > upload_limit + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DJANGO_DEFAULT_FIELDS_LIMIT):
            message = f"The request is larger than the upload limit of {size_text(upload_limit)}; nothing was saved."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


MAX_ID = 2**63 - 1  # the largest value a database integer column (bigint) holds


class OutOfRangeIdMiddleware:
    """A number in a URL larger than any column holds names nothing: 404, before the database is asked.

    ``<int:...>`` matches any run of digits, and a value past 2**63 - 1 made the database driver
    raise (a 500) wherever a view looked it up (``/projects/x/members/99999999999999999999999/pause/``).
    One check here covers every URL, present and future.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any(isinstance(v, int) and not -MAX_ID - 1 <= v <= MAX_ID for v in (*view_args, *view_kwargs.values())):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Not found."}, status=404)
            raise Http404("No such object.")
        return None


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        response = JsonResponse(
            {"detail": "The database was unavailable, so nothing was saved. Please retry the request; "
                       "retrying is safe (a rating is never recorded twice).", "retryable": True},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

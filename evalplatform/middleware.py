"""Turn a lost database connection into an answer the client can act on: 503, retry.

A connection dropped mid-request (a database restart, a failover, a network blip) rolls the
transaction back, so nothing half-written remains; the client is told to retry, and the retry is
safe because submitting is idempotent.  Django closes the broken connection at the end of the
request, so the retry gets a fresh one.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2


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

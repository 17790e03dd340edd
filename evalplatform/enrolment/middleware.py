"""An external worker's session reaches its project's pages and nothing else.

A worker's account has no password, so it cannot log in through the login page or get an API token;
its session comes from the entry link alone.  This keeps that session to the rater pages of its one
project (and to the entry and completion pages): the API, the home page's list, the admin, other
projects and account pages are a 404 (the home page sends the worker back to rating).  Lead pages of
its own project were already closed to it by role.
"""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import redirect

from evalplatform.enrolment.workforce import is_finished, worker_of

#: Paths any worker may open, besides its project's pages under ``/projects/<slug>/``.
OPEN_PREFIXES = ("/enter/", "/static/", "/favicon.ico", "/health/", "/accounts/logout/")


class WorkerScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        # Cheap for everyone else: only an account without a usable password is looked up.
        worker = worker_of(user) if user is not None and user.is_authenticated else None
        if worker is None:
            return self.get_response(request)
        path = request.path
        project_prefix = f"/projects/{worker.project.slug}/"
        if path.startswith(project_prefix) or path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if path == "/":  # "back to your projects": the worker has one, or is done with it
            return redirect("enrolment-complete") if is_finished(worker) else redirect("rate", worker.project.slug)
        if path.startswith("/api/"):
            return JsonResponse({"detail": "Not found."}, status=404)
        raise Http404("No such page.")

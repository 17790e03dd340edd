"""URL map: each app owns its pages (``<app>/urls.py``); the API lives under /api/ (``evalplatform/api.py``)."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from evalplatform.accounts.views import ThrottledLoginView
from evalplatform.health import health

urlpatterns = [
    path("health/", health, name="health"),
    # Browsers ask for /favicon.ico on pages that name no icon (the API's, files, errors).
    # (lazy: the static file's hashed name is known only once the manifest is read, at the first request)
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True), name="favicon"),
    # One login for everyone, with its brake on password guessing (the admin's own login has none).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("evalplatform.api")),
    path("", include("evalplatform.ratings.urls")),
    path("", include("evalplatform.reports.urls")),
    path("", include("evalplatform.comparisons.urls")),
    path("", include("evalplatform.quality.urls")),
    path("", include("evalplatform.llm.urls")),
    path("", include("evalplatform.suites.urls")),
    path("", include("evalplatform.training.urls")),
    path("", include("evalplatform.enrolment.urls")),
    path("", include("evalplatform.projects.urls")),
]


def _not_found(request, exception):
    """The API answers an unknown address in JSON, as its documented 404; pages keep Django's page."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = _not_found

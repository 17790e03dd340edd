"""URL map: each app owns its pages (``<app>/urls.py``); the API lives under /api/ (``evalplatform/api.py``)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from evalplatform.accounts.views import ThrottledLoginView
from evalplatform.health import health

urlpatterns = [
    path("health/", health, name="health"),
    # One login for everyone, with its brake on password guessing (the admin's own login has none).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("evalplatform.api")),
    path("", include("evalplatform.assignments.urls")),
    path("", include("evalplatform.reports.urls")),
    path("", include("evalplatform.comparisons.urls")),
    path("", include("evalplatform.quality.urls")),
    path("", include("evalplatform.projects.urls")),
]

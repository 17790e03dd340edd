"""URL map: each app owns its pages (``<app>/urls.py``); the API lives under /api/ (``evalplatform/api.py``)."""

from django.contrib import admin
from django.urls import include, path

from evalplatform.health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("evalplatform.api")),
    path("", include("evalplatform.assignments.urls")),
    path("", include("evalplatform.reports.urls")),
    path("", include("evalplatform.projects.urls")),
]

"""URL map: each app owns its pages (``<app>/urls.py``) and its API (``<app>/api.py``)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("evalplatform.projects.urls")),
]

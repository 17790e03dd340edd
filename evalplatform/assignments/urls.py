"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

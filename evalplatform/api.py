"""The REST API's root: authentication, the OpenAPI schema and docs, and each app's endpoints."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

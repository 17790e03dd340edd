"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


class URLField(models.URLField):
    """Django's ``URLField`` whose form field completes a bare host name with ``https://``.

    That is Django 6's default; Django 5.2 warns (``RemovedInDjango60Warning``) on every form built
    from a ``URLField`` that does not choose.  An API base URL or a webhook without a scheme is meant
    to be https.  Migrations see Django's own field (``deconstruct``): nothing in the database changes.
    """

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"assume_scheme": "https", **kwargs})

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs

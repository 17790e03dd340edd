"""People and automated judges who rate.  Custom from the first migration, as Django advises."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A login.  Staff users are admins; project roles live on ``projects.Membership``.

    Automated raters (LLM judges such as ``judge:gpt-x``) are users too, so their ratings share the
    same tables, but they cannot log in, are never served queue items and never count toward overlap.
    """

    is_automated = models.BooleanField(
        default=False, help_text="An automated judge: never served items, left out of human agreement."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_automated=False) | models.Q(is_active=False),
                name="automated_raters_cannot_log_in",
            )
        ]

    def __str__(self) -> str:
        return self.username

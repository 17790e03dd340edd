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

    # A new password (set by its owner, an admin's reset, ``changepassword`` or a reset link) ends every
    # API token: a token is as good as the password it was obtained with, so one obtained before the
    # change (by whoever made the change necessary) must stop working with it.  Done in ``save()``,
    # where every one of those ways ends, rather than in each view that sets a password.
    _password_unusable_set = False

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_unusable_set = True

    def save(self, *args, **kwargs) -> None:
        # ``_password`` holds the new raw password between ``set_password`` and ``save`` (Django's own
        # mark of a change; a hash upgrade at login clears it, so a login never revokes anything).
        replaced = self.pk is not None and (getattr(self, "_password", None) is not None or self._password_unusable_set)
        self._password_unusable_set = False
        super().save(*args, **kwargs)
        if replaced:
            from evalplatform.accounts.tokens import revoke_tokens

            revoke_tokens(self)

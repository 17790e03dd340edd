"""API tokens: how long one lasts, and ending them when the password they stand for changes.

A token is obtained with a username and password (``POST /api/auth/token/``) and then stands for
them.  It ends when the user's password changes (``User.save`` calls ``revoke_tokens``), when its
owner deletes it, and ``EVAL_TOKEN_MAX_AGE_HOURS`` after it was issued (0: never); asking for a
token again returns the current one while it is valid and a fresh one after it expired.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def max_age() -> timedelta | None:
    hours = float(getattr(settings, "EVAL_TOKEN_MAX_AGE_HOURS", 0) or 0)
    return timedelta(hours=hours) if hours > 0 else None


def is_expired(token: Token, *, now=None) -> bool:
    age = max_age()
    return age is not None and token.created + age <= (now or timezone.now())


def revoke_tokens(user) -> int:
    """End every API token of ``user``; returns how many there were."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


def current_token(user) -> Token:
    """The user's valid token, or a new one in place of an expired one (or of none)."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token older than ``EVAL_TOKEN_MAX_AGE_HOURS``."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed("Token expired; obtain a new one from /api/auth/token/.")
        return user, token

"""Accounts: the people (and automated judges) who use the platform.  Every write to users goes here."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

User = get_user_model()


@transaction.atomic
def create_user(*, username: str, password: str, email: str = "", is_staff: bool = False):
    """Create a login.  The password must pass the project's ``AUTH_PASSWORD_VALIDATORS``.

    Raises ``ValidationError`` keyed by field (``username``, ``email``, ``password``) with every
    problem found, before anything is written.
    """
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
        if not username:
            raise ValidationError("a username is required")
    except ValidationError as exc:
        errors["username"] = exc.messages
    else:
        if User.objects.filter(username__iexact=username).exists():
            errors["username"] = [f"the username {username!r} is taken"]
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = exc.messages
    candidate = User(username=username, email=email)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    user = User(username=username, email=email, is_staff=is_staff)
    user.set_password(password)
    user.save()
    return user

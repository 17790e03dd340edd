"""Accounts: the people (and automated judges) who use the platform.  Every write to users goes here."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

User = get_user_model()


USERNAME_MAX = 150
USERNAME_RULE = "letters, digits and @ . + - _ only (no spaces, slashes or line breaks), at most 150 characters"
_username_validator = UnicodeUsernameValidator()


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot name an account, or None: the one rule for every way an account is made
    (the admin, the API, a ratings import).  Names differing only in case are one name: see callers."""
    if not username:
        return "a username is required"
    if len(username) > USERNAME_MAX:
        return f"at most {USERNAME_MAX} characters (got {len(username)})"
    try:
        _username_validator(username)
    except ValidationError:
        return f"{username[:60]!r} is not a valid username: {USERNAME_RULE}"
    return None


@transaction.atomic
def create_user(*, username: str, password: str, email: str = "", is_staff: bool = False):
    """Create a login.  The password must pass the project's ``AUTH_PASSWORD_VALIDATORS``.

    Raises ``ValidationError`` keyed by field (``username``, ``email``, ``password``) with every
    problem found, before anything is written.
    """
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    problem = username_problem(username)
    if problem:
        errors["username"] = [problem]
    elif User.objects.filter(username__iexact=username).exists():
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

"""Enrolment: how raters get into a project without an admin making their account.

* **Invitations.**  A lead invites by e-mail (one person, single use) or makes a shareable link with
  an expiry and a number of seats.  The invitee picks a username (``accounts.services.username_problem``,
  the one rule) and a password (``AUTH_PASSWORD_VALIDATORS``), or, already logged in, just joins.
  Tokens are 256 random bits; only their SHA-256 is stored.  A seat is taken by a conditional update
  (``seats_used < seats``) in the transaction that adds the member, backed by a ``CheckConstraint``.
* **Entry links** for external workforces live in ``evalplatform.enrolment.workforce``.

Every write here is a keyword-only function that validates first and runs in one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evalplatform.accounts.services import create_user
from evalplatform.enrolment.models import Invitation, Redemption
from evalplatform.projects.models import Membership, Project

User = get_user_model()

#: Longest an invitation may stay open, and the default.
MAX_DAYS = 90
DEFAULT_DAYS = 7
MAX_SEATS = 10_000


class InvitationError(ValidationError):
    """An invitation cannot be made as asked (field-keyed messages)."""


class InvitationUnusable(Exception):
    """The token names no invitation that can be used now; ``reason`` says which case, for the page."""

    MESSAGES = {
        "unknown": "This invitation link is not valid. Check that you copied all of it, or ask for a new one.",
        "expired": "This invitation has expired. Ask the project's lead for a new one.",
        "revoked": "This invitation was withdrawn by the project's lead.",
        "used": "This invitation has already been used. Log in with the account made with it.",
        "full": "Every place offered by this invitation link has been taken. Ask the project's lead for another.",
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.MESSAGES[reason])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _expiry(days: float | None, now: datetime) -> datetime:
    days = DEFAULT_DAYS if days is None else days
    if not 0 < days <= MAX_DAYS:
        raise InvitationError({"expires_in_days": [f"between 0 and {MAX_DAYS} days (got {days})"]})
    return now + timedelta(days=days)


@dataclass(frozen=True)
class Issued:
    """A new invitation and its token: the only time the token exists outside the invitee's hands."""

    invitation: Invitation
    token: str


def invite_by_email(
    *, project: Project, email: str, invited_by, accept_url, expires_in_days: float | None = None,
    now: datetime | None = None,
) -> Issued:
    """Invite ``email`` to rate in ``project``: a single-use invitation, mailed after the commit.

    ``accept_url(token)`` makes the absolute URL the e-mail carries (the caller knows the host).
    """
    now = now or timezone.now()
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvitationError({"email": exc.messages}) from exc
    expires_at = _expiry(expires_in_days, now)
    token = new_token()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            project=project, kind=Invitation.Kind.EMAIL, email=email, token_hash=hash_token(token), seats=1,
            expires_at=expires_at, created_by=invited_by,
        )
        url = accept_url(token)
        inviter = getattr(invited_by, "username", "") or "A project lead"
        subject = f"You are invited to rate in {project.name}"
        body = (
            f"{inviter} invites you to rate in the project {project.name!r} on evalplatform.\n\n"
            f"Open this link to choose a username and password (or to join with the account you have):\n{url}\n\n"
            f"The link works once and until {expires_at:%Y-%m-%d %H:%M} UTC.\n"
        )
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return Issued(invitation, token)


def create_invitation_link(
    *, project: Project, seats: int, created_by, expires_in_days: float | None = None, now: datetime | None = None,
) -> Issued:
    """A shareable link through which up to ``seats`` people may join ``project`` as raters."""
    now = now or timezone.now()
    if not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS:
        raise InvitationError({"seats": [f"a whole number from 1 to {MAX_SEATS} (got {seats!r})"]})
    expires_at = _expiry(expires_in_days, now)
    token = new_token()
    invitation = Invitation.objects.create(
        project=project, kind=Invitation.Kind.LINK, token_hash=hash_token(token), seats=seats,
        expires_at=expires_at, created_by=created_by,
    )
    return Issued(invitation, token)


def revoke_invitation(*, invitation: Invitation, now: datetime | None = None) -> Invitation:
    """Withdraw an invitation: its link gives the "withdrawn" page from now on (idempotent)."""
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now())
    invitation.refresh_from_db(fields=["revoked_at"])
    return invitation


def invitation_state(invitation: Invitation, *, now: datetime | None = None) -> str:
    """``"open"``, or why it cannot be used: ``"revoked"``, ``"expired"``, ``"used"``, ``"full"``."""
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or timezone.now()):
        return "expired"
    if invitation.seats_used >= invitation.seats:
        return "used" if invitation.kind == Invitation.Kind.EMAIL else "full"
    return "open"


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The open invitation ``token`` stands for, or ``InvitationUnusable`` saying why not."""
    invitation = (
        Invitation.objects.select_related("project").filter(token_hash=hash_token(token or "")).first()
        if token and len(token) <= 100 else None
    )
    if invitation is None:
        raise InvitationUnusable("unknown")
    state = invitation_state(invitation, now=now)
    if state != "open":
        raise InvitationUnusable(state)
    return invitation


def _take_seat(invitation: Invitation, user, now: datetime) -> Membership:
    """Inside a transaction: add ``user`` as a rater through ``invitation``, taking one seat.

    Someone already in the project takes no seat (and a lead stays a lead).  The seat is taken by one
    conditional UPDATE, so of two redemptions racing for the last seat exactly one matches a row.
    """
    membership = Membership.objects.filter(project_id=invitation.project_id, user=user).first()
    if membership is not None:
        return membership
    taken = Invitation.objects.filter(
        pk=invitation.pk, revoked_at__isnull=True, expires_at__gt=now, seats_used__lt=F("seats"),
    ).update(seats_used=F("seats_used") + 1)
    if not taken:
        invitation.refresh_from_db()
        state = invitation_state(invitation, now=now)
        raise InvitationUnusable("full" if state == "open" else state)
    Redemption.objects.create(invitation=invitation, user=user)
    return Membership.objects.create(project_id=invitation.project_id, user=user, role=Membership.Role.RATER)


def accept_invitation(*, token: str, user, now: datetime | None = None) -> Membership:
    """A logged-in user joins the invitation's project as a rater (no new account)."""
    now = now or timezone.now()
    if getattr(user, "is_automated", False) or not user.has_usable_password():
        # automated judges and external workers (no password) never join through an invitation
        raise InvitationUnusable("unknown")
    with transaction.atomic():
        invitation = invitation_for_token(token, now=now)
        return _take_seat(invitation, user, now)


def accept_with_new_account(*, token: str, username: str, password: str, now: datetime | None = None):
    """Make an account (username by the one rule, password by the validators) and join the invitation's
    project as a rater, in one transaction: a refused password or a taken seat writes nothing.

    Raises ``ValidationError`` keyed by field, or ``InvitationUnusable``.  Returns the new user.
    """
    now = now or timezone.now()
    with transaction.atomic():
        invitation = invitation_for_token(token, now=now)
        user = create_user(username=username, password=password, email=invitation.email)
        _take_seat(invitation, user, now)
    return user

"""How people get into a project: invitations (by e-mail or a shareable link) and external-workforce
entry links (Prolific, Mechanical Turk and the like).

Tokens are never stored: an invitation keeps the SHA-256 of its random token, and an entry link's URL
carries a signature over the project and link ids (``services.entry_link_token``), so a database
dump opens nothing.  Seats are counted in the row with a conditional ``F()`` update that the
``CheckConstraint`` backs: two redemptions of the last seat cannot both succeed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Invitation(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail (one person, single use)"
        LINK = "link", "Shareable link (several seats)"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    email = models.EmailField(blank=True, help_text="Who an e-mail invitation was sent to.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token; the token is never stored.")
    seats = models.PositiveIntegerField(default=1, help_text="How many people may join through it.")
    seats_used = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(seats__gte=1), name="invitation_seats_positive"),
            models.CheckConstraint(condition=Q(seats_used__lte=F("seats")), name="invitation_seats_used_within_seats"),
            models.CheckConstraint(
                condition=Q(kind="link", email="") | Q(kind="email", seats=1) & ~Q(email=""),
                name="invitation_email_xor_link",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} to {self.project_id} ({self.kind})"


class Redemption(models.Model):
    """Who joined through an invitation (one seat each; a second visit by the same person takes none)."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invitation", "user"], name="redemption_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} through invitation {self.invitation_id}"


class EntryLink(models.Model):
    """A project's door for an external workforce: the platform appends the worker's id to the URL."""

    class Platform(models.TextChoices):
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "Mechanical Turk"
        OTHER = "other", "Other"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="entry_links")
    label = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.PROLIFIC)
    worker_param = models.CharField(max_length=50, help_text="The URL parameter carrying the worker's id.")
    study_param = models.CharField(max_length=50, blank=True, help_text="The URL parameter carrying the study id.")
    session_param = models.CharField(max_length=50, blank=True, help_text="The URL parameter carrying the session id.")
    per_worker_tokens = models.BooleanField(
        default=False, help_text="Only workers from a list the lead generated get in (each URL carries its own signature)."
    )
    quota = models.PositiveIntegerField(default=20, help_text="Items each worker rates before the completion code.")
    completion_code = models.CharField(max_length=64)
    screened_out_code = models.CharField(
        max_length=64, blank=True,
        help_text="The code for a worker who did not pass the project's qualification (blank: the completion code).",
    )
    completion_url = models.CharField(
        max_length=500, blank=True,
        help_text="Where a finished worker is sent; {code} is replaced by the completion code.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quota__gte=1), name="entry_link_quota_positive"),
            models.CheckConstraint(condition=~Q(worker_param=""), name="entry_link_worker_param_set"),
            models.CheckConstraint(condition=~Q(completion_code=""), name="entry_link_completion_code_set"),
        ]

    def __str__(self) -> str:
        return self.label or f"entry link {self.pk}"


class ExternalWorker(models.Model):
    """A worker of an external platform in one project: a rater account with no password, scoped to it."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="external_workers")
    link = models.ForeignKey(EntryLink, on_delete=models.CASCADE, related_name="workers")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_worker")
    worker_id = models.CharField(max_length=64)
    study_id = models.CharField(max_length=100, blank=True)
    session_id = models.CharField(max_length=100, blank=True)
    quota = models.PositiveIntegerField(help_text="The link's quota when the worker first entered.")
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "worker_id"], name="external_worker_once_per_project"),
            models.CheckConstraint(condition=~Q(worker_id=""), name="external_worker_id_set"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} in {self.project_id}"

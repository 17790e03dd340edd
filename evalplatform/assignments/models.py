"""The rating queue's record: who was served which task, and what became of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Assignment(models.Model):
    """One rater's claim on one task.  There is at most one per (task, rater), ever, so a rater is
    never served the same task twice, whether they rated it, skipped it or let the lease lapse."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Leased"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Lease expired"

    class Source(models.TextChoices):
        QUEUE = "queue", "Served by the queue"
        IMPORT = "import", "Imported rating"

    # Each column starts a composite index or unique constraint below (project: assignment_finished;
    # task: one per task and rater; rater: assignment_rater_status), so none has an index of its own.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="assignments", db_index=False)
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="assignments", db_index=False)
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.QUEUE)
    # Pairwise tasks: True when response_b was shown on the left as "A" (sides randomised per rater).
    swapped = models.BooleanField(default=False)
    leased_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-leased_at"]
        constraints = [
            models.UniqueConstraint(fields=["task", "rater"], name="assignment_once_per_task_and_rater"),
            models.CheckConstraint(
                condition=Q(lease_expires_at__gte=models.F("leased_at")), name="assignment_lease_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "expired"], finished_at__isnull=True)
                | Q(status__in=["submitted", "skipped"], finished_at__isnull=False),
                name="assignment_finished_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["rater", "project", "status"], name="assignment_rater_status"),
            models.Index(
                fields=["project", "lease_expires_at"], condition=Q(status="active"), name="assignment_live_leases"
            ),
            models.Index(fields=["project", "finished_at"], name="assignment_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} on task {self.task_id} ({self.status})"

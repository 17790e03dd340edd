"""Stored agreement reports.  Celery workers write them; pages and the API only read them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AgreementReport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="reports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 while running.")
    parameters = models.JSONField(default=dict, blank=True)
    # The project's ratings_seq when the computation read its data: how current the result is.
    data_seq = models.BigIntegerField(null=True, blank=True)
    n_ratings = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=20, default="manual")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="report_progress_0_1"),
            # A report is never "done" without its result and the data it covers.
            models.CheckConstraint(
                condition=~Q(status="done") | Q(result__isnull=False, data_seq__isnull=False, finished_at__isnull=False),
                name="report_done_has_result",
            ),
        ]
        indexes = [models.Index(fields=["project", "status", "-created_at"], name="report_project_status")]

    def __str__(self) -> str:
        return f"report {self.pk} of {self.project_id} ({self.status})"


class TrackingRun(models.Model):
    """A report logged to an experiment tracker (``reports.tracking``): which backend, which run."""

    report = models.ForeignKey(AgreementReport, on_delete=models.CASCADE, related_name="tracking_runs")
    backend = models.CharField(max_length=20)
    run_id = models.CharField(max_length=100)
    # Where the tracker's own web page shows the run: an MLflow server's run page, a W&B run online;
    # empty for a local file store or an offline W&B run, which have no page to link to.
    url = models.CharField(max_length=500, blank=True)
    logged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "backend"], name="tracking_run_once")]

    def __str__(self) -> str:
        return f"{self.backend} run {self.run_id} of report {self.report_id}"


class TrackingSettings(models.Model):
    """Where a project's reports are logged (``reports.tracking``), overriding the environment.

    Only names and addresses live here; credentials (``MLFLOW_TRACKING_TOKEN``, ``WANDB_API_KEY``, ...) are
    read from the environment by the trackers' own clients and are never stored.  An empty field falls back
    to the environment (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``, ``WANDB_PROJECT``,
    ``WANDB_ENTITY``), then to the defaults.  ``reports.tracking.update_tracking_settings`` validates.
    """

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, primary_key=True, related_name="tracking_settings"
    )
    mlflow_tracking_uri = models.CharField(max_length=500, blank=True)
    mlflow_experiment = models.CharField(max_length=250, blank=True)
    wandb_project = models.CharField(max_length=128, blank=True)
    wandb_entity = models.CharField(max_length=128, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"tracking settings of {self.project_id}"

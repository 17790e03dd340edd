"""Suites and rounds: the same evaluation run again and again on the same (or an overlapping) item set.

A ``Suite`` groups ``Round``s in order; each round is an ordinary ``Project`` (raters see and rate it
like any other) with compatible rubric versions, so scores can be compared from round to round.  A
round may re-rate a fixed anchor set of earlier responses (``RoundAnchor``): the same texts scored
again tell rater drift from model drift.  The lead's drift thresholds and the webhook that tells a
pipeline a round's report is ready belong to the suite.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from evalplatform.fields import URLField

#: Thresholds a lead may set (``Suite.thresholds``); a measure above its threshold raises an alert.
THRESHOLD_KEYS = {
    "psi": "population stability index of a model's score distribution (same model, previous round)",
    "js_distance": "Jensen-Shannon distance of the same",
    "p_value": "alert when the chi-square test's p-value falls below this",
    "anchor_shift": "mean change of the anchor set's scores (same responses, rated again), in scale points",
    "rater_shift": "one rater's mean change on the anchor set, in scale points",
    "gold_drop": "one rater's fall in gold accuracy since the previous round (a share, 0..1)",
}
DEFAULT_THRESHOLDS = {"psi": 0.25, "js_distance": 0.2, "p_value": 0.001, "anchor_shift": 0.5, "rater_shift": 0.75,
                      "gold_drop": 0.2}


class Suite(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    thresholds = models.JSONField(default=dict, blank=True, help_text="Drift alert thresholds (see THRESHOLD_KEYS).")
    webhook_url = URLField(blank=True, help_text="POSTed a signed JSON event when a round's report is ready.")
    webhook_secret = models.CharField(
        max_length=200, blank=True, help_text="Key of the HMAC-SHA256 signature (header X-Eval-Signature)."
    )
    min_subgroup_items = models.PositiveIntegerField(
        default=10, help_text="A subgroup (metadata value) is tested by the gate with at least this many shared items."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            # A subgroup of one item has no spread to test (the service refuses fewer than 2 by name).
            models.CheckConstraint(condition=Q(min_subgroup_items__gte=2), name="suite_subgroup_at_least_two_items"),
        ]

    def __str__(self) -> str:
        return self.name

    def threshold(self, key: str) -> float:
        return float({**DEFAULT_THRESHOLDS, **(self.thresholds or {})}[key])


class Round(models.Model):
    suite = models.ForeignKey(Suite, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    project = models.OneToOneField("projects.Project", on_delete=models.PROTECT, related_name="suite_round")
    note = models.TextField(blank=True, help_text="What changed in this round (a model version, a prompt).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["suite", "number"]
        constraints = [
            models.UniqueConstraint(fields=["suite", "number"], name="round_number_unique_in_suite"),
            models.CheckConstraint(condition=Q(number__gte=1), name="round_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.suite.slug} round {self.number}"


class RoundAnchor(models.Model):
    """A response of this round that re-rates an earlier one: ``source`` is the original response (in
    the round where the anchor set was first drawn); ``response`` is its copy in this round."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="anchors")
    response = models.OneToOneField("projects.Response", on_delete=models.CASCADE, related_name="anchor_of")
    source = models.ForeignKey("projects.Response", on_delete=models.PROTECT, related_name="anchor_copies")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "source"], name="anchor_once_per_round"),
            models.CheckConstraint(condition=~Q(response=models.F("source")), name="anchor_is_a_copy"),
        ]

    def __str__(self) -> str:
        return f"anchor {self.response_id} (copy of {self.source_id}) in {self.round_id}"


class WebhookDelivery(models.Model):
    """One signed event for the suite's webhook: written in the transaction that decides to send it,
    sent by a Celery task after commit, retried with backoff; the row records how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    suite = models.ForeignKey(Suite, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    url = URLField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.url} ({self.status})"

"""Submitted ratings and their scores, in long format: one ``Score`` per (rating, dimension)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce


class Rating(models.Model):
    """One rater's complete judgement of one task, against the rubric version they saw."""

    # No single-column indexes where a composite index or unique constraint already starts with the
    # column (project: rating_project_rater; task: the one-per-task-and-rater constraint): each index
    # is written on every insert, and an import writes hundreds of thousands.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="ratings", db_index=False)
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="ratings", db_index=False)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    # Null for automated judges' ratings, which never go through the queue.
    assignment = models.OneToOneField(
        "assignments.Assignment", on_delete=models.CASCADE, null=True, blank=True, related_name="rating"
    )
    # Not indexed: nothing reads ratings by version but the PROTECT check when a version is deleted, and a
    # version that has ratings is in use, so never deleted; an index would cost every insert.
    rubric_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="ratings", db_index=False
    )
    justification = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set while a lead excludes this rating (``services.exclude_ratings``): it then counts nowhere
    # (progress, overlap, reports, exports by default) until the exclusion is revoked.
    exclusion = models.ForeignKey(
        "RaterExclusion", on_delete=models.PROTECT, null=True, blank=True, related_name="ratings", db_index=False
    )
    # Set by the rater's last revision (``services.revise_rating``); its history is in ``RatingRevision``.
    revised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "rater"], name="rating_once_per_task_and_rater"),
        ]
        indexes = [
            models.Index(fields=["project", "rater"], name="rating_project_rater"),
            models.Index(fields=["project", "created_at"], name="rating_project_created"),
            # Almost every rating has no exclusion: index only those that have one.
            models.Index(fields=["exclusion"], condition=Q(exclusion__isnull=False), name="rating_excluded"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} on task {self.task_id}"


class Score(models.Model):
    """The value one rating gives one dimension: a scale value, or text for a free-text dimension.

    Pairwise preferences are stored in the task's own orientation (negative = response_a better),
    whatever side the rater saw each response on.  On a pair task, the scale questions that are not
    a preference (likert, yes/no, categorical) are asked of each response: such a score names its
    ``response``, so a rating has one per (dimension, response); every other score has none and is
    one per (rating, dimension).
    """

    # Scores are read by rating (the project's ratings, then their scores), never by dimension alone.
    # One index serves both the reads by rating and the rule of one score per answer
    # (``score_once_per_answer``, which starts with the rating): a score is written into it alone, not
    # into a rating index and a unique one (PostgreSQL wrote 720,000 scores in 3.5 s with both, 1.9 s
    # with one).  dimension has no index (deleting a draft version's dimension, which has no scores, is
    # the only lookup), which spares an index insert per score, a tenth of a large import.  response is
    # null but for the per-response questions of pair tasks, so its index (partial, below) holds only those.
    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="scores", db_index=False)
    dimension = models.ForeignKey("rubrics.Dimension", on_delete=models.PROTECT, related_name="scores", db_index=False)
    response = models.ForeignKey(
        "projects.Response", on_delete=models.CASCADE, null=True, blank=True, related_name="scores", db_index=False,
        help_text="The response of a pair this score is about (per-response questions of pair tasks).",
    )
    value = models.IntegerField(null=True, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One score per (rating, dimension), and per response for a per-response question: a score
            # about the whole task counts as response 0, which no response has.
            models.UniqueConstraint(
                F("rating"), F("dimension"), Coalesce(F("response"), Value(0), output_field=models.BigIntegerField()),
                name="score_once_per_answer",
            ),
            models.CheckConstraint(condition=Q(value__isnull=False) | ~Q(text=""), name="score_has_value_or_text"),
        ]
        indexes = [
            models.Index(fields=["response"], condition=Q(response__isnull=False), name="score_of_response"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension_id}={self.value if self.value is not None else self.text[:20]!r}"


class RaterExclusion(models.Model):
    """A lead's decision to leave out a rater's ratings, on the record: who, when, why, which.

    ``scope``: all their ratings, those from ``since`` on, or only those that failed a gold check.
    The ratings it covers point to it (``Rating.exclusion``); revoking it (``revoked_at``/``revoked_by``)
    includes them again and keeps this row as the record.
    """

    class Scope(models.TextChoices):
        ALL = "all", "All their ratings"
        SINCE = "since", "Their ratings from a date on"
        FAILED_GOLD = "failed_gold", "Their ratings that failed a gold check"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="exclusions")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=12, choices=Scope.choices)
    since = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    n_ratings = models.PositiveIntegerField(default=0, help_text="Ratings it excluded when made.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(scope="since") | Q(since__isnull=False), name="exclusion_since_has_date"),
            models.CheckConstraint(condition=~Q(reason=""), name="exclusion_has_reason"),
        ]
        indexes = [models.Index(fields=["project", "rater"], name="exclusion_project_rater")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} of {self.rater} in {self.project_id}"


class RatingRevision(models.Model):
    """One correction of a rating by its rater: who, when, and the answers before and after.

    ``old`` and ``new`` are ``{"scores": {...}, "justification": "..."}`` with the scores keyed and
    signed as the rater saw the task (as the API gives them), so the history reads like the form.
    """

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="revisions")
    revised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revised_at = models.DateTimeField()
    old = models.JSONField()
    new = models.JSONField()

    class Meta:
        ordering = ["rating", "revised_at", "id"]
        indexes = [models.Index(fields=["rating", "revised_at"], name="revision_rating_time")]

    def __str__(self) -> str:
        return f"revision of rating {self.rating_id} at {self.revised_at:%Y-%m-%d %H:%M}"

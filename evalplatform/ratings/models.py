"""Submitted ratings and their scores, in long format: one ``Score`` per (rating, dimension)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Rating(models.Model):
    """One rater's complete judgement of one task, against the rubric version they saw."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="ratings")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="ratings")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    # Null for automated judges' ratings, which never go through the queue.
    assignment = models.OneToOneField(
        "assignments.Assignment", on_delete=models.CASCADE, null=True, blank=True, related_name="rating"
    )
    rubric_version = models.ForeignKey("rubrics.RubricVersion", on_delete=models.PROTECT, related_name="ratings")
    justification = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "rater"], name="rating_once_per_task_and_rater"),
        ]
        indexes = [
            models.Index(fields=["project", "rater"], name="rating_project_rater"),
            models.Index(fields=["project", "created_at"], name="rating_project_created"),
        ]

    def __str__(self) -> str:
        return f"{self.rater} on task {self.task_id}"


#: On a pair task these kinds of question are asked of each response (``Score.response``); a
#: preference, and free text, are asked once of the pair.
PER_RESPONSE_KINDS = ("likert", "binary", "categorical")
SIDES = ("a", "b")  # the suffix of a per-response key, as the rater saw the pair: "accuracy.a"


def asked_per_response(kind: str, *, pair: bool) -> bool:
    return pair and kind in PER_RESPONSE_KINDS


class Score(models.Model):
    """The value one rating gives one dimension: a scale value, or text for a free-text dimension.

    Pairwise preferences are stored in the task's own orientation (negative = response_a better),
    whatever side the rater saw each response on.  On a pair task, the scale questions that are not
    a preference (likert, yes/no, categorical) are asked of each response: such a score names its
    ``response``, so a rating has one per (dimension, response); every other score has none and is
    one per (rating, dimension).
    """

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="scores")
    dimension = models.ForeignKey("rubrics.Dimension", on_delete=models.PROTECT, related_name="scores")
    response = models.ForeignKey(
        "projects.Response", on_delete=models.CASCADE, null=True, blank=True, related_name="scores",
        help_text="The response of a pair this score is about (per-response questions of pair tasks).",
    )
    value = models.IntegerField(null=True, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rating", "dimension"], condition=Q(response__isnull=True),
                name="score_once_per_rating_and_dimension",
            ),
            models.UniqueConstraint(
                fields=["rating", "dimension", "response"], condition=Q(response__isnull=False),
                name="score_once_per_rating_dimension_response",
            ),
            models.CheckConstraint(condition=Q(value__isnull=False) | ~Q(text=""), name="score_has_value_or_text"),
        ]
        indexes = [models.Index(fields=["dimension", "rating"], name="score_dimension_rating")]

    def __str__(self) -> str:
        return f"{self.dimension_id}={self.value if self.value is not None else self.text[:20]!r}"

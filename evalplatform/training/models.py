"""Rater onboarding: training items with expected answers, training attempts, guideline acknowledgements.

Training lives in its own tables, apart from ``Item``/``Task``/``Assignment``/``Rating``: a training item
carries its own copy of the prompt and responses, and a rater's training answers are ``TrainingAnswer``
rows.  No query of the queue, the reports, agreement, consensus, the exports or the progress counts can
therefore see training work, however it is written; nothing there needs to remember to exclude it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TrainingPolicy(models.Model):
    """A project's onboarding rules.  Without a row (or with ``training_required`` off and guidelines
    not required) raters go straight to real work, as before."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="training_policy")
    training_required = models.BooleanField(
        default=False, help_text="New raters work through the training items and must pass before real items."
    )
    pass_mark = models.FloatField(
        default=0.8, help_text="Share of answers (0 to 1) within the tolerance of the expected answer needed to pass."
    )
    per_dimension = models.BooleanField(
        default=False, help_text="Apply the pass mark to each dimension separately, not only to all answers together."
    )
    tolerance = models.PositiveSmallIntegerField(
        default=0, help_text="Scale points an answer may be off on ordered scales (likert, preference); "
                             "yes/no and categorical answers must match exactly."
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=2, help_text="How many times a rater may go through the training before they are stopped."
    )
    requalify_on_new_version = models.BooleanField(
        default=False, help_text="When the project moves to a new rubric version, raters qualify again on it."
    )
    require_guidelines_ack = models.BooleanField(
        default=False, help_text="Raters confirm they have read the rubric guidelines (again when they change) "
                                 "before rating."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "training policies"
        constraints = [
            models.CheckConstraint(condition=Q(pass_mark__gte=0, pass_mark__lte=1), name="training_pass_mark_0_1"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1, max_attempts__lte=100),
                                   name="training_attempts_1_100"),
            models.CheckConstraint(condition=Q(tolerance__lte=100), name="training_tolerance_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"training policy of project {self.project_id}"


class TrainingItem(models.Model):
    """An item raters practise on: its content (never an ``Item``, so it is never queued or reported),
    the expected answer per dimension key and the lead's explanation of each."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="training_items")
    external_id = models.CharField(max_length=200)
    prompt = models.TextField()
    reference = models.TextField(blank=True)
    # [{"model": ..., "text": ...}]: one response, or two (a pair, shown A then B).
    responses = models.JSONField()
    # {answer key: stored value}: the keys of ``ratings.services.answer_keys`` ("accuracy", "accuracy.a").
    expected = models.JSONField(default=dict)
    # {answer key: Markdown text}
    explanations = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="training_item_id_once_per_project"),
        ]

    def __str__(self) -> str:
        return f"training item {self.external_id}"

    @property
    def is_pair(self) -> bool:
        return len(self.responses) == 2


class TrainingAttempt(models.Model):
    """One pass of a rater through the training items; graded when the last item is answered."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="training_attempts")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_attempts")
    rubric_version = models.ForeignKey("rubrics.RubricVersion", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Filled when graded: answers compared, within tolerance, the share per dimension, and the verdict.
    n_scored = models.PositiveIntegerField(default=0)
    n_correct = models.PositiveIntegerField(default=0)
    by_dimension = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["project", "rater", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "rater"], condition=Q(finished_at__isnull=True),
                                    name="training_one_open_attempt"),
            models.CheckConstraint(condition=Q(n_correct__lte=models.F("n_scored")), name="training_correct_le_scored"),
            models.CheckConstraint(condition=Q(passed__isnull=True) | Q(finished_at__isnull=False),
                                   name="training_verdict_when_finished"),
        ]

    def __str__(self) -> str:
        return f"training attempt {self.number} of {self.rater_id} in {self.project_id}"

    @property
    def share(self) -> float | None:
        return self.n_correct / self.n_scored if self.n_scored else None


class TrainingAnswer(models.Model):
    """A rater's answer to one training item in one attempt, with the comparison they were shown."""

    attempt = models.ForeignKey(TrainingAttempt, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(TrainingItem, on_delete=models.CASCADE, related_name="answers")
    values = models.JSONField()
    # {answer key: true/false} for each key with an expected value
    correct = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "id"]
        constraints = [models.UniqueConstraint(fields=["attempt", "item"], name="training_answer_once_per_attempt")]

    def __str__(self) -> str:
        return f"answer to {self.item_id} in attempt {self.attempt_id}"


class GuidelinesAck(models.Model):
    """A rater confirmed reading a rubric version's guidelines (for a project)."""

    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guidelines_acks")
    rubric_version = models.ForeignKey("rubrics.RubricVersion", on_delete=models.CASCADE, related_name="+")
    acknowledged_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rater", "rubric_version"], name="guidelines_ack_once_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.rater_id} read guidelines of version {self.rubric_version_id}"

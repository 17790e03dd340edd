"""Quality control: gold expectations, adjudicated labels, and the consensus a Celery run stores.

Leads write ``GoldExpectation`` and ``Adjudication`` rows (through ``quality.services``); a report
computation writes ``ConsensusLabel`` rows and the ``QualitySnapshot`` (scorecards), so pages and
exports only read.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce


class GoldExpectation(models.Model):
    """The score a lead expects on one dimension of a gold task; a rating within ``tolerance`` of it
    counts as correct (a tolerance above 0 only on ordered scales)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="gold_expectations")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="gold_expectations")
    dimension = models.ForeignKey("rubrics.Dimension", on_delete=models.PROTECT, related_name="+")
    value = models.IntegerField()
    tolerance = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "dimension__position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "dimension"], name="gold_expectation_once_per_dimension"),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.dimension_id}={self.value}±{self.tolerance}"


class Adjudication(models.Model):
    """A lead's final scores for a task; it overrides every consensus rule."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="adjudications")
    task = models.OneToOneField("projects.Task", on_delete=models.CASCADE, related_name="adjudication")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["project", "-decided_at"], name="adjudication_project_recent")]

    def __str__(self) -> str:
        return f"adjudication of task {self.task_id}"


class AdjudicatedScore(models.Model):
    adjudication = models.ForeignKey(Adjudication, on_delete=models.CASCADE, related_name="scores")
    dimension = models.ForeignKey("rubrics.Dimension", on_delete=models.PROTECT, related_name="+")
    value = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["adjudication", "dimension"], name="adjudicated_score_once_per_dimension"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension_id}={self.value}"


class ConsensusLabel(models.Model):
    """Every consensus rule's label for one (task, dimension), as the last quality run computed it.

    One row holds all rules, so a lead changing the project's rule changes exports at once, without
    running anything in the request.  ``agreement`` is 1 minus the task's bounded disagreement
    (``stats.raters.task_disagreement``: Krippendorff's metric of the dimension's level, over the most
    that the same number of ratings on that scale can disagree): 1 = all raters agree, 0 = as far apart
    as the scale allows.  ``split``:
    no single most-chosen value.  Nominal dimensions have no mean or median (the majority stands in).
    On a pair task, a question asked of each response has a label per ``response``.

    These rows are derived data, written only by ``services._replace_labels`` from the ratings it has
    just read, hundreds of thousands at a time.  Only ``project`` is a foreign key in the database:
    PostgreSQL checks a foreign key with one lookup per row and key (3.5 µs each, at commit), and the
    task, dimension and response keys made 2.1 s of a first report's 3.4 s of writing labels at issue
    18's size.  Those three are still relations for Django, which deletes the labels of a deleted task,
    response or dimension (``on_delete``) as before; and a label cannot outlive its rows by a race: a
    label exists only for a rated task, tasks are removed only untouched (``comparisons``) or with their
    project, whose key the database keeps checking, and a dimension is deleted only with a draft version,
    which has no ratings.  ``project`` has no index of its own (``consensus_project_task`` starts with
    it), and ``response``'s holds only the rows that have one, as ``ratings.Score``'s does.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="consensus_labels", db_index=False
    )
    task = models.ForeignKey(  # indexed by consensus_once_per_unit, which starts with it
        "projects.Task", on_delete=models.CASCADE, related_name="consensus_labels", db_constraint=False, db_index=False
    )
    dimension = models.ForeignKey("rubrics.Dimension", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    response = models.ForeignKey(
        "projects.Response", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )
    n_ratings = models.PositiveSmallIntegerField()
    agreement = models.FloatField(null=True, blank=True)
    split = models.BooleanField(default=False)
    mean = models.FloatField(null=True, blank=True)
    median = models.FloatField(null=True, blank=True)
    majority = models.FloatField(null=True, blank=True)
    majority_share = models.FloatField(null=True, blank=True)
    dawid_skene = models.FloatField(null=True, blank=True)
    dawid_skene_posterior = models.FloatField(null=True, blank=True)
    mace = models.FloatField(null=True, blank=True)
    mace_posterior = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            # one label per (task, dimension), and per response for a per-response question (0: the task)
            models.UniqueConstraint(
                F("task"), F("dimension"), Coalesce(F("response"), Value(0), output_field=models.BigIntegerField()),
                name="consensus_once_per_unit",
            ),
            models.CheckConstraint(condition=Q(n_ratings__gte=1), name="consensus_has_ratings"),
        ]
        indexes = [
            models.Index(fields=["project", "task"], name="consensus_project_task"),
            models.Index(fields=["response"], condition=Q(response__isnull=False), name="consensus_of_response"),
        ]

    def __str__(self) -> str:
        return f"consensus of task {self.task_id} on {self.dimension_id}"


class QualitySnapshot(models.Model):
    """The last quality run of a project: its scorecards and consensus notes, and the data it covers.

    ``data_seq`` is the project's ``ratings_seq`` when the run read its data; a run never replaces a
    snapshot computed from newer data.
    """

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="quality_snapshot")
    data_seq = models.BigIntegerField()
    parameters = models.JSONField(default=dict)
    result = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    # A digest of the consensus labels stored with this run: the next run whose labels have the same
    # digest (and count) leaves the rows alone instead of reading them all back to compare.
    labels_digest = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"quality of {self.project_id} at seq {self.data_seq}"

"""Projects, who works on them, and what gets rated.

An ``Item`` is a prompt (a support ticket, say) with one or more model ``Response``s.  The unit that
raters rate, and that agreement is computed over, is a ``Task``: one response in a single-response
project, one pair of responses in a pairwise project.  Overlap (how many raters see each task) and
"never twice to the same rater" apply per task.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Project(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single response"
        PAIRWISE = "pairwise", "Pairwise (A/B)"

    class Order(models.TextChoices):
        PRIORITY = "priority", "Priority, then finish started tasks first"
        RANDOM = "random", "Random"

    class ConsensusRule(models.TextChoices):
        MEAN = "mean", "Mean"
        MEDIAN = "median", "Median"
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid–Skene"
        MACE = "mace", "MACE"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rubric_version = models.ForeignKey("rubrics.RubricVersion", on_delete=models.PROTECT, related_name="projects")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SINGLE)
    overlap = models.PositiveSmallIntegerField(default=3, help_text="How many raters see each task.")
    lease_seconds = models.PositiveIntegerField(
        default=30 * 60, help_text="How long a rater holds a task before it returns to the queue."
    )
    order = models.CharField(max_length=10, choices=Order.choices, default=Order.PRIORITY)
    show_reference = models.BooleanField(default=True, help_text="Show items' reference answers to raters.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped in the same transaction as every rating write, so a report knows what data it covers.
    ratings_seq = models.BigIntegerField(default=0)
    # Set when a report refresh is scheduled and cleared when it starts: the debounce.
    refresh_due_at = models.DateTimeField(null=True, blank=True)
    # Quality control (evalplatform.quality): gold items, rater flags, adjudication, consensus.
    gold_rate = models.FloatField(default=0.0, help_text="Share of served tasks that are gold items (0 to 0.5).")
    gold_min_accuracy = models.FloatField(
        default=0.7, help_text="A rater whose gold accuracy falls below this share is flagged to the leads."
    )
    min_seconds_per_item = models.PositiveIntegerField(
        default=0, help_text="Flag raters whose median time per item is below this (0: no flag)."
    )
    adjudication_threshold = models.FloatField(
        default=0.5,
        help_text="Tasks whose agreement (1 = all agree, 0 = as far apart as the scale allows) falls below this "
                  "go to adjudication."
    )
    consensus_rule = models.CharField(max_length=12, choices=ConsensusRule.choices, default=ConsensusRule.MAJORITY)
    revisions_locked = models.BooleanField(
        default=False, help_text="Raters may no longer revise their ratings (a lead sets this after adjudication)."
    )
    # Onboarding (evalplatform.training keeps it in step with the project's training policy): raters train or
    # confirm the guidelines before real items.  Read with the project on every claim, so the queue asks
    # the onboarding gate only for projects that have one.
    onboarding_required = models.BooleanField(
        default=False, help_text="Raters must pass training or confirm the guidelines before real items."
    )
    # Set when a lead opens an entry link (evalplatform.enrolment): some raters are external workers
    # with a quota.  Read with the project on every claim, so the quota gate costs nothing elsewhere.
    external_workforce = models.BooleanField(
        default=False, help_text="Workers of an external platform enter through an entry link, with a quota."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1, overlap__lte=100), name="project_overlap_1_100"),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30), name="project_lease_at_least_30s"),
            models.CheckConstraint(condition=Q(ratings_seq__gte=0), name="project_ratings_seq_nonnegative"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=0.5), name="project_gold_rate_0_half"),
            models.CheckConstraint(
                condition=Q(gold_min_accuracy__gte=0, gold_min_accuracy__lte=1), name="project_gold_min_accuracy_0_1"
            ),
            models.CheckConstraint(
                condition=Q(adjudication_threshold__gte=0, adjudication_threshold__lte=1),
                name="project_adjudication_threshold_0_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead"
        RATER = "rater", "Rater"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    paused = models.BooleanField(default=False, help_text="A paused rater is served no new tasks.")
    # Set for a worker of an external platform (Prolific, MTurk) who entered through an entry link
    # (evalplatform.enrolment): their id there, shown beside their username in exports and scorecards.
    external_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "project"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class Item(models.Model):
    # Indexed by item_external_id_unique, which starts with it (an import writes many items).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=200)
    prompt = models.TextField()
    reference = models.TextField(blank=True, help_text="The ideal answer, shown to raters if the project says so.")
    metadata = models.JSONField(default=dict, blank=True)
    priority = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_external_id_unique"),
            models.CheckConstraint(condition=~Q(external_id=""), name="item_external_id_not_empty"),
        ]

    def __str__(self) -> str:
        return self.external_id


class Response(models.Model):
    # Indexed by response_model_unique_per_item, which starts with it.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="responses", db_index=False)
    model = models.CharField(max_length=200)
    text = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["item", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "model"], name="response_model_unique_per_item"),
            models.CheckConstraint(condition=~Q(model=""), name="response_model_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.item.external_id}/{self.model}"


# A gold task may be served to every rater once: its capacity is the column's largest value, so the
# queue's conditional claim and the capacity constraint apply to it unchanged.
GOLD_CAPACITY = 32767


class Task(models.Model):
    """What a rater is served: one response, or a pair (``response_b`` set) in a pairwise project.

    ``claimed_count`` counts live leases plus finished ratings and never exceeds ``capacity`` (the
    project's overlap when the task was made): the database refuses it, so a race is an error, not a
    fifth rater on a three-rater task.  A gold task (``is_gold``: a lead knows its expected scores)
    has ``GOLD_CAPACITY`` and is mixed into the queue at the project's ``gold_rate``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="tasks")
    # response_a starts task_pair_unique; response_b is null on every single-response task, so its
    # index (partial, below) holds pairs only.
    response_a = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+", db_index=False)
    response_b = models.ForeignKey(
        Response, on_delete=models.CASCADE, related_name="+", null=True, blank=True, db_index=False
    )
    capacity = models.PositiveSmallIntegerField()
    claimed_count = models.PositiveSmallIntegerField(default=0)
    rated_count = models.PositiveSmallIntegerField(default=0)
    priority = models.IntegerField(default=0)
    shuffle_key = models.IntegerField(default=0, help_text="Random order key for projects in random order.")
    is_gold = models.BooleanField(default=False, help_text="A gold item: expected scores known, served to every rater.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="task_capacity_positive"),
            models.CheckConstraint(condition=Q(claimed_count__lte=F("capacity")), name="task_claims_within_capacity"),
            models.CheckConstraint(condition=Q(rated_count__lte=F("claimed_count")), name="task_rated_within_claimed"),
            models.CheckConstraint(condition=~Q(response_a=F("response_b")), name="task_pair_is_two_responses"),
            models.UniqueConstraint(
                fields=["response_a"], condition=Q(response_b__isnull=True), name="task_single_response_unique"
            ),
            models.UniqueConstraint(fields=["response_a", "response_b"], name="task_pair_unique"),
        ]
        indexes = [
            # The queue: open tasks of a project in serving order.  Partial, so finished tasks
            # cost nothing and next-item stays flat as a project fills up.
            models.Index(
                F("project"), F("priority").desc(), F("claimed_count").desc(), F("id"),
                condition=Q(claimed_count__lt=F("capacity"), is_gold=False), name="task_queue_priority",
            ),
            models.Index(
                F("project"), F("shuffle_key"), condition=Q(claimed_count__lt=F("capacity"), is_gold=False),
                name="task_queue_random",
            ),
            models.Index(F("project"), F("shuffle_key"), condition=Q(is_gold=True), name="task_gold_queue"),
            models.Index(fields=["response_b"], condition=Q(response_b__isnull=False), name="task_pair_second"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} of {self.item_id}"

    @property
    def is_pair(self) -> bool:
        return self.response_b_id is not None

    @property
    def responses(self) -> tuple[Response, ...]:
        """``(response_a,)``, or the pair ``(response_a, response_b)``."""
        return (self.response_a,) if self.response_b is None else (self.response_a, self.response_b)


class ReferenceScore(models.Model):
    """A response's reference-based metrics against its item's reference answer (``projects.references``).

    Computed by a worker after an import (and, for any still missing, in bulk when a report needs them),
    with the libraries' own implementations (``stats.reference.response_metrics``).  ``inputs_sha256``
    is the hash of the reference and the response text they were computed from: when either changes the
    row no longer matches, and it is computed again before anything reads it.
    """

    response = models.OneToOneField(Response, on_delete=models.CASCADE, primary_key=True,
                                    related_name="reference_score")
    inputs_sha256 = models.CharField(max_length=64)
    rouge1 = models.FloatField(help_text="ROUGE-1 F-measure, 0-1")
    rouge2 = models.FloatField(help_text="ROUGE-2 F-measure, 0-1")
    rouge_l = models.FloatField(help_text="ROUGE-L F-measure, 0-1")
    bleu = models.FloatField(help_text="sentence BLEU, 0-100")
    chrf = models.FloatField(help_text="sentence chrF, 0-100")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The libraries' own values are stored as they are: BLEU of a response equal to its reference is
        # 100.00000000000004 in floating point, hence the bounds' slack.
        constraints = [
            models.CheckConstraint(
                condition=Q(rouge1__gte=0, rouge1__lte=1 + 1e-9, rouge2__gte=0, rouge2__lte=1 + 1e-9,
                            rouge_l__gte=0, rouge_l__lte=1 + 1e-9),
                name="reference_score_rouge_0_1",
            ),
            models.CheckConstraint(
                condition=Q(bleu__gte=0, bleu__lte=100 + 1e-9, chrf__gte=0, chrf__lte=100 + 1e-9),
                name="reference_score_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"reference metrics of response {self.response_id}"

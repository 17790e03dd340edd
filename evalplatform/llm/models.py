"""Model endpoints, and the runs that call them: generation of draft responses and LLM judges.

A ``Run`` is one lead's request ("draft a reply to these items with these models", "judge these
tasks with this model"); a ``Call`` is one request it makes, one per (run, endpoint, item) for a
generation and one per (run, endpoint, task) for a judge.  Calls are created up front, so progress
is a count, and are claimed by workers with a lease, so a killed worker's calls are picked up again;
what a call produces (a ``Response``, or a judge's ``Rating``) is unique in the database, so a
repeated call can never store a second one.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from evalplatform.fields import URLField


class ModelEndpoint(models.Model):
    """An OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style, vLLM, Ollama, a gateway).

    The secret comes from an environment variable (``api_key_env``, preferred: it never enters the
    database) or is stored encrypted (``api_key_encrypted``, Fernet; see ``secrets.py``).  Neither is
    ever shown back: forms take a new value, pages and the API say only whether one is set.
    """

    name = models.SlugField(max_length=100, unique=True,
                            help_text="How ratings and responses name this endpoint (judge:<name>, model <name>).")
    base_url = URLField(max_length=500, help_text="The API's base URL, e.g. https://api.openai.com/v1.")
    model = models.CharField(max_length=200, help_text="The model id sent with each request.")
    temperature = models.FloatField(null=True, blank=True, default=0.0)
    max_tokens = models.PositiveIntegerField(null=True, blank=True, default=512, validators=[MinValueValidator(1)])
    seed = models.BigIntegerField(null=True, blank=True, help_text="Sent where the endpoint supports it.")
    extra_parameters = models.JSONField(default=dict, blank=True,
                                        help_text="Other request parameters (top_p, ...), sent as they are.")
    supports_json_schema = models.BooleanField(
        default=True, help_text="Ask for structured output with response_format json_schema; otherwise "
        "JSON mode with the schema in the prompt, parsed tolerantly.")
    requests_per_minute = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    max_concurrency = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    timeout_seconds = models.FloatField(default=60.0)
    max_retries = models.PositiveSmallIntegerField(default=5, help_text="On 429 and 5xx, with backoff.")
    api_key_env = models.CharField(max_length=100, blank=True,
                                   help_text="Name of the environment variable holding the API key.")
    api_key_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    price_input_per_million = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0),
                                                  help_text="Cost of a million prompt tokens.")
    price_output_per_million = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0),
                                                   help_text="Cost of a million completion tokens.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(requests_per_minute__gte=1), name="endpoint_rate_positive"),
            models.CheckConstraint(condition=Q(max_concurrency__gte=1), name="endpoint_concurrency_positive"),
            models.CheckConstraint(condition=Q(timeout_seconds__gt=0), name="endpoint_timeout_positive"),
            # None sends no limit; 0 would ask for an empty completion on every request.
            models.CheckConstraint(condition=Q(max_tokens__isnull=True) | Q(max_tokens__gte=1),
                                   name="endpoint_max_tokens_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.api_key_env) or bool(self.api_key_encrypted)

    def parameters(self) -> dict:
        """The request parameters every call of this endpoint sends (besides model and messages)."""
        params = dict(self.extra_parameters or {})
        for key in ("temperature", "max_tokens", "seed"):
            value = getattr(self, key)
            if value is not None:
                params[key] = value
        return params


class Run(models.Model):
    class Kind(models.TextChoices):
        GENERATION = "generation", "Generation"
        JUDGE = "judge", "Judge"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="llm_runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    endpoints = models.ManyToManyField(ModelEndpoint, related_name="runs")
    prompt_template = models.TextField(help_text="Generation: the user message, with {prompt}, {reference}, "
                                       "{external_id} and {metadata[key]}; judge: the instructions' template.")
    prompt_version = models.CharField(max_length=80, help_text="A digest of the template (and rubric version).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk}"


class Call(models.Model):
    """One request of a run, and what came of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        INVALID = "invalid", "Invalid output"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="calls")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="calls")
    item = models.ForeignKey("projects.Item", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    request_hash = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=200, blank=True, help_text="The model the endpoint said answered.")
    parameters = models.JSONField(default=dict, blank=True)
    output = models.TextField(blank=True, help_text="What the model said (kept for invalid outputs too).")
    error = models.TextField(blank=True, help_text="Why the output was invalid or the call failed.")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))
    cached = models.BooleanField(default=False, help_text="Answered from the identical-request cache.")
    response = models.OneToOneField("projects.Response", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="generation")
    rating = models.OneToOneField("ratings.Rating", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="judge_call")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "endpoint", "item"], condition=Q(task__isnull=True),
                                    name="call_once_per_run_endpoint_item"),
            models.UniqueConstraint(fields=["run", "endpoint", "task"], condition=Q(task__isnull=False),
                                    name="call_once_per_run_endpoint_task"),
        ]
        indexes = [models.Index(fields=["run", "status"], name="call_run_status")]

    def __str__(self) -> str:
        return f"call {self.pk} of run {self.run_id}"


class CachedCompletion(models.Model):
    """An answer kept for its request: the same (endpoint, model, parameters, messages) is not asked twice."""

    key = models.CharField(max_length=64, unique=True)
    content = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key[:12]

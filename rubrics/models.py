"""Rubrics: what raters score, versioned so scores never change meaning under them.

A ``Rubric`` is a name; each ``RubricVersion`` is one frozen edition of it.  A version is edited
while it is a draft; publishing freezes it, and only published versions can back a project.  To
change a published rubric, clone it into a new draft (``rubrics.services.clone_version``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Rubric(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class RubricVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class Justification(models.TextChoices):
        NONE = "none", "Not asked"
        OPTIONAL = "optional", "Optional"
        REQUIRED = "required", "Required"

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to raters in the guidelines panel.")
    justification = models.CharField(
        max_length=10, choices=Justification.choices, default=Justification.OPTIONAL,
        help_text="Whether raters write a free-text justification with each rating.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rubric__slug", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rubric", "number"], name="rubric_version_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="rubric_version_number_positive"),
            models.CheckConstraint(
                condition=models.Q(status="draft", published_at__isnull=True)
                | models.Q(status="published", published_at__isnull=False),
                name="rubric_version_published_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rubric.slug} v{self.number} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        # A safety net under the services and the admin: a published version never changes.
        if self.pk:
            stored = RubricVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.PUBLISHED:
                raise ValidationError(f"{self} is published and cannot be edited; clone it into a new draft.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_published:
            raise ValidationError(f"{self} is published and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Dimension(models.Model):
    """One question of the rubric: a scale (likert, binary, categorical, pairwise) or free text."""

    class Kind(models.TextChoices):
        LIKERT = "likert", "Likert scale"
        BINARY = "binary", "Yes / no"
        CATEGORICAL = "categorical", "Categorical label"
        PAIRWISE = "pairwise", "Pairwise preference (A … tie … B)"
        TEXT = "text", "Free text"

    class Level(models.TextChoices):
        NOMINAL = "nominal", "Nominal"
        ORDINAL = "ordinal", "Ordinal"
        INTERVAL = "interval", "Interval"
        RATIO = "ratio", "Ratio"

    version = models.ForeignKey(RubricVersion, on_delete=models.CASCADE, related_name="dimensions")
    key = models.SlugField(max_length=64, help_text="Stable identifier used in imports, exports and the API.")
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown shown under the question.")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    level = models.CharField(
        max_length=10, choices=Level.choices, blank=True,
        help_text="Level of measurement, which decides the agreement weights. Empty for free text.",
    )
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    weight = models.FloatField(
        null=True, blank=True,
        help_text="Weight in the composite score (numeric dimensions: likert, yes/no); empty = not in it.",
    )

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="dimension_key_unique_in_version"),
            models.CheckConstraint(
                condition=models.Q(kind="text", level="") | (~models.Q(kind="text") & ~models.Q(level="")),
                name="dimension_level_iff_scored",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="binary") | models.Q(level="nominal"), name="binary_is_nominal"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__isnull=True)
                | (models.Q(weight__gte=0) & models.Q(kind__in=["likert", "binary"])),
                name="dimension_weight_numeric_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"

    def save(self, *args, **kwargs) -> None:
        _refuse_if_published(self.version_id)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_published(self.version_id)
        return super().delete(*args, **kwargs)

    @property
    def is_scored(self) -> bool:
        return self.kind != self.Kind.TEXT


class ScaleLevel(models.Model):
    """One allowed value of a scored dimension, with its label and the anchor shown to raters.

    Every scored dimension lists all its values here (1..5 for a five-point Likert scale, 0/1 for
    yes/no, 0..n-1 for categorical options, -k..k for a pairwise preference), so "value on the scale"
    is one lookup and exports can name every value.
    """

    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="levels")
    value = models.IntegerField()
    label = models.CharField(max_length=200)
    anchor = models.TextField(blank=True, help_text="What this level means, shown to raters.")

    class Meta:
        ordering = ["dimension", "value"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "value"], name="scale_level_value_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.value}: {self.label}"

    def save(self, *args, **kwargs) -> None:
        _refuse_if_published(Dimension.objects.filter(pk=self.dimension_id).values("version_id"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_published(Dimension.objects.filter(pk=self.dimension_id).values("version_id"))
        return super().delete(*args, **kwargs)


def _refuse_if_published(version_id) -> None:
    if RubricVersion.objects.filter(pk__in=_as_subquery(version_id), status=RubricVersion.Status.PUBLISHED).exists():
        raise ValidationError("This rubric version is published and cannot be edited; clone it into a new draft.")


def _as_subquery(value):
    return value if isinstance(value, models.QuerySet) else [value]

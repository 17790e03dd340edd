"""Rubric authoring: every write to rubrics goes through here (admin, commands and API alike).

Rubrics are what raters score against.  A published version is frozen; changing a rubric means a new
version, so a score always means what the rater saw when giving it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from rubrics.documents import DimensionSpec, RubricSpec, to_document, validate
from rubrics.models import Dimension, Rubric, RubricVersion, ScaleLevel


def _next_number(rubric: Rubric) -> int:
    return (rubric.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def _create_dimensions(version: RubricVersion, dims: tuple[DimensionSpec, ...]) -> None:
    for position, spec in enumerate(dims):
        dim = Dimension.objects.create(
            version=version, key=spec.key, label=spec.label, kind=spec.kind, level=spec.level,
            required=spec.required, description=spec.description, position=position, weight=spec.weight,
        )
        ScaleLevel.objects.bulk_create(
            ScaleLevel(dimension=dim, value=lv.value, label=lv.label, anchor=lv.anchor) for lv in spec.levels
        )


@transaction.atomic
def create_draft(*, spec: RubricSpec) -> RubricVersion:
    """A new draft version of the rubric named by ``spec.slug`` (creating the rubric if new)."""
    rubric, created = Rubric.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "description": spec.description}
    )
    if not created and (rubric.name != spec.name or (spec.description and rubric.description != spec.description)):
        rubric.name = spec.name
        rubric.description = spec.description or rubric.description
        rubric.save(update_fields=["name", "description"])
    version = RubricVersion.objects.create(
        rubric=rubric, number=_next_number(rubric), guidelines=spec.guidelines, justification=spec.justification
    )
    _create_dimensions(version, spec.dimensions)
    return version


@transaction.atomic
def publish_version(*, version: RubricVersion) -> RubricVersion:
    """Freeze a draft so projects can use it.  Publishing twice is a no-op."""
    version = RubricVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        return version
    dims = list(version.dimensions.prefetch_related("levels"))
    problems = []
    if not dims:
        problems.append("a rubric version needs at least one dimension")
    for dim in dims:
        if dim.is_scored and len(dim.levels.all()) < 2:
            problems.append(f"dimension {dim.key!r} needs at least two scale levels")
    if problems:
        raise ValidationError(problems)
    RubricVersion.objects.filter(pk=version.pk).update(
        status=RubricVersion.Status.PUBLISHED, published_at=timezone.now()
    )
    version.refresh_from_db()
    return version


@transaction.atomic
def clone_version(*, version: RubricVersion) -> RubricVersion:
    """A new draft with the same guidelines, dimensions and levels, ready to edit."""
    draft = RubricVersion.objects.create(
        rubric=version.rubric, number=_next_number(version.rubric),
        guidelines=version.guidelines, justification=version.justification,
    )
    for dim in version.dimensions.prefetch_related("levels"):
        levels = list(dim.levels.all())
        dim.pk = None
        dim.version = draft
        dim.save()
        ScaleLevel.objects.bulk_create(
            ScaleLevel(dimension=dim, value=lv.value, label=lv.label, anchor=lv.anchor) for lv in levels
        )
    return draft


@transaction.atomic
def import_rubric(*, data: dict) -> tuple[RubricVersion, bool]:
    """Publish a rubric document as a new version.

    Returns ``(version, created)``.  A document identical to the latest published version publishes
    nothing new and returns that version, so importing the same file twice is harmless.
    """
    spec = validate(data)
    latest = (
        RubricVersion.objects.filter(rubric__slug=spec.slug, status=RubricVersion.Status.PUBLISHED)
        .order_by("-number").first()
    )
    if latest is not None and _same_content(latest, spec):
        return latest, False
    version = create_draft(spec=spec)
    return publish_version(version=version), True


def _same_content(version: RubricVersion, spec: RubricSpec) -> bool:
    current = to_document(version)
    wanted = validate({**current, "slug": spec.slug})  # normalise through the same path
    return (
        wanted.dimensions == spec.dimensions
        and version.guidelines == spec.guidelines
        and version.justification == spec.justification
        and version.rubric.name == spec.name
    )


class VersionFrozen(ValidationError):
    """A published version was asked to change; the way forward is a new draft (``clone_version``)."""


@transaction.atomic
def update_draft(*, version: RubricVersion, changes: dict[str, Any]) -> RubricVersion:
    """Edit a draft: ``changes`` replaces the named parts of its document (``name``, ``description``,
    ``guidelines``, ``justification``, or the whole ``dimensions`` list).

    Only drafts change: a published version raises ``VersionFrozen``, since scores given against
    it must keep their meaning.  The result is validated as a whole document (``RubricDocumentError``
    lists every problem); the slug names the rubric and cannot change.
    """
    version = RubricVersion.objects.select_for_update().select_related("rubric").get(pk=version.pk)
    if version.is_published:
        raise VersionFrozen(
            f"{version} is published and cannot be edited; clone it into a new draft and edit that"
        )
    rubric = version.rubric
    if "slug" in changes and changes["slug"] != rubric.slug:
        raise ValidationError(f"the slug names the rubric ({rubric.slug!r}) and cannot change")
    spec = validate({**to_document(version), **changes, "slug": rubric.slug})
    if rubric.name != spec.name or (spec.description and rubric.description != spec.description):
        rubric.name = spec.name
        rubric.description = spec.description or rubric.description
        rubric.save(update_fields=["name", "description"])
    version.guidelines, version.justification = spec.guidelines, spec.justification
    version.save(update_fields=["guidelines", "justification"])
    version.dimensions.all().delete()
    _create_dimensions(version, spec.dimensions)
    return version

"""Suites of rounds: evaluating a model, changing it, and evaluating again on the same items.

A suite starts from an existing project (its round 1).  ``new_round`` makes the next round from the
latest one: a new project on the same rubric version (or a compatible one), with the same settings
and the same people, the new responses imported into it, and optionally a fixed anchor set of
earlier responses copied in to be rated again.  Everything happens in one transaction: a bad import
leaves no half-made round.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from evalplatform.input_rules import column_range, whole_number
from evalplatform.projects.models import Item, Membership, Project, Response
from evalplatform.projects.services import create_project, ensure_tasks, import_items
from evalplatform.suites.models import THRESHOLD_KEYS, Round, RoundAnchor, Suite
from evalplatform.training.services import TrainingError, copy_training
from rubrics.models import RubricVersion
from rubrics.scales import scales_for


class SuiteError(ValidationError):
    """A request about a suite or round that its rules refuse (the message says which rule)."""


def anchor_model_name(model: str, round_number: int) -> str:
    """The model label of an anchor copy: the original's model and round (``helpbot@r1``)."""
    return f"{model}@r{round_number}"


def check_compatible(earlier: RubricVersion, later: RubricVersion) -> list[str]:
    """The scored dimension keys both versions share with the same kind and scale; ``SuiteError``
    when a shared key changed its scale (scores would change meaning) or nothing is shared."""
    if earlier.pk == later.pk:
        return [k for k, s in scales_for(earlier).items() if not s.is_text]
    before, after = scales_for(earlier), scales_for(later)
    shared, problems = [], []
    for key, scale in after.items():
        old = before.get(key)
        if scale.is_text or old is None or old.is_text:
            continue
        if (old.kind, tuple(old.values)) != (scale.kind, tuple(scale.values)):
            problems.append(f"{key}: {old.kind} {list(old.values)} became {scale.kind} {list(scale.values)}")
        else:
            shared.append(key)
    if problems:
        raise SuiteError("the rubric versions are not compatible: " + "; ".join(problems))
    if not shared:
        raise SuiteError(f"{earlier} and {later} share no scored dimension: their rounds cannot be compared")
    return shared


def _subgroup_size(raw: Any) -> int:
    try:
        return whole_number(raw, 2, column_range(Suite, "min_subgroup_items")[1])
    except ValueError as exc:
        raise SuiteError(f"min_subgroup_items {exc}") from None


def clean_thresholds(thresholds: Mapping[str, Any]) -> dict[str, float]:
    unknown = set(thresholds) - set(THRESHOLD_KEYS)
    if unknown:
        raise SuiteError(f"unknown threshold(s): {', '.join(sorted(unknown))}; known: {', '.join(THRESHOLD_KEYS)}")
    out = {}
    for key, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise SuiteError(f"threshold {key} must be a number >= 0 (got {value!r})")
        out[key] = float(value)
    return out


@transaction.atomic
def create_suite(
    *, slug: str, project: Project, name: str = "", description: str = "", created_by=None,
    thresholds: Mapping[str, Any] | None = None, webhook_url: str = "", webhook_secret: str = "",
    min_subgroup_items: int = 10,
) -> Suite:
    """A suite whose round 1 is ``project`` (a project belongs to one suite at most)."""
    if slug != slugify(slug) or not slug:
        raise SuiteError(f"suite slug {slug!r} must be lowercase letters, digits and hyphens")
    if Suite.objects.filter(slug=slug).exists():
        raise SuiteError(f"a suite with slug {slug!r} already exists")
    if Round.objects.filter(project=project).exists():
        raise SuiteError(f"project {project.slug!r} is already a round of a suite")
    if webhook_url and not webhook_secret:
        raise SuiteError("a webhook needs a secret to sign its events with")
    suite = Suite.objects.create(
        slug=slug, name=name or slug, description=description, created_by=created_by,
        thresholds=clean_thresholds(thresholds or {}), webhook_url=webhook_url, webhook_secret=webhook_secret,
        min_subgroup_items=_subgroup_size(min_subgroup_items),
    )
    Round.objects.create(suite=suite, number=1, project=project, note="first round")
    return suite


def latest_round(suite: Suite) -> Round:
    found = suite.rounds.select_related("project__rubric_version").order_by("-number").first()
    if found is None:
        raise SuiteError(f"suite {suite.slug!r} has no round")
    return found


@transaction.atomic
def add_round(*, suite: Suite, project: Project, note: str = "") -> Round:
    """Make an existing project the suite's next round (its rubric must be compatible)."""
    suite = Suite.objects.select_for_update().get(pk=suite.pk)
    if Round.objects.filter(project=project).exists():
        raise SuiteError(f"project {project.slug!r} is already a round of a suite")
    previous = latest_round(suite)
    check_compatible(previous.project.rubric_version, project.rubric_version)
    return Round.objects.create(suite=suite, number=previous.number + 1, project=project, note=note)


@transaction.atomic
def new_round(
    *, suite: Suite, stream: IO | None = None, fmt: str | None = None, filename: str = "", name: str = "", slug: str = "",
    rubric_version: RubricVersion | None = None, anchors: int = 0, seed: int = 0, note: str = "", created_by=None,
) -> Round:
    """The suite's next round, made from the latest one, all or nothing.

    A new project with the previous round's settings (rubric version unless ``rubric_version`` gives
    a compatible one, overlap, order, gold rate ...) and members; ``stream`` (JSONL/CSV/JSON, as
    ``import_items`` reads) holds the new responses.  The anchor set: when the previous round had
    one, the same original responses are copied again (the set stays fixed across rounds);
    otherwise ``anchors`` responses of the previous round are drawn at random (``seed``).  A copy
    is a new response on the same item (same external id) labelled ``<model>@r<round>``.  The previous
    round's training (policy and training items) is copied too (``training.services.copy_training``);
    what had to be dropped for the new rubric version is added to the round's note.
    """
    if anchors < 0:
        raise SuiteError("the anchor set's size cannot be negative")
    suite = Suite.objects.select_for_update().get(pk=suite.pk)
    previous = latest_round(suite)
    prev_project = previous.project
    version = rubric_version or prev_project.rubric_version
    check_compatible(prev_project.rubric_version, version)
    number = previous.number + 1
    slug = slug or f"{suite.slug}-round-{number}"
    project = create_project(
        slug=slug, name=name or f"{suite.name}: round {number}", rubric_version=version, overlap=prev_project.overlap,
        kind=prev_project.kind, lease_seconds=prev_project.lease_seconds, order=prev_project.order,
        description=prev_project.description, show_reference=prev_project.show_reference, created_by=created_by,
    )
    Project.objects.filter(pk=project.pk).update(
        gold_rate=prev_project.gold_rate, gold_min_accuracy=prev_project.gold_min_accuracy,
        min_seconds_per_item=prev_project.min_seconds_per_item,
        adjudication_threshold=prev_project.adjudication_threshold, consensus_rule=prev_project.consensus_rule,
    )
    _copy_members(prev_project, project)
    try:
        training_notes = copy_training(source=prev_project, target=project)
    except TrainingError as exc:
        raise SuiteError(f"round {number} was not made: " + "; ".join(exc.messages)) from exc
    if training_notes:
        note = "\n".join([note, f"Training carried over from round {previous.number}, with changes:",
                           *(f"- {line}" for line in training_notes)]).strip()
    if stream is not None:
        import_items(project=project, stream=stream, fmt=fmt, name=filename)
    round_ = Round.objects.create(suite=suite, number=number, project=project, note=note)
    _copy_anchors(previous, round_, anchors, seed)
    _copy_gold(previous, round_)
    return round_


def _copy_members(source: Project, target: Project) -> None:
    have = set(target.memberships.values_list("user_id", flat=True))
    Membership.objects.bulk_create(
        Membership(project=target, user_id=m.user_id, role=m.role, paused=m.paused)
        for m in source.memberships.all() if m.user_id not in have
    )


def _copy_anchors(previous: Round, round_: Round, size: int, seed: int) -> int:
    sources = list(
        Response.objects.filter(anchor_copies__round=previous).select_related("item").order_by("item__external_id", "model")
    )
    if not sources and size:
        candidates = list(
            Response.objects.filter(item__project=previous.project, anchor_of__isnull=True)
            .select_related("item").order_by("item__external_id", "model")
        )
        if size > len(candidates):
            raise SuiteError(f"the anchor set asks for {size} responses; round {previous.number} has {len(candidates)}")
        sources = random.Random(seed).sample(candidates, size)
    if not sources:
        return 0
    origin = dict(Round.objects.filter(project__items__responses__in=sources).values_list("project_id", "number"))
    project = round_.project
    items = {i.external_id: i for i in Item.objects.filter(project=project, external_id__in={s.item.external_id for s in sources})}
    positions = dict(
        Response.objects.filter(item__in=items.values()).values("item_id").annotate(top=Max("position"))
        .values_list("item_id", "top")
    )
    anchors = []
    for source in sources:
        item = items.get(source.item.external_id)
        if item is None:
            src = source.item
            item = items[src.external_id] = Item.objects.create(
                project=project, external_id=src.external_id, prompt=src.prompt, reference=src.reference,
                metadata=src.metadata, priority=src.priority,
            )
        positions[item.pk] = positions.get(item.pk, -1) + 1
        model = anchor_model_name(source.model, origin[source.item.project_id])
        if Response.objects.filter(item=item, model=model).exists():
            raise SuiteError(f"item {item.external_id!r} already has a response labelled {model!r}")
        copy = Response.objects.create(item=item, model=model, text=source.text, position=positions[item.pk])
        anchors.append(RoundAnchor(round=round_, response=copy, source=source))
    RoundAnchor.objects.bulk_create(anchors)
    ensure_tasks(project=project, item_ids=sorted({i.pk for i in items.values()}))
    return len(anchors)


def _copy_gold(previous: Round, round_: Round) -> int:
    """The previous round's gold items, the same responses with the same expected scores, so each
    rater's gold accuracy compares round to round on the same items.  A copy keeps its original's
    label (``<model>@r<round>``), or reuses the anchor copy of the same response."""
    from evalplatform.quality.models import GoldExpectation
    from evalplatform.quality.services import set_gold

    gold: dict[tuple[int, int], dict[str, dict[str, int]]] = {}
    for task_id, response_id, key, value, tolerance in GoldExpectation.objects.filter(
        project=previous.project, task__response_b__isnull=True
    ).values_list("task_id", "task__response_a_id", "dimension__key", "value", "tolerance"):
        gold.setdefault((task_id, response_id), {})[key] = {"value": value, "tolerance": tolerance}
    if not gold:
        return 0
    project = round_.project
    scales = scales_for(project.rubric_version_id)
    sources = Response.objects.in_bulk([response_id for _, response_id in gold])
    copied = 0
    for (_task_id, response_id), expectations in sorted(gold.items()):
        source = sources[response_id]
        root = RoundAnchor.objects.filter(response=source).values_list("source_id", flat=True).first() or source.pk
        copy = Response.objects.filter(anchor_of__round=round_, anchor_of__source_id=root).first()
        if copy is None:
            label = source.model if "@r" in source.model else anchor_model_name(source.model, previous.number)
            item = Item.objects.filter(project=project, external_id=source.item.external_id).first()
            if item is None:
                src = source.item
                item = Item.objects.create(project=project, external_id=src.external_id, prompt=src.prompt,
                                           reference=src.reference, metadata=src.metadata, priority=src.priority)
            copy = Response.objects.filter(item=item, model=label).first() or Response.objects.create(
                item=item, model=label, text=source.text,
                position=(item.responses.aggregate(top=Max("position"))["top"] or 0) + 1,
            )
            ensure_tasks(project=project, item_ids=[item.pk])
        task = project.tasks.get(response_a=copy, response_b__isnull=True)
        set_gold(task=task, expectations={k: v for k, v in expectations.items() if k in scales})
        copied += 1
    return copied


@transaction.atomic
def update_suite(*, suite: Suite, **changes: Any) -> Suite:
    """Change a suite's name, description, thresholds, webhook or subgroup size."""
    allowed = {"name", "description", "thresholds", "webhook_url", "webhook_secret", "min_subgroup_items"}
    unknown = set(changes) - allowed
    if unknown:
        raise SuiteError(f"these settings cannot be changed: {', '.join(sorted(unknown))}")
    if "thresholds" in changes:
        changes["thresholds"] = clean_thresholds(changes["thresholds"] or {})
    if "min_subgroup_items" in changes:
        changes["min_subgroup_items"] = _subgroup_size(changes["min_subgroup_items"])
    suite = Suite.objects.select_for_update().get(pk=suite.pk)
    for key, value in changes.items():
        setattr(suite, key, value)
    if suite.webhook_url and not suite.webhook_secret:
        raise SuiteError("a webhook needs a secret to sign its events with")
    suite.save()
    return suite

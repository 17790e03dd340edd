"""Projects: what leads set up (rubric version, overlap, items) and who may work on them.

Every write about projects, memberships, items and tasks goes through these functions, whichever of
the admin, the commands, the API or the pages asks for it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import IO, Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils.text import slugify

from evalplatform.projects.models import Item, Membership, Project, Response, Task
from evalplatform.projects.records import ErrorList, read_records, sniff
from rubrics.models import RubricVersion

User = get_user_model()
BATCH = 1000


class ProjectError(ValidationError):
    """A request about a project that its rules refuse (the message says which rule)."""


@transaction.atomic
def create_project(
    *, slug: str, name: str = "", rubric_version: RubricVersion, overlap: int = 3, kind: str = Project.Kind.SINGLE,
    lease_seconds: int = 1800, order: str = Project.Order.PRIORITY, description: str = "",
    show_reference: bool = True, created_by=None,
) -> Project:
    """Create a project on a published rubric version; its creator (if any) becomes a lead."""
    if not rubric_version.is_published:
        raise ProjectError(f"rubric version {rubric_version} is a draft; publish it before using it in a project")
    if slug != slugify(slug) or not slug:
        raise ProjectError(f"project slug {slug!r} must be lowercase letters, digits and hyphens")
    if Project.objects.filter(slug=slug).exists():
        raise ProjectError(f"a project with slug {slug!r} already exists")
    if not 1 <= overlap <= 100:
        raise ProjectError(f"overlap must be between 1 and 100 raters per task (got {overlap})")
    if lease_seconds < 30:
        raise ProjectError("the lease must last at least 30 seconds")
    if kind == Project.Kind.PAIRWISE and not rubric_version.dimensions.filter(kind="pairwise").exists():
        raise ProjectError("a pairwise project needs a rubric with a pairwise preference dimension")
    project = Project.objects.create(
        slug=slug, name=name or slug, rubric_version=rubric_version, overlap=overlap, kind=kind,
        lease_seconds=lease_seconds, order=order, description=description, show_reference=show_reference,
        created_by=created_by,
    )
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.LEAD)
    return project


UPDATABLE = {"name", "description", "overlap", "lease_seconds", "order", "show_reference"}


@transaction.atomic
def update_project(*, project: Project, **changes: Any) -> Project:
    """Change a project's settings.  The rubric version and kind are fixed once set.

    Raising the overlap opens finished tasks to more raters; lowering it never takes a claim away
    (a task keeps the raters it has).
    """
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ProjectError(f"these settings cannot be changed: {', '.join(sorted(unknown))}")
    project = Project.objects.select_for_update().get(pk=project.pk)
    if "overlap" in changes and not 1 <= int(changes["overlap"]) <= 100:
        raise ProjectError("overlap must be between 1 and 100")
    if "lease_seconds" in changes and int(changes["lease_seconds"]) < 30:
        raise ProjectError("the lease must last at least 30 seconds")
    for field, value in changes.items():
        setattr(project, field, value)
    project.save()
    if "overlap" in changes:
        # Gold tasks keep their open capacity (every rater may rate each once).
        project.tasks.filter(is_gold=False).update(capacity=Greatest(F("claimed_count"), project.overlap))
    return project


@transaction.atomic
def add_member(*, project: Project, user, role: str) -> Membership:
    """Give a user a role in a project (or change it).  Automated judges cannot be members."""
    if role not in Membership.Role.values:
        raise ProjectError(f"role must be one of {', '.join(Membership.Role.values)}")
    if getattr(user, "is_automated", False):
        raise ProjectError(f"{user} is an automated rater; its ratings are imported, it is never a member")
    membership, created = Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def set_paused(*, project: Project, user, paused: bool) -> Membership:
    membership = Membership.objects.select_for_update().get(project=project, user=user)
    membership.paused = paused
    membership.save(update_fields=["paused"])
    return membership


# --- Importing items ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    items_created: int
    items_updated: int
    responses_created: int
    tasks_created: int

    def __str__(self) -> str:
        return (
            f"{self.items_created} items created, {self.items_updated} updated, "
            f"{self.responses_created} responses, {self.tasks_created} tasks"
        )


@dataclass
class _ItemRow:
    line: int
    external_id: str
    prompt: str
    reference: str
    metadata: dict
    priority: int
    responses: list[tuple[str, str]]


CSV_RESERVED = {"id", "prompt", "model", "response", "reference", "priority"}


def _parse_item(line: int, record: dict[str, Any], fmt: str, errors: ErrorList) -> _ItemRow | None:
    problems = len(errors.items), errors.total
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id).strip() == "":
        errors.add(line, "id", "required, a non-empty string")
        external_id = ""
    else:
        external_id = str(raw_id).strip()
        if len(external_id) > 200:
            errors.add(line, "id", "at most 200 characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in external_id):
            # An id is part of the item page's address: a line break there cannot be linked to, and the
            # report page that links to the item would fail for everyone.
            errors.add(line, "id", "must not contain line breaks, tabs or other control characters")
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        errors.add(line, "prompt", "required, non-empty text")
    reference = record.get("reference") or ""
    if not isinstance(reference, str):
        errors.add(line, "reference", "must be text")
    priority_raw = record.get("priority", 0) or 0
    try:
        priority = int(priority_raw)
        if isinstance(priority_raw, bool) or (isinstance(priority_raw, float) and not priority_raw.is_integer()):
            raise ValueError
    except (TypeError, ValueError):
        errors.add(line, "priority", f"must be a whole number (got {priority_raw!r})")
        priority = 0
    responses: list[tuple[str, str]] = []
    if fmt == "csv":
        model, text = (record.get("model") or "").strip(), record.get("response") or ""
        if not model:
            errors.add(line, "model", "required, the name of the model that wrote the response")
        if not text.strip():
            errors.add(line, "response", "required, non-empty text")
        responses.append((model, text))
        metadata = {k: v for k, v in record.items() if k not in CSV_RESERVED and v != ""}
    else:
        metadata = record.get("metadata", {}) or {}
        if not isinstance(metadata, dict):
            errors.add(line, "metadata", "must be an object")
            metadata = {}
        raw_responses = record.get("responses")
        if not isinstance(raw_responses, list) or not raw_responses:
            errors.add(line, "responses", "required, a non-empty list of {model, text}")
            raw_responses = []
        seen: set[str] = set()
        for index, resp in enumerate(raw_responses):
            where = f"responses[{index}]"
            if not isinstance(resp, dict):
                errors.add(line, where, "must be an object with model and text")
                continue
            model, text = resp.get("model"), resp.get("text")
            if not isinstance(model, str) or not model.strip():
                errors.add(line, f"{where}.model", "required, non-empty text")
                continue
            if not isinstance(text, str) or not text.strip():
                errors.add(line, f"{where}.text", "required, non-empty text")
                continue
            if model.strip() in seen:
                errors.add(line, f"{where}.model", f"model {model!r} appears twice in this item")
                continue
            seen.add(model.strip())
            if len(model.strip()) > 200:
                errors.add(line, f"{where}.model", "at most 200 characters")
            responses.append((model.strip(), text))
    if (len(errors.items), errors.total) != problems:
        return None
    # No new problems: the prompt is non-empty text (checked above).
    return _ItemRow(line, external_id, cast(str, prompt), reference, metadata, priority, responses)


def import_items(
    *, project: Project, stream: IO, fmt: str | None = None, name: str = "", update: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import items and their responses from JSONL, CSV or a JSON list, all or nothing.

    Every bad record is reported by line and field and nothing is written.  An id that already
    exists in the project is refused unless ``update`` is set; with it, the prompt, reference,
    metadata and priority are replaced and new responses are added, but the text of a response that
    has ratings never changes.  Records are written in batches as they are read, inside one
    transaction, so memory does not grow with the file.
    """
    stream, fmt = sniff(stream, name, fmt)
    errors = ErrorList()
    with transaction.atomic():
        importer = _ItemImporter(project, update, errors)
        for count, (line, record) in enumerate(read_records(stream, fmt, errors), start=1):
            row = _parse_item(line, record, fmt, errors)
            if row is not None:
                importer.add(row, fmt)
            if progress is not None and count % 500 == 0:
                progress(500)
        importer.flush()
        errors.raise_if_any()
        tasks = importer.create_tasks()
        return ImportSummary(importer.items_created, importer.items_updated, importer.responses_created, tasks)


class _ItemImporter:
    """Buffers parsed rows and writes them in batches; stops writing once an error is seen."""

    def __init__(self, project: Project, update: bool, errors: ErrorList):
        self.project, self.update, self.errors = project, update, errors
        self.existing: dict[str, int] = dict(project.items.values_list("external_id", "id"))
        self.seen: dict[str, tuple[int, str]] = {}  # external id -> (line first seen, prompt) in this file
        self.pending: list[_ItemRow] = []
        self.touched: set[int] = set()
        self.items_created = self.items_updated = self.responses_created = 0

    def add(self, row: _ItemRow, fmt: str) -> None:
        first = self.seen.get(row.external_id)
        if first is not None:
            if fmt != "csv":
                self.errors.add(row.line, "id", f"duplicate id {row.external_id!r} (first on line {first[0]})")
                return
            if first[1] != row.prompt:
                self.errors.add(
                    row.line, "prompt",
                    f"item {row.external_id!r} has a different prompt than on line {first[0]} (one row per response)",
                )
                return
        else:
            self.seen[row.external_id] = (row.line, row.prompt)
            if row.external_id in self.existing and not self.update:
                self.errors.add(
                    row.line, "id",
                    f"item {row.external_id!r} already exists in project {self.project.slug!r}; "
                    "use --update (API: ?update=1) to change it",
                )
                return
        self.pending.append(row)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        if self.errors or not rows:
            return  # the transaction will roll back; keep validating without writing
        new_items: dict[str, Item] = {}
        updates: dict[str, _ItemRow] = {}
        for row in rows:
            if row.external_id in self.existing:
                updates.setdefault(row.external_id, row)
            elif row.external_id not in new_items:
                new_items[row.external_id] = Item(
                    project=self.project, external_id=row.external_id, prompt=row.prompt, reference=row.reference,
                    metadata=row.metadata, priority=row.priority,
                )
        Item.objects.bulk_create(new_items.values(), batch_size=BATCH)
        for ext, item in new_items.items():
            self.existing[ext] = item.pk
        self.items_created += len(new_items)
        self._apply_updates(updates)
        self._add_responses(rows)

    def _apply_updates(self, updates: dict[str, _ItemRow]) -> None:
        if not updates:
            return
        items = list(Item.objects.filter(pk__in=[self.existing[e] for e in updates]))
        changed = []
        for item in items:
            row = updates[item.external_id]
            if item.pk in self.touched:
                continue  # a later CSV row of an item this file already updated
            item.prompt, item.reference, item.metadata, item.priority = row.prompt, row.reference, row.metadata, row.priority
            changed.append(item)
            self.touched.add(item.pk)
        Item.objects.bulk_update(changed, ["prompt", "reference", "metadata", "priority"], batch_size=BATCH)
        by_priority: dict[int, list[int]] = {}
        for item in changed:
            by_priority.setdefault(item.priority, []).append(item.pk)
        for priority, ids in by_priority.items():
            Task.objects.filter(item_id__in=ids).update(priority=priority)
        self.items_updated += len(changed)

    def _add_responses(self, rows: list[_ItemRow]) -> None:
        item_ids = {self.existing[r.external_id] for r in rows}
        current: dict[tuple[int, str], Response] = {
            (resp.item_id, resp.model): resp for resp in Response.objects.filter(item_id__in=item_ids)
        }
        positions: dict[int, int] = {}
        for (item_id, _), resp in current.items():
            positions[item_id] = max(positions.get(item_id, -1), resp.position)
        new: list[Response] = []
        for row in rows:
            item_id = self.existing[row.external_id]
            self.touched.add(item_id)
            for model, text in row.responses:
                existing = current.get((item_id, model))
                if existing is None:
                    positions[item_id] = positions.get(item_id, -1) + 1
                    resp = Response(item_id=item_id, model=model, text=text, position=positions[item_id])
                    current[(item_id, model)] = resp
                    new.append(resp)
                elif existing.text != text:
                    if existing.pk is None:
                        self.errors.add(row.line, "model", f"model {model!r} appears twice for item {row.external_id!r}")
                    elif _response_has_ratings(existing):
                        self.errors.add(
                            row.line, "response",
                            f"the {model!r} response of item {row.external_id!r} already has ratings; its text cannot change",
                        )
                    else:
                        Response.objects.filter(pk=existing.pk).update(text=text)
                elif existing.pk is None:
                    self.errors.add(row.line, "model", f"model {model!r} appears twice for item {row.external_id!r}")
        Response.objects.bulk_create(new, batch_size=BATCH)
        self.responses_created += len(new)

    def create_tasks(self) -> int:
        return ensure_tasks(project=self.project, item_ids=sorted(self.touched))


def _response_has_ratings(response: Response) -> bool:
    from evalplatform.ratings.models import Rating

    return Rating.objects.filter(task__response_a=response).exists() or Rating.objects.filter(
        task__response_b=response
    ).exists()


def ensure_tasks(*, project: Project, item_ids: Iterable[int], pairs: str = "all", seed: int | None = None) -> int:
    """Create the missing tasks of these items: one per response, or one per pair in a pairwise project.

    ``pairs="all"`` makes every pair of an item's responses; the model-comparison pairing (issue of
    balanced pairings) can pass other strategies through ``pairs``.
    """
    rng = random.Random(seed)
    item_ids = list(item_ids)
    created = 0
    for start in range(0, len(item_ids), BATCH):
        chunk = item_ids[start : start + BATCH]
        responses: dict[int, list[Response]] = {}
        for resp in Response.objects.filter(item_id__in=chunk).order_by("item_id", "position", "id"):
            responses.setdefault(resp.item_id, []).append(resp)
        priorities = dict(Item.objects.filter(pk__in=chunk).values_list("id", "priority"))
        if project.kind == Project.Kind.PAIRWISE:
            have = set(Task.objects.filter(item_id__in=chunk).values_list("response_a_id", "response_b_id"))
            wanted = [
                (item_id, a, b)
                for item_id, resps in responses.items()
                for a, b in combinations(resps, 2)
                if (a.pk, b.pk) not in have
            ]
            tasks = [
                Task(project=project, item_id=item_id, response_a=a, response_b=b, capacity=project.overlap,
                     priority=priorities[item_id], shuffle_key=rng.randrange(1 << 30))
                for item_id, a, b in wanted
            ]
        else:
            have_a = set(
                Task.objects.filter(item_id__in=chunk, response_b__isnull=True).values_list("response_a_id", flat=True)
            )
            tasks = [
                Task(project=project, item_id=item_id, response_a=resp, capacity=project.overlap,
                     priority=priorities[item_id], shuffle_key=rng.randrange(1 << 30))
                for item_id, resps in responses.items()
                for resp in resps
                if resp.pk not in have_a
            ]
        Task.objects.bulk_create(tasks, batch_size=BATCH)
        created += len(tasks)
    return created

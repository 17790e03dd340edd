"""Projects: what leads set up (rubric version, overlap, items) and who may work on them.

Every write about projects, memberships, items and tasks goes through these functions, whichever of
the admin, the commands, the API or the pages asks for it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import IO, Any, cast

import orjson
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.template.defaultfilters import pluralize
from django.utils.text import slugify

from evalplatform.bulk import insert_rows, refresh_statistics, reserve_ids
from evalplatform.projects.models import Item, Membership, Project, Response, Task
from evalplatform.projects.records import ErrorList, column_range, read_records, sniff, whole_number
from evalplatform.projects.references import schedule_scoring
from rubrics.models import RubricVersion

User = get_user_model()
BATCH = 1000
#: Items a batch of an import holds before it is written (bulk inserts; memory holds one batch).
IMPORT_BATCH = 1000
_RNG = random.Random()  # seeded from the system: queue order keys, not secrets


class ProjectError(ValidationError):
    """A request about a project that its rules refuse (the message says which rule)."""


LEASE_MIN_SECONDS, LEASE_MAX_SECONDS = 30, 30 * 24 * 3600  # API, page, command and service alike
LEASE_RULE = "the lease must last from 30 seconds to 30 days"


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
    if not LEASE_MIN_SECONDS <= lease_seconds <= LEASE_MAX_SECONDS:
        raise ProjectError(LEASE_RULE)
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
    if "lease_seconds" in changes and not LEASE_MIN_SECONDS <= int(changes["lease_seconds"]) <= LEASE_MAX_SECONDS:
        raise ProjectError(LEASE_RULE)
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
            f"{self.items_created} item{pluralize(self.items_created)} created, {self.items_updated} updated, "
            f"{self.responses_created} response{pluralize(self.responses_created)}, "
            f"{self.tasks_created} task{pluralize(self.tasks_created)}"
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


PRIORITY_RANGE = column_range(Item, "priority")
CSV_RESERVED = {"id", "prompt", "model", "response", "reference", "priority"}
TRAINING_COLUMNS = ("expected.", "explanation.")  # training items' columns (evalplatform.training.importing)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # one search per id, not a generator over its characters


def _metadata_json(metadata: dict[str, Any]) -> str:
    """An item's metadata as the JSON text its column stores: orjson (several times faster than ``json``
    on 100,000 items); ``json`` for what orjson refuses (an integer beyond 64 bits)."""
    if not metadata:
        return "{}"
    try:
        return orjson.dumps(metadata).decode()
    except TypeError:
        return json.dumps(metadata)


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
        if _CONTROL.search(external_id):
            # An id is part of the item page's address: a line break there cannot be linked to, and the
            # report page that links to the item would fail for everyone.
            errors.add(line, "id", "must not contain line breaks, tabs or other control characters")
        if "." in external_id and any(part in (".", "..") for part in external_id.split("/")):
            # The item page's address ends with the id, and "." and ".." segments are resolved away by
            # every browser and client: such an item's page could never be reached.
            errors.add(line, "id", 'must not have "." or ".." as a part between slashes (the item page\'s '
                       "address ends with the id, and browsers resolve those parts away)")
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        errors.add(line, "prompt", "required, non-empty text")
    reference = record.get("reference") or ""
    if not isinstance(reference, str):
        errors.add(line, "reference", "must be text")
    priority_raw = record.get("priority", 0) or 0
    try:
        priority = whole_number(priority_raw, *PRIORITY_RANGE)
    except ValueError as exc:
        errors.add(line, "priority", str(exc))
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
            training = [k for k in record if k in ("expected", "explanation") or k.startswith(TRAINING_COLUMNS)]
            if training:
                # A training item here would become a real, queued item with its answers as metadata.
                errors.add(line, training[0], "expected answers and explanations belong to training items: "
                           "import this file on the project's Training page (API: .../training/items/import/)")
                continue
            row = _parse_item(line, record, fmt, errors)
            if row is not None:
                importer.add(row, fmt)
            if progress is not None and count % 500 == 0:
                progress(500)
        importer.flush()
        errors.raise_if_any()
        tasks = importer.create_tasks()
        refresh_statistics(importer.responses_created + tasks, Item, Response, Task)
        if importer.with_reference:  # a worker scores the responses against the references, after commit
            schedule_scoring(project.pk)
        return ImportSummary(importer.items_created, importer.items_updated, importer.responses_created, tasks)


class _ItemImporter:
    """Buffers parsed rows and writes them in batches; stops writing once an error is seen."""

    def __init__(self, project: Project, update: bool, errors: ErrorList):
        self.project, self.update, self.errors = project, update, errors
        self.existing: dict[str, int] = dict(project.items.values_list("external_id", "id"))
        # external id -> the line it was first seen on in this file, and for CSV (whose rows of one item
        # must agree) the hash of its prompt: not the text, so a million-item file does not keep every
        # prompt in memory.
        self.seen: dict[str, int | tuple[int, int]] = {}
        self.pending: list[_ItemRow] = []
        self.touched: set[int] = set()  # items the general path wrote to (their tasks are made at the end)
        self.first_inserted: int | None = None  # items with this id or more were created by this import
        self.items_created = self.items_updated = self.responses_created = self.tasks_created = 0
        self.with_reference = False  # some row has a reference: the import enqueues their scoring

    def add(self, row: _ItemRow, fmt: str) -> None:
        first = self.seen.get(row.external_id)
        if first is not None:
            if not isinstance(first, tuple):
                self.errors.add(row.line, "id", f"duplicate id {row.external_id!r} (first on line {first})")
                return
            if first[1] != hash(row.prompt):
                self.errors.add(
                    row.line, "prompt",
                    f"item {row.external_id!r} has a different prompt than on line {first[0]} (one row per response)",
                )
                return
        else:
            self.seen[row.external_id] = (row.line, hash(row.prompt)) if fmt == "csv" else row.line
            if row.external_id in self.existing and not self.update:
                self.errors.add(
                    row.line, "id",
                    f"item {row.external_id!r} already exists in project {self.project.slug!r}; "
                    "use --update (API: ?update=1) to change it",
                )
                return
        self.pending.append(row)
        self.with_reference = self.with_reference or bool(row.reference.strip())
        if len(self.pending) >= IMPORT_BATCH:
            self.flush()

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        if self.errors or not rows:
            return  # the transaction will roll back; keep validating without writing
        fresh, known = self._split_new(rows)
        self._insert_new(fresh)
        if not known:
            return
        updates: dict[str, _ItemRow] = {}
        for row in known:
            if row.external_id in self.existing:
                updates.setdefault(row.external_id, row)
        self._apply_updates(updates)
        self._add_responses(known)

    def _split_new(self, rows: list[_ItemRow]) -> tuple[dict[str, list[_ItemRow]], list[_ItemRow]]:
        """The rows of items that are new to the project (grouped by item, in file order), and the rest:
        items that exist (``--update``) or that an earlier batch of this file created (a CSV item's
        later responses), which take the general path."""
        fresh: dict[str, list[_ItemRow]] = {}
        known: list[_ItemRow] = []
        for row in rows:
            if row.external_id in self.existing:
                known.append(row)
            else:
                fresh.setdefault(row.external_id, []).append(row)
        return fresh, known

    def _insert_new(self, fresh: dict[str, list[_ItemRow]]) -> None:
        """New items, their responses and their tasks, with bulk inserts (``evalplatform.bulk``): ids are
        reserved up front, so nothing is read back."""
        if not fresh:
            return
        item_ids = reserve_ids(Item, len(fresh))
        if self.first_inserted is None:
            # Ids only grow: every item that existed before has a smaller one.
            self.first_inserted = min(item_ids)
        items, responses, per_item = [], [], []
        for item_id, (ext, group) in zip(item_ids, fresh.items(), strict=True):
            first = group[0]
            items.append((item_id, self.project.pk, ext, first.prompt, first.reference,
                          _metadata_json(first.metadata), first.priority))
            models: list[tuple[str, str]] = []
            seen: set[str] = set()
            for row in group:
                for model, text in row.responses:
                    if model in seen:  # only CSV can repeat a model (JSONL rows are checked when parsed)
                        self.errors.add(row.line, "model", f"model {model!r} appears twice for item {ext!r}")
                        continue
                    seen.add(model)
                    models.append((model, text))
            per_item.append((item_id, first.priority, len(models)))
            responses.extend(models)
            if isinstance(self.seen.get(ext), tuple):  # CSV: later rows may add responses to it
                self.existing[ext] = item_id
        if self.errors:
            return
        response_ids = iter(reserve_ids(Response, len(responses)))
        response_rows: list[tuple] = []
        task_rows: list[tuple] = []
        overlap, pairwise, project_id = self.project.overlap, self.project.kind == Project.Kind.PAIRWISE, self.project.pk
        texts = iter(responses)
        for item_id, priority, n in per_item:
            ids = []
            for position in range(n):
                model, text = next(texts)
                response_id = next(response_ids)
                ids.append(response_id)
                response_rows.append((response_id, item_id, model, text, position))
            pairs = combinations(ids, 2) if pairwise else ((a, None) for a in ids)
            task_rows.extend(
                (project_id, item_id, a, b, overlap, priority, _RNG.getrandbits(30)) for a, b in pairs
            )
        insert_rows(Item, ("project_id", "external_id", "prompt", "reference", "metadata", "priority"), items,
                    with_id=True)
        insert_rows(Response, ("item_id", "model", "text", "position"), response_rows, with_id=True)
        insert_rows(Task, ("project_id", "item_id", "response_a_id", "response_b_id", "capacity", "priority",
                           "shuffle_key"), task_rows)
        self.items_created += len(items)
        self.responses_created += len(response_rows)
        self.tasks_created += len(task_rows)

    def _apply_updates(self, updates: dict[str, _ItemRow]) -> None:
        if not updates:
            return
        items = list(Item.objects.filter(pk__in=[self.existing[e] for e in updates]))
        changed = []
        for item in items:
            row = updates[item.external_id]
            if item.pk in self.touched or (self.first_inserted is not None and item.pk >= self.first_inserted):
                continue  # a later CSV row of an item this file already created or updated
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
        """The tasks of items the general path touched (new items got theirs when inserted)."""
        return self.tasks_created + ensure_tasks(project=self.project, item_ids=sorted(self.touched))


def _response_has_ratings(response: Response) -> bool:
    # Through the tasks' reverse relation to ratings: projects sits below ratings and imports none of it.
    return Task.objects.filter(Q(response_a=response) | Q(response_b=response), ratings__isnull=False).exists()


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

"""Importing training items: the items import format (JSONL, CSV or a JSON list) plus the expected
answer and the explanation of each dimension.

JSONL / JSON: ``{id, prompt, reference?, responses: [{model, text}], expected: {dimension: value},
explanation: {dimension: text}}``.  CSV: one row per response (``id, prompt, model, response,
reference?``) with columns ``expected.<dimension>`` and ``explanation.<dimension>``; the rows of one
item must agree on them (give them once, on any row).  On a pair (two responses) a question asked of
each response takes ``<dimension>.a`` / ``<dimension>.b``.  The base fields are checked by the items
import's own parser (``projects.services``), so the same mistakes get the same messages; any bad record
refuses the whole file, line by line, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from evalplatform.projects.models import Project
from evalplatform.projects.records import ErrorList, read_records, sniff
from evalplatform.projects.services import _parse_item
from evalplatform.training.models import TrainingItem
from evalplatform.training.services import _next_position, clean_expectations


@dataclass(frozen=True)
class TrainingImportSummary:
    items_created: int
    items_updated: int


@dataclass
class _Pending:
    line: int
    external_id: str
    prompt: str
    reference: str
    responses: list[dict[str, str]] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)
    explanations: dict[str, Any] = field(default_factory=dict)


def _split_csv(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    base, expected, explanations = {}, {}, {}
    for key, value in record.items():
        if key.startswith("expected."):
            if str(value).strip():
                expected[key.removeprefix("expected.")] = value
        elif key.startswith("explanation."):
            if str(value).strip():
                explanations[key.removeprefix("explanation.")] = value
        else:
            base[key] = value
    return base, expected, explanations


def import_training_items(
    *, project: Project, stream: IO, fmt: str | None = None, name: str = "", update: bool = False,
) -> TrainingImportSummary:
    """Import training items with their expected answers and explanations, all or nothing.

    An id that is already a training item of the project is refused unless ``update`` is set, which
    replaces its content, expected answers and explanations.
    """
    stream, fmt = sniff(stream, name, fmt)
    errors = ErrorList()
    existing = {t.external_id: t for t in TrainingItem.objects.filter(project=project)}
    items: dict[str, _Pending] = {}
    for line, record in read_records(stream, fmt, errors):
        if fmt == "csv":
            record, expected, explanations = _split_csv(record)
        else:
            raw_expected, raw_explanations = record.get("expected"), record.get("explanation")
            for key, value, what in (("expected", raw_expected, "dimension key -> expected value"),
                                     ("explanation", raw_explanations, "dimension key -> explanation text")):
                if value is not None and not isinstance(value, dict):
                    errors.add(line, key, f"must be an object of {what}")
            expected = raw_expected if isinstance(raw_expected, dict) else {}
            explanations = raw_explanations if isinstance(raw_explanations, dict) else {}
        row = _parse_item(line, record, fmt, errors)
        if row is None:
            continue
        pending = items.get(row.external_id)
        if pending is None:
            if row.external_id in existing and not update:
                errors.add(line, "id", f"training item {row.external_id!r} already exists; use update to replace it")
                continue
            pending = items[row.external_id] = _Pending(line, row.external_id, row.prompt, row.reference)
        elif fmt != "csv":
            errors.add(line, "id", f"duplicate id {row.external_id!r} (first on line {pending.line})")
            continue
        elif row.prompt != pending.prompt:
            errors.add(line, "prompt", f"item {row.external_id!r} has a different prompt than on line {pending.line}")
            continue
        for key, value in expected.items():
            if key in pending.expected and str(pending.expected[key]).strip() != str(value).strip():
                errors.add(line, f"expected.{key}", f"differs from line {pending.line} of the same item")
            pending.expected[key] = value
        for key, value in explanations.items():
            if key in pending.explanations and pending.explanations[key] != value:
                errors.add(line, f"explanation.{key}", f"differs from line {pending.line} of the same item")
            pending.explanations[key] = value
        pending.responses += [{"model": m, "text": t} for m, t in row.responses]
    cleaned = []
    for pending in items.values():
        if len(pending.responses) not in (1, 2):
            errors.add(pending.line, "responses", f"a training item shows one response or one pair; this one has "
                                                  f"{len(pending.responses)}")
            continue
        values, notes, problems = clean_expectations(project, pair=len(pending.responses) == 2,
                                                     expected=pending.expected, explanations=pending.explanations)
        for where, message in problems.items():
            errors.add(pending.line, where, message)
        cleaned.append((pending, values, notes))
    errors.raise_if_any()
    created = updated = 0
    with transaction.atomic():
        position = _next_position(project)
        for pending, values, notes in cleaned:
            content = {"prompt": pending.prompt, "reference": pending.reference, "responses": pending.responses,
                       "expected": values, "explanations": notes}
            known = existing.get(pending.external_id)
            if known is not None:
                TrainingItem.objects.filter(pk=known.pk).update(**content)
                updated += 1
            else:
                TrainingItem.objects.create(project=project, external_id=pending.external_id, position=position,
                                            **content)
                position += 1
                created += 1
    return TrainingImportSummary(created, updated)

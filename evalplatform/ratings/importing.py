"""Importing ratings collected elsewhere (another tool, a spreadsheet, an automated judge).

Rows are long format, one score each: ``item_id, model, rater, dimension, value`` (pairwise projects
name the pair with ``model_a, model_b``, and a question asked of each response of the pair, such as a
likert scale, names its response with ``model`` too; ``model`` may be empty when an item has one
response; ``justification`` and ``duration_ms`` are optional).  The same validation as a rater's submission
applies, and the import is all or nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.projects.records import ErrorList, read_records, sniff
from evalplatform.ratings.models import Rating, Score, asked_per_response
from evalplatform.reports.services import note_ratings_changed
from rubrics.scales import scales_for

User = get_user_model()
AUTOMATED_PREFIX = "judge:"


@dataclass(frozen=True)
class RatingsImportSummary:
    ratings: int
    scores: int
    raters_created: int

    def __str__(self) -> str:
        return f"{self.ratings} ratings ({self.scores} scores) imported, {self.raters_created} rater accounts created"


@dataclass
class _Pending:
    line: int
    task_id: int
    rater: str
    values: dict[str, Any] = field(default_factory=dict)
    justification: str = ""
    duration_ms: int | None = None


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


def import_ratings(
    *, project: Project, stream: IO, fmt: str | None = None, name: str = "", automated: bool = False,
) -> RatingsImportSummary:
    """Import ratings, all or nothing; every bad row is reported by line and field.

    Unknown human raters become inactive rater accounts (they cannot log in until an admin
    activates them).  With ``automated``, raters are automated judges named ``judge:<name>``: they
    never count toward a task's overlap and never appear in the queue.
    """
    stream, fmt = sniff(stream, name, fmt)
    errors = ErrorList()
    scales = scales_for(project.rubric_version_id)
    pairwise = project.kind == Project.Kind.PAIRWISE
    tasks = _task_index(project)
    pending: dict[tuple[int, str], _Pending] = {}
    seen_scores: dict[tuple[int, str, str], int] = {}

    for line, record in read_records(stream, fmt, errors):
        problems = errors.total
        item_id = _text(record, "item_id") or _text(record, "id")
        rater = _text(record, "rater")
        dim_key = _text(record, "dimension")
        raw_value = record.get("value")
        if not item_id:
            errors.add(line, "item_id", "required")
        if not rater:
            errors.add(line, "rater", "required")
        elif automated and not rater.startswith(AUTOMATED_PREFIX):
            rater = AUTOMATED_PREFIX + rater
        if len(rater) > 150:
            errors.add(line, "rater", "at most 150 characters")
        if not dim_key:
            errors.add(line, "dimension", "required")
        elif dim_key not in scales:
            errors.add(line, "dimension", f"unknown dimension {dim_key!r}; this rubric has {', '.join(scales)}")
        if errors.total != problems:
            continue
        models: tuple[str, ...] = (
            (_text(record, "model_a"), _text(record, "model_b")) if pairwise else (_text(record, "model"),)
        )
        task_id, why = _find_task(tasks, item_id, models, pairwise)
        if task_id is None:
            errors.add(line, "model" if "model" in why else "item_id", why)
            continue
        scale = scales[dim_key]
        answer = dim_key
        if asked_per_response(scale.kind, pair=pairwise):
            model = _text(record, "model")
            if model not in models:
                errors.add(line, "model", f"{dim_key} is scored per response of the pair: model must be "
                           f"{models[0]!r} or {models[1]!r} (got {model!r})")
                continue
            answer = f"{dim_key}.{model}"
        if scale.is_text and (raw_value is None or str(raw_value).strip() == ""):
            continue  # an empty free-text answer is no answer
        if raw_value is None or (isinstance(raw_value, str) and raw_value.strip() == "" and not scale.is_text):
            errors.add(line, "value", f"{dim_key}: required; expected {scale.describe()}")
            continue
        try:
            value = scale.coerce(raw_value if scale.is_text or not isinstance(raw_value, str) else raw_value.strip())
        except ValueError as exc:
            errors.add(line, "value", str(exc))
            continue
        scored_key = (task_id, rater, answer)
        if scored_key in seen_scores:
            errors.add(line, "dimension", f"{rater} already scored {answer} for this task on line {seen_scores[scored_key]}")
            continue
        seen_scores[scored_key] = line
        entry = pending.setdefault((task_id, rater), _Pending(line=line, task_id=task_id, rater=rater))
        entry.values[answer] = value
        justification = _text(record, "justification")
        if justification:
            entry.justification = justification
        duration = record.get("duration_ms")
        if duration not in (None, ""):
            try:
                entry.duration_ms = int(duration)
                if entry.duration_ms < 0:
                    raise ValueError
            except (TypeError, ValueError):
                errors.add(line, "duration_ms", f"must be a whole number of milliseconds (got {duration!r})")

    for entry in pending.values():
        for key, scale in scales.items():
            if not scale.required:
                continue
            if asked_per_response(scale.kind, pair=pairwise):
                scored = sum(1 for answer in entry.values if answer.partition(".")[0] == key)
                if scored < 2:
                    errors.add(entry.line, "dimension", f"the rating of {entry.rater} for this task lacks required "
                               f"dimension {key!r} for both responses (one row per model)")
            elif key not in entry.values:
                errors.add(entry.line, "dimension", f"the rating of {entry.rater} for this task lacks required dimension {key!r}")
    errors.raise_if_any()

    with transaction.atomic():
        users, created = _raters(project, {p.rater for p in pending.values()}, automated, errors)
        errors.raise_if_any()
        _check_existing(pending, users, errors)
        errors.raise_if_any()
        if not automated:
            _claim_places(project, pending, users, errors)
        errors.raise_if_any()
        ratings = _write(project, pending, users, scales, automated)
        n_scores = sum(len(p.values) for p in pending.values())
        if ratings:
            note_ratings_changed(project_id=project.pk, count=len(ratings))
    return RatingsImportSummary(len(ratings), n_scores, created)


def _task_index(project: Project) -> dict[str, dict[tuple[str, ...], int]]:
    index: dict[str, dict[tuple[str, ...], int]] = defaultdict(dict)
    rows = Task.objects.filter(project=project).values_list(
        "id", "item__external_id", "response_a__model", "response_b__model"
    )
    for task_id, ext, model_a, model_b in rows.iterator(chunk_size=5000):
        index[ext][(model_a,) if model_b is None else (model_a, model_b)] = task_id
    return index


def _find_task(index, item_id: str, models: tuple[str, ...], pairwise: bool) -> tuple[int | None, str]:
    tasks = index.get(item_id)
    if tasks is None:
        return None, f"no item {item_id!r} in this project"
    if pairwise:
        if not all(models):
            return None, "model_a and model_b are required in a pairwise project"
        found = tasks.get(models)
        if found is None and (models[1], models[0]) in tasks:
            return None, (
                f"the pair of item {item_id!r} is stored as {models[1]!r} vs {models[0]!r}; "
                "give model_a and model_b in that order (the value's sign depends on it)"
            )
        return (found, "") if found else (None, f"item {item_id!r} has no pair of models {models[0]!r} and {models[1]!r}")
    (model,) = models
    if not model:
        if len(tasks) == 1:
            return next(iter(tasks.values())), ""
        return None, f"item {item_id!r} has {len(tasks)} responses; say which with the model column"
    found = tasks.get((model,))
    return (found, "") if found else (None, f"item {item_id!r} has no response from model {model!r}")


def _raters(project: Project, names: set[str], automated: bool, errors: ErrorList):
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    created = 0
    for name in sorted(names - set(users)):
        user = User(username=name, is_active=False, is_automated=automated)
        user.set_unusable_password()
        user.save()
        users[name] = user
        created += 1
    for name, user in users.items():
        if user.is_automated != automated:
            kind = "an automated judge" if user.is_automated else "a human rater"
            errors.add(None, "rater", f"{name!r} is {kind}; import "
                       + ("with" if user.is_automated else "without") + " --automated")
    if not automated:
        member_ids = set(Membership.objects.filter(project=project, user__in=users.values()).values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            Membership(project=project, user=u, role=Membership.Role.RATER)
            for u in users.values() if u.pk not in member_ids
        )
    return users, created


def _check_existing(pending: dict, users: dict, errors: ErrorList) -> None:
    by_rater: dict[int, list[_Pending]] = defaultdict(list)
    for entry in pending.values():
        by_rater[users[entry.rater].pk].append(entry)
    for rater_id, entries in by_rater.items():
        task_ids = [e.task_id for e in entries]
        taken = set(Assignment.objects.filter(rater_id=rater_id, task_id__in=task_ids).values_list("task_id", flat=True))
        taken |= set(Rating.objects.filter(rater_id=rater_id, task_id__in=task_ids).values_list("task_id", flat=True))
        for entry in entries:
            if entry.task_id in taken:
                errors.add(entry.line, "rater", f"{entry.rater} already rated or holds this task")


def _claim_places(project: Project, pending: dict, users: dict, errors: ErrorList) -> None:
    """Human imported ratings take places on their tasks like queue ratings do (within overlap)."""
    per_task: dict[int, list[_Pending]] = defaultdict(list)
    for entry in pending.values():
        per_task[entry.task_id].append(entry)
    by_count: dict[int, list[int]] = defaultdict(list)
    for task_id, entries in per_task.items():
        by_count[len(entries)].append(task_id)
    for n, task_ids in by_count.items():
        room = set(
            Task.objects.filter(pk__in=task_ids, claimed_count__lte=F("capacity") - n).values_list("id", flat=True)
        )
        for task_id in set(task_ids) - room:
            first = per_task[task_id][0]
            errors.add(first.line, "item_id", f"this task has no room for {n} more rating(s) within the project's overlap")
        Task.objects.filter(pk__in=room).update(claimed_count=F("claimed_count") + n, rated_count=F("rated_count") + n)


def _write(project: Project, pending: dict, users: dict, scales: dict, automated: bool) -> list[Rating]:
    now = timezone.now()
    entries = list(pending.values())
    assignments: list[Assignment | None] = [None] * len(entries)
    if not automated:
        submitted = [
            Assignment(
                project=project, task_id=e.task_id, rater=users[e.rater], status=Assignment.Status.SUBMITTED,
                source=Assignment.Source.IMPORT, leased_at=now, lease_expires_at=now, finished_at=now,
            )
            for e in entries
        ]
        Assignment.objects.bulk_create(submitted, batch_size=1000)
        assignments = [*submitted]
    ratings = [
        Rating(
            project=project, task_id=e.task_id, rater=users[e.rater], assignment=a,
            rubric_version_id=project.rubric_version_id, justification=e.justification, duration_ms=e.duration_ms,
        )
        for e, a in zip(entries, assignments, strict=True)
    ]
    Rating.objects.bulk_create(ratings, batch_size=1000)
    scores = []
    responses = _pair_responses(project, {e.task_id for e in entries if any("." in a for a in e.values)})
    for entry, rating in zip(entries, ratings, strict=True):
        for answer, value in entry.values.items():
            key, _, model = answer.partition(".")
            scale = scales[key]
            if scale.is_text:
                scores.append(Score(rating=rating, dimension_id=scale.dimension_id, text=str(value)))
            else:
                response_id = responses[(entry.task_id, model)] if model else None
                scores.append(Score(rating=rating, dimension_id=scale.dimension_id, value=int(value),
                                    response_id=response_id))
    Score.objects.bulk_create(scores, batch_size=2000)
    return ratings


def _pair_responses(project: Project, task_ids: set[int]) -> dict[tuple[int, str], int]:
    """(task id, model) -> response id for the pair tasks whose per-response questions were imported."""
    out: dict[tuple[int, str], int] = {}
    rows = Task.objects.filter(project=project, pk__in=task_ids).values_list(
        "id", "response_a_id", "response_a__model", "response_b_id", "response_b__model"
    )
    for task_id, a, model_a, b, model_b in rows:
        out[(task_id, model_a)], out[(task_id, model_b)] = a, b
    return out

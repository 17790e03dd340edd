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
from django.db.models.functions import Lower
from django.template.defaultfilters import pluralize
from django.utils import timezone

from evalplatform.accounts.services import USERNAME_MAX, username_problem
from evalplatform.assignments.models import Assignment
from evalplatform.bulk import add_to_counts, db_value, insert_rows, refresh_statistics, reserve_ids
from evalplatform.input_rules import JUSTIFICATION_MAX, text_problem
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.projects.records import ErrorList, column_range, read_records, sniff, whole_number
from evalplatform.ratings.changes import note_ratings_changed
from evalplatform.ratings.models import Rating, Score
from rubrics.scales import asked_per_response, scales_for

User = get_user_model()
AUTOMATED_PREFIX = "judge:"
DURATION_RANGE = column_range(Rating, "duration_ms")


@dataclass(frozen=True)
class RatingsImportSummary:
    ratings: int
    scores: int
    raters_created: int

    def __str__(self) -> str:
        return (f"{self.ratings} rating{pluralize(self.ratings)} ({self.scores} score{pluralize(self.scores)}) imported, "
                f"{self.raters_created} rater account{pluralize(self.raters_created)} created")


@dataclass(slots=True)
class _Pending:
    """One rating being imported: its scores by answer key (``dimension``, or ``dimension.model`` for a
    per-response question of a pair) and the line each came from, in the same order: ``lines`` stays
    None while they came on consecutive lines from ``line`` (as files usually give a rating's rows),
    which spares a list per rating on a file of hundreds of thousands."""

    line: int
    task_id: int
    rater: str
    values: dict[str, Any] = field(default_factory=dict)
    lines: list[int] | None = None
    justification: str = ""
    duration_ms: int | None = None

    def line_of(self, answer: str) -> int:
        index = list(self.values).index(answer)
        return self.line + index if self.lines is None else self.lines[index]


_NONE: dict = {}


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


def import_ratings(
    *, project: Project, stream: IO, fmt: str | None = None, name: str = "", automated: bool = False,
    create_raters: bool = False,
) -> RatingsImportSummary:
    """Import ratings, all or nothing; every bad row is reported by line and field.

    Raters are named as accounts are (``accounts.services.username_problem``).  People who have an
    account must be raters of the project already; unknown ones are refused unless ``create_raters``,
    which makes them inactive rater accounts (they cannot log in until an admin activates them).  With
    ``automated``, raters are automated judges named ``judge:<name>``, created as needed: they never
    count toward a task's overlap and never appear in the queue.
    """
    stream, fmt = sniff(stream, name, fmt)
    errors = ErrorList()
    scales = scales_for(project.rubric_version_id)
    pairwise = project.kind == Project.Kind.PAIRWISE
    tasks = _task_index(project)
    pending: dict[tuple[int, str], _Pending] = {}

    # What each dimension needs, looked up once rather than per row; and each distinct raw value's
    # stored form per dimension (a file has a handful of distinct values and hundreds of thousands of rows).
    asked = {key: (scale, asked_per_response(scale.kind, pair=pairwise), scale.is_text) for key, scale in scales.items()}
    coerced: dict[tuple[str, type, Any], tuple[Any, str | None]] = {}
    shared: dict[str, str] = {}  # raters' names and per-response answer keys, one object each

    for line, record in read_records(stream, fmt, errors):
        problems = errors.total
        # ``_text`` inlined for the columns every row has (a CSV's cells are text): 720,000 rows, five calls each.
        get = record.get
        item_id = raw.strip() if type(raw := get("item_id")) is str else _text(record, "item_id")
        item_id = item_id or _text(record, "id")
        rater = raw.strip() if type(raw := get("rater")) is str else _text(record, "rater")
        dim_key = raw.strip() if type(raw := get("dimension")) is str else _text(record, "dimension")
        raw_value = get("value")
        if not item_id:
            errors.add(line, "item_id", "required")
        if not rater:
            errors.add(line, "rater", "required")
        else:
            if automated and not rater.startswith(AUTOMATED_PREFIX):
                rater = AUTOMATED_PREFIX + rater
            if len(rater) > USERNAME_MAX:
                errors.add(line, "rater", f"at most {USERNAME_MAX} characters (got {len(rater)})")
        if not dim_key:
            errors.add(line, "dimension", "required")
        elif dim_key not in scales:
            errors.add(line, "dimension", f"unknown dimension {dim_key!r}; this rubric has {', '.join(scales)}")
        if errors.total != problems:
            continue
        if pairwise:
            models: tuple[str, ...] = (_text(record, "model_a"), _text(record, "model_b"))
        else:
            models = (raw.strip() if type(raw := get("model")) is str else _text(record, "model"),)
        # The common case (the item and its model are known) without a call; anything else is explained.
        task_id = None if pairwise else (tasks.get(item_id) or _NONE).get(models)
        if task_id is None:
            task_id, why = _find_task(tasks, item_id, models, pairwise)
            if task_id is None:
                errors.add(line, "model" if "model" in why else "item_id", why)
                continue
        scale, per_response, is_text = asked[dim_key]
        answer = scale.key  # the rubric's own string: 180,000 ratings share it rather than each a copy
        if per_response:
            model = _text(record, "model")
            if model not in models:
                errors.add(line, "model", f"{dim_key} is scored per response of the pair: model must be "
                           f"{models[0]!r} or {models[1]!r} (got {model!r})")
                continue
            answer = shared.setdefault(answer := f"{dim_key}.{model}", answer)
        if is_text and (raw_value is None or str(raw_value).strip() == ""):
            continue  # an empty free-text answer is no answer
        if raw_value is None or (isinstance(raw_value, str) and raw_value.strip() == "" and not is_text):
            errors.add(line, "value", f"{dim_key}: required; expected {scale.describe()}")
            continue
        memo = (dim_key, type(raw_value), raw_value) if not is_text and type(raw_value) in (str, int) else None
        found = coerced.get(memo) if memo is not None else None
        if found is None:
            try:
                found = (scale.coerce(raw_value if is_text or not isinstance(raw_value, str) else raw_value.strip()),
                         None)
            except ValueError as exc:
                found = (None, str(exc))
            if memo is not None:
                coerced[memo] = found
        value, problem = found
        if problem is not None:
            errors.add(line, "value", problem)
            continue
        entry = pending.get((task_id, rater))
        if entry is None:
            rater = shared.setdefault(rater, rater)  # one string per rater, not one per rating
            entry = pending[(task_id, rater)] = _Pending(line=line, task_id=task_id, rater=rater)
        elif answer in entry.values:
            errors.add(line, "dimension", f"{rater} already scored {answer} for this task on line {entry.line_of(answer)}")
            continue
        values = entry.values
        if entry.lines is not None:
            entry.lines.append(line)
        elif line != entry.line + len(values):  # not the next line: from now on each answer's line is kept
            entry.lines = [*range(entry.line, entry.line + len(values)), line]
        values[answer] = value
        justification = raw.strip() if type(raw := get("justification")) is str else _text(record, "justification")
        if justification:
            problem = text_problem(justification, limit=JUSTIFICATION_MAX)
            if problem:
                errors.add(line, "justification", problem)
            entry.justification = justification
        duration = record.get("duration_ms")
        if duration not in (None, ""):
            try:
                entry.duration_ms = whole_number(duration, *DURATION_RANGE)
            except ValueError as exc:
                errors.add(line, "duration_ms", f"milliseconds: {exc}")

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
        users, created = _raters(project, pending, automated, create_raters, errors)
        errors.raise_if_any()
        _check_existing(project, pending, users, errors)
        errors.raise_if_any()
        if not automated:
            _claim_places(project, pending, users, errors)
        errors.raise_if_any()
        ratings = _write(project, pending, users, scales, automated)
        n_scores = sum(len(p.values) for p in pending.values())
        refresh_statistics(n_scores, Score, Rating, *(() if automated else (Assignment, Task)))
        if ratings:
            note_ratings_changed(project_id=project.pk, count=ratings)
    return RatingsImportSummary(ratings, n_scores, created)


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


def _raters(project: Project, pending: dict, automated: bool, create: bool, errors: ErrorList):
    """The accounts the file names, by name.  Existing people must already be raters of the project (a
    file never makes anyone a member, nor rates in the name of a lead or an admin); unknown names
    become inactive rater accounts only when ``create`` asks for it (judges: always).  Names are one
    name whatever their case, as at log-in."""
    first_line: dict[str, int] = {}
    for entry in pending.values():
        first_line[entry.rater] = min(entry.line, first_line.get(entry.rater, entry.line))
    names = set(first_line)
    by_lower: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        by_lower[name.lower()].append(name)
    existing = {
        u.username.lower(): u
        for u in User.objects.annotate(lower_name=Lower("username")).filter(lower_name__in=list(by_lower))
    }
    rater_ids = set(
        Membership.objects.filter(project=project, role=Membership.Role.RATER, user__in=existing.values())
        .values_list("user_id", flat=True)
    )
    users: dict[str, Any] = {}
    new_names: list[str] = []
    for lower, spellings in by_lower.items():
        user = existing.get(lower)
        for name in spellings:
            line = first_line[name]
            if len(spellings) > 1:
                errors.add(line, "rater", f"{name!r} and {next(s for s in spellings if s != name)!r} differ only in "
                           "case: one account name is one name whatever its case")
            elif user is not None and user.username != name:
                errors.add(line, "rater", f"the account is named {user.username!r}; write it so ({name!r} differs "
                           "only in case)")
            elif user is not None and user.is_automated != automated:
                kind = "an automated judge" if user.is_automated else "a human rater"
                errors.add(line, "rater", f"{name!r} is {kind}; import "
                           + ("with" if user.is_automated else "without") + " --automated")
            elif user is not None and not automated and user.pk not in rater_ids:
                errors.add(line, "rater", f"{name!r} is an existing account but not a rater of this project; a "
                           "lead adds raters on the dashboard (an imported file never makes anyone a member)")
            elif user is not None:
                users[name] = user
            elif not (automated or create):
                errors.add(line, "rater", f"no account {name!r}; add the rater first, or ask the import to create "
                           "accounts for unknown raters (--create-raters; API: ?create_raters=1)")
            else:
                # A new account's name follows the rule every account's does (a judge's after "judge:").
                problem = username_problem(name[len(AUTOMATED_PREFIX):] if automated else name)
                if problem:
                    errors.add(line, "rater", problem)
                else:
                    new_names.append(name)
    if errors:
        return users, 0
    for name in new_names:
        account = User(username=name, is_active=False, is_automated=automated)
        account.set_unusable_password()
        account.save()
        users[name] = account
    if not automated and new_names:
        Membership.objects.bulk_create(
            Membership(project=project, user=users[name], role=Membership.Role.RATER) for name in new_names
        )
    return users, len(new_names)


def _check_existing(project: Project, pending: dict, users: dict, errors: ErrorList) -> None:
    """A rater may not rate a task twice, nor one they hold: read the (rater, task) pairs these raters
    already have in the project (one query each for assignments and ratings, none per task; nothing at
    all for a project they have no work in yet) and look each rating up."""
    rater_ids = {users[entry.rater].pk for entry in pending.values()}
    taken: set[tuple[int, int]] = set()
    for model in (Assignment, Rating):
        rows = model.objects.filter(project=project, rater_id__in=rater_ids).values_list("rater_id", "task_id")
        taken.update(rows.iterator(chunk_size=10_000))
    if not taken:
        return
    for entry in pending.values():
        if (users[entry.rater].pk, entry.task_id) in taken:
            errors.add(entry.line, "rater", f"{entry.rater} already rated or holds this task")


def _claim_places(project: Project, pending: dict, users: dict, errors: ErrorList) -> None:
    """Human imported ratings take places on their tasks like queue ratings do (within overlap).

    The room on every task of the project is read in one query; the counts are then raised with one
    conditional bulk update (``bulk.add_to_counts``), which refuses the import if a rater claimed a place
    on one of these tasks in between."""
    per_task: dict[int, list[_Pending]] = defaultdict(list)
    for entry in pending.values():
        per_task[entry.task_id].append(entry)
    room = dict(
        Task.objects.filter(project=project).annotate(room=F("capacity") - F("claimed_count"))
        .values_list("id", "room").iterator(chunk_size=10_000)
    )
    counts: dict[int, int] = {}
    for task_id, entries in per_task.items():
        n = len(entries)
        if room.get(task_id, 0) < n:
            errors.add(entries[0].line, "item_id", f"this task has no room for {n} more rating(s) within the project's overlap")
        counts[task_id] = n
    if errors:
        return
    if add_to_counts(Task, counts, ("claimed_count", "rated_count"), within=("claimed_count", "capacity")) != len(counts):
        errors.add(None, None, "raters claimed places on these tasks while the file was being imported; nothing was "
                   "written: import it again")


def _write(project: Project, pending: dict, users: dict, scales: dict, automated: bool) -> int:
    """Insert the assignments (human raters), ratings and scores with bulk inserts; returns the number
    of ratings.  Ids are reserved first, so scores name their rating without reading anything back."""
    now = timezone.now()
    entries = list(pending.values())
    rating_ids = reserve_ids(Rating, len(entries))
    rater_ids = {name: user.pk for name, user in users.items()}
    # What every row shares, looked up once: ``project.pk`` and an enum's value are attribute lookups
    # through descriptors, 0.2 s over 180,000 ratings.
    project_id, version_id = project.pk, project.rubric_version_id
    assignment_ids: list[int | None] = [None] * len(entries)
    if not automated:
        assignment_ids = [*reserve_ids(Assignment, len(entries))]
        stamp = db_value(Assignment, "leased_at", now)
        submitted, imported = Assignment.Status.SUBMITTED.value, Assignment.Source.IMPORT.value
        insert_rows(
            Assignment, ("project_id", "task_id", "rater_id", "status", "source", "leased_at", "lease_expires_at",
                         "finished_at"),
            ((a, project_id, e.task_id, rater_ids[e.rater], submitted, imported, stamp, stamp, stamp)
             for a, e in zip(assignment_ids, entries, strict=True)),
            with_id=True,
        )
    insert_rows(
        Rating, ("project_id", "task_id", "rater_id", "assignment_id", "rubric_version_id", "justification",
                 "duration_ms"),
        ((r, project_id, e.task_id, rater_ids[e.rater], a, version_id, e.justification, e.duration_ms)
         for r, e, a in zip(rating_ids, entries, assignment_ids, strict=True)),
        with_id=True,
    )
    responses = _pair_responses(project, {e.task_id for e in entries if any("." in a for a in e.values)})
    dimension_of = {key: (scale.dimension_id, scale.is_text) for key, scale in scales.items()}

    answers: dict[str, tuple[int, bool, str]] = {}  # answer key -> (dimension id, is text, model): a handful

    def scores():
        for entry, rating_id in zip(entries, rating_ids, strict=True):
            for answer, value in entry.values.items():
                found = answers.get(answer)
                if found is None:
                    key, _, model = answer.partition(".")  # "key.model": a per-response question of a pair
                    found = answers[answer] = (*dimension_of[key], model)
                dimension_id, is_text, model = found
                if is_text:
                    yield rating_id, dimension_id, None, str(value), None
                else:
                    yield rating_id, dimension_id, int(value), "", responses[(entry.task_id, model)] if model else None

    insert_rows(Score, ("rating_id", "dimension_id", "value", "text", "response_id"), scores())
    return len(entries)


def _pair_responses(project: Project, task_ids: set[int]) -> dict[tuple[int, str], int]:
    """(task id, model) -> response id for the pair tasks whose per-response questions were imported."""
    out: dict[tuple[int, str], int] = {}
    rows = Task.objects.filter(project=project, pk__in=task_ids).values_list(
        "id", "response_a_id", "response_a__model", "response_b_id", "response_b__model"
    )
    for task_id, a, model_a, b, model_b in rows:
        out[(task_id, model_a)], out[(task_id, model_b)] = a, b
    return out

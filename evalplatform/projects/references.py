"""Reference-based metrics of every response, stored: ROUGE-1/2/L, BLEU and chrF against its item's reference.

Scoring a response costs about 0.7 ms (rouge-score's tokenising and n-grams, then sacrebleu; 1.1 ms
before ``stats.reference`` kept its scorers and each word's stem), some 40 s for a 60,000-response
project, so each response is scored once per (reference, response text) and kept in ``ReferenceScore``:

* after an import that brought references commits, ``import_items`` enqueues ``tasks.score_references``
  (``fan_out_scoring``): the responses that have no current row, in batches of
  ``EVAL_REFERENCE_TASK_BATCH``, each its own ``tasks.score_reference_batch`` (``score_batch``), so every
  worker takes a share; ``manage.py score_references`` scores them all in its own process (``score_missing``);
* when a report needs them, ``reference_scores(..., compute_missing=True)`` reads the stored rows and
  scores whatever is still missing in bulk (a response added by a model run, say), storing it too;
* exports read them with ``compute_missing=False``: never a computation in a web request.

A row carries the SHA-256 of the reference and the text it was computed from: a changed reference or
response text no longer matches, so it is scored again before anything reads it, never read stale.
The numbers are the libraries' own (``stats.reference.response_metrics``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from evalplatform.dispatch import enqueue, runner
from evalplatform.projects.models import Project, ReferenceScore, Response
from evalplatform.stats.reference import METRIC_KEYS, response_metrics

log = logging.getLogger(__name__)

SCORE_TASK = "evalplatform.projects.tasks.score_references"
BATCH_TASK = "evalplatform.projects.tasks.score_reference_batch"
#: The metric keys of ``stats.reference`` and the model's fields that hold them.
FIELDS = dict(zip(METRIC_KEYS, ("rouge1", "rouge2", "rouge_l", "bleu", "chrf"), strict=True))
#: Responses scored, then stored, per batch (memory holds one batch of texts).
BATCH = 500
CHUNK = 5000

Unit = tuple[str, str]  # (item external id, model)


def inputs_sha256(reference: str, text: str) -> str:
    """The hash a stored score is checked against: the reference and the response text, both."""
    digest = hashlib.sha256(reference.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def is_current(stored: str | None, reference: str, text: str) -> bool:
    """Whether a stored row's hash (None: no row) is that of this reference and response text."""
    return stored is not None and stored == inputs_sha256(reference, text)


def _store(batch: list[tuple[int, str, str, str]]) -> dict[int, dict[str, float]]:
    """Score ``(response id, item id, text, reference)`` rows and store them (replacing stale rows)."""
    scored = {rid: response_metrics(text, reference) for rid, _, text, reference in batch}
    rows = [
        ReferenceScore(response_id=rid, inputs_sha256=inputs_sha256(reference, text),
                       **{FIELDS[k]: v for k, v in scored[rid].items()})
        for rid, _, text, reference in batch
    ]
    for attempt in range(3):
        try:
            with transaction.atomic():
                ReferenceScore.objects.bulk_create(
                    rows, update_conflicts=True, unique_fields=["response"],
                    update_fields=["inputs_sha256", *FIELDS.values(), "computed_at"],
                )
            break
        except IntegrityError:
            # A response (or its item, or its project) was deleted while the batch was scored: store the
            # rest rather than fail them all.
            alive = set(Response.objects.filter(pk__in=[row.response_id for row in rows]).values_list("pk", flat=True))
            if attempt == 2 or len(alive) == len(rows):
                raise
            rows = [row for row in rows if row.response_id in alive]
            scored = {rid: metrics for rid, metrics in scored.items() if rid in alive}
    return scored


@dataclass(frozen=True)
class ScoreRead:
    """What ``read_scores`` found: the metrics per (item, model), how many it scored now, and how many
    responses have a reference at all (scored or not)."""

    scores: dict[Unit, dict[str, float]]
    computed: int
    with_reference: int


def reference_scores(
    project: Project, *, items: Collection[str] | None = None, compute_missing: bool = True,
) -> dict[Unit, dict[str, float]]:
    """Every response of ``project`` whose item has a reference -> its metrics (``METRIC_KEYS``), in
    (item, model) order; only items whose external id is in ``items`` when given (``read_scores``)."""
    return read_scores(project, items=items, compute_missing=compute_missing).scores


def reference_score_rows(
    project: Project, *, items: Collection[str] | None = None, compute_missing: bool = True,
) -> dict[Unit, tuple[float, ...]]:
    """``reference_scores`` with each response's metrics as a tuple in ``METRIC_KEYS`` order: the
    report's section reads them as columns, and 60,000 small dicts were 20 MB it had no use for."""
    return _read(project, items=items, compute_missing=compute_missing)[0]


def read_scores(
    project: Project, *, items: Collection[str] | None = None, compute_missing: bool = True,
) -> ScoreRead:
    """The stored scores that match their inputs; the rest are scored and stored when ``compute_missing``
    (in batches: the texts are read again per batch, so memory holds one batch), else left out.  One
    query reads the stored rows, whatever the number of responses."""
    rows, computed, with_reference, _ = _read(project, items=items, compute_missing=compute_missing)
    return ScoreRead({unit: dict(zip(METRIC_KEYS, m, strict=True)) for unit, m in rows.items()}, computed,
                     with_reference)


def _read(
    project: Project, *, items: Collection[str] | None, compute_missing: bool,
) -> tuple[dict[Unit, tuple[float, ...]], int, int, list[int]]:
    """``read_scores``' reading: (metrics tuples by unit, how many scored now, how many with a reference,
    the ids of the responses that had no current score)."""
    values = [f"reference_score__{field}" for field in FIELDS.values()]
    rows = (
        Response.objects.filter(item__project=project).exclude(item__reference="")
        .order_by("item__external_id", "model", "id")
        .values_list("id", "item__external_id", "model", "text", "item__reference", "reference_score__inputs_sha256",
                     *values)
    )
    out: dict[Unit, tuple[float, ...] | None] = {}
    missing: list[int] = []
    for rid, ext, model, text, reference, stored, *metrics in rows.iterator(chunk_size=CHUNK):
        unit = (ext, model)
        if (items is not None and ext not in items) or unit in out or not reference.strip():
            continue
        if is_current(stored, reference, text):
            out[unit] = tuple(map(float, metrics))
        else:
            out[unit] = None  # keeps its place in the order
            missing.append(rid)
    fresh = score_responses(missing) if missing and compute_missing else []
    for ext, model, scored in fresh:
        out[(ext, model)] = tuple(scored[key] for key in METRIC_KEYS)
    return {unit: m for unit, m in out.items() if m is not None}, len(fresh), len(out), missing


def score_responses(response_ids: list[int]) -> list[tuple[str, str, dict[str, float]]]:
    """Score and store the responses ``response_ids`` (those whose item still has a reference):
    ``(item external id, model, metrics)`` per response scored and stored (not one deleted meanwhile)."""
    done: list[tuple[str, str, dict[str, float]]] = []
    for start in range(0, len(response_ids), BATCH):
        chunk = response_ids[start:start + BATCH]
        batch = list(
            Response.objects.filter(pk__in=chunk).exclude(item__reference="")
            .values_list("id", "item__external_id", "model", "text", "item__reference")
        )
        batch = [row for row in batch if row[4].strip()]
        if not batch:
            continue
        scored = _store([(rid, ext, text, reference) for rid, ext, _, text, reference in batch])
        done.extend((ext, model, scored[rid]) for rid, ext, model, _, _ in batch if rid in scored)
    return done


def score_missing(*, project_id: int) -> int:
    """Score and store every response of the project that has no current stored score; how many.  The
    worker's task after an import (idempotent: a second run finds nothing to do)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    read = read_scores(project, compute_missing=True)
    log.info("project %s: %s responses scored against their references (%s were current)", project.slug,
             read.computed, len(read.scores) - read.computed)
    return read.computed


def fan_out_scoring(*, project_id: int) -> int:
    """The worker's task after an import: the project's responses without a current score, in batches of
    ``EVAL_REFERENCE_TASK_BATCH``, each enqueued as its own ``score_reference_batch`` task, so that every
    worker takes a share (one worker process scored 60,000 responses in 53 s on PostgreSQL, two in 32 s).
    A single batch, or any number without Celery workers (the embedded mode's thread runner would
    start a thread per batch, all at once, in the web process), is scored here, in turn.  Returns how
    many responses were missing.  A batch scores only what is still missing when it starts, so one that
    runs after another copy of it has finished (a retry, a second import's batches) scores nothing again;
    copies running at the same time both write, the same numbers for the same inputs (an upsert), and a
    row from inputs changed meanwhile no longer matches them and is scored again before it is read."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    missing = _read(project, items=None, compute_missing=False)[3]
    size = max(1, int(settings.EVAL_REFERENCE_TASK_BATCH))
    if len(missing) <= size or runner() != "celery":
        score_responses(missing)
    else:
        for start in range(0, len(missing), size):
            enqueue(BATCH_TASK, project_id, missing[start:start + size])
    log.info("project %s: %s responses to score against their references", project.slug, len(missing))
    return len(missing)


def score_batch(*, project_id: int, response_ids: list[int]) -> int:
    """Score and store those of ``response_ids`` (responses of the project) that still have no current
    score, and return how many; one of ``fan_out_scoring``'s tasks."""
    rows = (Response.objects.filter(pk__in=response_ids, item__project_id=project_id).exclude(item__reference="")
            .values_list("id", "text", "item__reference", "reference_score__inputs_sha256"))
    todo = [rid for rid, text, reference, stored in rows
            if reference.strip() and not is_current(stored, reference, text)]
    return len(score_responses(sorted(todo)))


def schedule_scoring(project_id: int) -> None:
    """After commit: have a worker score the project's responses against their references.  Best effort:
    a broker that is down costs nothing but time, since a report scores whatever is missing."""

    def send() -> None:
        try:
            enqueue(SCORE_TASK, project_id)
        except Exception:
            log.warning("could not enqueue reference scoring of project %s; reports will score what is missing",
                        project_id, exc_info=True)

    transaction.on_commit(send)

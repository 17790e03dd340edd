"""Ratings out of the platform: long-format rows, and preference pairs for training pipelines.

The report page's and the API's streamed downloads and ``manage.py export`` all use these
generators.  Each reads with one set-based query (``values_list(...).iterator(chunk_size=...)``; a few
for consensus labels), so memory stays flat and the number of queries does not grow with the number
of ratings.

Every export holds, by default, the ratings the project's newest report counted (``export_options``:
no gold tasks, automated judges or paused raters unless the report took them, never a rating a lead
excluded) and says what it left out (``ExportOptions.describe``: the command's standard error, the
download's ``X-Export-Left-Out`` header); options include them.

Long format is one row per (item, model, rater, dimension).  Values are in the task's own orientation:
for a pairwise preference, negative means ``model_a``'s response is better, whichever side each rater
saw it on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from evalplatform.exporting import csv_lines as csv_lines
from evalplatform.exporting import jsonl_lines as jsonl_lines
from evalplatform.exporting import safe_cell as safe_cell
from evalplatform.projects.models import Membership, Project, Response, Task

# Re-exported ("X as X") from the modules this one was split into: callers reach every export here.
from evalplatform.ratings.aggregates import ITEM_FORMATS, item_export_lines
from evalplatform.ratings.aggregates import item_aggregate_columns as item_aggregate_columns
from evalplatform.ratings.aggregates import item_aggregate_rows as item_aggregate_rows
from evalplatform.ratings.csv_export import rating_csv_lines, value_labels
from evalplatform.ratings.export_options import CHUNK, ExportError, ExportOptions, export_options
from evalplatform.ratings.export_options import REPORT_DEFAULTS as REPORT_DEFAULTS
from evalplatform.ratings.export_options import use_report_parameters as use_report_parameters
from evalplatform.ratings.models import Score
from rubrics.models import Dimension
from rubrics.scales import scales_for

#: The exports of ratings themselves; apps above add theirs with ``register_export`` (quality: consensus labels).
BUILT_IN = ("csv", "jsonl", "preferences", "reward")


@dataclass(frozen=True)
class ExportFormat:
    """An export another app adds, registered from its ``AppConfig.ready()`` as report sections are.

    ``lines(project)`` gives the export's text pieces and raises ``ExportError`` before the first one
    when the project cannot give it; the file downloads as ``<project slug>-<stem>.csv`` (or ``.jsonl``
    when the format's name does not end in ``csv``).
    """

    name: str
    lines: Callable[[Project], Iterator[str]]
    stem: str
    #: What the rows were computed from, for the export's manifest (``rows_from``): a stored run, say.
    source: Callable[[Project], dict[str, Any]] | None = None


_REGISTERED: dict[str, ExportFormat] = {}


def register_export(export: ExportFormat) -> ExportFormat:
    """Offer ``export`` wherever exports are (the API, the report page, ``manage.py export``)."""
    _REGISTERED[export.name] = export
    return export


def formats() -> tuple[str, ...]:
    """Every export ``export_lines`` gives: the built-in ones, then the registered ones."""
    return (*BUILT_IN, *_REGISTERED)



def rating_columns(project: Project, *, with_text: bool = False) -> list[str]:
    # In a pairwise project ``model`` names the response a per-response question was about (as in imports).
    pairwise = project.kind == Project.Kind.PAIRWISE
    models = ["model_a", "model_b", "model"] if pairwise else ["model"]
    texts = (["prompt", "response_a", "response_b"] if pairwise else ["prompt", "response"]) if with_text else []
    return [
        "item_id", *models, "rater", "rater_external_id", "automated", "dimension", "value", "value_label", "justification",
        "duration_ms", "created_at", "reference", "gold", "paused", "excluded", "metadata", *texts,
    ]


def rating_rows(project: Project, options: ExportOptions | None = None) -> Iterator[tuple[Any, ...]]:
    """Every score the export holds (``options``; default ``export_options(project)``) as a tuple in
    ``rating_columns`` order, rating by rating: with the item's metadata and whether the rating is of a
    gold task, by a paused rater, or excluded by a lead.  One query, streamed."""
    options = options or export_options(project)
    pairwise = project.kind == Project.Kind.PAIRWISE
    labels = value_labels(project)
    paused = Membership.objects.filter(project=project, user=OuterRef("rating__rater"), paused=True)
    # An external worker's id on their platform (Prolific, MTurk): blank for everyone else.
    external = Membership.objects.filter(project=project, user=OuterRef("rating__rater")).values("external_id")[:1]
    scores = Score.objects.filter(options.rating_q(project)).annotate(
        rater_paused=Exists(paused), rater_external_id=Coalesce(Subquery(external), Value("")),
    )
    fields = [
        "rating__task__item__external_id", "rating__task__response_a__model", "rating__task__response_b__model",
        "response__model", "rating__rater__username", "rating__rater__is_automated", "dimension__key", "dimension__kind",
        "value", "text", "rating__justification", "rating__duration_ms", "rating__created_at",
        "rating__task__item__reference", "rating__task__is_gold", "rater_paused", "rating__exclusion_id",
        "rating__task__item__metadata", "rater_external_id",
    ]
    if options.with_text:
        fields += ["rating__task__item__prompt", "rating__task__response_a__text", "rating__task__response_b__text"]
    rows = scores.order_by("rating_id", "dimension__position", "dimension_id", "response_id").values_list(*fields)
    for (ext, model_a, model_b, response_model, rater, automated, key, kind, value, text, justification, duration,
         created, reference, gold, rater_paused, exclusion, metadata, external_id, *texts) in rows.iterator(chunk_size=CHUNK):
        models = (model_a, model_b, response_model or "") if pairwise else (model_a,)
        shown = text if kind == Dimension.Kind.TEXT else value
        label = "" if kind == Dimension.Kind.TEXT else labels.get((key, value), "")
        if texts and not pairwise:
            texts = texts[:2]
        yield (
            ext, *models, rater, external_id, automated, key, shown, label, justification, duration,
            created.isoformat(), reference, gold, rater_paused, exclusion is not None, metadata or {}, *texts,
        )


def split_of(item_id: str, *, test_share: float, seed: int = 0) -> str:
    """``"test"`` for about ``test_share`` of the items, else ``"train"``: a hash of the seed and the
    item's id, so every pair of one item lands on the same side, on every run."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_share else "train"


def preference_rows(
    project: Project, *, min_margin: float = 0.0, options: ExportOptions | None = None,
    split: float | None = None, seed: int = 0,
) -> Iterator[dict[str, Any]]:
    """One preference pair per rated pair task of a pairwise project, aggregated over its raters.

    The votes are the stored values of the rubric's first pairwise dimension, v in -k..k in the task's
    orientation (negative: ``response_a`` better, whichever side each rater saw it on), from human
    raters unless ``include_automated``:

    * ``n_votes`` = n, the number of votes on the pair;
    * the mean normalised preference m = (1/n) * sum(v / k), in [-1, 1];
    * ``chosen`` is ``response_a`` when m < 0 and ``response_b`` when m > 0; m = 0 is a tie and the
      pair is left out;
    * ``margin`` = |m| in (0, 1]: 1 when every rater chose the same side with the strongest level,
      1/(n*k) for the weakest lean;
    * ``agreement`` = the share of the n votes on the chosen side (a tie vote is not on it), in (0, 1].

    Pairs with ``margin < min_margin`` are left out.  One query, streamed.  Each row is ready for a
    DPO trainer (``prompt``, ``chosen``, ``rejected``) and names its ``item_id`` and ``votes``
    (``{"chosen", "rejected", "tie"}`` counts); with ``split`` (the test share, 0..1) each row gets
    ``split``: "train" or "test", by item (``split_of``), so no item is on both sides.  The votes are
    those the export holds (``options``: by default what the report counted).
    """
    options = options or export_options(project)
    if project.kind != Project.Kind.PAIRWISE:
        raise ExportError("preference pairs come from pairwise projects; this project rates single responses")
    dim = (
        Dimension.objects.filter(version_id=project.rubric_version_id, kind=Dimension.Kind.PAIRWISE)
        .order_by("position", "id").first()
    )
    if dim is None:
        raise ExportError("this project's rubric has no pairwise preference dimension")
    end = max(abs(v) for v in scales_for(project.rubric_version_id)[dim.key].values) or 1
    votes = Q(ratings__scores__dimension=dim, ratings__scores__value__isnull=False)
    votes &= options.rating_q(project, prefix="ratings__")
    tasks = (
        Task.objects.filter(project=project, response_b__isnull=False)
        .annotate(
            total=Sum("ratings__scores__value", filter=votes),
            n=Count("ratings__scores", filter=votes),
            for_a=Count("ratings__scores", filter=votes & Q(ratings__scores__value__lt=0)),
            for_b=Count("ratings__scores", filter=votes & Q(ratings__scores__value__gt=0)),
        )
        .filter(n__gt=0)
        .order_by("id")
        .values_list(
            "item__prompt", "response_a__text", "response_b__text", "response_a__model", "response_b__model",
            "total", "n", "for_a", "for_b", "item__external_id",
        )
    )
    for prompt, text_a, text_b, model_a, model_b, total, n, for_a, for_b, item_id in tasks.iterator(chunk_size=CHUNK):
        mean = total / (n * end)
        margin = abs(mean)
        if mean == 0 or margin < min_margin:
            continue
        a_wins = mean < 0
        chosen_votes, rejected_votes = (for_a, for_b) if a_wins else (for_b, for_a)
        row = {
            "item_id": item_id,
            "prompt": prompt,
            "chosen": text_a if a_wins else text_b,
            "rejected": text_b if a_wins else text_a,
            "chosen_model": model_a if a_wins else model_b,
            "rejected_model": model_b if a_wins else model_a,
            "margin": round(margin, 4),
            "n_votes": n,
            "votes": {"chosen": chosen_votes, "rejected": rejected_votes, "tie": n - for_a - for_b},
            "agreement": round((for_a if a_wins else for_b) / n, 4),
        }
        if split is not None:
            row["split"] = split_of(item_id, test_share=split, seed=seed)
        yield row


REWARD_KINDS = (Dimension.Kind.LIKERT, Dimension.Kind.BINARY)


def reward_rows(project: Project, *, options: ExportOptions | None = None) -> Iterator[dict[str, Any]]:
    """One row per scored response, for reward-model regression:
    ``{"prompt", "response", "model", "scores": {dimension: mean}, "n_ratings"}``.

    ``scores`` holds the mean value of each likert and yes/no dimension (a yes/no mean is the share
    of "yes") over the ratings that scored the response, in rubric order; ``n_ratings`` is the most
    ratings any of them had (every rating answers the required ones).  In a pairwise project these
    are the questions asked of each response of a pair (``Score.response``): a response shown in
    several pairs is scored once per pair.  The ratings are those the export holds (``options``: by
    default what the report counted); each row names its ``item_id``.  One grouped query, plus one
    for the texts of each thousand responses.
    """
    dims = Dimension.objects.filter(version_id=project.rubric_version_id, kind__in=REWARD_KINDS)
    if not dims.exists():
        raise ExportError("this project's rubric has no likert or yes/no dimension to average")
    options = options or export_options(project)
    scores = Score.objects.filter(options.rating_q(project), dimension__in=dims, value__isnull=False)
    if project.kind == Project.Kind.PAIRWISE:
        scores = scores.filter(response__isnull=False).annotate(scored=F("response_id"))
    else:
        scores = scores.filter(rating__task__response_b__isnull=True).annotate(scored=F("rating__task__response_a_id"))
    grouped = (
        scores.values("scored", "dimension__position", "dimension_id", "dimension__key")
        .annotate(mean=Avg("value"), n=Count("rating_id", distinct=True))
        .order_by("scored", "dimension__position", "dimension_id")
        .values_list("scored", "dimension__key", "mean", "n")
    )
    pending: list[tuple[int, dict[str, float], int]] = []
    current, most = None, 0
    means: dict[str, float] = {}
    for response_id, key, mean, n in grouped.iterator(chunk_size=CHUNK):
        if response_id != current:
            if current is not None:
                pending.append((current, means, most))
                if len(pending) >= 1000:
                    yield from _reward_records(pending)
                    pending = []
            current, means, most = response_id, {}, 0
        means[key] = round(float(mean), 4)
        most = max(most, n)
    if current is not None:
        pending.append((current, means, most))
    yield from _reward_records(pending)


def _reward_records(pending: list[tuple[int, dict[str, float], int]]) -> Iterator[dict[str, Any]]:
    if not pending:
        return
    texts = {
        pk: (item_id, prompt, text, model)
        for pk, item_id, prompt, text, model in Response.objects.filter(pk__in=[p[0] for p in pending]).values_list(
            "id", "item__external_id", "item__prompt", "text", "model"
        )
    }
    for response_id, means, n in pending:
        item_id, prompt, text, model = texts[response_id]
        yield {"item_id": item_id, "prompt": prompt, "response": text, "model": model, "scores": means,
               "n_ratings": n}


def export_lines(
    project: Project, fmt: str, *, min_margin: float = 0.0, options: ExportOptions | None = None,
    split: float | None = None, seed: int = 0,
) -> Iterator[str]:
    """The whole export of ``project`` in ``fmt`` (one of ``FORMATS``) as text pieces.

    ``options`` (default ``export_options(project)``: what the newest report counted) say which
    ratings it holds; ``options.describe()`` says what it left out.  Checks that the export is
    possible before the first piece, so a caller can still answer with an error instead of a
    half-written file.
    """
    options = options or export_options(project)
    if fmt == "csv":
        # The bytes of ``csv_lines(header, _metadata_as_text(header, rating_rows(project, options)))``, faster
        return rating_csv_lines(project, options, rating_columns(project, with_text=options.with_text))
    if fmt == "jsonl":
        header = rating_columns(project, with_text=options.with_text)
        return jsonl_lines(dict(zip(header, row, strict=True)) for row in rating_rows(project, options))
    if fmt in ("preferences", "reward"):
        rows = (
            preference_rows(project, min_margin=min_margin, options=options, split=split, seed=seed)
            if fmt == "preferences" else reward_rows(project, options=options)
        )
        first = next(rows, None)  # runs the checks (and the query) now
        return jsonl_lines(_prepend(first, rows))
    if fmt in _REGISTERED:
        return _REGISTERED[fmt].lines(project)
    raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(formats())}")


def _metadata_as_text(header: list[str], rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Ratings rows for CSV: the item's metadata as JSON text in its cell."""
    at = header.index("metadata")
    for row in rows:
        yield (*row[:at], json.dumps(row[at], ensure_ascii=False, sort_keys=True), *row[at + 1:])


def _prepend(first, rest: Iterator) -> Iterator:
    if first is not None:
        yield first
    yield from rest


# --- Downloads by name (the report page and ``manage.py export``) -------------------------------

def download_formats() -> tuple[str, ...]:
    """Every export ``download_lines`` gives (``formats()`` and the per-item aggregates)."""
    return (*formats(), *ITEM_FORMATS)


def download_lines(
    project: Project, fmt: str, *, min_margin: float = 0.0, options: ExportOptions | None = None,
    split: float | None = None, seed: int = 0,
) -> Iterator[str]:
    """Any export of ``DOWNLOAD_FORMATS`` as text pieces (``ExportError`` for an unknown one);
    ``min_margin`` filters preference pairs, ``split`` marks them train or test by item."""
    if fmt in ITEM_FORMATS:
        return item_export_lines(project, fmt, options=options)
    return export_lines(project, fmt, min_margin=min_margin, options=options, split=split, seed=seed)


def download_name(project: Project, fmt: str) -> tuple[str, str]:
    """(file name, content type) of an export."""
    if fmt.endswith("csv"):
        ext, content_type = "csv", "text/csv; charset=utf-8"
    else:
        ext, content_type = "jsonl", "application/x-ndjson"
    stem = {"csv": "ratings", "jsonl": "ratings", "preferences": "preferences", "reward": "reward",
            **{name: export.stem for name, export in _REGISTERED.items()}}.get(fmt, "items")
    return f"{project.slug}-{stem}.{ext}", content_type


#: The response header in which a download says what it left out (``ExportOptions.describe``).
LEFT_OUT_HEADER = "X-Export-Left-Out"
#: The response header holding the export's manifest as compact JSON (``export_manifest``).
MANIFEST_HEADER = "X-Export-Manifest"

#: Builds an export's manifest; ``reports`` registers it (``reports.manifest.export_manifest``), since the
#: hash is the report manifest's own (the same ratings give the same SHA-256).
_manifest_source: list[Callable[..., dict[str, Any]]] = []


def use_export_manifest(source: Callable[..., dict[str, Any]]) -> None:
    """Build every export's manifest with ``source(project, fmt, options, **parameters)``."""
    _manifest_source[:] = [source]


def export_manifest(project: Project, fmt: str, options: ExportOptions, **parameters: Any) -> dict[str, Any] | None:
    """The manifest of an export of ``project`` in ``fmt`` with ``options`` (None when no app builds one):
    format, project, rubric version, options and what was left out (counts by reason), the SHA-256 of the
    ratings it was made from, software versions and when it was made.  ``parameters``: the format's own
    (``min_margin``, ``split``, ``seed``)."""
    for source in _manifest_source:
        manifest = source(project, fmt, options, **parameters)
        registered = _REGISTERED.get(fmt)
        if registered is not None and registered.source is not None:
            manifest["rows_from"] = registered.source(project)
        return manifest
    return None


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """``manifest`` as one line of ASCII JSON (fit for a response header or a sidecar file)."""
    return json.dumps(manifest, ensure_ascii=True, sort_keys=True, separators=(",", ":"), default=str)


def download_response(
    project: Project, fmt: str, lines: Iterable[str], *, left_out: str | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> StreamingHttpResponse:
    """``lines`` streamed as the export's file (the report page's downloads and the API's); ``manifest``
    goes in the ``X-Export-Manifest`` header."""
    name, content_type = download_name(project, fmt)
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    if left_out is not None:
        response[LEFT_OUT_HEADER] = left_out
    if manifest is not None:
        response[MANIFEST_HEADER] = manifest_json(manifest)
    return response

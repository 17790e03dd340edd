"""A report's input: the project's ratings read once, with a few set-based queries, into ``ReportData``.

``load_data`` runs one query for the tasks, one for their items (external id, metadata), one for the
rubric's scales (cached per process), one for every covered score, one for every covered rating
(rater, duration, the sides the queue showed) and two small ones for the raters' names and the
responses scored per response, whatever the number of ratings.  The rows are read straight into
numpy arrays of integer codes (``DimensionData.task`` / ``item`` / ``model`` / ``rater`` /
``value``, ``RatingColumns``), never one Python object per score, and every section shares them, so
they all describe the same data.  ``DimensionData.rows`` and ``ReportData.ratings`` still give the
rows as tuples and ``RatingInfo`` objects, built on first use, for code that wants them.  Two
sections read more, set-based: the judges section the automated judges' scores (left out of the
snapshot by default), the quality section its own load of the ratings (``quality.analysis``, stored
with the snapshot's ``data_seq``).  The quality section takes the scores themselves from the snapshot
(``ScoreKeys``) when it covers the ratings the quality rule counts, and reads only the gold tasks'.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from numpy.typing import NDArray

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Item, Project, Response, Task
from evalplatform.ratings.models import Rating, Score
from evalplatform.ratings.selectors import included_ratings
from evalplatform.stats.manifest import ratings_csv_codes
from evalplatform.stats.readers import Factor, LongRatings
from rubrics.models import Dimension
from rubrics.scales import scales_for

#: ``ReportData.cache`` key of the agreement section's per-dimension entries (``stats.summarize``'s, on
#: every score of the snapshot), which the quality section takes its per-rater figures from.
AGREEMENT_ENTRIES = "agreement_entries"
CHUNK = 10_000
_FETCH = 50_000
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class TaskInfo:
    """What a task is about.  ``model`` names the response (single) or the pair ("m1 vs m2")."""

    item: str  # the item's external id
    model: str
    metadata: dict
    pair: tuple[str, str] | None = None


@dataclass(frozen=True)
class DimensionData:
    """One scored rubric dimension and its covered scores, as parallel arrays (one entry per score, in
    the order the database gave them: by rating, then score).

    ``task`` holds task ids; ``item``, ``model`` and ``rater`` codes into ``ReportData.items``,
    ``models`` and ``rater_names``; ``value`` the stored values.  ``model`` is the task's model, or on
    a pair task the response a per-response question was about.
    """

    key: str
    label: str
    kind: str
    level: str
    scale: tuple[int, ...]
    labels: dict[int, str]
    task: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    item: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    model: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    rater: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    value: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    model_names: Sequence[str] = field(default=(), repr=False, compare=False)
    rater_names: Sequence[str] = field(default=(), repr=False, compare=False)

    @property
    def numeric(self) -> bool:
        """Whether a mean of the values means something (not for categorical labels)."""
        return self.kind != Dimension.Kind.CATEGORICAL

    @property
    def n_scores(self) -> int:
        return int(self.value.size)

    @cached_property
    def rows(self) -> list[tuple[int, str, str, int]]:
        """The scores as ``(task_id, model, rater, value)`` tuples (built on first use; sections that
        read many scores use the arrays)."""
        models, raters = self.model_names, self.rater_names
        return list(zip(self.task.tolist(), [models[m] for m in self.model.tolist()],
                        [raters[r] for r in self.rater.tolist()], self.value.tolist(), strict=True))


@dataclass(frozen=True)
class RatingInfo:
    task_id: int
    rater: str
    duration_ms: int | None
    #: the queue's ``Assignment.swapped`` (True: ``response_b`` was shown on the left as "A"); None for
    #: imported and automated ratings, whose sides are not known
    swapped: bool | None = None


@dataclass(frozen=True)
class RatingColumns:
    """Every covered rating (by id), as parallel arrays: ``task`` ids, ``rater`` codes into
    ``ReportData.rater_names``, ``duration_ms`` (-1: not timed) and ``swapped`` (1 / 0 as
    ``RatingInfo.swapped``, -1 for None)."""

    task: NDArray[np.int64]
    rater: NDArray[np.int64]
    duration_ms: NDArray[np.int64]
    swapped: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.task.size)


@dataclass(frozen=True)
class ScoreKeys:
    """What the quality section needs of the snapshot's scores besides their values: every score in
    the order the database gave them (by rating, then score), as its dimension (an index into
    ``ReportData.dimensions``), its rating's id, and its response's id (0: about the task).

    Kept only when the snapshot holds every score its query read (none dropped as a second score of
    a response, none of a task the snapshot does not know), so the scores are exactly those
    ``included_ratings`` selects by ``rule`` (``rule_flags`` of the report's parameters).  Small
    dtypes: kept through the whole report, 720,000 scores cost 7 MB.
    """

    rule: tuple[bool, bool, bool, bool]
    dimension_ids: tuple[int, ...]  # aligned with ReportData.dimensions
    dimension: NDArray[np.integer] = field(repr=False)
    rating: NDArray[np.integer] = field(repr=False)
    response: NDArray[np.integer] = field(repr=False)


@dataclass(frozen=True)
class ReportData:
    """Everything a section may read.  Build it with ``load_data``.

    ``items``, ``models`` and ``rater_names`` are sorted, so comparing codes compares the names.
    ``task_ids`` (sorted) with ``task_item`` / ``task_model`` give each task's item and model codes.
    """

    tasks: dict[int, TaskInfo]
    dimensions: list[DimensionData]
    rating_columns: RatingColumns
    data_seq: int
    items: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    rater_names: list[str] = field(default_factory=list)
    task_ids: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False)
    task_item: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False)
    task_model: NDArray[np.int64] = field(default_factory=lambda: _EMPTY, repr=False)
    #: whether each task (as ``task_ids``) is a pair of responses
    task_pair: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    #: figures derived from the snapshot that several sections use (the fairness audit, units' scores,
    #: the agreement section's entries under ``AGREEMENT_ENTRIES``), computed by the first section that
    #: needs them
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the scores' ratings and responses for the quality section, when it may take them (``ScoreKeys``)
    score_keys: ScoreKeys | None = field(default=None, repr=False, compare=False)

    @cached_property
    def ratings(self) -> list[RatingInfo]:
        """The covered ratings as objects (built on first use)."""
        cols, names = self.rating_columns, self.rater_names
        return [
            RatingInfo(t, names[r], None if d < 0 else d, None if s < 0 else bool(s))
            for t, r, d, s in zip(cols.task.tolist(), cols.rater.tolist(), cols.duration_ms.tolist(),
                                  cols.swapped.tolist(), strict=True)
        ]

    @property
    def raters(self) -> list[str]:
        return [self.rater_names[r] for r in np.unique(self.rating_columns.rater).tolist()]

    @property
    def n_ratings(self) -> int:
        return len(self.rating_columns)

    def task_index(self, task_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Positions of ``task_ids`` (all of the snapshot's tasks) in ``task_ids``."""
        return np.searchsorted(self.task_ids, task_ids)

    @cached_property
    def _long(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                             NDArray[np.int64]]:
        """Every covered score in ``long_rows`` order: (dimension index, item, model, rater, value)."""
        if not self.dimensions:
            return _EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY
        dim = np.concatenate([np.full(d.n_scores, i, dtype=np.int64) for i, d in enumerate(self.dimensions)])
        item = np.concatenate([d.item for d in self.dimensions])
        model = np.concatenate([d.model for d in self.dimensions])
        rater = np.concatenate([d.rater for d in self.dimensions])
        value = np.concatenate([d.value for d in self.dimensions])
        key_rank = np.empty(len(self.dimensions), dtype=np.int64)
        key_rank[sorted(range(len(self.dimensions)), key=lambda i: self.dimensions[i].key)] = np.arange(
            len(self.dimensions))
        # by dimension key, item, model, rater (names: the codes are in name order); stable, as list.sort
        order = np.lexsort((rater, model, item, key_rank[dim]))
        return dim[order], item[order], model[order], rater[order], value[order]

    def long_rows(self) -> list[tuple[str, str, str, float, str]]:
        """Every covered score as ``(item_id, rater, dimension, value, model)`` for ``stats.summarize``,
        in a fixed order (so bootstrap resamples, and with them the intervals, do not depend on the
        database's row order): by dimension key, item, model, rater."""
        dim, item, model, rater, value = self._long
        keys = [d.key for d in self.dimensions]
        return list(zip([self.items[i] for i in item.tolist()], [self.rater_names[r] for r in rater.tolist()],
                        [keys[d] for d in dim.tolist()], value.astype(float).tolist(),
                        [self.models[m] for m in model.tolist()], strict=True))

    def ratings_csv(self) -> str:
        """``stats.manifest.ratings_csv(self.long_rows())``, written from the codes."""
        dim, item, model, rater, value = self._long
        values, value_codes = np.unique(value, return_inverse=True)
        return ratings_csv_codes([(item, self.items), (rater, self.rater_names), (dim, [d.key for d in self.dimensions]),
                                  (value_codes.reshape(-1), [float(v) for v in values.tolist()]), (model, self.models)])

    def long_ratings(self) -> LongRatings:
        """``stats.readers.from_rows(self.long_rows())`` built from the codes: the same factor codes and
        labels (each column numbered by first appearance), without a Python object per score.  Built on
        each call (0.14 s for 720,000 scores): kept from the agreement section to the manifest, its
        29 MB of codes raised the report's peak, which the quality section reaches in between."""
        dim, item, model, rater, value = self._long
        keys = [d.key for d in self.dimensions]
        values, value_codes = np.unique(value, return_inverse=True)
        return LongRatings(
            item=first_appearance(item, self.items),
            rater=first_appearance(rater, self.rater_names),
            dimension=first_appearance(dim, keys),
            value=first_appearance(value_codes.reshape(-1), [float(v) for v in values.tolist()]),
            model=first_appearance(model, self.models),
        )


def first_appearance(codes: NDArray[np.int64], labels: Sequence[Any]) -> Factor:
    """Codes renumbered 0, 1, ... in order of first appearance (as ``readers.factor_objects`` numbers)."""
    if codes.size == 0:
        return Factor(codes, [])
    present, first = np.unique(codes, return_index=True)
    order = np.argsort(first, kind="stable")
    remap = np.full(int(present[-1]) + 1, -1, dtype=np.int64)
    remap[present[order]] = np.arange(present.size)
    return Factor(remap[codes], [labels[c] for c in present[order].tolist()])


def rating_filter(project: Project, parameters: Mapping[str, Any], *, prefix: str = "rating__") -> Q:
    """Which ratings a report covers, by its parameters (automated judges, paused raters, gold tasks);
    ratings a lead excluded never count.  The rule is ``ratings.selectors.included_ratings``, which
    exports share.  A ``Q`` on ``Score`` by default; ``prefix=""`` gives the same rule on ``Rating``.
    """
    return included_ratings(project, parameters, prefix=prefix)


def rule_flags(parameters: Mapping[str, Any]) -> tuple[bool, bool, bool, bool]:
    """What ``included_ratings`` decides by ``parameters``: (include_excluded, include_automated,
    include_paused, include_gold), read as it reads them.  Equal flags select the same ratings."""
    return (bool(parameters.get("include_excluded", False)), bool(parameters.get("include_automated", False)),
            bool(parameters.get("include_paused", True)), bool(parameters.get("include_gold", False)))


def _small(values: NDArray[np.int64]) -> NDArray[np.integer]:
    """``values`` (non-negative) as int32 when they fit, else as they are."""
    return values.astype(np.int32) if not values.size or int(values.max()) <= np.iinfo(np.int32).max else values


def fetch_ints(queryset: Any, width: int) -> NDArray[np.int64]:
    """The rows of a ``values_list`` queryset of ``width`` integer (never NULL) columns as an (n x width)
    array: read with the database cursor in large batches, straight into numpy (no model rows, no
    per-value converters)."""
    sql, params = queryset.query.sql_with_params()
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(_FETCH)
            if not rows:
                break
            flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width)
            parts.append(flat.reshape(-1, width))
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.int64)


def load_tasks(project: Project, *, include_gold: bool = True) -> dict[int, TaskInfo]:
    """Every task of the project (two queries); gold tasks only with ``include_gold``."""
    return _load_tasks(project, include_gold=include_gold)[0]


def _load_tasks(project: Project, *, include_gold: bool) -> tuple[dict[int, TaskInfo], list[int]]:
    """(tasks by id, item id of each task in the dict's order)."""
    items = {
        pk: (ext, metadata or {})
        for pk, ext, metadata in Item.objects.filter(project=project)
        .values_list("id", "external_id", "metadata").iterator(chunk_size=CHUNK)
    }
    rows = Task.objects.filter(project=project, **({} if include_gold else {"is_gold": False})).order_by(
        "id").values_list("id", "item_id", "response_a__model", "response_b__model")
    tasks, item_of = {}, []
    for task_id, item_id, model_a, model_b in rows.iterator(chunk_size=CHUNK):
        ext, metadata = items[item_id]
        if model_b is None:
            tasks[task_id] = TaskInfo(ext, model_a, metadata)
        else:
            tasks[task_id] = TaskInfo(ext, f"{model_a} vs {model_b}", metadata, (model_a, model_b))
        item_of.append(item_id)
    return tasks, item_of


def _codes(names: list[str]) -> tuple[list[str], dict[str, int]]:
    labels = sorted(set(names))
    return labels, {name: i for i, name in enumerate(labels)}


def load_data(project: Project, parameters: Mapping[str, Any]) -> ReportData:
    """The report's snapshot of the project.  Call inside one transaction for a consistent read.

    A per-response question of a pair task counts for that response's model.  A response can be in
    several pairs, so a rater may have scored it more than once; their first score counts (a unit
    takes one value per rater).
    """
    from django.contrib.auth import get_user_model

    data_seq = Project.objects.values_list("ratings_seq", flat=True).get(pk=project.pk)
    tasks, _ = _load_tasks(project, include_gold=parameters.get("include_gold", False))
    task_ids = np.fromiter(tasks, dtype=np.int64, count=len(tasks))  # ascending: read by id

    # ratings: (task, rater id, duration or -1, swapped 1/0 for queue ratings, else -1)
    queue = Assignment.Source.QUEUE
    ratings = fetch_ints(
        Rating.objects.filter(rating_filter(project, parameters, prefix=""))
        .annotate(_duration=Coalesce("duration_ms", Value(-1), output_field=IntegerField()), _side=Case(
            When(assignment__source=queue, assignment__swapped=True, then=Value(1)),
            When(assignment__source=queue, assignment__swapped=False, then=Value(0)),
            default=Value(-1), output_field=IntegerField()))
        .order_by("id").values_list("task_id", "rater_id", "_duration", "_side"), 4)
    ratings = ratings[np.isin(ratings[:, 0], task_ids)]

    dims: dict[int, DimensionData] = {}
    for scale in scales_for(project.rubric_version_id).values():
        if scale.kind != Dimension.Kind.TEXT:
            dims[scale.dimension_id] = DimensionData(
                scale.key, scale.label, scale.kind, scale.level, tuple(scale.values), dict(scale.labels)
            )
    # scores: (dimension, task, rater id, response or 0, value, rating)
    scores = fetch_ints(
        Score.objects.filter(rating_filter(project, parameters), dimension_id__in=list(dims), value__isnull=False)
        .annotate(_response=Coalesce("response_id", Value(0), output_field=IntegerField()))
        .order_by("rating_id", "id")
        .values_list("dimension_id", "rating__task_id", "rating__rater_id", "_response", "value", "rating_id"), 6)
    n_read = len(scores)
    scores = scores[np.isin(scores[:, 1], task_ids)]  # a task created after the tasks were read

    rater_ids = np.unique(np.concatenate([ratings[:, 1], scores[:, 2]]))
    usernames = dict(get_user_model().objects.filter(pk__in=rater_ids.tolist()).values_list("pk", "username"))
    rater_names, rater_code = _codes([usernames[pk] for pk in rater_ids.tolist()])
    rater_lookup = np.array([rater_code[usernames[pk]] for pk in rater_ids.tolist()], dtype=np.int64)

    response_ids = np.unique(scores[:, 3])
    response_ids = response_ids[response_ids > 0]
    response_model = dict(Response.objects.filter(pk__in=response_ids.tolist()).values_list("pk", "model")) \
        if response_ids.size else {}

    infos = list(tasks.values())
    item_names, item_code = _codes([t.item for t in infos])
    model_names, model_code = _codes([t.model for t in infos] + list(response_model.values()))
    task_item = np.fromiter((item_code[t.item] for t in infos), dtype=np.int64, count=len(infos))
    task_model = np.fromiter((model_code[t.model] for t in infos), dtype=np.int64, count=len(infos))

    at = np.searchsorted(task_ids, scores[:, 1])
    s_item, s_model = task_item[at], task_model[at]
    s_rater = rater_lookup[np.searchsorted(rater_ids, scores[:, 2])]
    per_response = np.flatnonzero(scores[:, 3] > 0)
    if per_response.size:
        resp = np.array([model_code[response_model[r]] for r in scores[per_response, 3].tolist()], dtype=np.int64)
        s_model[per_response] = resp
        # the first score of each (dimension, item, rater, model) counts
        dim_code = np.unique(scores[per_response, 0], return_inverse=True)[1].reshape(-1)
        key = ((dim_code * len(item_names) + s_item[per_response]) * max(len(rater_names), 1)
               + s_rater[per_response]) * max(len(model_names), 1) + resp
        _, first = np.unique(key, return_index=True)
        drop = np.ones(per_response.size, dtype=bool)
        drop[first] = False
        keep = np.ones(len(scores), dtype=bool)
        keep[per_response[drop]] = False
        scores, s_item, s_model, s_rater = scores[keep], s_item[keep], s_model[keep], s_rater[keep]

    score_keys = None
    if len(scores) == n_read:  # every score read is in the snapshot: the quality section may take them
        dim_ids = np.fromiter(dims, dtype=np.int64, count=len(dims))
        by_id = np.argsort(dim_ids, kind="stable")
        dim_index = by_id[np.searchsorted(dim_ids, scores[:, 0], sorter=by_id)] if len(scores) else _EMPTY
        score_keys = ScoreKeys(rule_flags(parameters), tuple(dims), dim_index.astype(np.int16),
                               _small(scores[:, 5]), _small(scores[:, 3]))
    out = []
    for dim_id, dim in dims.items():
        mine = np.flatnonzero(scores[:, 0] == dim_id)
        out.append(DimensionData(
            dim.key, dim.label, dim.kind, dim.level, dim.scale, dim.labels,
            task=scores[mine, 1], item=s_item[mine], model=s_model[mine], rater=s_rater[mine],
            value=scores[mine, 4], model_names=model_names, rater_names=rater_names,
        ))
    rating_columns = RatingColumns(
        task=ratings[:, 0].copy(), rater=rater_lookup[np.searchsorted(rater_ids, ratings[:, 1])],
        duration_ms=ratings[:, 2].copy(), swapped=ratings[:, 3].copy(),
    )
    return ReportData(tasks=tasks, dimensions=out, rating_columns=rating_columns, data_seq=data_seq,
                      items=item_names, models=model_names, rater_names=rater_names, task_ids=task_ids,
                      task_item=task_item, task_model=task_model,
                      task_pair=np.fromiter((t.pair is not None for t in infos), dtype=bool, count=len(infos)),
                      score_keys=score_keys)

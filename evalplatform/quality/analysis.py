"""One quality run: the project's scores in, scorecards and consensus labels out.

Runs only in a Celery worker (the report computation, or ``quality.tasks.compute_quality``): it
loads the scores with one query, and hands arrays to ``evalplatform.stats`` (agreement per rater,
consensus rules, per-unit disagreement) and to ``quality.figures``.  Nothing here writes; the
service stores the result.

Which ratings count follows the report's parameters: automated judges and paused raters by
``include_automated`` / ``include_paused`` (as in the report), gold tasks by ``include_gold`` for the
agreement figures.  Consensus labels and adjudication candidates never include gold tasks (their
answer is known), and gold accuracy only ever reads gold tasks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, NamedTuple, cast

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Case, DateField, Func, IntegerField, Value, When
from django.db.models.functions import Cast, Coalesce

from evalplatform.projects.models import Membership, Project
from evalplatform.quality import figures
from evalplatform.quality.labels import LabelTable
from evalplatform.quality.models import Adjudication
from evalplatform.quality.selectors import GoldAccuracy, gold_accuracy
from evalplatform.ratings.models import Rating, Score
from evalplatform.reports.data import (
    AGREEMENT_ENTRIES,
    ReportData,
    fetch_ints,
    first_appearance,
    rating_filter,
    rule_flags,
)
from evalplatform.stats.consensus import long_to_wide, majority_vote, numeric_consensus
from evalplatform.stats.latent_class import dawid_skene, mace
from evalplatform.stats.matrix import Level, code_ratings, collapse_units
from evalplatform.stats.raters import task_disagreement
from evalplatform.stats.readers import LongRatings
from evalplatform.stats.summary import summarize
from rubrics.models import Dimension

QUALITY_DEFAULTS = {"include_automated": False, "include_paused": True, "include_gold": False, "seed": 0}


@dataclass
class QualityRun:
    data_seq: int
    parameters: dict[str, Any]
    result: dict[str, Any]
    labels: LabelTable


@dataclass(frozen=True)
class _Dim:
    id: int
    key: str
    level: Level
    kind: str
    scale: tuple[int, ...]

    @property
    def ordered(self) -> bool:
        return self.level != Dimension.Level.NOMINAL


def _dimensions(project: Project) -> list[_Dim]:
    dims = Dimension.objects.filter(version_id=project.rubric_version_id).exclude(kind=Dimension.Kind.TEXT)
    return [
        _Dim(d.pk, d.key, cast(Level, d.level), d.kind, tuple(lv.value for lv in d.levels.all()))
        for d in dims.prefetch_related("levels").order_by("position", "id")
    ]


class _Scores(NamedTuple):
    """The scores a quality run reads, as columns in the database's order (by rating, then score)."""

    rating: np.ndarray
    task: np.ndarray
    response: np.ndarray  # 0: about the task
    rater: np.ndarray
    dimension: np.ndarray
    value: np.ndarray


def _score_query(project: Project, rule: dict[str, Any], dim_ids: list[int], **only: Any) -> np.ndarray:
    """(rating, response or 0, dimension, value) of the scores ``rule`` counts (``only``: more filters)."""
    return fetch_ints(
        Score.objects.filter(rating_filter(project, rule), value__isnull=False, dimension_id__in=dim_ids, **only)
        .annotate(_response=Coalesce("response_id", Value(0), output_field=IntegerField()))
        .order_by("rating_id", "id")
        .values_list("rating_id", "_response", "dimension_id", "value"), 4)


def _shared_scores(project: Project, rule: dict[str, Any], dim_ids: list[int],
                   data: ReportData | None) -> tuple[np.ndarray, ...] | None:
    """The scores' (rating, response, dimension, value) columns taken from the report's snapshot, or
    None when it may not hold exactly the scores this run counts (then the run reads them).

    The snapshot's scores are those ``included_ratings`` selects by the report's parameters (see
    ``reports.data.ScoreKeys``).  With the same flags for excluded, automated and paused raters, and
    the same dimensions, they are this run's scores, except gold tasks' when the report left them
    out: those are read here (a few percent) and put in place.  A gold task's ratings are all gold,
    and the two sets are each in (rating, score) order, so a stable sort by rating merges them.
    """
    keys = data.score_keys if data is not None else None
    if keys is None or data is None:
        return None
    mine, theirs = rule_flags(rule), keys.rule
    if mine[:3] != theirs[:3] or sorted(keys.dimension_ids) != sorted(dim_ids):
        return None
    value = np.empty(keys.dimension.size, dtype=np.int64)
    dim = np.empty(keys.dimension.size, dtype=np.int64)
    for i, (dim_id, d) in enumerate(zip(keys.dimension_ids, data.dimensions, strict=True)):
        at = np.flatnonzero(keys.dimension == i)
        if at.size != d.value.size:
            return None
        value[at] = d.value
        dim[at] = dim_id
    rating = keys.rating.astype(np.int64)
    response = keys.response.astype(np.int64)
    if not theirs[3] and mine[3]:
        gold = _score_query(project, rule, dim_ids, rating__task__is_gold=True)
        if len(gold):  # a task made gold since the snapshot was read: its scores are there already
            gold = gold[~np.isin(gold[:, 0], rating)]
        if len(gold):
            rating = np.concatenate([rating, gold[:, 0]])
            order = np.argsort(rating, kind="stable")
            rating = rating[order]
            response = np.concatenate([response, gold[:, 1]])[order]
            dim = np.concatenate([dim, gold[:, 2]])[order]
            value = np.concatenate([value, gold[:, 3]])[order]
    return rating, response, dim, value


class _WeekOf(Func):
    """The Monday of the week of a date, as ``date.toordinal()`` numbers it, computed by the database:
    one integer per rating read with the rating, instead of a date object per rating in Python.
    0001-01-01, ordinal 1, is a Monday, so a day's weekday is ``(ordinal - 1) % 7``.  The modulo is
    written ``%%%%``: ``%%`` once the template is filled in, ``%`` once the driver has the parameters."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        day = "((%(expressions)s) - DATE '0001-01-01')"  # ordinal - 1
        return self.as_sql(compiler, connection, template=f"({day} - ({day} %%%% 7) + 1)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        day = "CAST(julianday(%(expressions)s) - 1721425.5 AS INTEGER)"  # julianday('0001-01-01') = 1721425.5
        return self.as_sql(compiler, connection, template=f"({day} - ({day} %%%% 7) + 1)", **extra)


def _rating_rows(project: Project, params: dict[str, Any], dim_ids: list[int],
                 data: ReportData | None = None) -> tuple[_Scores, np.ndarray, bool]:
    """(scores, ratings, whether the scores are the snapshot's) read straight into numpy
    (``reports.data.fetch_ints``), the scores taken from the report's snapshot ``data`` when it holds
    exactly them (``_shared_scores``).

    A rating row: (rating, duration in ms or -1, is gold, the ordinal of the Monday of the week it was
    made in, UTC).
    The report's rule for automated judges and paused raters; gold tasks are split out by the caller.
    """
    rule = {**params, "include_gold": True}
    chosen = Rating.objects.filter(rating_filter(project, rule, prefix="")).order_by("id")
    ratings = fetch_ints(
        chosen.annotate(_duration=Coalesce("duration_ms", Value(-1), output_field=IntegerField()),
                        _gold=Case(When(task__is_gold=True, then=Value(1)), default=Value(0),
                                   output_field=IntegerField()),
                        # the day as the database gives it (UTC), as Cast(..., DateField()) reads it
                        _week=_WeekOf(Cast("created_at", DateField())))
        .values_list("id", "_duration", "_gold", "_week", "task_id", "rater_id"), 6)
    shared = _shared_scores(project, rule, dim_ids, data)
    from_snapshot = shared is not None
    if shared is not None:
        # the ratings are read after the snapshot: every snapshot score's rating must be among them
        if shared[0].size and not len(ratings):
            shared = None
        elif shared[0].size:
            at = np.minimum(np.searchsorted(ratings[:, 0], shared[0]), len(ratings) - 1)
            if (ratings[at, 0] != shared[0]).any():
                shared = None
            elif data is not None and data.score_keys is not None and not data.score_keys.rule[3]:
                # The report left gold tasks out; a task a lead made gold since it read its scores is in
                # the snapshot but gold now: this run would count it as gold and the report's
                # figures (``_report_entries``) would not.  Read the scores afresh.
                mine_at = np.minimum(np.searchsorted(ratings[:, 0], data.score_keys.rating), len(ratings) - 1)
                if (ratings[mine_at, 2] == 1).any():
                    shared = None
    if shared is None:
        from_snapshot = False
        # A rating's task and rater are read once with the rating, not with each of its scores: the
        # scores' rows are most of what is read (720,000 on issue 18's data), and each column costs.
        read = _score_query(project, rule, dim_ids)
        # The ratings were read first: a rating committed since has its scores in this later read but no
        # row among the ratings.  Keep only the scores of the ratings read, so each finds its rating below.
        if len(read):
            keep = np.isin(read[:, 0], ratings[:, 0])
            if not keep.all():
                read = read[keep]
        shared = (read[:, 0], read[:, 1], read[:, 2], read[:, 3])
        del read
    rating, response, dim, value = shared
    at = np.searchsorted(ratings[:, 0], rating)  # every score's rating is among the ratings read
    scores = _Scores(rating, ratings[at, 4], response, ratings[at, 5], dim, value)
    return scores, np.ascontiguousarray(ratings[:, :4]), from_snapshot


def run_quality(project: Project, parameters: dict[str, Any] | None = None, *, data_seq: int | None = None,
                data: ReportData | None = None) -> QualityRun:
    """Compute scorecards and consensus labels of ``project`` (see the module docstring).  ``data``: the
    report's snapshot, whose scores the run takes when they are the ones it counts (else it reads)."""
    given = parameters or {}
    params = {key: given[key] if given.get(key) is not None else default for key, default in QUALITY_DEFAULTS.items()}
    if data_seq is None:  # read before the scores, so it never claims more than they cover
        data_seq = Project.objects.values_list("ratings_seq", flat=True).get(pk=project.pk)
    dims = _dimensions(project)
    by_id = {d.id: d for d in dims}
    scores, rating_info, from_snapshot = _rating_rows(project, params, list(by_id), data)
    entries = _report_entries(data, params, from_snapshot, per_response=bool(scores.response.any()))
    # Rows as columns, in the database's order (by rating, then score).  The unit is what a value is
    # about: the task, or one response of a pair for a per-response question; units are numbered in
    # order of their first score.
    rating, rater, dim, value = scores.rating, scores.rater, scores.dimension, scores.value
    pairs, first, inverse = _unique_pairs(scores.task, scores.response)
    del scores
    order = np.argsort(first, kind="stable")
    del first
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    unit = rank[inverse.reshape(-1)]
    unit_keys = pairs[order]  # unit index -> (task, response or 0)
    del pairs, order, rank, inverse
    n_scores = int(rating.size)
    at = np.searchsorted(rating_info[:, 0], rating)  # every score's rating is among the ratings read
    gold_row = rating_info[at, 2] == 1
    ids = np.asarray(sorted(by_id), dtype=np.int64)
    position = np.asarray([[d.id for d in dims].index(i) for i in ids.tolist()], dtype=np.int64)

    rater_ids = np.unique(rater).tolist()
    names = dict(get_user_model().objects.filter(pk__in=rater_ids).values_list("pk", "username"))
    paused = set(Membership.objects.filter(project=project, paused=True).values_list("user_id", flat=True))
    # External workers (Prolific, MTurk) are known on their platform by this id: the card shows it.
    external = dict(Membership.objects.filter(project=project, user_id__in=rater_ids).exclude(external_id="")
                    .values_list("user_id", "external_id"))
    agreement = np.flatnonzero(~gold_row) if not params["include_gold"] else np.arange(rating.size)

    # The figures per score first, then the consensus labels (hundreds of thousands of tuples, kept
    # to the end): the score columns are dropped before the labels are built, so the run's memory
    # peaks lower.
    summary = (_summary_of(entries) if entries is not None
               else _agreement_summary(unit[agreement], rater[agreement], dim[agreement], value[agreement], dims, names))
    weekly = figures.agreement_by_week(
        unit[agreement] * len(dims) + (position[np.searchsorted(ids, dim[agreement])] if ids.size else 0),
        rater[agreement], value[agreement], rating_info[at[agreement], 3],
    )
    del agreement, at
    # Per rating (those with a score here): its rater, duration and whether it straight-lines, that is
    # gives one value on every rating-scale (ordered, non-preference) dimension it scores, two or more.
    rated, first_row = np.unique(rating, return_index=True)
    rating_rater = rater[first_row]
    rating_duration = rating_info[np.searchsorted(rating_info[:, 0], rated), 1]
    del first_row, rating_info
    scale_dims = [d.id for d in dims if d.ordered and d.kind != Dimension.Kind.PAIRWISE]
    on_scale = np.flatnonzero(np.isin(dim, scale_dims))
    which = np.searchsorted(rated, rating[on_scale])
    n_scale = np.bincount(which, minlength=rated.size)
    low = np.full(rated.size, np.iinfo(np.int64).max)
    high = np.full(rated.size, np.iinfo(np.int64).min)
    np.minimum.at(low, which, value[on_scale])
    np.maximum.at(high, which, value[on_scale])
    del on_scale, which
    eligible = n_scale >= 2
    straight = eligible & (low == high)
    del rated, rating, n_scale, low, high

    consensus = np.flatnonzero(~gold_row)
    rows = (unit[consensus], rater[consensus], dim[consensus], value[consensus])
    del consensus, gold_row, unit, rater, dim, value
    labels, consensus_notes, competence = _consensus(project, rows, dims, unit_keys, seed=int(params["seed"]))
    del rows
    adjudicated = set(Adjudication.objects.filter(project=project).values_list("task_id", flat=True))
    gold = gold_accuracy(project, rater_ids=rater_ids)

    cards = []
    for pk in sorted(rater_ids, key=lambda pk: names[pk]):
        mine = rating_rater == pk
        durations = rating_duration[mine]
        card_ratings = _RaterRatings(int(mine.sum()), durations[durations >= 0].tolist(),
                                     int(eligible[mine].sum()), int(straight[mine].sum()))
        cards.append({**_scorecard(
            project, pk, names[pk], pk in paused, card_ratings, gold.get(pk), weekly.get(pk, []),
            [(d.key, summary.get(d.key, {}).get(names[pk]), competence.get(d.key, {}).get(pk, {})) for d in dims]),
            "external_id": external.get(pk, "")})
    result = {
        "parameters": params,
        "settings": {"gold_min_accuracy": project.gold_min_accuracy, "min_seconds_per_item": project.min_seconds_per_item,
                     "consensus_rule": project.consensus_rule, "adjudication_threshold": project.adjudication_threshold},
        "n_scores": n_scores,
        "dimensions": [{"dimension": d.key, "level": d.level, "alpha": summary.get(d.key, {}).get("__alpha__"),
                        "consensus_notes": consensus_notes.get(d.key, [])} for d in dims],
        "raters": cards,
        # the queue's own rule (selectors.flagged_labels), so the report and the queue count the same tasks
        "n_flagged_tasks": _n_flagged_tasks(labels, project.adjudication_threshold, adjudicated),
        "n_rated_tasks": int(np.unique(labels.columns["task_id"][_whole_task_rated(labels)]).size),
    }
    return QualityRun(data_seq, params, result, labels)


def _whole_task_rated(labels: LabelTable) -> np.ndarray:
    """Which labels are about a whole task (not one response of a pair) rated by two or more."""
    return (labels.columns["response_id"] == 0) & (labels.columns["n_ratings"] >= 2)


def _n_flagged_tasks(labels: LabelTable, threshold: float, adjudicated: set[int]) -> int:
    """How many tasks ``selectors.needs_adjudication`` flags among ``labels``, on the columns."""
    c = labels.columns
    with np.errstate(invalid="ignore"):  # NaN agreement (None) is never below the threshold
        low = c["agreement"] < threshold
    flagged = _whole_task_rated(labels) & low & ~np.isin(c["task_id"], np.fromiter(adjudicated, np.int64))
    return int(np.unique(c["task_id"][flagged]).size)


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(np.column_stack([a, b]), axis=0, return_index=True, return_inverse=True)`` of two
    columns of non-negative ids, by a 1-D unique of one number per row (``axis=0`` sorts the rows as
    records, several times slower): the same rows in the same (lexicographic) order."""
    second, code = np.unique(b, return_inverse=True)
    if a.size and int(a.max()) >= np.iinfo(np.int64).max // max(second.size, 1):
        return np.unique(np.column_stack([a, b]), axis=0, return_index=True,  # type: ignore[return-value]
                         return_inverse=True)
    _, first, inverse = np.unique(a * second.size + code.reshape(-1), return_index=True, return_inverse=True)
    return np.column_stack([a[first], b[first]]), first, inverse


class _RaterRatings(NamedTuple):
    """What a scorecard needs of a rater's ratings: how many, the recorded durations (ms), and how
    many could straight-line (two or more rating-scale dimensions scored) and did."""

    n: int
    durations: list[int]
    n_eligible: int
    n_straight: int


def _scorecard(
    project: Project, rater: int, name: str, paused: bool, ratings: _RaterRatings,
    gold: GoldAccuracy | None, weeks: list[figures.WeekAgreement],
    per_dim: list[tuple[str, dict[str, Any] | None, dict[str, Any]]],
) -> dict[str, Any]:
    """One rater's card: ``ratings`` sums up their ratings; ``per_dim`` the agreement engine's figures
    and the estimated competence per dimension."""
    durations = ratings.durations
    med = figures.median_seconds(durations)
    straight = figures.straight_lining_counts(ratings.n_eligible, ratings.n_straight)
    drift = figures.drift(weeks)
    dim_cards: list[dict[str, Any]] = [
        {
            "dimension": key,
            "n_items": fig["n_items"] if fig else 0,
            "kappa_vs_others": figures.mean_defined(fig["kappa_with"].values()) if fig else None,
            "alpha_without": fig["alpha_without"] if fig else None,
            "alpha_without_reason": fig.get("alpha_without_reason") if fig else "no ratings in this dimension",
            "mean_offset": fig["mean_offset"] if fig else None,
            "competence_dawid_skene": comp.get("dawid_skene"),
            "competence_mace": comp.get("mace"),
            "accuracy_mace": comp.get("mace_accuracy"),
            "competence_reason": comp.get("reason"),
        }
        for key, fig, comp in per_dim
    ]
    flags = {
        "gold": bool(gold and gold.alert(project)),
        "too_fast": bool(project.min_seconds_per_item and med is not None and med < project.min_seconds_per_item),
        "straight_lining": straight.flagged,
        "drift": drift.flagged,
    }
    return {
        "rater": name, "user_id": rater, "paused": paused, "n_ratings": ratings.n,
        "gold": asdict(gold) if gold else None,
        "kappa_vs_others": figures.mean_defined(c["kappa_vs_others"] for c in dim_cards),
        "mean_offset": figures.mean_defined(c["mean_offset"] for c in dim_cards),
        "median_seconds": med,
        "share_below_min_seconds": figures.share_below(durations, project.min_seconds_per_item),
        "straight_lining": asdict(straight),
        "drift": {
            "weeks": [{"week": date.fromordinal(w.week).isoformat(), "agreement": w.agreement, "n": w.n}
                      for w in drift.weeks],
            "slope_per_week": drift.slope_per_week, "flagged": drift.flagged, "reason": drift.reason,
        },
        "dimensions": dim_cards,
        "flags": [flag for flag, on in flags.items() if on],
    }


def _agreement_summary(unit: np.ndarray, rater: np.ndarray, dim: np.ndarray, value: np.ndarray, dims: list[_Dim],
                       names: dict[int, str]) -> dict[str, dict[str, Any]]:
    """Per dimension: rater name -> the agreement engine's per-rater figures, and ``__alpha__``.

    The scores are given as columns (units named by their number, raters by their name), in the
    database's order, as ``LongRatings`` numbered like ``stats.readers.from_rows`` would number them.
    """
    if not unit.size:
        return {}
    key_of = {d.id: d.key for d in dims}
    values, value_codes = np.unique(value, return_inverse=True)
    rater_ids = np.unique(rater)
    dim_ids = np.unique(dim)
    long = LongRatings(
        item=first_appearance(unit, [str(u) for u in range(int(unit.max()) + 1)]),
        rater=first_appearance(np.searchsorted(rater_ids, rater), [names[r] for r in rater_ids.tolist()]),
        dimension=first_appearance(np.searchsorted(dim_ids, dim), [key_of[d] for d in dim_ids.tolist()]),
        value=first_appearance(value_codes.reshape(-1), [float(v) for v in values.tolist()]),
    )
    report = summarize(
        long, levels={d.key: d.level for d in dims}, scales={d.key: [float(v) for v in d.scale] for d in dims},
        bootstrap=0, top=0,
    )
    return _summary_of(report["dimensions"])


def _summary_of(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``_agreement_summary``'s figures from ``stats.summarize``'s entries, one per dimension."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        figs: dict[str, Any] = {r["rater"]: r for r in entry["raters"]}
        figs["__alpha__"] = entry["krippendorff_alpha"]["value"]
        out[str(entry["dimension"])] = figs
    return out


def _report_entries(data: ReportData | None, params: dict[str, Any], from_snapshot: bool, *,
                    per_response: bool) -> list[dict[str, Any]] | None:
    """The report's agreement entries (``reports.data.AGREEMENT_ENTRIES``), when they were computed on
    exactly the scores whose agreement this run figures, so that every rater's leave-one-out alpha,
    kappas and offset are not computed twice (0.3 s of the quality section at issue 18's size).

    That holds when this run took its scores from the snapshot (``_rating_rows``), the snapshot and
    this run both leave gold tasks out or both count them, and no score is about one response of a
    pair: the report's unit is (item, model), which is then one task (a response has one model per
    item, and a task one response or one ordered pair); a per-response question's unit here is (task,
    response), while the report's (item, model) gathers a response's scores from all its pairs.  The
    per-rater figures and the alpha are point estimates, the same whatever the report's bootstrap.
    """
    if data is None or not from_snapshot or per_response or data.score_keys is None:
        return None
    if bool(params["include_gold"]) != data.score_keys.rule[3]:
        return None
    return data.cache.get(AGREEMENT_ENTRIES)


def _consensus(
    project: Project, rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], dims: list[_Dim],
    unit_keys: np.ndarray, *, seed: int
) -> tuple[LabelTable, dict[str, list[str]], dict[str, dict[int, dict[str, Any]]]]:
    """Every rule's label per unit and dimension, the rules' notes, and each rater's competence.
    ``rows``: the scores as (unit, rater, dimension, value) columns; ``unit_keys``: each unit's
    (task, response or 0)."""
    unit_col, rater_col, dim_col, value_col = rows
    parts: list[dict[str, np.ndarray]] = []
    notes: dict[str, list[str]] = {}
    competence: dict[str, dict[int, dict[str, Any]]] = {}
    for d in dims:
        mine = np.flatnonzero(dim_col == d.id)
        if not mine.size:
            continue
        wide = long_to_wide(unit_col[mine], rater_col[mine], value_col[mine])
        m = wide.ratings
        vote = majority_vote(m)
        ds = dawid_skene(m)
        # MACE's uniform class prior reads a skewed question's majority as spam (every rater's θ low,
        # good ones included): estimate the prevalence, as Dawid–Skene does (stats.latent_class.MACEResult)
        ma = mace(m, seed=seed, class_prior="learned", max_iter=1000)
        mean = numeric_consensus(m, "mean") if d.ordered else None
        median = numeric_consensus(m, "median") if d.ordered else None
        coded = code_ratings(m, level=d.level, value_domain=[float(v) for v in d.scale])
        patterns = collapse_units(coded.codes, coded.n_values)
        per_pattern = task_disagreement(patterns, d.level, coded.positions())
        n = (~np.isnan(m)).sum(axis=0)
        # Whole columns at once (a team's project has tens of thousands of units per dimension).
        inverse = np.asarray(patterns.inverse)
        dis = np.where(inverse >= 0, np.asarray(per_pattern, dtype=float)[np.maximum(inverse, 0)], np.nan)
        nothing = np.full(n.size, np.nan)
        keys = unit_keys[wide.unit_ids.astype(np.int64)]
        parts.append({
            "task_id": keys[:, 0], "response_id": keys[:, 1], "dimension_id": np.full(n.size, d.id), "n_ratings": n,
            "agreement": 1.0 - dis, "split": np.asarray(vote.tied, dtype=bool),
            "mean": np.asarray(mean.values, dtype=float) if mean else nothing,
            "median": np.asarray(median.values, dtype=float) if median else nothing,
            "majority": np.asarray(vote.labels, dtype=float), "majority_share": np.asarray(vote.vote_share, dtype=float),
            "dawid_skene": np.asarray(ds.labels, dtype=float),
            "dawid_skene_posterior": np.asarray(ds.confidence, dtype=float) if ds.confidence is not None else nothing,
            "mace": np.asarray(ma.labels, dtype=float),
            "mace_posterior": np.asarray(ma.confidence, dtype=float) if ma.confidence is not None else nothing,
        })
        notes[d.key] = sorted({*vote.notes, *ds.notes, *ma.notes})
        competence[d.key] = {
            int(r): {"dawid_skene": ds.competence[i], "mace": ma.competence[i],
                     "mace_accuracy": ma.accuracy[i] if ma.accuracy else None,
                     "reason": ds.competence_reasons[i] or ma.competence_reasons[i]}
            for i, r in enumerate(wide.rater_ids.tolist())
        }
    return LabelTable(parts), notes, competence

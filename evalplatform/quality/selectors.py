"""Reads for quality control: gold accuracy, gold items, the adjudication queue, final labels.

Everything here serves leads (callers check the role); nothing computes statistics: gold accuracy
is a count of scores within tolerance, and the queue and labels read what the last quality run
stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Min, Prefetch, Q
from django.db.models.functions import Abs
from django.http import Http404

from evalplatform.projects.models import Membership, Project, Task
from evalplatform.quality.models import (
    AdjudicatedScore,
    Adjudication,
    ConsensusLabel,
    GoldExpectation,
    QualitySnapshot,
)
from evalplatform.ratings.models import Rating, Score
from rubrics.models import Dimension

# A rater is flagged only once they have rated this many gold items: one slip is not a pattern.
GOLD_ALERT_MIN_ITEMS = 3
CHUNK = 2000


@dataclass(frozen=True)
class GoldAccuracy:
    n_items: int  # gold tasks rated
    n_scores: int  # scores compared with an expectation
    correct: int  # of those, within tolerance
    accuracy: float | None

    def alert(self, project: Project) -> bool:
        return (
            self.accuracy is not None and self.n_items >= GOLD_ALERT_MIN_ITEMS
            and self.accuracy < project.gold_min_accuracy
        )


def gold_accuracy(project: Project, *, rater_ids: Iterable[int] | None = None) -> dict[int, GoldAccuracy]:
    """Each rater's share of gold scores within tolerance of the expectation: one grouped query, after
    a look for any gold expectation (without one the join still walked every score of the project:
    80 ms on SQLite at 720,000 scores, against a few for the look)."""
    if not GoldExpectation.objects.filter(task__project=project).exists():
        return {}
    # One join to the expectation of the same task and dimension; the annotations below reuse it.
    scores = Score.objects.filter(
        rating__project=project, rating__task__is_gold=True, value__isnull=False, response__isnull=True,
        rating__task__gold_expectations__dimension_id=F("dimension_id"),
    )
    if rater_ids is not None:
        scores = scores.filter(rating__rater_id__in=list(rater_ids))
    rows = scores.annotate(
        off=Abs(F("value") - F("rating__task__gold_expectations__value")),
        tolerance=F("rating__task__gold_expectations__tolerance"),
    ).values("rating__rater_id").annotate(
        n_scores=Count("id"), correct=Count("id", filter=Q(off__lte=F("tolerance"))),
        n_items=Count("rating__task_id", distinct=True),
    )
    return {
        r["rating__rater_id"]: GoldAccuracy(
            r["n_items"], r["n_scores"], r["correct"], r["correct"] / r["n_scores"] if r["n_scores"] else None
        )
        for r in rows
    }


@dataclass(frozen=True)
class GoldAlert:
    user_id: int
    username: str
    paused: bool
    gold: GoldAccuracy


def gold_alerts(project: Project) -> list[GoldAlert]:
    """Raters of the project whose gold accuracy is below the lead's threshold, worst first."""
    raters = {
        m["user_id"]: m for m in Membership.objects.filter(project=project, role=Membership.Role.RATER)
        .values("user_id", "user__username", "paused")
    }
    alerts = [
        GoldAlert(uid, raters[uid]["user__username"], raters[uid]["paused"], acc)
        for uid, acc in gold_accuracy(project, rater_ids=raters).items()
        if acc.alert(project)
    ]
    return sorted(alerts, key=lambda a: (a.gold.accuracy or 0.0, a.username))


def gold_tasks(project: Project):
    """The project's gold tasks with their item, responses and expectations (three queries)."""
    return (
        Task.objects.filter(project=project, is_gold=True)
        .select_related("item", "response_a", "response_b")
        .prefetch_related(Prefetch("gold_expectations", queryset=GoldExpectation.objects.select_related("dimension")))
        .annotate(n_ratings=Count("ratings", distinct=True))
        .order_by("item__external_id", "id")
    )


def task_for_item(project: Project, external_id: str, model: str = "") -> Task:
    """The task of an item (and model, or pair ``a-vs-b``, when the item has several), else 404."""
    tasks = list(
        Task.objects.filter(project=project, item__external_id=external_id)
        .select_related("response_a", "response_b").order_by("id")
    )
    if model:
        tasks = [t for t in tasks if model in (t.response_a.model, _pair_name(t))]
    if len(tasks) != 1:
        raise Http404("No such task: give the item id, and the model when the item has several responses.")
    return tasks[0]


def _pair_name(task: Task) -> str:
    return "-vs-".join(response.model for response in task.responses)


def needs_adjudication(label: Any, threshold: float, adjudicated: set[int] | frozenset[int]) -> bool:
    """The queue's rule in Python (for counts made before the labels are stored): ``flagged_labels``; ``label`` is a ``ConsensusLabel`` or a ``labels.Label``."""
    return (label.response_id is None and label.n_ratings >= 2 and label.task_id not in adjudicated
            and label.agreement is not None and label.agreement < threshold)


def flagged_labels(project: Project):
    """Consensus rows of ordinary, unadjudicated tasks whose agreement (1 minus the bounded per-task
    disagreement, ``stats.raters.task_disagreement``) is below the threshold; questions of the whole
    task only (on a pair, those asked of each response are not adjudicated).  A tied vote alone does not
    flag a task: on an ordered scale a 4-5 tie is near agreement, and on a nominal one a tie already
    reads as high disagreement.  ``needs_adjudication`` is the same rule in Python."""
    return ConsensusLabel.objects.filter(
        project=project, agreement__lt=project.adjudication_threshold, n_ratings__gte=2, task__is_gold=False,
        task__adjudication__isnull=True, response__isnull=True,
    )


def adjudication_queue(project: Project, *, limit: int = 200, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(``limit`` tasks awaiting adjudication from ``offset`` on, most disputed first; how many in all)."""
    grouped = flagged_labels(project).values("task_id").annotate(
        worst=Min("agreement"), n_split=Count("id", filter=Q(split=True)), n_dims=Count("id"),
    )
    total = grouped.count()
    rows = list(grouped.order_by(F("worst").asc(nulls_first=True), "task_id")[offset:offset + limit])
    tasks = Task.objects.select_related("item", "response_a", "response_b").in_bulk([r["task_id"] for r in rows])
    keys: dict[int, list[str]] = {}
    for task_id, key in flagged_labels(project).filter(task_id__in=list(tasks)).values_list(
        "task_id", "dimension__key"
    ).order_by("dimension__position"):
        keys.setdefault(task_id, []).append(key)
    return [{**r, "task": tasks[r["task_id"]], "dimensions": keys.get(r["task_id"], [])} for r in rows], total


def queue_size(project: Project) -> int:
    """How many tasks await adjudication."""
    return flagged_labels(project).values("task_id").distinct().count()


def recent_adjudications(project: Project, *, limit: int = 50):
    return (
        Adjudication.objects.filter(project=project)
        .select_related("task__item", "task__response_a", "task__response_b", "decided_by")
        .prefetch_related(Prefetch("scores", queryset=AdjudicatedScore.objects.select_related("dimension")))[:limit]
    )


def task_to_adjudicate(project: Project, task_id: int) -> Task:
    """An ordinary task of the project (gold tasks have their answer already), else 404."""
    task = (
        Task.objects.filter(project=project, pk=task_id, is_gold=False)
        .select_related("item", "response_a", "response_b").first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def task_ratings(task: Task):
    """Every rating of the task with its rater and scores: two queries."""
    return (
        Rating.objects.filter(task=task).select_related("rater")
        .prefetch_related(Prefetch("scores", queryset=Score.objects.select_related("dimension")))
        .order_by("rater__username")
    )


def task_consensus(task: Task) -> dict[str, ConsensusLabel]:
    """The task's stored consensus per dimension key (questions of the whole task)."""
    labels = ConsensusLabel.objects.filter(task=task, response__isnull=True).select_related("dimension")
    return {c.dimension.key: c for c in labels}


def snapshot(project: Project) -> QualitySnapshot | None:
    return QualitySnapshot.objects.filter(project=project, data_seq__gte=0).first()


# --- Final labels -------------------------------------------------------------------------------

# For each rule: (value column, confidence column, what the confidence is).
RULE_COLUMNS: dict[str, tuple[str, str, str]] = {
    Project.ConsensusRule.MEAN: ("mean", "n_ratings", "n"),
    Project.ConsensusRule.MEDIAN: ("median", "n_ratings", "n"),
    Project.ConsensusRule.MAJORITY: ("majority", "majority_share", "vote_share"),
    Project.ConsensusRule.DAWID_SKENE: ("dawid_skene", "dawid_skene_posterior", "posterior"),
    Project.ConsensusRule.MACE: ("mace", "mace_posterior", "posterior"),
}
LABEL_FIELDS = (
    "task_id", "task__item__external_id", "task__response_a__model", "task__response_b__model", "response__model",
    "dimension_id",
    "dimension__key", "dimension__level", "n_ratings", "mean", "median", "majority", "majority_share",
    "dawid_skene", "dawid_skene_posterior", "mace", "mace_posterior",
)


@dataclass(frozen=True)
class FinalLabel:
    item_id: str
    model_a: str
    model_b: str | None
    about: str | None  # on a pair, the model a per-response question's label is about
    dimension: str
    value: float | None
    rule: str  # the rule that gave the value: the project's, "majority" standing in, or "adjudication"
    confidence: float | None
    confidence_kind: str  # "posterior", "vote_share", "n", or "" for adjudicated labels
    n_ratings: int
    adjudicated: bool


def final_labels(project: Project) -> Iterator[FinalLabel]:
    """One label per ordinary task and scored dimension: the lead's adjudication where there is one,
    else the project's consensus rule as the last quality run stored it (set-based, streamed).

    Mean and median need an ordered scale: on a nominal dimension the majority vote stands in, and
    the row's ``rule`` says so.  Tasks adjudicated but never in a quality run come last.
    """
    rule = project.consensus_rule
    value_col, conf_col, kind = RULE_COLUMNS[rule]
    adjudicated: dict[tuple[int, int], int] = {
        (t, d): v for t, d, v in AdjudicatedScore.objects.filter(adjudication__project=project)
        .values_list("adjudication__task_id", "dimension_id", "value")
    }
    done: set[tuple[int, int]] = set()
    rows = (
        ConsensusLabel.objects.filter(project=project, task__is_gold=False)
        .order_by("task_id", "dimension__position", "dimension_id", "response_id").values(*LABEL_FIELDS)
    )
    for row in rows.iterator(chunk_size=CHUNK):
        key = (row["task_id"], row["dimension_id"])
        base = (row["task__item__external_id"], row["task__response_a__model"], row["task__response_b__model"],
                row["response__model"], row["dimension__key"])
        if row["response__model"] is None:
            done.add(key)
        else:
            key = (0, 0)  # per-response labels of a pair are never adjudicated
        if key in adjudicated:
            yield FinalLabel(*base, float(adjudicated[key]), "adjudication", None, "", row["n_ratings"], True)
            continue
        if row[value_col] is None and rule in (Project.ConsensusRule.MEAN, Project.ConsensusRule.MEDIAN):
            v, c, k = RULE_COLUMNS[Project.ConsensusRule.MAJORITY]
            yield FinalLabel(*base, row[v], Project.ConsensusRule.MAJORITY, row[c], k, row["n_ratings"], False)
            continue
        yield FinalLabel(*base, row[value_col], rule, row[conf_col], kind, row["n_ratings"], False)
    left = sorted(set(adjudicated) - done)
    if left:
        tasks = Task.objects.select_related("item", "response_a", "response_b").in_bulk({t for t, _ in left})
        dims = Dimension.objects.in_bulk({d for _, d in left})
        counts = dict(
            Rating.objects.filter(task_id__in=list(tasks)).values("task_id").annotate(n=Count("id"))
            .values_list("task_id", "n")
        )
        for task_id, dim_id in sorted(left, key=lambda k: (k[0], dims[k[1]].position, k[1])):
            t = tasks[task_id]
            yield FinalLabel(
                t.item.external_id, t.response_a.model, t.response_b.model if t.response_b else None, None,
                dims[dim_id].key, float(adjudicated[(task_id, dim_id)]), "adjudication", None, "",
                counts.get(task_id, 0), True,
            )

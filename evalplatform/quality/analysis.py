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

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
from django.contrib.auth import get_user_model

from evalplatform.projects.models import Membership, Project
from evalplatform.quality import figures
from evalplatform.quality.models import ConsensusLabel
from evalplatform.quality.selectors import GoldAccuracy, gold_accuracy
from evalplatform.ratings.models import Score
from evalplatform.reports.data import rating_filter
from evalplatform.stats.consensus import dawid_skene, long_to_wide, mace, majority_vote, numeric_consensus
from evalplatform.stats.jsonable import finite
from evalplatform.stats.matrix import Level, code_ratings, collapse_units
from evalplatform.stats.raters import pattern_disagreement
from evalplatform.stats.summary import summarize
from rubrics.models import Dimension

QUALITY_DEFAULTS = {"include_automated": False, "include_paused": True, "include_gold": False, "seed": 0}


@dataclass
class QualityRun:
    data_seq: int
    parameters: dict[str, Any]
    result: dict[str, Any]
    labels: list[ConsensusLabel]


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


def _monday(day: date) -> int:
    return (day - timedelta(days=day.weekday())).toordinal()


def run_quality(project: Project, parameters: dict[str, Any] | None = None, *, data_seq: int | None = None) -> QualityRun:
    """Compute scorecards and consensus labels of ``project`` (see the module docstring)."""
    given = parameters or {}
    params = {key: given[key] if given.get(key) is not None else default for key, default in QUALITY_DEFAULTS.items()}
    if data_seq is None:  # read before the scores, so it never claims more than they cover
        data_seq = Project.objects.values_list("ratings_seq", flat=True).get(pk=project.pk)
    dims = _dimensions(project)
    by_id = {d.id: d for d in dims}
    # A row: (rating, unit, rater, dimension, value, created_at, duration_ms, is_gold, task, response).
    # The unit is what a value is about: the task, or one response of a pair for a per-response question.
    units: dict[tuple[int, int | None], int] = {}
    rows = [
        (rating, units.setdefault((task, response), len(units)), rater, dim, cast(int, value), at, duration, gold,
         task, response)
        for rating, task, response, rater, dim, value, at, duration, gold in
        # The report's rule for automated judges and paused raters; gold tasks are split out below.
        Score.objects.filter(rating_filter(project, {**params, "include_gold": True}), value__isnull=False,
                             dimension_id__in=list(by_id))
        .values_list("rating_id", "rating__task_id", "response_id", "rating__rater_id", "dimension_id", "value",
                     "rating__created_at", "rating__duration_ms", "rating__task__is_gold")
        .order_by("rating_id", "id").iterator(chunk_size=10000)
    ]
    rater_ids = sorted({r[2] for r in rows})
    names = dict(get_user_model().objects.filter(pk__in=rater_ids).values_list("pk", "username"))
    paused = set(Membership.objects.filter(project=project, paused=True).values_list("user_id", flat=True))
    agreement_rows = [r for r in rows if params["include_gold"] or not r[7]]
    consensus_rows = [r for r in rows if not r[7]]

    summary = _agreement_summary(agreement_rows, dims, names)
    unit_keys = list(units)  # unit index -> (task, response)
    labels, consensus_notes, competence = _consensus(project, consensus_rows, dims, unit_keys,
                                                     seed=int(params["seed"]))
    dim_index = {d.id: i for i, d in enumerate(dims)}
    weekly = figures.agreement_by_week(
        [r[1] * len(dims) + dim_index[r[3]] for r in agreement_rows], [r[2] for r in agreement_rows],
        [r[4] for r in agreement_rows], [_monday(r[5].date()) for r in agreement_rows],
    )
    per_rating: dict[int, tuple[int, int | None, list[float]]] = {}
    for rating_id, _unit, rater, dim_id, value, _at, duration, *_ in rows:
        entry = per_rating.setdefault(rating_id, (rater, duration, []))
        d = by_id[dim_id]
        if d.ordered and d.kind != Dimension.Kind.PAIRWISE:
            entry[2].append(value)
    by_rater: dict[int, list[tuple[int | None, list[float]]]] = defaultdict(list)
    for rater, duration, values in per_rating.values():
        by_rater[rater].append((duration, values))
    gold = gold_accuracy(project, rater_ids=rater_ids)

    cards = [
        _scorecard(project, rater, names[rater], rater in paused, by_rater[rater], gold.get(rater),
                   weekly.get(rater, []), [(d.key, summary.get(d.key, {}).get(names[rater]),
                                            competence.get(d.key, {}).get(rater, {})) for d in dims])
        for rater in sorted(rater_ids, key=lambda pk: names[pk])
    ]
    result = {
        "parameters": params,
        "settings": {"gold_min_accuracy": project.gold_min_accuracy, "min_seconds_per_item": project.min_seconds_per_item,
                     "consensus_rule": project.consensus_rule, "adjudication_threshold": project.adjudication_threshold},
        "n_scores": len(rows),
        "dimensions": [{"dimension": d.key, "level": d.level, "alpha": summary.get(d.key, {}).get("__alpha__"),
                        "consensus_notes": consensus_notes.get(d.key, [])} for d in dims],
        "raters": cards,
        "n_flagged_tasks": len({lb.task_id for lb in labels if lb.response_id is None and lb.n_ratings >= 2 and (
            lb.split or (lb.agreement is not None and lb.agreement < project.adjudication_threshold))}),
    }
    return QualityRun(data_seq, params, result, labels)


def _scorecard(
    project: Project, rater: int, name: str, paused: bool, ratings: list[tuple[int | None, list[float]]],
    gold: GoldAccuracy | None, weeks: list[figures.WeekAgreement],
    per_dim: list[tuple[str, dict[str, Any] | None, dict[str, Any]]],
) -> dict[str, Any]:
    """One rater's card: ``ratings`` are (duration, rating-scale values) per rating; ``per_dim`` the
    agreement engine's figures and the estimated competence per dimension."""
    durations = [d for d, _ in ratings]
    med = figures.median_seconds(durations)
    straight = figures.straight_lining(v for _, v in ratings)
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
        "rater": name, "user_id": rater, "paused": paused, "n_ratings": len(ratings),
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


def _agreement_summary(rows: list[tuple], dims: list[_Dim], names: dict[int, str]) -> dict[str, dict[str, Any]]:
    """Per dimension: rater name -> the agreement engine's per-rater figures, and ``__alpha__``."""
    if not rows:
        return {}
    key_of = {d.id: d.key for d in dims}
    report = summarize(
        [(str(task), names[rater], key_of[dim], float(value), None) for _r, task, rater, dim, value, *_ in rows],
        levels={d.key: d.level for d in dims}, scales={d.key: [float(v) for v in d.scale] for d in dims},
        bootstrap=0, top=0,
    )
    out: dict[str, dict[str, Any]] = {}
    for entry in report["dimensions"]:
        figs: dict[str, Any] = {r["rater"]: r for r in entry["raters"]}
        figs["__alpha__"] = entry["krippendorff_alpha"]["value"]
        out[str(entry["dimension"])] = figs
    return out


def _consensus(
    project: Project, rows: list[tuple], dims: list[_Dim], unit_keys: list[tuple[int, int | None]], *, seed: int
) -> tuple[list[ConsensusLabel], dict[str, list[str]], dict[str, dict[int, dict[str, Any]]]]:
    """Every rule's label per unit and dimension, the rules' notes, and each rater's competence."""
    labels: list[ConsensusLabel] = []
    notes: dict[str, list[str]] = {}
    competence: dict[str, dict[int, dict[str, Any]]] = {}
    for d in dims:
        mine = [r for r in rows if r[3] == d.id]
        if not mine:
            continue
        wide = long_to_wide([r[1] for r in mine], [r[2] for r in mine], [r[4] for r in mine])
        m = wide.ratings
        vote = majority_vote(m)
        ds = dawid_skene(m)
        ma = mace(m, seed=seed)
        mean = numeric_consensus(m, "mean") if d.ordered else None
        median = numeric_consensus(m, "median") if d.ordered else None
        coded = code_ratings(m, level=d.level, value_domain=[float(v) for v in d.scale])
        patterns = collapse_units(coded.codes, coded.n_values)
        per_pattern = pattern_disagreement(patterns, d.level, coded.positions())
        n = (~np.isnan(m)).sum(axis=0)
        for u, unit in enumerate(wide.unit_ids.tolist()):
            task_id, response_id = unit_keys[int(unit)]
            dis = per_pattern[patterns.inverse[u]] if patterns.inverse[u] >= 0 else np.nan
            labels.append(ConsensusLabel(
                project=project, task_id=task_id, response_id=response_id, dimension_id=d.id, n_ratings=int(n[u]),
                agreement=None if not np.isfinite(dis) else float(1.0 - dis),
                split=bool(vote.tied[u]),
                mean=finite(mean.values[u]) if mean else None, median=finite(median.values[u]) if median else None,
                majority=finite(vote.labels[u]), majority_share=finite(vote.vote_share[u]),
                dawid_skene=finite(ds.labels[u]), dawid_skene_posterior=_conf(ds.confidence, u),
                mace=finite(ma.labels[u]), mace_posterior=_conf(ma.confidence, u),
            ))
        notes[d.key] = sorted({*vote.notes, *ds.notes, *ma.notes})
        competence[d.key] = {
            int(r): {"dawid_skene": ds.competence[i], "mace": ma.competence[i],
                     "reason": ds.competence_reasons[i] or ma.competence_reasons[i]}
            for i, r in enumerate(wide.rater_ids.tolist())
        }
    return labels, notes, competence


def _conf(confidence: np.ndarray | None, u: int) -> float | None:
    return None if confidence is None else finite(confidence[u])

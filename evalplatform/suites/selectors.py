"""Reads of suites and rounds: who may see them, and a round's scores per item and model.

A round's scores are read with the report's own loader (``reports.data.load_data``) and its default
rules (human raters, gold items left out), so the gate, the trends and the report count the same
ratings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Q, QuerySet
from django.http import Http404

from evalplatform.projects.models import Membership
from evalplatform.reports.data import ReportData, load_data
from evalplatform.reports.models import AgreementReport
from evalplatform.reports.services import DEFAULT_PARAMETERS
from evalplatform.suites.models import Round, RoundAnchor, Suite
from rubrics.models import Dimension

#: Kinds whose per-item mean means something (a share of "yes" for binary questions).
NUMERIC_KINDS = (Dimension.Kind.LIKERT, Dimension.Kind.BINARY)
MAX_SUBGROUP_VALUES = 20


def visible_suites(user) -> QuerySet[Suite]:
    """Suites the user may read: admins all; leads those with a round of a project they lead."""
    if not user.is_authenticated:
        return Suite.objects.none()
    if user.is_staff:
        return Suite.objects.all()
    led = Membership.objects.filter(user=user, role=Membership.Role.LEAD).values("project_id")
    return Suite.objects.filter(Q(rounds__project_id__in=led)).distinct()


def suite_for(user, *, pk: int | None = None, slug: str | None = None) -> Suite:
    """The suite if the user leads one of its rounds (or is staff), else 404 (never 403: no leak)."""
    lookup = {"pk": pk} if pk is not None else {"slug": slug}
    suite = visible_suites(user).filter(**lookup).first()
    if suite is None:
        raise Http404("no such suite")
    return suite


def rounds_of(suite: Suite) -> list[Round]:
    return list(suite.rounds.select_related("project__rubric_version").order_by("number"))


@dataclass(frozen=True)
class DimensionInfo:
    key: str
    label: str
    kind: str
    scale: tuple[int, ...]
    weight: float | None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


@dataclass
class RoundScores:
    """One round's covered scores: per (item external id, model) and dimension, the raters' values."""

    round: Round
    dimensions: dict[str, DimensionInfo]
    values: dict[tuple[str, str], dict[str, list[int]]] = field(default_factory=dict)
    by_rater: dict[tuple[str, str], dict[str, dict[str, int]]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: anchor copies: (item external id, model label) -> the source response's id
    anchors: dict[tuple[str, str], int] = field(default_factory=dict)
    data_seq: int = 0

    @property
    def models(self) -> list[str]:
        """The round's own models (anchor copies left out), sorted."""
        return sorted({m for _, m in self.values} - self.anchor_models)

    @property
    def anchor_models(self) -> set[str]:
        return {label for _, label in self.anchors}

    def item_means(self, model: str, dimension: str) -> dict[str, float]:
        """Per item: the mean of the raters' scores of ``model``'s response on ``dimension``."""
        out = {}
        for (item, m), dims in self.values.items():
            if m == model and dimension in dims:
                out[item] = float(np.mean(dims[dimension]))
        return out

    def ratings(self, model: str | None, dimension: str) -> list[int]:
        """Every covered rating on ``dimension`` (of ``model``, or of every model with None)."""
        return [v for (_, m), dims in self.values.items() if model is None or m == model for v in dims.get(dimension, [])]


def round_scores(round_: Round) -> RoundScores:
    """Read a round's covered scores (set-based queries through the report's loader)."""
    return scores_from_data(round_, load_data(round_.project, DEFAULT_PARAMETERS))


def scores_from_data(round_: Round, data: ReportData) -> RoundScores:
    """A round's scores from a report snapshot already read (a report section's ``data``)."""
    project = round_.project
    weights = dict(Dimension.objects.filter(version_id=project.rubric_version_id).values_list("key", "weight"))
    dims = {d.key: DimensionInfo(d.key, d.label, d.kind, d.scale, weights.get(d.key)) for d in data.dimensions}
    values: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    by_rater: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    metadata: dict[str, dict[str, Any]] = {}
    for dim in data.dimensions:
        for task_id, model, rater, value in dim.rows:
            info = data.tasks[task_id]
            values[(info.item, model)][dim.key].append(value)
            by_rater[(info.item, model)][dim.key][rater] = value
    for info in data.tasks.values():
        metadata.setdefault(info.item, info.metadata)
    anchors = {
        (item, model): source
        for item, model, source in RoundAnchor.objects.filter(round=round_).values_list(
            "response__item__external_id", "response__model", "source_id")
    }
    return RoundScores(round_, dims, {k: dict(v) for k, v in values.items()},
                       {k: dict(v) for k, v in by_rater.items()}, metadata, anchors, data.data_seq)


def subgroup_fields(metadata: dict[str, dict[str, Any]], items: list[str]) -> dict[str, list[Any]]:
    """Top-level metadata fields with 2..MAX_SUBGROUP_VALUES distinct scalar values over ``items``:
    field -> one value per item (None when the item lacks it)."""
    seen: dict[str, set] = defaultdict(set)
    bad: set[str] = set()
    for item in items:
        for key, value in (metadata.get(item) or {}).items():
            if isinstance(value, dict | list):
                bad.add(key)
            elif value is not None:
                seen[key].add(value)
    fields = {}
    for key, values in sorted(seen.items()):
        if key not in bad and 2 <= len(values) <= MAX_SUBGROUP_VALUES:
            fields[key] = [(metadata.get(item) or {}).get(key) for item in items]
    return fields


def latest_reports(rounds: list[Round]) -> dict[int, AgreementReport]:
    """Each round's newest done report (by data, then finish time), keyed by round id: one query."""
    reports = (
        AgreementReport.objects.filter(project__in=[r.project_id for r in rounds], status=AgreementReport.Status.DONE)
        .order_by("project_id", "-data_seq", "-finished_at", "-id")
    )
    by_project: dict[int, AgreementReport] = {}
    for report in reports:
        by_project.setdefault(report.project_id, report)
    return {r.pk: by_project[r.project_id] for r in rounds if r.project_id in by_project}

"""The report's model-comparison sections: ``(project, parameters, data) -> JSON value`` each.

They read the report's ``ReportData`` snapshot (``reports.data``) and leave every number to
``evalplatform.stats``: Bradley–Terry and the win-rate matrix (``stats.pairwise``) for pairwise
preferences, the left-wins rate for position bias, and paired bootstrap + Wilcoxon tests with Holm's
correction (``stats.compare``) for per-response scores.  Each returns a list with one entry per
dimension it applies to, empty when none does (a single-response project has no leaderboard).

A preference vote is a stored value v on the dimension's -k..k scale in the task's orientation
(negative: ``response_a`` better, whichever side the rater saw it on): its outcome is the sign (a tie
is half a win each way) and its margin ``|v| / k``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalplatform.projects.models import Project
from evalplatform.reports.data import DimensionData, ReportData
from evalplatform.stats.compare import compare_all_pairs_many
from evalplatform.stats.jsonable import rounded
from evalplatform.stats.pairwise import bradley_terry, position_bias, win_rate_matrix
from rubrics.models import Dimension

#: Paired tests need a bootstrap even when the report asks for none (``bootstrap=0`` skips intervals
#: elsewhere); this many resamples cost little for a per-item mean.
MIN_PAIRED_BOOTSTRAP = 200
COMPARED_KINDS = (Dimension.Kind.LIKERT, Dimension.Kind.BINARY)


class _Votes:
    """One pairwise dimension's votes as parallel arrays (one entry per rating), for ``stats.pairwise``."""

    def __init__(self, dim: DimensionData, data: ReportData):
        self.key, self.label = dim.key, dim.label
        self.k = max((abs(v) for v in dim.scale), default=1) or 1
        rows = sorted(
            (info.item, *info.pair, rater, value, task_id)
            for task_id, _model, rater, value in dim.rows if (info := data.tasks[task_id]).pair is not None
        )
        self.prompt = [r[0] for r in rows]
        self.model_a = [r[1] for r in rows]
        self.model_b = [r[2] for r in rows]
        self.rater = [r[3] for r in rows]
        self.value = np.array([r[4] for r in rows], dtype=float)
        self.task = [r[5] for r in rows]

    def __len__(self) -> int:
        return len(self.value)

    def context(self) -> dict[str, Any]:
        margin = np.abs(self.value) / self.k
        return {
            "dimension": self.key, "label": self.label, "k": self.k, "n_votes": len(self),
            "n_ties": int((self.value == 0).sum()),
            "mean_margin": rounded(float(margin.mean())) if len(self) else None,
        }


def _votes(data: ReportData) -> list[_Votes]:
    return [
        votes for dim in data.dimensions if dim.kind == Dimension.Kind.PAIRWISE
        for votes in [_Votes(dim, data)] if len(votes)
    ]


def _seed(parameters: Mapping[str, Any]) -> int:
    return int(parameters.get("seed") or 0)


def leaderboard_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per pairwise dimension: Bradley–Terry ratings on an Elo-like scale (1000 = the mean model,
    400 points = 10:1 odds), best first, with 95% intervals and rank intervals from resampling
    prompts (the report's ``bootstrap`` resamples), and each model's wins, losses and ties."""
    out = []
    for votes in _votes(data):
        bt = bradley_terry(
            votes.prompt, votes.model_a, votes.model_b, votes.value, scale_k=votes.k,
            n_boot=int(parameters.get("bootstrap", 1000)), seed=_seed(parameters),
        ).to_dict()
        bt.pop("win_rate")  # the win-rates section has it, with the counts
        out.append({**votes.context(), **bt})
    return out


def win_rates_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per pairwise dimension: ``matrix[i][j]`` = the share of votes between models i and j won by
    row model i (ties count half), ``counts[i][j]`` the number of such votes; models in leaderboard
    order (Bradley–Terry point estimates)."""
    out = []
    for votes in _votes(data):
        order = [m["model"] for m in bradley_terry(
            votes.prompt, votes.model_a, votes.model_b, votes.value, scale_k=votes.k, n_boot=0,
        ).to_dict()["models"]]
        matrix = win_rate_matrix(votes.model_a, votes.model_b, votes.value, scale_k=votes.k).to_dict()
        index = [matrix["models"].index(m) for m in order]
        out.append({
            **votes.context(), "models": order,
            "matrix": [[matrix["matrix"][i][j] for j in index] for i in index],
            "counts": [[matrix["counts"][i][j] for j in index] for i in index],
        })
    return out


def position_bias_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per pairwise dimension: how often the response shown on the left won, among decided votes,
    overall and per rater, with a Wilson 95% interval and an exact binomial test against one half.

    Only ratings served by the queue know their sides (``RatingInfo.swapped``); imported ratings and
    automated judges' are counted in ``n_unknown_side`` and left out.
    """
    out = []
    all_votes = _votes(data)
    # (task, rater) -> whether response_a was shown on the left
    sides = {(r.task_id, r.rater): not r.swapped for r in data.ratings if r.swapped is not None} if all_votes else {}
    for votes in all_votes:
        known = [i for i, (t, r) in enumerate(zip(votes.task, votes.rater, strict=True)) if (t, r) in sides]
        entry = {**votes.context(), "n_unknown_side": len(votes) - len(known)}
        if known:
            result = position_bias(
                votes.value[known], [sides[(votes.task[i], votes.rater[i])] for i in known],
                rater=[votes.rater[i] for i in known], scale_k=votes.k,
            )
            entry.update(result.to_dict())
        else:
            entry.update({"overall": None, "per_rater": []})
        out.append(entry)
    return out


def _item_means(dim: DimensionData, data: ReportData) -> tuple[list[str], NDArray[np.float64]]:
    """(models, ``means``): ``means[m, i]`` is model m's score on the i-th of the items any model was
    scored on (in name order), averaged over raters; NaN where m was not scored on it.  On pair tasks
    only per-response scores count (a score about the pair as a whole says nothing about one model)."""
    keep = np.ones(dim.n_scores, dtype=bool)
    if data.task_pair.any():
        for i in np.flatnonzero(data.task_pair[data.task_index(dim.task)]).tolist():
            pair = data.tasks[int(dim.task[i])].pair
            keep[i] = pair is None or data.models[dim.model[i]] in pair
    n_models = max(len(data.models), 1)
    key = dim.item[keep] * n_models + dim.model[keep]
    cells, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=dim.value[keep], minlength=cells.size)
    n = np.bincount(inverse.reshape(-1), minlength=cells.size)
    models, model_row = np.unique(cells % n_models, return_inverse=True)
    items, item_col = np.unique(cells // n_models, return_inverse=True)
    means = np.full((models.size, items.size), np.nan)
    means[model_row.reshape(-1), item_col.reshape(-1)] = total / n
    return [data.models[m] for m in models.tolist()], means


def significance_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per likert or yes/no dimension scored per response: every pair of models compared on the
    items both were scored on (each model's score on an item = the mean over its raters).

    Mean difference B - A with a paired percentile-bootstrap 95% interval (items resampled) and
    bootstrap p-value, and a Wilcoxon signed-rank test whose p-values are Holm-adjusted over the
    model pairs of the dimension.  The verdict names a better model only when the interval excludes
    zero and the adjusted p is below ``alpha`` (default 0.05).
    """
    n_boot = max(int(parameters.get("bootstrap", 1000)), MIN_PAIRED_BOOTSTRAP)
    alpha = float(parameters.get("alpha", 0.05))
    compared = []
    for dim in data.dimensions:
        if dim.kind not in COMPARED_KINDS:
            continue
        models, means = _item_means(dim, data)
        if len(models) >= 2:
            compared.append((dim, {m: means[i] for i, m in enumerate(models)}))
    # All dimensions at once: pairs with as many items share each chunk of resampled indices (same numbers).
    results = compare_all_pairs_many([(dim.key, scores) for dim, scores in compared], n_boot=n_boot,
                                     seed=_seed(parameters), alpha=alpha)
    return [
        {
            "label": dim.label, "kind": dim.kind, "n_boot": n_boot, **result.to_dict(),
            "per_model": [
                {"model": m, "n_items": int(np.isfinite(scores[m]).sum()), "mean": rounded(float(np.nanmean(scores[m])))}
                for m in scores
            ],
        }
        for (dim, scores), result in zip(compared, results, strict=True)
    ]

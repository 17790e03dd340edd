"""The report's reference-metrics section: ROUGE, BLEU and chrF against the items' reference answers.

Every response of an item with a reference answer (the snapshot's items: gold items only when the
report includes them) has its metrics from ``projects.references``: stored per response, scored by a
worker after the import with ``stats.reference.response_metrics``; any still missing (or whose
reference or text changed since) are scored here in bulk, in the report's worker, and stored.
The section holds:

* ``models``: per model, each metric's mean over its responses with a 95% percentile-bootstrap interval
  (``stats.aggregate.mean_and_median``: responses resampled, the report's resamples and seed);
* ``validity``: per metric and numeric rubric dimension, Spearman's rho and Kendall's tau-b between the
  metric and the human panel's mean score of each response (``stats.reference.rank_correlation``),
  and the same figures for every automated judge's score on that dimension, so the page puts the
  automatic signals side by side (the judges' full calibration is the ``judges`` section);
* ``responses``: each scored response's metrics and human means, for the JSON and exports.

A project without reference answers gets None and the page shows no section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from evalplatform.projects.models import Project
from evalplatform.projects.references import reference_score_rows
from evalplatform.reports.data import DimensionData, ReportData
from evalplatform.reports.judges import judge_rows
from evalplatform.stats.aggregate import mean_and_median
from evalplatform.stats.reference import METRIC_KEYS, METRICS, rank_correlation

Unit = tuple[str, str]  # (item external id, model)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _rounded(values: NDArray[np.float64], shared: dict[float, float]) -> list[float | None]:
    """``_round`` of each value, None for NaN (a response without that figure).  Equal results are one
    float object (``shared``): the human means take a few dozen values over 60,000 responses, and the
    section's rows stay in memory until the report is stored.  Zeros are left alone: 0.0 == -0.0."""
    def one(v: float) -> float | None:
        return None if v != v else (shared.setdefault(r, r) if (r := round(v, 4)) else r)

    arr = np.asarray(values, dtype=float)
    if not arr.size or ((arr == 0) & np.signbit(arr)).any():  # np.unique takes -0.0 for 0.0: one by one
        return [one(v) for v in arr.tolist()]
    # Each distinct value rounded once (a few thousand over 60,000 responses), then spread back.
    distinct, inverse = np.unique(arr, return_inverse=True)  # NaNs sort last, as one value
    table = np.empty(distinct.size, dtype=object)
    table[:] = [one(v) for v in distinct.tolist()]
    return cast("list[float | None]", table[inverse.reshape(-1)].tolist())


def unit_means(dim: DimensionData, data: ReportData) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One numeric dimension's units, ``item * len(data.models) + model`` codes in order of their first
    score, and each one's mean human score, each rater's first score counting once.

    Straight from the snapshot's code arrays: a per-unit ``np.mean`` cost some 4 s on 60,000 responses.
    The scores are integers, so the sums (``bincount``) are exact and the means the same floats as
    ``np.mean`` of each unit's values."""
    n_models, n_raters = max(len(data.models), 1), max(len(data.rater_names), 1)
    unit = dim.item * n_models + dim.model
    _, first = np.unique(unit * n_raters + dim.rater, return_index=True)  # a stable sort: the first score
    first.sort()
    codes, seen, inverse = np.unique(unit[first], return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    means = np.bincount(inverse, weights=dim.value[first].astype(float), minlength=codes.size) / np.bincount(
        inverse, minlength=codes.size)
    order = np.argsort(seen, kind="stable")
    return codes[order], means[order]


def human_means(data: ReportData) -> dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]]:
    """Per numeric dimension with scores: ``unit_means`` (unit codes and mean human scores)."""
    out = {}
    for dim in data.dimensions:
        if dim.numeric and dim.n_scores:
            out[dim.key] = unit_means(dim, data)
    return out


def reference_metrics_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any] | None:
    items = set(data.items)  # the snapshot's tasks' items
    # Stored per response (projects.references: scored by a worker after the import); whatever is still
    # missing or out of date is scored here, in bulk, and stored for the next report.
    scored = reference_score_rows(project, items=items, compute_missing=True)
    if not scored:
        return None
    bootstrap, seed = int(parameters.get("bootstrap", 1000)), parameters.get("seed", 0)
    # The scored responses as columns, in ``scored``'s order: names, unit codes (-1: not in the
    # snapshot's models), and one array per metric.
    unit_items = [u[0] for u in scored]
    unit_models = [u[1] for u in scored]
    table = np.array(list(scored.values()), dtype=float).reshape(len(scored), len(METRIC_KEYS))
    metrics = {key: table[:, j] for j, key in enumerate(METRIC_KEYS)}
    item_code = {name: i for i, name in enumerate(data.items)}
    model_code = {name: i for i, name in enumerate(data.models)}
    n_models = max(len(data.models), 1)
    codes = np.array([item_code[i] * n_models + model_code[m] if i in item_code and m in model_code else -1
                      for i, m in zip(unit_items, unit_models, strict=True)], dtype=np.int64)

    model_of = np.array(unit_models, dtype=object)
    models = []
    for model in sorted(set(unit_models)):
        mine = model_of == model
        entry: dict[str, Any] = {"model": model, "n": int(mine.sum()), "metrics": {}}
        for key in METRIC_KEYS:
            agg = mean_and_median(metrics[key][mine], bootstrap=bootstrap, seed=seed)
            entry["metrics"][key] = {
                "mean": _round(agg.mean), "ci95": [_round(v) for v in agg.mean_ci95] if agg.mean_ci95 else None,
                "reason": agg.reason or (agg.notes[0] if agg.notes else None),
            }
        models.append(entry)

    # Each scored response's human mean per dimension (NaN: no human score).
    humans: dict[str, NDArray[np.float64]] = {}
    unit_order: dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = human_means(data)
    for dim_key, (unit_codes, means) in unit_order.items():
        lookup = np.full(max(len(data.items), 1) * n_models, np.nan)
        lookup[unit_codes] = means
        humans[dim_key] = np.where(codes >= 0, lookup[np.maximum(codes, 0)], np.nan)
    judges: dict[tuple[str, str], dict[Unit, float]] = defaultdict(dict)
    for item, rater, key, value, model in judge_rows(project, data):
        judges[(rater, key)].setdefault((item, model), value)
    validity: list[dict[str, Any]] = []
    for dim_key, human in humans.items():
        common = ~np.isnan(human)
        for key in METRIC_KEYS:
            corr = rank_correlation(metrics[key][common].tolist(), human[common].tolist())
            validity.append({"signal": key, "kind": "metric", "dimension": dim_key,
                             **{name: c.as_dict() for name, c in corr.items()}})
        judged = [(judge, values) for (judge, judged_dim), values in sorted(judges.items()) if judged_dim == dim_key]
        if judged:
            # the judge's units in the order of their first human score, as the report always listed them
            unit_codes, means = unit_order[dim_key]
            names = [(data.items[c // n_models], data.models[c % n_models]) for c in unit_codes.tolist()]
            for judge, values in judged:
                both = [i for i, u in enumerate(names) if u in values]
                corr = rank_correlation([values[names[i]] for i in both], means[both].tolist())
                validity.append({"signal": judge, "kind": "judge", "dimension": dim_key,
                                 **{name: c.as_dict() for name, c in corr.items()}})
    for row in validity:
        for name in ("spearman", "kendall"):
            c = row[name]
            c["value"], c["p_value"] = _round(c["value"]), _round(c["p_value"], 6)
            c["ci95"] = [_round(v) for v in c["ci95"]] if c["ci95"] else None

    dims = list(humans)
    shared: dict[float, float] = {}
    metric_columns = zip(*(_rounded(metrics[key], shared) for key in METRIC_KEYS), strict=True)
    human_columns = zip(*(_rounded(humans[d], shared) for d in dims), strict=True) if dims else [()] * len(scored)
    responses = [
        {"item": item, "model": model, **dict(zip(METRIC_KEYS, values, strict=True)),
         "human": dict(zip(dims, human, strict=True))}
        for item, model, values, human in zip(unit_items, unit_models, metric_columns, human_columns, strict=True)
    ]
    return {
        "metrics": [{"key": k, "label": label, "scale": scale} for k, label, scale in METRICS],
        "n_responses": len(scored), "n_items": len(set(unit_items)),
        "models": models, "validity": validity, "responses": responses,
    }

"""The report's built-in sections: each a function ``(project, parameters, data) -> JSON value``.

They read the ``ReportData`` snapshot only (no queries) and leave the numbers to ``evalplatform.stats``.
``compute.SECTIONS`` lists them with the key each fills and the template include that shows it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalplatform.projects.models import Project
from evalplatform.reports.data import AGREEMENT_ENTRIES, DimensionData, ReportData
from evalplatform.stats.aggregate import mean_and_median
from evalplatform.stats.fairness import AuditCell, fairness_audit
from evalplatform.stats.jsonable import finite, rounded
from evalplatform.stats.summary import summarize

#: A metadata field is broken down when it has at least two and at most this many distinct values.
MAX_METADATA_VALUES = 20
#: A group is tested (and so can be flagged) only with at least this many units: two or three units
#: say too little about a group.
MIN_UNITS_TO_FLAG = 5


def project_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    return {"slug": project.slug, "name": project.name, "kind": project.kind, "overlap": project.overlap}


def rubric_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """The scored dimensions in rubric order, with their scales' labels (for the page's legends)."""
    return [
        {"key": d.key, "label": d.label, "kind": d.kind, "level": d.level, "scale": list(d.scale),
         "labels": {str(v): label for v, label in d.labels.items()}}
        for d in data.dimensions
    ]


def coverage_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, int]:
    """How many tasks exist, were started and have their full overlap of covered ratings."""
    _, per_task = np.unique(data.rating_columns.task, return_counts=True)
    return {
        "tasks": len(data.tasks),
        "started": int(per_task.size),
        "complete": int((per_task >= project.overlap).sum()),
        "ratings": data.n_ratings,
        "raters": len(data.raters),
    }


def agreement_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """``stats.summarize`` per dimension: coefficients with intervals, per-model aggregates, per-rater
    figures and the most disagreed units; exactly the shape ``manage.py agreement`` prints."""
    long = data.long_ratings()
    if not len(long):
        return []
    summary = summarize(
        long, levels={d.key: d.level for d in data.dimensions}, scales={d.key: list(d.scale) for d in data.dimensions},
        bootstrap=int(parameters.get("bootstrap", 1000)), seed=parameters.get("seed", 0),
        icc=bool(parameters.get("icc", False)),
    )
    order = {d.key: i for i, d in enumerate(data.dimensions)}
    dims = sorted(summary["dimensions"], key=lambda d: order.get(str(d["dimension"]), len(order)))  # rubric order
    for entry in dims:
        _pairs_once(entry, data, parameters)
    data.cache[AGREEMENT_ENTRIES] = dims
    return dims


def _pairs_once(entry: dict[str, Any], data: ReportData, parameters: Mapping[str, Any]) -> None:
    """List each pair of models once in a preference question's per-model scores.

    A pair's tasks come in both orders ("a vs b" and "b vs a", so each model is shown as A about as
    often as B), and grouping by the task's order listed every pair twice with opposite signs.  Here
    each pair is named in alphabetical order and a vote on a task of the other order counts with its
    sign turned (the preference scale runs from -k, A better, to +k, B better).  Only these per-model
    figures change: agreement coefficients keep each task's own orientation.
    """
    dim = next((d for d in data.dimensions if d.key == str(entry["dimension"])), None)
    if dim is None or dim.kind != "pairwise" or not dim.rows or sorted(-v for v in dim.scale) != sorted(dim.scale):
        return
    votes: dict[int, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    for task_id, _model, _rater, value in dim.rows:
        pair = data.tasks[task_id].pair
        if pair is None:
            return  # a per-response question of a pair project: no orientation to fix
        first, second = sorted(pair)
        votes[task_id].append(-value if pair[0] != first else value)
        names[task_id] = f"{first} vs {second}"
    groups: dict[str, list[int]] = defaultdict(list)
    for task_id in votes:
        groups[names[task_id]].append(task_id)
    bootstrap = int(parameters.get("bootstrap", 1000))
    rng = np.random.default_rng([int(parameters.get("seed") or 0), 3])
    by_model = []
    for name in sorted(groups):
        tasks = groups[name]
        agg = mean_and_median(np.asarray([statistics.fmean(votes[t]) for t in tasks], float), bootstrap=bootstrap,
                              seed=rng)
        every = [v for t in tasks for v in votes[t]]
        entry_out = {"model": name, "mean": finite(agg.mean),
                     "ci95": [finite(x) for x in agg.mean_ci95] if agg.mean_ci95 else None, "median": finite(agg.median),
                     "median_ci95": [finite(x) for x in agg.median_ci95] if agg.median_ci95 else None,
                     "n": agg.n, "n_ratings": len(every),
                     "distribution": {str(v): every.count(v) for v in sorted(dim.scale)}}
        if agg.reason:
            entry_out["reason"] = agg.reason
        by_model.append(entry_out)
    entry["by_model"] = by_model
    entry["pairs_once"] = True


def raters_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per rater: ratings given, distinct items, and the median time per rating (from ``duration_ms``)."""
    cols = data.rating_columns
    if not len(cols):
        return []
    n_raters = len(data.rater_names)
    counts = np.bincount(cols.rater, minlength=n_raters)
    items = data.task_item[data.task_index(cols.task)]
    pairs = np.unique(cols.rater * max(len(data.items), 1) + items)
    n_items = np.bincount(pairs // max(len(data.items), 1), minlength=n_raters)
    timed = cols.duration_ms >= 0
    out = []
    for r in np.flatnonzero(counts).tolist():  # names sorted: codes follow them
        durations = cols.duration_ms[timed & (cols.rater == r)].tolist()
        out.append({"rater": data.rater_names[r], "n_ratings": int(counts[r]), "n_items": int(n_items[r]),
                    "n_timed": len(durations),
                    "median_seconds": rounded(statistics.median(durations) / 1000, 3) if durations else None})
    return out


def _value_order(value: Any) -> tuple[int, float, str]:
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _item_metadata(data: ReportData) -> list[dict]:
    """Each item's metadata, by item code (``data.items``)."""
    if "item_metadata" not in data.cache:
        code = {name: i for i, name in enumerate(data.items)}
        meta: list[dict] = [{} for _ in data.items]
        for info in data.tasks.values():
            meta[code[info.item]] = info.metadata
        data.cache["item_metadata"] = meta
    return data.cache["item_metadata"]


def _metadata_fields(data: ReportData) -> tuple[dict[str, list[Any]], list[dict[str, str]]]:
    """Top-level metadata keys with 2..MAX distinct scalar values (values sorted), and why others are not.
    Computed once per report (the audit and the metadata section both ask; 0.03 s each at 20,000 items)."""
    if "metadata_fields" not in data.cache:
        data.cache["metadata_fields"] = _find_metadata_fields(data)
    return data.cache["metadata_fields"]


def _find_metadata_fields(data: ReportData) -> tuple[dict[str, list[Any]], list[dict[str, str]]]:
    values: dict[str, set] = defaultdict(set)
    unusable: set[str] = set()
    for metadata in _item_metadata(data):
        for key, value in metadata.items():
            if value is None:
                continue  # missing for this item
            if isinstance(value, dict | list):
                unusable.add(key)
            elif len(values[key]) <= MAX_METADATA_VALUES:
                values[key].add(value)
    fields, skipped = {}, []
    for key in sorted(set(values) | unusable):
        found = values.get(key, set())
        if key in unusable:
            skipped.append({"key": key, "reason": "holds lists or objects"})
        elif len(found) > MAX_METADATA_VALUES:
            skipped.append({"key": key, "reason": f"more than {MAX_METADATA_VALUES} distinct values"})
        elif len(found) < 2:
            skipped.append({"key": key, "reason": "a single value"})
        else:
            fields[key] = sorted(found, key=_value_order)
    return fields, skipped


class _Units:
    """One dimension's units, (item, model) pairs, in order of their first score (the database's
    order): item and model codes, the sum and number of their values and their "yes" (1) values.
    A unit's score is the mean of its raters' values (``means``)."""

    def __init__(self, dim: DimensionData, data: ReportData) -> None:
        n_models = max(len(data.models), 1)
        key = dim.item * n_models + dim.model
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        unit = rank[inverse.reshape(-1)]
        self.item, self.model = uniq[order] // n_models, uniq[order] % n_models
        self.total: NDArray[np.float64] = np.bincount(unit, weights=dim.value, minlength=order.size).astype(float)
        self.n: NDArray[np.int64] = np.bincount(unit, minlength=order.size)
        self.yes: NDArray[np.float64] = np.bincount(unit, weights=(dim.value == 1).astype(float),
                                                    minlength=order.size).astype(float)
        self.means: NDArray[np.float64] = self.total / self.n


def _units(dim: DimensionData, data: ReportData) -> _Units:
    key = ("units", dim.key)
    if key not in data.cache:
        data.cache[key] = _Units(dim, data)
    return data.cache[key]


def _item_values(data: ReportData, key: str) -> tuple[list[Any], NDArray[np.int64]]:
    """The field's value of each item (by item code) and a group number per item: equal values (as
    dict keys are equal) share one, -1 where the value is missing or a list or object.  Once per report
    and field (the audit and the metadata section both ask)."""
    if ("item_values", key) in data.cache:
        return data.cache[("item_values", key)]
    raw = [metadata.get(key) for metadata in _item_metadata(data)]
    groups: dict[Any, int] = {}
    gid = np.fromiter(
        (-1 if v is None or isinstance(v, dict | list) else groups.setdefault(v, len(groups)) for v in raw),
        dtype=np.int64, count=len(raw))
    data.cache[("groups", key)] = groups
    data.cache[("item_values", key)] = raw, gid
    return raw, gid


def _audit_cells(data: ReportData, fields: Mapping[str, list[Any]]) -> list[AuditCell]:
    """One ``AuditCell`` per (metadata field, model, numeric dimension): each unit's (item, model) score
    is the mean of its raters' values; yes/no dimensions also count the "yes" (1) ratings."""
    cells: list[AuditCell] = []
    by_field = {key: _item_values(data, key) for key in fields}
    for dim in data.dimensions:
        if not dim.numeric or not dim.n_scores:
            continue
        units = _units(dim, data)
        binary = dim.kind == "binary"
        for key in fields:
            raw, gid = by_field[key]
            grouped = gid[units.item] >= 0
            for model in np.unique(units.model[grouped]).tolist():  # codes in name order
                sel = np.flatnonzero(grouped & (units.model == model))
                cells.append(AuditCell(
                    key, data.models[model], dim.key, units.means[sel], list(map(raw.__getitem__, units.item[sel].tolist())),
                    binary=binary, yes=units.yes[sel] if binary else None,
                    ratings=units.n[sel].astype(float) if binary else None,
                ))
    return cells


def _audit(parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    """The fairness audit, computed once per report (the metadata section reads its flags)."""
    key = ("audit", float(parameters.get("fairness_alpha", 0.05)), str(parameters.get("fairness_correction", "holm")))
    if key not in data.cache:
        fields, _ = _metadata_fields(data)
        data.cache[key] = fairness_audit(_audit_cells(data, fields), alpha=key[1], method=key[2],
                                         min_units=MIN_UNITS_TO_FLAG)
    return data.cache[key]


def fairness_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any] | None:
    """The subgroup audit (``stats.fairness.fairness_audit``) per metadata field and model x dimension:
    group means and yes-rates with intervals, the largest gap, Kruskal–Wallis and corrected pairwise
    tests; flags only from the corrected tests.  None when no metadata field can be broken down."""
    audit = _audit(parameters, data)
    if not audit["cells"]:
        return None
    labels = {d.key: d.label for d in data.dimensions}
    for cell in audit["cells"]:
        cell["label"] = labels.get(cell["dimension"], cell["dimension"])
    # flagged cells first, then by field, dimension, model: what a reader should look at comes first
    audit["cells"].sort(key=lambda c: (not c["flagged"], c["field"], c["dimension"], str(c["model"])))
    return audit


def _audit_flags(audit: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    """(field, dimension, model, group) -> "below" / "above": the lower / higher group of a flagged pair."""
    flags: dict[tuple[str, str, str, str], str] = {}
    for cell in audit["cells"]:
        for pair in cell["pairs"]:
            if not pair["flagged"] or pair["difference"] is None:
                continue
            high, low = (pair["a"], pair["b"]) if pair["difference"] > 0 else (pair["b"], pair["a"])
            base = (cell["field"], cell["dimension"], str(cell["model"]))
            flags[(*base, str(low))] = "below"
            flags.setdefault((*base, str(high)), "above")
    return flags


def metadata_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    """Scores broken down by each metadata field with few values: for every (value, model, dimension)
    the mean unit score with a percentile-bootstrap 95% interval (``stats.aggregate.mean_and_median``).
    A group is flagged "below" / "above" only where the fairness audit's corrected pairwise test
    (``fairness_section``) finds it lower / higher than another group of the same model."""
    fields, skipped = _metadata_fields(data)
    audit_flags = _audit_flags(_audit(parameters, data))
    bootstrap = int(parameters.get("bootstrap", 1000))
    rng = np.random.default_rng([int(parameters.get("seed") or 0), 2])
    out = []
    for key, field_values in fields.items():
        _, gid = _item_values(data, key)
        groups = data.cache[("groups", key)]
        dims = []
        for dim in data.dimensions:
            if not dim.numeric or not dim.n_scores:
                continue
            # A unit is (item, model): its score is the mean of its raters' values.
            units = _units(dim, data)
            unit_group = gid[units.item]
            models = np.unique(units.model).tolist()  # codes in name order
            overall = {m: float(np.mean(units.means[units.model == m])) for m in models}
            rows = []
            for value in field_values:
                group = groups.get(value)
                for model in models:
                    if group is None:
                        continue
                    scores = units.means[(unit_group == group) & (units.model == model)]
                    if not scores.size:
                        continue
                    agg = mean_and_median(scores, bootstrap=bootstrap, seed=rng.spawn(1)[0])
                    ci = agg.mean_ci95
                    name = data.models[model]
                    flag = audit_flags.get((key, dim.key, str(name), str(value)))
                    rows.append({"value": value, "model": name, "n": agg.n, "mean": rounded(agg.mean),
                                 "ci95": None if ci is None else [rounded(ci[0]), rounded(ci[1])],
                                 "overall": rounded(overall[model]), "flag": flag})
            if rows:
                dims.append({"dimension": dim.key, "label": dim.label, "rows": rows})
        if dims:
            out.append({"key": key, "values": field_values, "dimensions": dims})
    return {"max_values": MAX_METADATA_VALUES, "min_units_to_flag": MIN_UNITS_TO_FLAG, "fields": out,
            "skipped": skipped}

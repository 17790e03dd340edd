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

from evalplatform.projects.models import Project
from evalplatform.reports.data import ReportData
from evalplatform.stats.aggregate import mean_and_median
from evalplatform.stats.jsonable import rounded
from evalplatform.stats.summary import summarize

#: A metadata field is broken down when it has at least two and at most this many distinct values.
MAX_METADATA_VALUES = 20
#: A group is flagged above/below its model's mean only with at least this many units: a percentile
#: bootstrap interval of two or three units is far too narrow to trust.
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
    per_task: dict[int, int] = defaultdict(int)
    for rating in data.ratings:
        per_task[rating.task_id] += 1
    return {
        "tasks": len(data.tasks),
        "started": len(per_task),
        "complete": sum(1 for n in per_task.values() if n >= project.overlap),
        "ratings": data.n_ratings,
        "raters": len(data.raters),
    }


def agreement_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """``stats.summarize`` per dimension: coefficients with intervals, per-model aggregates, per-rater
    figures and the most disagreed units; exactly the shape ``manage.py agreement`` prints."""
    rows = data.long_rows()
    if not rows:
        return []
    summary = summarize(
        rows, levels={d.key: d.level for d in data.dimensions}, scales={d.key: list(d.scale) for d in data.dimensions},
        bootstrap=int(parameters.get("bootstrap", 1000)), seed=parameters.get("seed", 0),
        icc=bool(parameters.get("icc", False)),
    )
    order = {d.key: i for i, d in enumerate(data.dimensions)}
    return sorted(summary["dimensions"], key=lambda d: order.get(str(d["dimension"]), len(order)))  # rubric order


def raters_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> list[dict[str, Any]]:
    """Per rater: ratings given, distinct items, and the median time per rating (from ``duration_ms``)."""
    ratings: dict[str, int] = defaultdict(int)
    items: dict[str, set[str]] = defaultdict(set)
    durations: dict[str, list[int]] = defaultdict(list)
    for r in data.ratings:
        ratings[r.rater] += 1
        items[r.rater].add(data.tasks[r.task_id].item)
        if r.duration_ms is not None:
            durations[r.rater].append(r.duration_ms)
    return [
        {"rater": name, "n_ratings": ratings[name], "n_items": len(items[name]), "n_timed": len(durations[name]),
         "median_seconds": rounded(statistics.median(durations[name]) / 1000, 3) if durations[name] else None}
        for name in sorted(ratings)
    ]


def _value_order(value: Any) -> tuple[int, float, str]:
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _metadata_fields(data: ReportData) -> tuple[dict[str, list[Any]], list[dict[str, str]]]:
    """Top-level metadata keys with 2..MAX distinct scalar values (values sorted), and why others are not."""
    values: dict[str, set] = defaultdict(set)
    unusable: set[str] = set()
    for info in data.tasks.values():
        for key, value in info.metadata.items():
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


def metadata_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    """Scores broken down by each metadata field with few values: for every (value, model, dimension)
    the mean unit score with a percentile-bootstrap 95% interval (``stats.aggregate.mean_and_median``),
    and whether the interval lies wholly below or above the model's mean over all its units."""
    fields, skipped = _metadata_fields(data)
    bootstrap = int(parameters.get("bootstrap", 1000))
    rng = np.random.default_rng([int(parameters.get("seed") or 0), 2])
    out = []
    for key, field_values in fields.items():
        dims = []
        for dim in data.dimensions:
            if not dim.numeric or not dim.rows:
                continue
            # A unit is (item, model): its score is the mean of its raters' values.
            sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
            meta: dict[tuple[str, str], Any] = {}
            for task_id, model, _rater, value in dim.rows:
                info = data.tasks[task_id]
                unit = (info.item, model)
                sums[unit][0] += value
                sums[unit][1] += 1
                meta[unit] = info.metadata.get(key)
            by_model: dict[str, list[float]] = defaultdict(list)
            cells: dict[tuple[Any, str], list[float]] = defaultdict(list)
            for unit, (total, n) in sums.items():
                by_model[unit[1]].append(total / n)
                if meta[unit] is not None and not isinstance(meta[unit], dict | list):
                    cells[(meta[unit], unit[1])].append(total / n)
            rows = []
            for value in field_values:
                for model in sorted(by_model):
                    scores = cells.get((value, model))
                    if not scores:
                        continue
                    agg = mean_and_median(np.asarray(scores), bootstrap=bootstrap, seed=rng.spawn(1)[0])
                    overall = float(np.mean(by_model[model]))
                    ci = agg.mean_ci95
                    flag = None
                    if ci is not None and agg.n >= MIN_UNITS_TO_FLAG:
                        flag = "below" if ci[1] < overall else "above" if ci[0] > overall else None
                    rows.append({"value": value, "model": model, "n": agg.n, "mean": rounded(agg.mean),
                                 "ci95": None if ci is None else [rounded(ci[0]), rounded(ci[1])],
                                 "overall": rounded(overall), "flag": flag})
            if rows:
                dims.append({"dimension": dim.key, "label": dim.label, "rows": rows})
        if dims:
            out.append({"key": key, "values": field_values, "dimensions": dims})
    return {"max_values": MAX_METADATA_VALUES, "min_units_to_flag": MIN_UNITS_TO_FLAG, "fields": out,
            "skipped": skipped}

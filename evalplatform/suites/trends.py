"""Trends: each model's score per dimension (and per subgroup, and the composite) round after round.

Read from each round's newest done report (``dimensions``, ``metadata`` and ``composite`` sections),
so no statistics run here: a point is the report's mean with its 95% bootstrap interval.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from evalplatform.suites.models import Suite
from evalplatform.suites.selectors import latest_reports, rounds_of

COLUMNS = ["round", "project", "report", "model", "dimension", "subgroup_field", "subgroup_value", "n", "mean",
           "ci_low", "ci_high"]


def _ci(ci: Any) -> tuple[Any, Any]:
    return (ci[0], ci[1]) if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)


def trend_rows(suite: Suite) -> dict[str, Any]:
    """Every point of the suite's trends, and the rounds without a done report yet."""
    rounds = rounds_of(suite)
    reports = latest_reports(rounds)
    rows: list[dict[str, Any]] = []
    missing = []
    for r in rounds:
        report = reports.get(r.pk)
        if report is None:
            missing.append(r.number)
            continue
        result = report.result or {}
        base = {"round": r.number, "project": r.project.slug, "report": report.pk}
        for dim in result.get("dimensions") or []:
            for m in dim.get("by_model") or []:
                if m.get("mean") is None:
                    continue
                low, high = _ci(m.get("ci95"))
                rows.append({**base, "model": str(m["model"]), "dimension": str(dim["dimension"]), "subgroup_field": None,
                             "subgroup_value": None, "n": m.get("n"), "mean": m["mean"], "ci_low": low, "ci_high": high})
        for m in (result.get("composite") or {}).get("models", []):
            low, high = _ci(m.get("ci95"))
            rows.append({**base, "model": m["model"], "dimension": "composite", "subgroup_field": None,
                         "subgroup_value": None, "n": m.get("n"), "mean": m.get("mean"), "ci_low": low, "ci_high": high})
        for field in (result.get("metadata") or {}).get("fields", []):
            for dim in field.get("dimensions", []):
                for row in dim.get("rows", []):
                    low, high = _ci(row.get("ci95"))
                    rows.append({**base, "model": row["model"], "dimension": dim["dimension"],
                                 "subgroup_field": field["key"], "subgroup_value": row["value"], "n": row.get("n"),
                                 "mean": row.get("mean"), "ci_low": low, "ci_high": high})
    return {"suite": suite.slug, "rounds": [r.number for r in rounds], "rounds_without_report": missing, "points": rows}


def trends_csv(suite: Suite) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in trend_rows(suite)["points"]:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return out.getvalue()

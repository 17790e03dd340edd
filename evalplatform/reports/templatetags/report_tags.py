"""Presentation of a stored report: numbers, intervals, plain-language readings, chart payloads.

Only formatting and classification of stored figures happens here; every statistic was computed
by a worker and stored in the report.
"""

from __future__ import annotations

import math
from typing import Any

from django import template

from evalplatform.reports.summary import report_summary

register = template.Library()

COEFFICIENTS = (
    ("krippendorff_alpha", "Krippendorff's α", "alpha"),
    ("cohen_kappa", "Cohen's κ (mean of pairs)", "kappa"),
    ("fleiss_kappa", "Fleiss' κ", "kappa"),
    ("percent_agreement", "Percent agreement", "percent"),
    ("gwet_ac1", "Gwet's AC1", "kappa"),
)
# Landis & Koch (1977), "The measurement of observer agreement for categorical data", Biometrics 33.
LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (math.inf, "almost perfect"))


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@register.filter
def num(value: Any, digits: int = 3) -> str:
    """``0.812`` with ``digits`` decimals, or an en dash for a missing value."""
    if not _finite(value):
        return "–"
    return f"{value:.{int(digits)}f}"


@register.filter
def ci(interval: Any, digits: int = 3) -> str:
    """``[0.701, 0.866]`` or empty."""
    if not interval or len(interval) != 2 or not all(_finite(x) for x in interval):
        return ""
    return f"[{interval[0]:.{int(digits)}f}, {interval[1]:.{int(digits)}f}]"


@register.filter
def signed(value: Any, digits: int = 2) -> str:
    return "–" if not _finite(value) else f"{value:+.{int(digits)}f}"


def alpha_band(value: float) -> tuple[str, str]:
    """Krippendorff (2004, §11.4): α ≥ .800 reliable; .667 ≤ α < .800 tentative conclusions only."""
    if value >= 0.800:
        return "reliable", "good"
    if value >= 0.667:
        return "tentative: good enough for tentative conclusions only", "fair"
    return "not reliable", "bad"


def kappa_band(value: float) -> tuple[str, str]:
    """Landis & Koch's bands: < 0 poor, ≤ .20 slight, ≤ .40 fair, ≤ .60 moderate, ≤ .80 substantial."""
    if value < 0:
        return "poor: below chance", "bad"
    label = next(name for top, name in LANDIS_KOCH[1:] if value <= top)
    css = "good" if value > 0.60 else "fair" if value > 0.40 else "bad"
    return f"{label} agreement", css


def reading(kind: str, value: Any, interval: Any = None) -> dict[str, str]:
    """A plain-language reading of a coefficient (and whether its interval spans other bands)."""
    if not _finite(value):
        return {"text": "not defined for these data", "css": "na"}
    if kind == "percent":
        return {"text": f"raters give the same value in {value:.0%} of pairs (not corrected for chance)",
                "css": "na"}
    band = alpha_band if kind == "alpha" else kappa_band
    text, css = band(value)
    if interval and len(interval) == 2 and all(_finite(x) for x in interval):
        low, high = (band(x)[0].split(":")[0].removesuffix(" agreement") for x in interval)
        if low != high:
            text += f" (interval: {low} to {high})"
    return {"text": text, "css": css}


def _value(entry: dict[str, Any], key: str) -> Any:
    return entry.get("mean") if key == "cohen_kappa" else entry.get("value")


def _title(key: str, title: str, entry: dict[str, Any]) -> str:
    if key == "gwet_ac1" and entry.get("weights"):
        return f"Gwet's AC2 ({entry['weights']} weights)"
    if key == "cohen_kappa":
        weights = entry.get("weights")
        return f"Cohen's κ{' (' + weights + ' weights)' if weights else ''}, mean of {len(entry.get('pairs', []))} pairs"
    return title


@register.simple_tag
def coefficient_rows(dim: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per agreement coefficient of a dimension: title, value, interval, reading, note."""
    rows = []
    for key, title, kind in COEFFICIENTS:
        entry = dim.get(key) or {}
        value = _value(entry, key)
        rows.append({
            "key": key, "title": _title(key, title, entry), "value": value, "ci95": entry.get("ci95"),
            "reading": reading(kind, value, entry.get("ci95")),
            "note": entry.get("reason") or entry.get("ci_reason") or entry.get("note") or "",
        })
    return rows


def _heat(value: Any) -> str:
    if not _finite(value):
        return "heat-na"
    if value < 0:
        return "heat-0"
    return f"heat-{min(5, 1 + int(value // 0.2)) if value < 1 else 5}"


@register.simple_tag
def kappa_matrix(dim: dict[str, Any]) -> dict[str, Any]:
    """The rater x rater kappa table of a dimension, each cell with its heat class (Landis & Koch band)."""
    raters = [r["rater"] for r in dim.get("raters", [])]
    kappa = {r["rater"]: r.get("kappa_with", {}) for r in dim.get("raters", [])}
    shared = {r["rater"]: r.get("shared_units", {}) for r in dim.get("raters", [])}
    rows = []
    for a in raters:
        cells = []
        for b in raters:
            if a == b:
                cells.append({"self": True, "css": "heat-self"})
            else:
                value = kappa[a].get(b)
                cells.append({"value": value, "n": shared[a].get(b, 0), "css": _heat(value)})
        rows.append({"rater": a, "cells": cells})
    return {"raters": raters, "rows": rows}


@register.simple_tag
def rater_rows(dims: list[dict[str, Any]], timing: list[dict[str, Any]] | None,
               cards: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per rater: ratings, items, median time, and per dimension alpha without them and mean offset;
    with the quality section's scorecards (``cards``) also gold accuracy, kappa with the others,
    overall offset and flags, so one table says everything about a rater."""
    by_rater: dict[str, dict[str, Any]] = {}
    for entry in timing or []:
        by_rater[entry["rater"]] = {**entry, "dims": {}}
    for card in cards or []:
        row = by_rater.setdefault(card["rater"], {"rater": card["rater"], "dims": {}})
        row["card"] = card
    for dim in dims:
        for r in dim.get("raters", []):
            row = by_rater.setdefault(r["rater"], {"rater": r["rater"], "dims": {}})
            row["dims"][dim["dimension"]] = r
    out = []
    for name in sorted(by_rater):
        row = by_rater[name]
        row["per_dim"] = [
            {"dimension": dim["dimension"], "alpha": (dim.get("krippendorff_alpha") or {}).get("value"),
             **row["dims"].get(dim["dimension"], {})}
            for dim in dims
        ]
        for cell in row["per_dim"]:
            without, alpha = cell.get("alpha_without"), cell.get("alpha")
            cell["raises"] = _finite(without) and _finite(alpha) and without - alpha > 0.02
        out.append(row)
    return out


@register.simple_tag
def chart_payload(dims: list[dict[str, Any]], rubric: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """What ``static/js/report.js`` draws, per dimension: coefficients with intervals, model means and
    medians with intervals, and score distributions (labels from the rubric)."""
    labels = {d["key"]: d.get("labels", {}) for d in rubric or []}
    scales = {d["key"]: d.get("scale", []) for d in rubric or []}
    out = []
    for dim in dims:
        key = str(dim["dimension"])
        coefficients = []
        for row in coefficient_rows(dim):
            lo, hi = (row["ci95"] or [None, None])
            coefficients.append({"name": row["title"].split(",")[0].split(" (")[0], "value": row["value"],
                                 "lo": lo, "hi": hi})
        models, values = [], []
        for m in dim.get("by_model", []):
            values += [v for v in m.get("distribution", {}) if v not in values]
        for m in dim.get("by_model", []):
            ci95, median_ci = m.get("ci95") or [None, None], m.get("median_ci95") or [None, None]
            models.append({
                "model": "(all)" if m.get("model") is None else str(m["model"]), "mean": m.get("mean"),
                "lo": ci95[0], "hi": ci95[1], "median": m.get("median"), "median_lo": median_ci[0],
                "median_hi": median_ci[1], "counts": [m.get("distribution", {}).get(v, 0) for v in values],
            })
        scale = scales.get(key) or []
        out.append({
            "dimension": key, "coefficients": coefficients, "models": models,
            "values": [f"{v} {labels.get(key, {}).get(v, '')}".strip() if labels.get(key, {}).get(v, "") != v else v
                       for v in values],
            "scale": [min(scale), max(scale)] if scale else None,
        })
    return out


@register.filter
def dimension_label(key: Any, rubric: list[dict[str, Any]] | None) -> str:
    """The rubric's label of a dimension key (the key itself when the rubric does not name it)."""
    for dim in rubric or []:
        if dim.get("key") == key:
            return dim.get("label") or str(key)
    return str(key)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.simple_tag
def metadata_table(dim: dict[str, Any]) -> dict[str, Any]:
    """A metadata breakdown of one dimension as rows (field values) x columns (models)."""
    models = sorted({r["model"] for r in dim["rows"]})
    cells = {(str(r["value"]), r["model"]): r for r in dim["rows"]}
    values = list(dict.fromkeys(str(r["value"]) for r in dim["rows"]))
    return {
        "models": models,
        "overall": {r["model"]: r["overall"] for r in dim["rows"]},
        "rows": [{"value": v, "cells": [cells.get((v, m)) for m in models]} for v in values],
    }


@register.filter
def seconds(milliseconds: Any) -> str:
    """A rating's duration: ``42 s`` or ``3 min 05 s``."""
    if not isinstance(milliseconds, int | float):
        return "–"
    total = round(milliseconds / 1000)
    return f"{total} s" if total < 60 else f"{total // 60} min {total % 60:02d} s"


@register.filter
def pvalue(value: Any, digits: int = 3) -> str:
    """A p-value as ``0.042``, or ``< 0.001`` below what ``digits`` decimals show (never ``0.000``)."""
    if not _finite(value):
        return "–"
    floor = 10 ** -int(digits)
    return f"< {floor:.{int(digits)}f}" if value < floor else f"{value:.{int(digits)}f}"


@register.simple_tag
def summary_of(result: dict[str, Any] | None) -> dict[str, Any]:
    """The report at a glance (``evalplatform.reports.summary``) for the summary strip."""
    return report_summary(result)

"""Presentation of the stored comparison sections: heat classes, verdicts in models' names."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@register.filter
def win_heat(value: Any) -> str:
    """The heat class of a win rate: six bands of 1/6 from red (rarely wins) to green (mostly wins)."""
    if not _finite(value):
        return "heat-self"
    return f"heat-{min(5, int(value * 6))}"


@register.filter
def verdict(comparison: dict[str, Any]) -> str:
    """"m2 better" / "m1 better" / "no significant difference", from a stored paired comparison."""
    text = comparison.get("verdict", "")
    if text == "B better":
        return f"{comparison['model_b']} better"
    if text == "A better":
        return f"{comparison['model_a']} better"
    return text


@register.filter
def excludes_half(interval: Any) -> bool:
    """Whether a 95% interval of a left-wins rate lies wholly on one side of 1/2 (a position bias)."""
    return bool(interval) and len(interval) == 2 and all(_finite(x) for x in interval) and (
        interval[1] < 0.5 or interval[0] > 0.5
    )


@register.simple_tag
def win_rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The win-rate matrix as rows of cells ``{value, n, css, self}`` for the heat-map table."""
    models = entry["models"]
    return [
        {"model": model, "cells": [
            {"value": entry["matrix"][i][j], "n": entry["counts"][i][j], "self": i == j,
             "css": "heat-self" if i == j else ("heat-na" if not entry["counts"][i][j] else win_heat(entry["matrix"][i][j]))}
            for j in range(len(models))
        ]}
        for i, model in enumerate(models)
    ]


#: Every pair of up to twelve models is shown on the page; beyond that the table would grow with the
#: square of the models (57 models: 1,596 rows per question, megabytes of HTML), so the page shows
#: each model against its neighbour in the ranking and the full table stays in the report's JSON.
PAGE_PAIRS = 66


@register.simple_tag
def shown_comparisons(entry: dict[str, Any]) -> dict[str, Any]:
    """The paired comparisons the page lists for one question: ``{rows, total, neighbours}``.

    Up to ``PAGE_PAIRS`` comparisons: all of them, in the stored order.  More: the pairs of models
    adjacent in the ranking by mean score (best first), so "is each model really above the next one"
    still reads straight off the page, and ``neighbours`` is true so the page says what it left out.
    """
    comparisons = entry.get("comparisons") or []
    if len(comparisons) <= PAGE_PAIRS:
        return {"rows": comparisons, "total": len(comparisons), "neighbours": False}
    ranked = sorted(entry.get("per_model") or [], key=lambda m: -m["mean"] if _finite(m.get("mean")) else math.inf)
    rank = {m["model"]: i for i, m in enumerate(ranked)}
    rows = [c for c in comparisons
            if c["model_a"] in rank and c["model_b"] in rank and abs(rank[c["model_a"]] - rank[c["model_b"]]) == 1]
    rows.sort(key=lambda c: min(rank[c["model_a"]], rank[c["model_b"]]))
    return {"rows": rows, "total": len(comparisons), "neighbours": True}

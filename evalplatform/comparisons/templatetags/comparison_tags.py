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

"""Template helpers of the quality pages and report sections."""

from __future__ import annotations

from typing import Any

from django import template

from evalplatform.stats.icc import ICC_FORMS

register = template.Library()


@register.filter
def icc_rows(icc: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A stored ``icc`` entry's six forms in Shrout & Fleiss order, each with its ``form`` name."""
    if not icc:
        return []
    return [{"form": form, **icc[form]} for form in ICC_FORMS if form in icc]

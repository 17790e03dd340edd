"""The report's quality sections: ``(project, parameters, data) -> JSON``, registered in ``apps.py``.

``quality`` runs the quality analysis in the report's worker, stores the scorecards and every rule's
consensus labels (which pages and exports read), and returns the scorecards for the report page.
``icc`` names the dimensions whose agreement entry carries intraclass correlations (computed by
``stats.summary`` with the agreement figures) for the page's ICC table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalplatform.projects.models import Project
from evalplatform.quality import services
from evalplatform.quality.analysis import QUALITY_DEFAULTS
from evalplatform.reports.data import ReportData
from rubrics.models import Dimension

ICC_LEVELS = (Dimension.Level.INTERVAL, Dimension.Level.RATIO)


def quality_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    """Rater scorecards and consensus notes, computed on the report's ratings and stored."""
    params = {key: parameters.get(key, default) for key, default in QUALITY_DEFAULTS.items()}
    return services.compute_quality(project=project, parameters=params, data_seq=data.data_seq, data=data)


def icc_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any]:
    """Which dimensions have ICCs: interval and ratio ones, and ordinal ones when ``icc`` is asked for."""
    ordinal = bool(parameters.get("icc", False))
    keys = [d.key for d in data.dimensions if d.level in ICC_LEVELS or (ordinal and d.level == Dimension.Level.ORDINAL)]
    return {"ordinal": ordinal, "dimensions": keys}

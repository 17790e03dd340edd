"""Which ratings an export holds (``ExportOptions``), and the error an export answers with.

By default an export holds what the project's newest report counted (``export_options``); the
reports app registers where that comes from (``use_report_parameters``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from evalplatform.projects.models import Project
from evalplatform.ratings.selectors import included_ratings

#: Rows each query fetches at a time (``iterator(chunk_size=...)``).
CHUNK = 2000


class ExportError(ValueError):
    """An export this project cannot give (the message says why)."""




@dataclass(frozen=True)
class ExportOptions:
    """Which ratings an export holds, and whether rows carry the texts.

    ``export_options`` fills the defaults from the project's newest report (the lead's choice of
    gold, paused raters and automated judges), so an export holds what the report counted; ratings
    a lead excluded are left out unless ``include_excluded``.
    """

    include_gold: bool = False
    include_paused: bool = True
    include_automated: bool = False
    include_excluded: bool = False
    with_text: bool = False

    def parameters(self) -> dict[str, bool]:
        return {"include_gold": self.include_gold, "include_paused": self.include_paused,
                "include_automated": self.include_automated, "include_excluded": self.include_excluded}

    def rating_q(self, project: Project, *, prefix: str = "rating__") -> Q:
        """The ratings this export holds, as a ``Q`` (on ``Score`` by default; ``selectors.included_ratings``)."""
        return included_ratings(project, self.parameters(), prefix=prefix)

    def left_out(self) -> list[str]:
        """What this export leaves out, each with the option that keeps it."""
        out = []
        if not self.include_gold:
            out.append("gold (quality-check) tasks [--include-gold]")
        if not self.include_paused:
            out.append("paused raters [--include-paused]")
        if not self.include_automated:
            out.append("automated judges [--include-automated]")
        if not self.include_excluded:
            out.append("ratings a lead excluded [--include-excluded]")
        return out

    def describe(self) -> str:
        """One line for a person: what was left out, as in the report."""
        left = self.left_out()
        if not left:
            return "Nothing left out: every rating is in this export."
        return "Left out, as in the project's newest report: " + "; ".join(left) + "."


#: Which ratings a report counts by default; ``reports`` registers the real source (its newest
#: report's parameters) with ``use_report_parameters``, as it registers its refresh.
REPORT_DEFAULTS: dict[str, bool] = {"include_gold": False, "include_paused": True, "include_automated": False}
_report_parameters: list[Callable[[Project], Mapping[str, Any]]] = []


def use_report_parameters(source: Callable[[Project], Mapping[str, Any]]) -> None:
    """Read an export's defaults from ``source(project)`` (the parameters of the project's newest
    report), so an export holds what the report counted."""
    _report_parameters[:] = [source]


def export_options(project: Project, **given: bool | None) -> ExportOptions:
    """The export's options: each one ``given`` (not None), else the newest report's, else the
    report's default; ``include_excluded`` and ``with_text`` default to False."""
    report: dict[str, Any] = dict(REPORT_DEFAULTS)
    for source in _report_parameters:
        report.update({k: v for k, v in source(project).items() if k in REPORT_DEFAULTS})
    values: dict[str, bool] = {
        "include_gold": bool(report["include_gold"]), "include_paused": bool(report["include_paused"]),
        "include_automated": bool(report["include_automated"]), "include_excluded": False, "with_text": False,
    }
    unknown = set(given) - set(values)
    if unknown:
        raise ExportError(f"unknown export option(s): {', '.join(sorted(unknown))}")
    values.update({k: bool(v) for k, v in given.items() if v is not None})
    return ExportOptions(**values)

"""What a report contains: the project's data loaded once, then a list of sections, each one key of the result.

``build_result`` reads the project into a ``ReportData`` (``reports.data.load_data``: a few set-based
queries, whatever the number of ratings) and calls every ``Section`` in ``SECTIONS`` in order.  A
section's builder gets ``(project, parameters, data)`` and returns a JSON-serialisable value (a dict
or a list: str, int, float, bool, None; no numpy types, no NaN) that is stored as
``result[section.key]``.  Builders read ``data``; all statistics come from ``evalplatform.stats``.
The report page shows each section through its own template include.

Adding a section (one function + one include)
---------------------------------------------
1. Write the builder, in your app (say ``evalplatform/comparisons/sections.py``)::

       def leaderboard_section(project, parameters, data: ReportData) -> dict:
           ...  # read data.tasks / data.dimensions / data.ratings, call evalplatform.stats
           return {"models": [...]}

2. Write its include, ``templates/<app>/report/_leaderboard.html``.  It is rendered with ``section``
   (your builder's value), ``result`` (the whole stored result), ``report`` and ``project``; start
   it with ``<section class="card report-section" id="leaderboard">``.  Charts: put the data in
   ``{{ section|json_script:"report-leaderboard" }}`` and draw from a ``static/js/`` module (the CSP
   forbids inline scripts and styles); ``static/js/report.js`` draws canvases marked
   ``data-chart="coefficients|models|distribution"``.

3. Register it, from your app's ``AppConfig.ready()``::

       from evalplatform.reports.compute import Section, register_section
       register_section(Section("leaderboard", leaderboard_section, "comparisons/report/_leaderboard.html",
                                title="Leaderboard"), after="dimensions")

Reports computed before a section existed simply lack its key, and the page skips its include; a
builder with nothing to show for a project (a leaderboard of a single-response project) returns None
or an empty list, which is stored and likewise skipped.  A section that raises fails the whole report
(its error names the section): a stored report is never done with a section missing.  A builder may query the database if ``ReportData`` lacks what it
needs, with set-based queries only; better, extend ``reports.data`` so every section shares one read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evalplatform.projects.models import Project
from evalplatform.reports import sections as builtin
from evalplatform.reports.data import ReportData, load_data
from evalplatform.reports.judges import judges_section

SectionBuilder = Callable[[Project, Mapping[str, Any], ReportData], Any]


@dataclass(frozen=True)
class Section:
    """One part of a report: ``build`` fills ``result[key]``; ``template`` (optional) shows it."""

    key: str
    build: SectionBuilder
    template: str | None = None
    title: str = ""


SECTIONS: list[Section] = [
    Section("project", builtin.project_section),
    Section("rubric", builtin.rubric_section),
    Section("coverage", builtin.coverage_section),
    Section("dimensions", builtin.agreement_section, "reports/sections/_dimensions.html", "Agreement and scores"),
    Section("judges", judges_section, "reports/_judges.html", "Automated judges"),
    Section("raters", builtin.raters_section, "reports/sections/_raters.html", "Raters"),
    Section("metadata", builtin.metadata_section, "reports/sections/_metadata.html", "By metadata"),
]
#: Keys build_result sets itself; a section may not use them.
RESERVED = ("parameters", "sections", "timings", "computed_in_seconds")


def register_section(section: Section, *, after: str | None = None) -> Section:
    """Add ``section`` to every report computed from now on (replacing one with the same key).

    ``after`` names the section it follows (default: the end).  Call from ``AppConfig.ready()``.
    """
    if section.key in RESERVED:
        raise ValueError(f"{section.key!r} is reserved")
    SECTIONS[:] = [s for s in SECTIONS if s.key != section.key]
    keys = [s.key for s in SECTIONS]
    SECTIONS.insert(keys.index(after) + 1 if after in keys else len(SECTIONS), section)
    return section


def build_result(
    project: Project, parameters: Mapping[str, Any], *, progress: Callable[[float], None] | None = None,
    data: ReportData | None = None,
) -> tuple[dict[str, Any], int]:
    """The report's JSON and the number of ratings it covers.

    ``data`` is the snapshot to report on (loaded here when not given).  ``progress`` is called with
    the fraction done after each section.
    """
    started = time.perf_counter()
    if data is None:
        data = load_data(project, parameters)
    timings: dict[str, float] = {"load": round(time.perf_counter() - started, 3)}
    if progress:
        progress(0.1)
    result: dict[str, Any] = {}
    sections = list(SECTIONS)
    for done, section in enumerate(sections, start=1):
        t0 = time.perf_counter()
        try:
            result[section.key] = section.build(project, parameters, data)
        except Exception as exc:
            exc.add_note(f"in report section {section.key!r}")
            raise
        timings[section.key] = round(time.perf_counter() - t0, 3)
        if progress:
            progress(0.1 + 0.85 * done / len(sections))
    result["parameters"] = {"bootstrap": 1000, "seed": 0, **parameters}
    result["sections"] = [s.key for s in sections]
    result["timings"] = timings
    result["computed_in_seconds"] = round(time.perf_counter() - started, 3)
    return result, data.n_ratings

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

3. Register it, from your app's ``AppConfig.ready()``, by name (``builder`` imports it when a report
   is first built, so a process that builds none never loads the statistics engine)::

       from evalplatform.reports.compute import Section, builder, register_section
       register_section(Section("leaderboard", builder("evalplatform.comparisons.sections.leaderboard_section"),
                                "comparisons/report/_leaderboard.html", title="Leaderboard"), after="dimensions")

Reports computed before a section existed simply lack its key, and the page skips its include; a
builder with nothing to show for a project (a leaderboard of a single-response project) returns None
or an empty list, which is stored and likewise skipped.  A section that raises fails the whole report
(its error names the section): a stored report is never done with a section missing.  A builder may query the database if ``ReportData`` lacks what it
needs, with set-based queries only; better, extend ``reports.data`` so every section shares one read.
"""

from __future__ import annotations

import gc
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalplatform.projects.models import Project

if TYPE_CHECKING:
    from evalplatform.reports.data import ReportData

SectionBuilder = Callable[[Project, Mapping[str, Any], "ReportData"], Any]


def builder(path: str) -> SectionBuilder:
    """The builder at ``path`` ("package.module.function"), imported the first time a report is built.

    Apps register sections from ``ready()``, which every process runs (a ``manage.py --help`` too);
    naming the builder instead of importing it keeps the statistics engine out of those processes.
    """
    module, _, name = path.rpartition(".")

    def build(project: Project, parameters: Mapping[str, Any], data: ReportData) -> Any:
        return getattr(importlib.import_module(module), name)(project, parameters, data)

    build.__module__, build.__name__, build.__qualname__ = module, name, name
    return build


@dataclass(frozen=True)
class Section:
    """One part of a report: ``build`` fills ``result[key]``; ``template`` (optional) shows it."""

    key: str
    build: SectionBuilder
    template: str | None = None
    title: str = ""


_BUILTIN = "evalplatform.reports.sections"
SECTIONS: list[Section] = [
    Section("project", builder(f"{_BUILTIN}.project_section")),
    Section("rubric", builder(f"{_BUILTIN}.rubric_section")),
    Section("coverage", builder(f"{_BUILTIN}.coverage_section")),
    Section("dimensions", builder(f"{_BUILTIN}.agreement_section"), "reports/sections/_dimensions.html",
            "Agreement and scores"),
    Section("judges", builder("evalplatform.reports.judges.judges_section"), "reports/_judges.html", "Automated judges"),
    Section("reference_metrics", builder("evalplatform.reports.references.reference_metrics_section"),
            "reports/sections/_reference_metrics.html", "Reference-based metrics"),
    Section("raters", builder(f"{_BUILTIN}.raters_section"), "reports/sections/_raters.html", "Raters"),
    Section("metadata", builder(f"{_BUILTIN}.metadata_section"), "reports/sections/_metadata.html", "By metadata"),
    Section("fairness", builder(f"{_BUILTIN}.fairness_section"), "reports/sections/_fairness.html",
            "Fairness across subgroups"),
]
#: What the sections load only when they run, besides their own modules (``load_statistics``).
LAZY_IMPORTS = (
    "numpy", "scipy.stats", "scipy.sparse.csgraph", "scipy.special", "scipy.optimize", "krippendorff",
    "evalplatform.reports.data", "evalplatform.reports.manifest",
)


def load_statistics() -> list[str]:
    """Import every registered section's module and what they load lazily (``LAZY_IMPORTS``); returns
    the module names.  A worker calls this as it starts (``EVAL_WORKER_PRELOAD``), so its first
    report does not pay for them (scipy.stats alone is 0.4-0.6 s of a fresh process's report), while a
    web process, a ``--help`` or the statistics engine on its own still never loads them."""
    names = list(dict.fromkeys([*LAZY_IMPORTS, *(section.build.__module__ for section in SECTIONS)]))
    for name in names:
        importlib.import_module(name)
    return names


#: Keys build_result sets itself; a section may not use them.
RESERVED = ("parameters", "sections", "timings", "computed_in_seconds", "manifest")


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
    from evalplatform.reports.data import load_data

    started = time.perf_counter()
    if data is None:
        data = load_data(project, parameters)
    timings: dict[str, float] = {"load": round(time.perf_counter() - started, 3)}
    if progress:
        progress(0.1)
    result: dict[str, Any] = {}
    sections = list(SECTIONS)
    # The snapshot and each section's value live until the report is stored: frozen (``gc.freeze``) the
    # cyclic collector no longer walks them again and again.  On the issue-18 data set (720,000 scores)
    # its full collections, a dozen triggered by the sections' allocations and two that statsmodels'
    # ``multipletests`` asks for, cost about 1 s CPU walking them.  Objects freed by their reference
    # count go as before; unfrozen at the end, whatever happens.
    gc.freeze()
    try:
        for done, section in enumerate(sections, start=1):
            t0 = time.perf_counter()
            try:
                result[section.key] = section.build(project, parameters, data)
            except Exception as exc:
                exc.add_note(f"in report section {section.key!r}")
                raise
            gc.freeze()
            timings[section.key] = round(time.perf_counter() - t0, 3)
            if progress:
                progress(0.1 + 0.85 * done / len(sections))
        from evalplatform.reports.manifest import build_manifest

        t0 = time.perf_counter()
        result["manifest"] = build_manifest(project, parameters, data, result)
        timings["manifest"] = round(time.perf_counter() - t0, 3)
    finally:
        gc.unfreeze()
    result["parameters"] = {"bootstrap": 1000, "seed": 0, **parameters}
    result["sections"] = [s.key for s in sections]
    result["timings"] = timings
    result["computed_in_seconds"] = round(time.perf_counter() - started, 3)
    return result, data.n_ratings

"""Which earlier projects a project continues: a hook for the apps above training.

Training sits below ``evalplatform.suites`` in the import layers, so it cannot ask a suite for its
rounds.  Suites register ``earlier_projects`` instead (from their ``AppConfig.ready()``): given a
project, the ids of the projects of the earlier rounds of its suite (empty when it is no round).  The
answer may be a lazy queryset of ids (``values("project_id")``): training uses it as a subquery, so
carrying qualification across rounds costs no query of its own on the queue's hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalplatform.projects.models import Project

EarlierProjects = Callable[[Project], Any]  # -> an iterable or queryset of project ids

_SOURCES: list[EarlierProjects] = []


def register_earlier_projects(source: EarlierProjects) -> EarlierProjects:
    """Ask ``source(project)`` for the projects ``project`` continues (registering twice does nothing)."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def earlier_projects(project: Project) -> list[Any]:
    """Each registered source's answer for ``project`` (ids or querysets of ids); empty without sources."""
    return [source(project) for source in _SOURCES]

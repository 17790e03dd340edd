"""What the apps above projects add to the lead's view of a project, without projects importing them.

The dashboard page shows the queue's progress (assignments), the raters' counts (ratings) and gold
alerts (quality); the project API's detail carries the progress.  Each of those apps registers a
provider from its ``AppConfig.ready()``, as report sections are registered, so the dependency runs
one way: the apps above know projects, projects knows only these lists.

    from evalplatform.projects.dashboard import register_dashboard
    register_dashboard("gold_alerts", lambda project: {"gold_alerts": gold_alerts(project)})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalplatform.projects.models import Project

#: A provider gives the dashboard's context entries for one project (a few set-based queries).
Provider = Callable[[Project], dict[str, Any]]

_DASHBOARD: dict[str, Provider] = {}
_PROGRESS: list[Callable[[Project], dict[str, Any]]] = []


def register_dashboard(name: str, provider: Provider) -> None:
    """Add ``provider``'s entries to every dashboard (registering a name again replaces it)."""
    _DASHBOARD[name] = provider


def dashboard_context(project: Project) -> dict[str, Any]:
    """Every registered provider's entries for ``project``, in registration order."""
    context: dict[str, Any] = {}
    for provider in _DASHBOARD.values():
        context.update(provider(project))
    return context


def register_progress(progress: Callable[[Project], dict[str, Any]]) -> None:
    """Set how a project's progress is counted (the queue registers it): a JSON-ready dict."""
    _PROGRESS[:] = [progress]


def project_progress(project: Project) -> dict[str, Any] | None:
    """The project's progress as the registered counter gives it, or None when none is registered."""
    return _PROGRESS[0](project) if _PROGRESS else None

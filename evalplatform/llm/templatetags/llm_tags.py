"""``{% llm_runs_panel project %}``: the project's latest model runs and their progress, for the dashboard."""

from __future__ import annotations

from django import template

from evalplatform.llm import selectors

register = template.Library()


@register.inclusion_tag("llm/_runs_panel.html")
def llm_runs_panel(project) -> dict:
    runs = list(selectors.runs_of(project)[:5])
    progress = selectors.progress_of(runs)
    return {"project": project, "rows": [(run, progress[run.pk]) for run in runs]}

"""What a round continues: the projects of the earlier rounds of its suite (training's lineage hook)."""

from __future__ import annotations

from django.db.models import F, QuerySet

from evalplatform.projects.models import Project
from evalplatform.suites.models import Round


def earlier_round_projects(project: Project) -> QuerySet:
    """The ids of the projects of the rounds before ``project``'s in its suite (none when it is no round),
    lazily: used as a subquery, it costs no query of its own."""
    return Round.objects.filter(
        suite__rounds__project_id=project.pk, suite__rounds__number__gt=F("number")
    ).values("project_id")

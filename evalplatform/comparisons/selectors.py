"""Reads for model comparison beyond the report's snapshot of scores (``reports.data``)."""

from __future__ import annotations

from collections.abc import Iterable

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Project

CHUNK = 1000


def shown_sides(project: Project, task_ids: Iterable[int]) -> dict[tuple[int, str], bool]:
    """``(task_id, rater username) -> left_is_a`` for the pair tasks' submitted queue assignments:
    True when ``response_a`` was shown on the left (as "A").  Imported ratings are absent (the side
    they were shown on is not known).  One query per thousand tasks."""
    ids = sorted(set(task_ids))
    sides: dict[tuple[int, str], bool] = {}
    for start in range(0, len(ids), CHUNK):
        rows = Assignment.objects.filter(
            project=project, task_id__in=ids[start : start + CHUNK], source=Assignment.Source.QUEUE,
            status=Assignment.Status.SUBMITTED, task__response_b__isnull=False,
        ).values_list("task_id", "rater__username", "swapped")
        for task_id, rater, swapped in rows:
            sides[(task_id, rater)] = not swapped
    return sides

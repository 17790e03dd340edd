"""Ratings announce that they changed; the apps above listen (the report's debounced refresh).

Every write that adds or changes ratings calls ``note_ratings_changed`` inside its transaction: the
project's ``ratings_seq`` is bumped there, so the counter commits (or rolls back) with the ratings it
counts, and a report knows which data it covers.  What follows a change is not ratings' business:
``reports`` registers its refresh from ``AppConfig.ready()`` (``on_ratings_changed``), and each
listener runs after the commit, so a rolled-back write announces nothing and ratings never import
the reports that are computed from them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models import F

from evalplatform.projects.models import Project

#: Called with a project's id after a transaction that changed its ratings commits.
Listener = Callable[[int], object]

_LISTENERS: list[Listener] = []


def on_ratings_changed(listener: Listener) -> Listener:
    """Call ``listener(project_id)`` after every commit that changed a project's ratings (once per
    registration: registering the same function again does nothing)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
    return listener


def note_ratings_changed(*, project_id: int, count: int = 1) -> None:
    """Record that ``count`` ratings of the project changed, and tell the listeners after commit.

    Call inside the transaction that writes the ratings: the sequence bump commits with them.
    """
    Project.objects.filter(pk=project_id).update(ratings_seq=F("ratings_seq") + count)
    for listener in _LISTENERS:
        transaction.on_commit(partial(listener, project_id))

"""Who is cleared to be served real tasks: a hook for the apps above the queue.

``claim_next`` and ``ratings.services.submit_rating`` ask every registered gate before they lease or
record real work, so a rule such as "finish the project's training first" (``evalplatform.training``)
holds for the page, the JSON endpoints and the API alike, while the queue knows nothing of the apps
above it.  A gate answers with a ``Refusal`` (what to tell the rater, and the page where they can
clear it) or None.  Gates register from their app's ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evalplatform.projects.models import Project


@dataclass(frozen=True)
class Refusal:
    """Why a rater may not take real work yet: ``message`` for them, ``url`` where to go, ``code`` for clients."""

    code: str
    message: str
    url: str
    #: Send the rater to ``url`` at once (the scoring page's script too) instead of showing ``message``
    #: with a link: an external worker's completion page.
    navigate: bool = False


ClaimGate = Callable[[Project, int], "Refusal | None"]

_GATES: list[ClaimGate] = []


def register_claim_gate(gate: ClaimGate) -> ClaimGate:
    """Ask ``gate(project, rater_id)`` before every claim and submit of real work (registering twice does nothing)."""
    if gate not in _GATES:
        _GATES.append(gate)
    return gate


def refusal_for(project: Project, rater_id: int) -> Refusal | None:
    """The first gate's refusal of this rater in this project, or None: they may take real work."""
    for gate in _GATES:
        refusal = gate(project, rater_id)
        if refusal is not None:
            return refusal
    return None


# --- When the queue has nothing left for the rater ------------------------------------------------

_EMPTY_GATES: list[ClaimGate] = []


def register_empty_queue_gate(gate: ClaimGate) -> ClaimGate:
    """Ask ``gate(project, rater_id)`` when ``claim_next`` finds nothing left for the rater: a refusal
    replaces "nothing to rate" (an external worker is sent to their completion page)."""
    if gate not in _EMPTY_GATES:
        _EMPTY_GATES.append(gate)
    return gate


def refusal_when_empty(project: Project, rater_id: int) -> Refusal | None:
    """The first empty-queue gate's refusal, or None: the rater is told there is nothing to rate."""
    for gate in _EMPTY_GATES:
        refusal = gate(project, rater_id)
        if refusal is not None:
            return refusal
    return None

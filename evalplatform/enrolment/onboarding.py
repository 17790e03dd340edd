"""The seam to onboarding (training, qualification, guidelines: ``evalplatform.training``).

Whoever joins a project (an invitee, an external worker) is sent first to what onboarding asks of them,
then to the scoring page.  The training app registers its rule with ``assignments.gates`` (the one seam
the queue asks before any work), so this asks the same gates and follows the refusal's page.
"""

from __future__ import annotations

from evalplatform.assignments.gates import refusal_for
from evalplatform.projects.models import Project


def onboarding_url(user, project: Project) -> str | None:
    """Where ``user`` must go before rating in ``project`` (the guidelines to confirm, training or a
    qualification test, or, for a worker who is done, the completion page), or None."""
    refusal = refusal_for(project, user.pk)
    return refusal.url if refusal is not None else None

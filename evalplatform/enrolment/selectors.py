"""Reads of the enrolment pages and API, scoped by the project the lead asked for."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from evalplatform.enrolment.models import EntryLink, Invitation
from evalplatform.enrolment.services import invitation_state
from evalplatform.enrolment.workforce import entry_path
from evalplatform.projects.models import Project


def invitations(project: Project) -> list[Invitation]:
    """The project's invitations, newest first, each with ``state`` (open, expired, used, full, revoked)."""
    rows = list(Invitation.objects.filter(project=project).select_related("created_by"))
    for invitation in rows:
        invitation.state = invitation_state(invitation)  # type: ignore[attr-defined]
    return rows


@dataclass(frozen=True)
class EntryLinkRow:
    link: EntryLink
    url: str
    example: str
    n_workers: int
    n_completed: int


def entry_links(project: Project, *, base_url: str) -> list[EntryLinkRow]:
    """The project's entry links with their URL (as the platform should be given it) and worker counts."""
    links: QuerySet[EntryLink] = EntryLink.objects.filter(project=project).annotate(
        n_workers=Count("workers", distinct=True),
    )
    completed = dict(
        EntryLink.objects.filter(project=project, workers__completed_at__isnull=False)
        .annotate(n=Count("workers")).values_list("pk", "n")
    )
    rows = []
    for link in links:
        url = base_url.rstrip("/") + entry_path(link)
        params = [link.worker_param, link.study_param, link.session_param]
        example = url + "?" + "&".join(f"{p}={{{{%{p}%}}}}" if link.platform == "prolific" else f"{p}=..."
                                       for p in params if p)
        rows.append(EntryLinkRow(link, url, example, link.n_workers, completed.get(link.pk, 0)))  # type: ignore[attr-defined]
    return rows



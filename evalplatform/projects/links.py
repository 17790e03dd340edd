"""Which pages of a project each role is offered (the pages register themselves by URL name)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

# (url name, label, roles that see it); pages of other apps appear once their URL exists.
PAGES = (
    ("rate", "Start rating", ("rater",)),
    ("project-dashboard", "Dashboard", ("lead", "admin")),
    ("report", "Report", ("lead", "admin")),
    ("quality-overview", "Quality", ("lead", "admin")),
)


def links_for(project, role: str | None) -> list[dict[str, str]]:
    links = []
    for name, label, roles in PAGES:
        if role not in roles:
            continue
        try:
            links.append({"url": reverse(name, args=[project.slug]), "label": label})
        except NoReverseMatch:
            continue
    return links

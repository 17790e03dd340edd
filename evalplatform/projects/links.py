"""Which pages of a project each role is offered (the pages register themselves by URL name)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

# (url name, label, roles that see it); pages of other apps appear once their URL exists.
PAGES = (
    ("rate", "Start rating", ("rater",)),
    ("project-dashboard", "Dashboard", ("lead", "admin")),
    ("report", "Report", ("lead", "admin")),
    ("quality-overview", "Quality", ("lead", "admin")),
    ("llm-runs", "Model runs", ("lead", "admin")),
)

#: The navigation bar of every lead page: (url name, label, the url names under which it is "here").
LEAD_NAV = (
    ("project-dashboard", "Dashboard", ("project-dashboard", "project-add-member", "project-import-items",
                                        "project-pairings")),
    ("report", "Report", ("report",)),
    ("quality-overview", "Quality", ("quality-overview", "quality-settings")),
    ("quality-gold", "Gold", ("quality-gold",)),
    ("training-manage", "Training", ("training-manage", "training-settings", "training-import", "training-make",
                                     "training-item")),
    ("quality-adjudication", "Adjudication", ("quality-adjudication", "quality-adjudicate")),
    ("report-items", "Items", ("report-items", "report-item")),
    ("llm-runs", "Model runs", ("llm-runs",)),
    ("report-tracking", "Tracking", ("report-tracking",)),
    ("enrolment-access", "Access", ("enrolment-access", "enrolment-invite-email", "enrolment-invite-link",
                                    "enrolment-entry-link-create", "enrolment-entry-link-workers")),
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


def lead_nav(project, current: str | None) -> list[dict]:
    """The lead's pages of ``project`` in a fixed order, the one named ``current`` marked as here."""
    links = []
    for name, label, here in LEAD_NAV:
        try:
            url = reverse(name, args=[project.slug])
        except NoReverseMatch:
            continue
        links.append({"url": url, "label": label, "current": current in here})
    return links

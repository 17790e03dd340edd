"""Every URL pattern of the project, and concrete URLs for each, with the path filled in.

``routes()`` walks ``get_resolver().url_patterns`` recursively, so a page or endpoint added later is
swept without anyone listing it.  ``fills(world, route)`` gives each path parameter the values to try:
ids and slugs of objects in the world (tests/security/world.py), each with the roles for which it is
their own.  A parameter nobody has taught this module to fill fails the sweep, on purpose.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from evalplatform.ratings.exports import download_formats
from evalplatform.reports.views import DOWNLOADS
from tests.security.world import World

RATER_A, RATER_B, LEAD_B, STRANGER, ANON = "rater_a", "rater_b", "lead_b", "stranger", "anon"
ROLES = (RATER_A, RATER_B, LEAD_B, STRANGER, ANON)
EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()
UNSAFE = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    route: str  # the whole pattern, prefixes included ("projects/<slug:slug>/report/")
    name: str  # "report", "admin:projects_item_change", or "" when unnamed
    params: tuple[str, ...]
    callback: object

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    def unsafe_methods(self) -> list[str]:
        """POST always (a view that takes no POST must refuse it); for API views every unsafe method
        they define."""
        cls = getattr(self.callback, "cls", None)
        methods = [m for m in UNSAFE if cls is not None and hasattr(cls, m)]
        return ["post", *[m for m in methods if m != "post"]]


@dataclass(frozen=True)
class Fill:
    value: str
    owners: frozenset[str]  # the roles for which this object is their own (or at least theirs to read)


def _params(pattern) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return tuple(pattern.regex.groupindex)
    return ()


def routes() -> list[Route]:
    """Every URL pattern, prefixes joined, namespaces in the name."""

    def walk(patterns, prefix: str, namespace: str, inherited: tuple[str, ...]) -> Iterator[Route]:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns, inherited + _params(p.pattern))
            elif isinstance(p, URLPattern):
                name = f"{namespace}{p.name}" if p.name else ""
                yield Route(prefix + str(p.pattern), name, inherited + _params(p.pattern), p.callback)

    return list(walk(get_resolver().url_patterns, "", "", ()))


def build(route: Route, values: dict[str, str]) -> str:
    """The concrete path of ``route`` with ``values`` in its parameters."""
    path = route.route
    for name, value in values.items():
        quoted = quote(value, safe="/" if f"<path:{name}>" in path or name == "url" else "")
        path = re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", lambda _m, q=quoted: q, path)
    return "/" + path.replace("^", "").replace("$", "")


def export_formats() -> list[str]:
    return sorted({*download_formats(), *(fmt for fmt, _ in DOWNLOADS)})


# Which objects a parameter called ``pk`` names, by URL name.
PK_KINDS = {
    "api-project": "project",
    "api-rubric": "rubric", "api-rubric-version": "rubric", "api-rubric-version-document": "rubric",
    "api-rubric-publish": "rubric", "api-rubric-clone": "rubric",
    "api-assignment": "assignment", "api-skip": "assignment", "api-submit": "assignment",
    "rate-submit": "assignment", "rate-skip": "assignment",
    "api-rating": "rating", "api-report": "report",
    "api-rating-revise": "rating", "api-rating-revisions": "rating", "api-exclusion-restore": "exclusion",
    "api-llm-run": "llm_run", "api-llm-run-cancel": "llm_run", "api-llm-run-resume": "llm_run",
    "llm-run-cancel": "llm_run", "llm-run-resume": "llm_run",
    "api-suite": "suite", "api-suite-rounds": "suite", "api-suite-gate": "suite", "api-suite-trends": "suite",
    "enrolment-invitation-revoke": "invitation", "enrolment-entry-link-revoke": "entry_link",
    "enrolment-entry-link-workers": "entry_link",
    "api-training-item": "training_item",
}


def fills(world: World, route: Route) -> dict[str, list[Fill]]:
    """For each parameter of ``route``, the values to try.  Raises ``KeyError`` for a parameter (or a
    ``pk`` of a URL) that has no values here yet: teach this function about it."""
    a, b = world.alpha, world.beta
    projects = {"slug": [Fill(a.project.slug, frozenset({RATER_A})), Fill(b.project.slug, frozenset({RATER_B, LEAD_B}))],
                "id": [Fill(str(a.project.pk), frozenset({RATER_A})), Fill(str(b.project.pk), frozenset({RATER_B, LEAD_B}))]}
    by_kind = {
        "project": projects["id"],
        "rubric": [Fill(str(world.version.rubric_id), frozenset({RATER_A, RATER_B, LEAD_B})),
                   Fill(str(world.draft.pk), NOBODY)],
        # Other raters' work: never anyone's own here (not even the lead's: assignments are the rater's).
        "assignment": [Fill(str(a.assignments["bob"].pk), NOBODY), Fill(str(b.assignments["erin"].pk), NOBODY)],
        "rating": [Fill(str(a.ratings["bob"].pk), NOBODY), Fill(str(b.ratings["erin"].pk), frozenset({LEAD_B}))],
        "report": [Fill(str(a.report.pk), NOBODY), Fill(str(b.report.pk), frozenset({LEAD_B}))],
        "exclusion": [Fill(str(a.exclusion.pk), NOBODY), Fill(str(b.exclusion.pk), frozenset({LEAD_B}))],
        "llm_run": [Fill(str(a.llm_run.pk), NOBODY), Fill(str(b.llm_run.pk), frozenset({LEAD_B}))],
        # a suite is its leads' (its round 1 has the project's slug, so the suite page is swept too)
        "suite": [Fill(str(a.suite.pk), NOBODY), Fill(str(b.suite.pk), frozenset({LEAD_B}))],
        # invitations and entry links are their project's leads'
        "invitation": [Fill(str(a.invitation.pk), NOBODY), Fill(str(b.invitation.pk), frozenset({LEAD_B}))],
        "entry_link": [Fill(str(a.entry_link.pk), NOBODY), Fill(str(b.entry_link.pk), frozenset({LEAD_B}))],
        # a training item is its project's: its raters train on it, its leads edit it
        "training_item": [Fill(str(a.training_item.pk), frozenset({RATER_A})),
                          Fill(str(b.training_item.pk), frozenset({RATER_B, LEAD_B}))],
        # a training answer is its rater's (alice's in alpha; erin's in beta, whose lead may ask)
        "training_answer": [Fill(str(a.training_answer.pk), frozenset({RATER_A})),
                            Fill(str(b.training_answer.pk), frozenset({LEAD_B}))],
    }
    lead_b = frozenset({LEAD_B})
    table = {
        "slug": projects["slug"],
        "project_id": projects["id"],
        "number": [Fill("1", EVERYONE)],
        "username": [Fill("bob", NOBODY), Fill("erin", lead_b)],
        "user_id": [Fill(str(a.raters["bob"].pk), NOBODY), Fill(str(b.raters["erin"].pk), lead_b)],
        # A rubric version's rating-form preview: admins only.
        "version_id": [Fill(str(world.version.pk), NOBODY), Fill(str(world.draft.versions.get().pk), NOBODY)],
        # A rating to revise from the scoring page: only its own rater's.
        "rating_id": [Fill(str(a.ratings["alice"].pk), frozenset({RATER_A})), Fill(str(a.ratings["bob"].pk), NOBODY),
                      Fill(str(b.ratings["erin"].pk), NOBODY)],
        "task_id": [Fill(str(a.tasks[1].pk), NOBODY), Fill(str(a.gold.pk), NOBODY),
                    Fill(str(b.tasks[1].pk), lead_b), Fill(str(b.gold.pk), lead_b)],
        "external_id": [Fill(a.tasks[0].item.external_id, NOBODY), Fill(b.tasks[0].item.external_id, lead_b)],
        "fmt": [Fill(fmt, EVERYONE) for fmt in export_formats()],
        "uidb64": [Fill("MQ", EVERYONE)],
        "token": [Fill("set-password", EVERYONE)],
        # The admin's own parameters: staff only, so nobody's here.
        "object_id": [Fill(str(a.project.pk), NOBODY), Fill(str(a.ratings["bob"].pk), NOBODY)],
        "content_type_id": [Fill(str(ContentType.objects.get_for_model(type(a.project)).pk), NOBODY)],
        "id": [Fill(str(a.raters["bob"].pk), NOBODY)],
        "app_label": [Fill("projects", NOBODY), Fill("ratings", NOBODY)],
        "url": [Fill("no-such-page/", NOBODY)],
        "invitation_id": by_kind["invitation"],
        "link_id": by_kind["entry_link"],
        "item_id": by_kind["training_item"],
        "answer_id": by_kind["training_answer"],
    }
    out = {}
    for param in route.params:
        if param == "pk":
            out[param] = by_kind[PK_KINDS[route.name]]
        else:
            out[param] = table[param]
    return out


def instances(world: World, route: Route) -> Iterator[tuple[str, list[Fill]]]:
    """Each concrete URL of ``route`` with the fills it was built from."""
    options = fills(world, route)
    names = list(options)
    for combo in itertools.product(*(options[n] for n in names)):
        yield build(route, dict(zip(names, (f.value for f in combo), strict=True))), list(combo)

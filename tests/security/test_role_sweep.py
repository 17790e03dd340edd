"""Every URL of the project, asked by every role, with ids and slugs it must not reach.

For each URL pattern (walked from the resolver, so a page added later is swept too), each path
parameter is filled with objects of a project the role is not in, and with lead-only objects of the
role's own project (tests/security/routes.py).  Roles: a rater of alpha (alice), a rater of beta
(dave), the lead of beta, a stranger and an anonymous visitor.  For each concrete URL and method:

* the answer never contains a marker the role may not see (another rater's justification or
  free-text score, another project's prompts, an adjudication note of a project they do not lead);
* unless the URL is the role's own to read (or write), the answer refuses: 401/403/404/405, or a
  redirect to the login page;
* nothing answers 5xx.

A URL whose parameters the sweep cannot fill, or a new URL without parameters that is not classified
below, fails the sweep: classify it here, deliberately.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.test import Client

from tests.security.routes import (
    ANON,
    LEAD_B,
    RATER_A,
    RATER_B,
    ROLES,
    STRANGER,
    Fill,
    Route,
    instances,
    routes,
)
from tests.security.world import World, state

pytestmark = pytest.mark.django_db

# Anyone may open these (GET only here: their POSTs log in, send mail or issue tokens).
PUBLIC = {
    "health", "favicon", "login", "admin:login", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete", "api-token", "api-schema", "api-docs",
}
PUBLIC_ROUTES = {"admin/login/"}  # the unnamed redirect from the admin's login to the throttled one
SESSION = {"logout", "admin:logout"}  # GET only: their POST ends the sweep's session
# Without parameters: every logged-in person reads these (each shows only what is theirs).
MEMBER_LISTS = {
    "home", "api-me", "api-projects", "api-assignments", "api-ratings", "api-rubrics", "password_change",
    "password_change_done", "suites", "api-suites",
    "enrolment-complete",  # an external worker's completion code; anyone else is sent home
}
LEAD_ANYWHERE = {"project-new", "api-llm-endpoints"}  # people who lead a project may start another
STAFF_ONLY = {"api-users", "api-rubric-publish", "api-rubric-clone"}
# What a rater may open on their own project (and their own assignments, ratings and rubric).
RATER_READS = {
    "rate", "rate-submit", "rate-skip", "rate-previous", "rate-revise", "api-project", "api-next", "api-assignment", "api-skip", "api-submit",
    "api-rating", "api-rubric", "api-rubric-version", "api-rubric-version-document",
    "training", "training-start", "training-answer", "training-feedback", "training-guidelines",
}
RATER_WRITES = {"rate-submit", "rate-skip", "rate-revise", "api-next", "api-skip", "api-submit", "password_change",
                "training-start", "training-answer", "training-guidelines"}
LEAD_WRITES_ANYWHERE = {"api-projects", "project-new", "password_change", "api-suites"}
KNOWN_WITHOUT_PARAMS = PUBLIC | SESSION | MEMBER_LISTS | LEAD_ANYWHERE | STAFF_ONLY
# Writes that answer a redirect whether or not the object was theirs to change (removing a gold item
# twice is harmless); the state check at the end of the sweep shows another project's was not touched.
NO_OP_REDIRECTS = {"quality-gold-remove"}


def users(world: World) -> dict[str, object]:
    return {RATER_A: world.alpha.raters["alice"], RATER_B: world.beta.raters["dave"], LEAD_B: world.beta.lead,
            STRANGER: world.stranger}


def allowed_markers(role: str) -> set[str]:
    """The owners (see ``World.markers``) whose markers ``role`` may see."""
    return {
        RATER_A: {"alice", "project:alpha"},
        RATER_B: {"dave", "project:beta"},
        LEAD_B: {"dave", "erin", "frank", "project:beta", "lead:beta"},
    }.get(role, set())


def readable(role: str, route: Route, used: list[Fill]) -> bool:
    """Whether this concrete URL is ``role``'s own to open (any answer but a leak or a 5xx is fine)."""
    name = route.name
    if role == ANON or route.is_admin or name in STAFF_ONLY:
        return False
    if name in MEMBER_LISTS:
        return True
    if name in LEAD_ANYWHERE:
        return role == LEAD_B
    if not used or not all(role in fill.owners for fill in used):
        return False
    return role == LEAD_B or (role in (RATER_A, RATER_B) and name in RATER_READS)


def writable(role: str, route: Route, used: list[Fill]) -> bool:
    if not readable(role, route, used):
        return False
    if role == LEAD_B:
        return route.name in LEAD_WRITES_ANYWHERE or (
            route.name not in MEMBER_LISTS and not route.name.startswith("api-rubric")
        )
    return route.name in RATER_WRITES


def refused(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    if response.status_code == 302:
        return urlparse(response["Location"]).path in ("/accounts/login/", "/admin/login/")
    return False


def body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", "replace")


def test_every_url_is_classified_or_fillable(world):
    """The sweep below covers every pattern: each one's parameters can be filled, and every
    parameterless URL is placed in one of the lists above."""
    unknown, unfillable = [], []
    for route in routes():
        try:
            list(instances(world, route))
        except KeyError as exc:
            unfillable.append(f"{route.route} ({route.name or 'unnamed'}): no values for {exc}")
        if not route.params and not route.is_admin and route.name not in KNOWN_WITHOUT_PARAMS | {""}:
            unknown.append(f"{route.route} ({route.name})")
        if not route.name and not route.is_admin and route.route not in PUBLIC_ROUTES:
            unknown.append(f"{route.route} (unnamed)")
    assert not unfillable, "teach tests/security/routes.fills these parameters:\n" + "\n".join(unfillable)
    assert not unknown, "classify these URLs in test_role_sweep.py:\n" + "\n".join(unknown)
    assert len(routes()) > 100  # the admin's and the project's own


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reaches_what_is_not_theirs(world, role):
    client = Client(raise_request_exception=False)
    if role != ANON:
        client.force_login(users(world)[role])
    forbidden = [marker for marker, owner in world.markers().items() if owner not in allowed_markers(role)]
    problems: list[str] = []
    swept = 0
    theirs = {RATER_A: [], RATER_B: [], LEAD_B: [world.beta]}.get(role, [])
    before = {place.project.slug: state(place) for place in (world.alpha, world.beta) if place not in theirs}
    for route in routes():
        public = route.name in PUBLIC or route.route in PUBLIC_ROUTES
        for url, used in instances(world, route):
            methods = ["get"] if public or route.name in SESSION else ["get", *route.unsafe_methods()]
            for method in methods:
                own = readable(role, route, used) if method == "get" else writable(role, route, used)
                if method != "get" and own:
                    continue  # the role may change this; the sweep does not
                response = getattr(client, method)(url)
                swept += 1
                where = f"{role} {method.upper()} {url} -> {response.status_code}"
                text = body(response)
                leaked = [marker for marker in forbidden if marker in text]
                if leaked:
                    problems.append(f"{where}: shows {', '.join(leaked)}")
                if response.status_code >= 500:
                    problems.append(f"{where}: server error")
                elif not (public or own or route.name in SESSION) and not refused(response):
                    if not (route.name in NO_OP_REDIRECTS and response.status_code == 302):
                        problems.append(f"{where}: answered instead of refusing")
    after = {place.project.slug: state(place) for place in (world.alpha, world.beta) if place not in theirs}
    for slug, was in before.items():
        changed = [key for key in was if was[key] != after[slug][key]]
        if changed:
            problems.append(f"{role} changed project {slug}: {', '.join(changed)}")
    assert swept > 300
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_markers_are_where_they_belong(world):
    """The sweep's markers are real: each shows up where its owner (or their lead) looks."""
    alice = Client()
    alice.force_login(world.alpha.raters["alice"])
    assert "SECRET-JUSTIFICATION-alice" in alice.get("/api/ratings/").content.decode()
    lead = Client()
    lead.force_login(world.beta.lead)
    item = lead.get(f"/projects/beta/report/items/{world.beta.tasks[0].item.external_id}/").content.decode()
    assert "SECRET-JUSTIFICATION-erin" in item
    assert "SECRET-FREETEXT-frank" in item
    export = lead.get("/projects/beta/report/export/csv/")
    assert "SECRET-JUSTIFICATION-dave" in body(export)
    adjudicated = lead.get(f"/projects/beta/quality/adjudication/{world.beta.tasks[1].pk}/").content.decode()
    assert "SECRET-ADJUDICATION-beta" in adjudicated

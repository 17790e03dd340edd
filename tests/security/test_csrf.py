"""Every state-changing browser request needs the CSRF token.

Every page URL of the project (walked from the resolver, the admin's included) is POSTed by someone
allowed to use it (an admin) with a client that enforces CSRF and sends no token: each is refused
with 403 before its view runs, and nothing changes.  With the token, the same client's POSTs go
through (the test is not vacuous).  The API, when authenticated by the session cookie, refuses unsafe
methods without the token too (DRF's SessionAuthentication); token-authenticated clients carry no
ambient credential, so they need none.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.fixtures import UserFactory
from tests.security.routes import instances, routes
from tests.security.world import state

pytestmark = pytest.mark.django_db


def first_instance(world, route) -> str:
    url, _ = next(instances(world, route))
    return url


def csrf_client(user=None) -> Client:
    c = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if user is not None:
        c.force_login(user)
    return c


def token_from(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_every_page_post_without_the_token_is_refused(world):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_client, anonymous = csrf_client(admin), csrf_client()
    before = {place.project.slug: state(place) for place in (world.alpha, world.beta)}
    refused, problems = 0, []
    for route in routes():
        if route.is_api:
            continue
        url = first_instance(world, route)
        for who, c in (("admin", admin_client), ("anonymous", anonymous)):
            response = c.post(url, {"name": "x", "paused": "1", "username": "stranger", "role": "lead"})
            if response.status_code != 403 or b"CSRF" not in response.content:
                problems.append(f"{who} POST {url} -> {response.status_code}")
            refused += 1
    after = {place.project.slug: state(place) for place in (world.alpha, world.beta)}
    assert not problems, "answered a POST without a CSRF token:\n" + "\n".join(problems)
    assert before == after
    assert refused > 150  # every page, the admin's too, twice


def test_the_same_posts_go_through_with_the_token(world):
    lead = csrf_client(world.alpha.lead)
    dashboard = lead.get(reverse("project-dashboard", args=["alpha"]))
    token = token_from(dashboard.content.decode())
    response = lead.post(reverse("project-add-member", args=["alpha"]),
                         {"csrfmiddlewaretoken": token, "username": "stranger", "role": "rater"})
    assert response.status_code == 302
    assert world.alpha.project.memberships.filter(user=world.stranger).exists()
    # A rater's script sends the token in a header (static/js/rate.js).
    alice = csrf_client(world.alpha.raters["alice"])
    page = alice.get(reverse("rate", args=["alpha"])).content.decode()
    assignment = re.search(r'data-assignment="(\d+)"', page).group(1)
    skip = reverse("rate-skip", args=["alpha", assignment])
    assert alice.post(skip, HTTP_ACCEPT="application/json").status_code == 403
    assert alice.post(skip, HTTP_ACCEPT="application/json", HTTP_X_CSRFTOKEN=token_from(page)).status_code == 200


def test_logging_in_needs_the_token_too():
    response = csrf_client().post(reverse("login"), {"username": "someone", "password": "whatever-123"})
    assert response.status_code == 403


def test_the_api_refuses_unsafe_methods_over_the_session_without_the_token(world):
    lead = APIClient(enforce_csrf_checks=True)
    lead.force_login(world.alpha.lead)  # a session cookie, as a browser has
    project = world.alpha.project
    calls = [
        ("post", f"/api/projects/{project.pk}/reports/", {"bootstrap": 10}),
        ("patch", f"/api/projects/{project.pk}/", {"name": "renamed"}),
        ("post", f"/api/projects/{project.pk}/members/", {"username": "stranger", "role": "lead"}),
        ("delete", f"/api/projects/{project.pk}/quality/gold/{world.alpha.gold.pk}/", None),
    ]
    before = state(world.alpha)
    for method, url, data in calls:
        response = getattr(lead, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)
        assert "CSRF" in response.json()["detail"], (method, url)
    assert state(world.alpha) == before
    assert lead.get(f"/api/projects/{project.pk}/").status_code == 200  # reading needs no token
    # With the token from the cookie, as the browser's script would send it.
    lead.get(reverse("project-dashboard", args=["alpha"]))
    response = lead.patch(f"/api/projects/{project.pk}/", {"name": "renamed"}, format="json",
                          HTTP_X_CSRFTOKEN=lead.cookies["csrftoken"].value)
    assert response.status_code == 200
    # A token is not sent by the browser on its own: no CSRF token needed with one.
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=world.alpha.lead).key)
    assert api.patch(f"/api/projects/{project.pk}/", {"name": "again"}, format="json").status_code == 200

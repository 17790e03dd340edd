"""Hostile API bodies and URLs get 4xx answers, never 500: JSON nested thousands deep (every JSON
write, the unauthenticated token endpoint included), lone surrogates (never echoed back), numbers in
URLs larger than any column holds."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.assignments.services import claim_next

pytestmark = pytest.mark.django_db
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 5_000 + "1" + "}" * 5_000


def api_for(user) -> APIClient:
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def writes(project, assignment) -> list[str]:
    return ["/api/auth/token/", "/api/projects/", f"/api/projects/{project.pk}/next/",
            f"/api/assignments/{assignment.pk}/submit/", f"/api/assignments/{assignment.pk}/skip/", "/api/rubrics/",
            f"/api/projects/{project.pk}/", "/api/users/"]


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT, '{"username": ' + DEEP + "}"], ids=["list", "object", "field"])
def test_deeply_nested_json_is_a_400_everywhere(project, admin_user, payload):
    alice = project.memberships.get(user__username="alice").user
    assignment = claim_next(project=project, rater=alice).assignment
    for user in (None, admin_user, alice):
        api = api_for(user) if user else APIClient(raise_request_exception=False)
        for url in writes(project, assignment):
            for method in ("post", "patch", "put"):
                response = getattr(api, method)(url, payload, content_type="application/json")
                assert response.status_code < 500, (user, method, url, response.status_code)
        response = api.post("/api/auth/token/", payload, content_type="application/json")
        assert response.status_code == 400
        assert "nested" in response.json()["detail"]


def test_a_lone_surrogate_is_refused_and_never_echoed(project):
    alice = project.memberships.get(user__username="alice").user
    assignment = claim_next(project=project, rater=alice).assignment
    api = api_for(alice)
    for body in ('{"scores": {"\\ud800": 1}}', '{"scores": {"why": "x\\udfff"}}',
                 '{"scores": {"accuracy": 4}, "justification": "\\ud83d"}'):
        response = api.post(f"/api/assignments/{assignment.pk}/submit/", body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert "surrogate" in response.json()["detail"]
        assert "\\ud" not in response.content.decode("utf-8").lower().replace("\\\\u", "")
    token = APIClient(raise_request_exception=False).post(
        "/api/auth/token/", '{"username": "\\ud800", "password": "x"}', content_type="application/json")
    assert token.status_code == 400


def test_ordinary_json_still_parses(project):
    alice = project.memberships.get(user__username="alice").user
    response = APIClient().post("/api/auth/token/", json.dumps({"username": "alice", "password": "pw-for-tests-123"}),
                                content_type="application/json")
    assert response.status_code == 200
    assert api_for(alice).get("/api/users/me/").status_code == 200


HUGE = "99999999999999999999999"


def test_huge_ids_in_urls_are_404(project, admin_user):
    lead = Client(raise_request_exception=False)
    lead.force_login(project.created_by)
    response = lead.post(f"/projects/{project.slug}/members/{HUGE}/pause/")
    assert response.status_code == 404
    api = api_for(admin_user)
    for url in (f"/api/projects/{HUGE}/", f"/api/assignments/{HUGE}/", f"/api/ratings/{HUGE}/",
                f"/api/rubrics/{HUGE}/", f"/api/rubrics/1/versions/{HUGE}/", f"/api/projects/{HUGE}/members/"):
        response = api.get(url)
        assert response.status_code == 404, (url, response.status_code)
    assert api.post(f"/api/assignments/{HUGE}/submit/", {"scores": {}}, format="json").status_code == 404
    for page in (f"/projects/{project.slug}/rate/{HUGE}/submit/", f"/projects/{project.slug}/quality/gold/{HUGE}/remove/"):
        assert lead.post(page).status_code == 404, page

"""Authentication (token and session with CSRF), throttling, and the schema and docs pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.fixtures import GOOD, next_assignment

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"  # tests.fixtures.UserFactory's


def test_token_for_username_and_password_then_token_authenticates(people):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}).json()["token"] == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/users/me/").json()["username"] == "alice"


def test_wrong_password_is_400_and_no_token(people):
    response = APIClient().post("/api/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_deleting_the_token_revokes_it(people, client_for):
    client = client_for(people.alice)
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/users/me/").status_code == 401


def test_without_credentials_is_401_with_a_challenge(people):
    response = APIClient().get("/api/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_session_authentication_requires_csrf_for_writes(people):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people.alice)
    assert client.get("/api/users/me/").status_code == 200
    url = f"/api/projects/{people.project.pk}/next/"
    refused = client.post(url)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/api/docs/?script=")  # anything rendering a CSRF token sets the cookie (here: the docs script)
    token = client.cookies["csrftoken"].value
    assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_token_requests_do_not_need_csrf(people, client_for):
    client = client_for(people.alice)
    client.handler.enforce_csrf_checks = True
    assert client.post(f"/api/projects/{people.project.pk}/next/").status_code == 200


@pytest.fixture
def tight_rates(monkeypatch):
    # ScopedRateThrottle reads its rates once, at import; tests/settings.py raises them for the suite.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min", "submit": "2/min"})


def test_token_endpoint_is_throttled(people, tight_rates):
    client = APIClient()
    codes = [
        client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json").status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    assert "Retry-After" in client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD})


def test_submit_is_throttled_per_user(people, client_for, tight_rates):
    assignment = next_assignment(project=people.project, rater=people.alice)
    alice = client_for(people.alice)
    url = f"/api/assignments/{assignment.pk}/submit/"
    codes = [alice.post(url, {"scores": GOOD}, format="json").status_code for _ in range(3)]
    assert codes == [201, 200, 429]
    other = next_assignment(project=people.project, rater=people.bob)
    assert client_for(people.bob).post(
        f"/api/assignments/{other.pk}/submit/", {"scores": GOOD}, format="json"
    ).status_code == 201


def test_reads_are_not_throttled_by_the_submit_scope(people, client_for, tight_rates):
    alice = client_for(people.alice)
    assert {alice.get("/api/users/me/").status_code for _ in range(5)} == {200}


def test_schema_is_openapi_3_and_public(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/projects/{project_id}/next/" in schema["paths"]
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_docs_page_uses_the_vendored_swagger_ui_and_no_inline_script(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "<script>" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    script = APIClient().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()

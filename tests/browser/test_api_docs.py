"""The API documentation page in a real browser: Swagger UI from the vendored sidecar files renders
the schema offline, under the site's Content Security Policy, and the session works for the API."""

from __future__ import annotations

import pytest

from tests.fixtures import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_without_csp_violations(page, live_server):
    external = []
    page.on("request", lambda request: external.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:") else None)
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 25
    assert "evalplatform API" in page.inner_text(".swagger-ui .info")
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    assert external == []  # nothing from a CDN: it works offline


def test_a_logged_in_browser_calls_the_api_with_its_session(page, login):
    UserFactory(username="alice")
    login("alice", next_url="/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
    status = page.evaluate("fetch('/api/users/me/', {credentials: 'same-origin'}).then(r => r.json())")
    assert status["username"] == "alice"

"""Logging in: works, and stops answering after repeated failures (per address and per username)."""

import pytest
from django.core.cache import cache

from evalplatform.accounts import views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_login_works_and_redirects_home(client, lead):
    response = client.post("/accounts/login/", {"username": "lead", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_repeated_failures_are_throttled_even_with_the_right_password(client, lead):
    for _ in range(views.MAX_FAILURES):
        assert client.post("/accounts/login/", {"username": "lead", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "lead", "password": "pw-for-tests-123"})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert b"Too many attempts" in blocked.content
    assert "_auth_user_id" not in client.session


def test_guessing_many_usernames_from_one_address_is_throttled(client, lead):
    for i in range(views.MAX_FAILURES):
        client.post("/accounts/login/", {"username": f"user{i}", "password": "x"})
    assert client.post("/accounts/login/", {"username": "lead", "password": "pw-for-tests-123"}).status_code == 429


def test_admin_login_goes_through_the_throttled_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"


def test_login_form_needs_csrf(lead):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"username": "lead", "password": "pw-for-tests-123"}).status_code == 403

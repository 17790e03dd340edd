"""The brake on password guessing holds on every way in: the API's token endpoint counts failures
with the login page (per address and per username), and a forged X-Forwarded-For changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from evalplatform.accounts import throttle

pytestmark = pytest.mark.django_db
TOKEN = "/api/auth/token/"


def guess(api: APIClient, username: str, password: str, n: int = 0):
    return api.post(TOKEN, {"username": username, "password": password}, format="json",
                    HTTP_X_FORWARDED_FOR=f"10.0.{n // 250}.{n % 250}", REMOTE_ADDR=f"192.0.2.{n % 250}")


def test_guessing_one_password_over_the_api_is_stopped_whatever_the_address(lead):
    api = APIClient()
    for n in range(throttle.MAX_FAILURES):
        assert guess(api, "lead", f"wrong-{n}", n).status_code == 400
    blocked = guess(api, "lead", "pw-for-tests-123", 99)  # the right password, from yet another address
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "token" not in blocked.json()


def test_failures_on_the_page_count_for_the_api_and_back(lead):
    page = Client()
    for _ in range(throttle.MAX_FAILURES - 1):
        page.post("/accounts/login/", {"username": "lead", "password": "wrong"})
    api = APIClient()
    assert api.post(TOKEN, {"username": "LEAD", "password": "wrong"}, format="json").status_code == 400
    assert api.post(TOKEN, {"username": "lead", "password": "pw-for-tests-123"}, format="json").status_code == 429
    assert page.post("/accounts/login/", {"username": "lead", "password": "pw-for-tests-123"}).status_code == 429


def test_a_success_clears_the_count(lead):
    api = APIClient()
    for n in range(throttle.MAX_FAILURES - 1):
        guess(api, "lead", "wrong", n)
    assert guess(api, "lead", "pw-for-tests-123", 1).status_code == 200
    for n in range(throttle.MAX_FAILURES - 1):
        guess(api, "lead", "wrong", n)
    assert guess(api, "lead", "pw-for-tests-123", 2).status_code == 200

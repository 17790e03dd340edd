"""API tokens end when the password they were obtained with changes (by its owner, an admin's reset,
the ``changepassword`` command or any ``set_password``), and after ``EVAL_TOKEN_MAX_AGE_HOURS``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"
NEW = "a-new-long-passphrase-42"


def token_client(username: str, password: str = PASSWORD) -> APIClient:
    api = APIClient()
    response = api.post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/users/me/").status_code == 200
    return api


def test_changing_ones_own_password_on_the_page_ends_the_token(people):
    api = token_client("alice")
    page = Client()
    page.force_login(people.alice)
    done = page.post("/accounts/password_change/", {"old_password": PASSWORD, "new_password1": NEW,
                                                    "new_password2": NEW})
    assert done.status_code == 302
    assert api.get("/api/users/me/").status_code == 401
    assert token_client("alice", NEW).get("/api/users/me/").json()["username"] == "alice"


def test_an_admin_password_reset_ends_the_users_token(people):
    api = token_client("alice")
    admin = Client()
    admin.force_login(people.admin)
    done = admin.post(f"/admin/accounts/user/{people.alice.pk}/password/",
                      {"password1": NEW, "password2": NEW, "usable_password": "true"})
    assert done.status_code == 302, done.content[:2000]
    assert api.get("/api/users/me/").status_code == 401


def test_set_password_anywhere_ends_the_token_and_an_unusable_password_too(people):
    api = token_client("alice")
    people.alice.set_password(NEW)
    people.alice.save()
    assert api.get("/api/users/me/").status_code == 401
    api = token_client("alice", NEW)
    people.alice.set_unusable_password()
    people.alice.save()
    assert api.get("/api/users/me/").status_code == 401


def test_saving_a_user_without_a_new_password_keeps_the_token(people):
    api = token_client("alice")
    people.alice.email = "alice@elsewhere.example"
    people.alice.save()
    assert api.get("/api/users/me/").status_code == 200


def test_a_password_hash_upgrade_at_login_keeps_the_token(people, settings):
    api = token_client("alice")
    # A hash from an older hasher: logging in re-hashes it (Django's upgrade), which is no password change.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    type(people.alice).objects.filter(pk=people.alice.pk).update(password=make_password(PASSWORD, hasher="md5"))
    assert Client().login(username="alice", password=PASSWORD)
    assert type(people.alice).objects.get(pk=people.alice.pk).password.startswith("pbkdf2_sha256$")
    assert api.get("/api/users/me/").status_code == 200


def test_a_token_expires_after_the_configured_age_and_a_new_one_is_issued(people, settings):
    settings.EVAL_TOKEN_MAX_AGE_HOURS = 24
    api = token_client("alice")
    old = Token.objects.get(user=people.alice)
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=23))
    assert api.get("/api/users/me/").status_code == 200
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=25))
    expired = api.get("/api/users/me/")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    fresh = APIClient().post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert fresh.status_code == 200
    assert fresh.json()["token"] != old.key


def test_asking_for_a_token_after_it_expired_replaces_it(people, settings):
    settings.EVAL_TOKEN_MAX_AGE_HOURS = 1
    first = token_client("alice")
    key = Token.objects.get(user=people.alice).key
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=2))
    response = APIClient().post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.json()["token"] != key
    assert first.get("/api/users/me/").status_code == 401


def test_max_age_zero_means_no_expiry(people, settings):
    settings.EVAL_TOKEN_MAX_AGE_HOURS = 0
    api = token_client("alice")
    Token.objects.filter(user=people.alice).update(created=timezone.now() - timedelta(days=3650))
    assert api.get("/api/users/me/").status_code == 200


def test_the_default_expiry_is_thirty_days():
    from django.conf import settings

    assert settings.EVAL_TOKEN_MAX_AGE_HOURS == 24 * 30

"""Every way to set a password checks it against AUTH_PASSWORD_VALIDATORS, and the demo's published
passwords never reach a production server by accident.

Paths: the API's user creation, the admin's add-user and change-password forms, the user's own
password change and the password reset.  ``load_demo`` (which sets its accounts' passwords directly)
refuses to run with DEBUG=0 unless ``--force``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
WEAK = ["short1", "password", "12345678901", "carolcarol1"]  # too short, common, numeric, like the username
STRONG = "violet-harbour-47-lantern"


@pytest.fixture
def admin_client():
    c = Client()
    c.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return c


@pytest.mark.parametrize("password", WEAK)
def test_the_api_refuses_weak_passwords(password):
    api = APIClient()
    api.force_authenticate(UserFactory(username="root", is_staff=True))
    response = api.post("/api/users/", {"username": "carolcarol", "password": password}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.filter(username="carolcarol").exists()
    assert api.post("/api/users/", {"username": "carolcarol", "password": STRONG}, format="json").status_code == 201


@pytest.mark.parametrize("password", WEAK)
def test_the_admin_refuses_weak_passwords_for_new_users(admin_client, password):
    response = admin_client.post(reverse("admin:accounts_user_add"), {
        "username": "carolcarol", "password1": password, "password2": password, "usable_password": "true"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not User.objects.filter(username="carolcarol").exists()


def test_the_admin_refuses_a_weak_password_change(admin_client):
    carol = UserFactory(username="carol")
    url = reverse("admin:auth_user_password_change", args=[carol.pk])
    response = admin_client.post(url, {"password1": "password", "password2": "password", "usable_password": "true"})
    assert response.status_code == 200
    assert response.context["form"].errors
    carol.refresh_from_db()
    assert carol.check_password("pw-for-tests-123")


def test_a_user_cannot_change_their_own_password_to_a_weak_one():
    carol = UserFactory(username="carol")
    c = Client()
    c.force_login(carol)
    response = c.post(reverse("password_change"), {
        "old_password": "pw-for-tests-123", "new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    assert response.context["form"].errors
    carol.refresh_from_db()
    assert carol.check_password("pw-for-tests-123")


def test_a_password_reset_refuses_a_weak_password():
    carol = UserFactory(username="carol")
    c = Client()
    url = reverse("password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(carol.pk)),
                                                  default_token_generator.make_token(carol)])
    form_url = c.get(url)["Location"]  # Django swaps the token for a session key, then shows the form
    response = c.post(form_url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert response.status_code == 200
    assert response.context["form"].errors
    carol.refresh_from_db()
    assert carol.check_password("pw-for-tests-123")


@override_settings(DEBUG=False)
def test_the_demo_refuses_a_production_server():
    with pytest.raises(CommandError, match="--force"):
        call_command("load_demo")
    assert not User.objects.filter(username__in=["admin", "lead", "alice"]).exists()


@pytest.mark.parametrize(("debug", "options"), [(False, {"force": True}), (True, {})])
def test_the_demo_loads_when_asked_to(monkeypatch, debug, options):
    loaded = []
    command = "evalplatform.demo.management.commands.load_demo"
    monkeypatch.setattr(f"{command}.load_demo", lambda: loaded.append(1) or (type("P", (), {"pk": 0, "name": "d"}), True))
    monkeypatch.setattr(f"{command}.refresh", lambda **kwargs: None)
    with override_settings(DEBUG=debug):
        call_command("load_demo", **options)
    assert loaded == [1]

"""Clients for each role on one project: its lead, its raters, an admin, and a stranger."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.schemafuzz import fuzz_world, wsgi_requests  # noqa: F401  (fixtures)
from tests.fixtures import UserFactory

User = get_user_model()


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # throttle history lives in the cache
    yield
    cache.clear()


@pytest.fixture
def client_for(db):
    """An API client that authenticates as ``user`` with a token (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def people(project, lead, admin_user, make_project):
    """Everyone the role tests need; ``other`` is a second project where ``dave`` rates."""
    other = make_project("other", items=2, raters=("dave",))
    return SimpleNamespace(
        project=project, other=other, lead=lead, admin=admin_user,
        alice=User.objects.get(username="alice"), bob=User.objects.get(username="bob"),
        dave=User.objects.get(username="dave"), stranger=UserFactory(username="stranger"),
    )


@pytest.fixture
def as_(client_for, people):
    """``as_.alice.get(...)``: a client per person of ``people``."""
    return SimpleNamespace(**{
        name: client_for(getattr(people, name))
        for name in ("lead", "admin", "alice", "bob", "dave", "stranger")
    }, anon=client_for(None))

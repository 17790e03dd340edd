"""Fixtures of the security tests: the two-project world, and no automatic report refreshes (the
world computes its reports itself, once)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.security.world import build_world


@pytest.fixture(autouse=True)
def _no_report_refresh(monkeypatch):
    monkeypatch.setattr("evalplatform.reports.services.schedule_refresh", lambda **kwargs: False)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # login and API throttles count in the cache
    yield
    cache.clear()


@pytest.fixture
def world(db):
    return build_world()

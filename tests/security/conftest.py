"""Fixtures of the security tests: the two-project world, and no automatic report refreshes (the
world computes its reports itself, once)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.security.world import build_world


@pytest.fixture(autouse=True)
def _no_report_refresh(no_report_refresh):
    """Every test here is about something other than reports."""


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # login and API throttles count in the cache
    yield
    cache.clear()


@pytest.fixture
def world(db):
    return build_world()

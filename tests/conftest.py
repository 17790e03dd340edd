"""Shared fixtures, and the rule that a test needing an absent service skips, unless CI requires it."""

from __future__ import annotations

import logging
import os
import shutil
import time

import pytest
from django.db import connection

REQUIRE = bool(os.environ.get("EVAL_REQUIRE_SERVICES"))


def missing(reason: str) -> None:
    """Skip for a developer without the service; fail in CI, where EVAL_REQUIRE_SERVICES is set."""
    if REQUIRE:
        pytest.fail(f"{reason} (EVAL_REQUIRE_SERVICES is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture
def no_report_refresh(monkeypatch):
    """Ratings committed in the test do not schedule report refreshes (the test settings would run each
    one synchronously): for tests about something else than reports, where they only cost time."""
    monkeypatch.setattr("evalplatform.reports.services.schedule_refresh", lambda **kwargs: False)


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing("needs PostgreSQL: run with DATABASE_URL=postgres://... (make test-postgres)")
    if request.node.get_closest_marker("browser") and not chromium_path():
        missing("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    if request.node.get_closest_marker("redis") and not redis_url():
        missing("needs Redis: set TEST_REDIS_URL")


@pytest.fixture(scope="session", autouse=True)
def _no_session_outlives_the_tests(request):
    """On PostgreSQL, every thread or process a test started has closed its database connection by the
    end: one left open (six threads of a generation run once were) keeps the test database from being
    dropped, and in production would be a leaked connection.  Checked after every other fixture of the
    session (live servers, workers) is torn down, before the database is."""
    if connection.vendor != "postgresql":
        yield
        return
    configured = connection.settings_dict["NAME"]
    request.getfixturevalue("django_db_setup")  # set up first, so torn down after this check
    blocker = request.getfixturevalue("django_db_blocker")
    yield
    if connection.settings_dict["NAME"] == configured:
        return  # no selected test used the database: none was made, and the configured one is not ours
    query = ("SELECT pid, application_name, state, left(query, 120) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    others: list = []
    with blocker.unblock(), connection.cursor() as cursor:
        for _ in range(50):  # a closed connection's server process can take a moment to leave the list
            cursor.execute(query)
            others = cursor.fetchall()
            if not others:
                break
            time.sleep(0.1)
    assert not others, ("sessions still connected to the test database when the tests ended (a thread or "
                        f"process a test started did not close its connection): {others}")


_WATCHED_LOGGERS = ("", "django", "django.template", "evalplatform", "celery")


@pytest.fixture(autouse=True)
def _logger_levels_put_back():
    """A test that changes a logger's level must put it back: one left at DEBUG once made every later
    test in its worker log thousands of lines, slowing pages past the browser tests' timeouts."""
    before = {name: logging.getLogger(name).level for name in _WATCHED_LOGGERS}
    yield
    after = {name: logging.getLogger(name).level for name in _WATCHED_LOGGERS}
    changed = {name or "root": (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, f"logger levels left changed by this test (before, after): {changed}"


def chromium_path() -> str | None:
    path = os.environ.get("EVAL_CHROMIUM") or "/usr/bin/chromium"
    return path if os.path.exists(path) else shutil.which("chromium")


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        return None
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


pytest_plugins = ["tests.fixtures"]

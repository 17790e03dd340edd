"""Playwright fixtures for browser tests, reusable by any app's tests under ``tests/browser/``.

One Chromium per test session (per xdist worker) and a fresh context per test, driving Debian's
``/usr/bin/chromium`` (``playwright install`` cannot download here).  Each page records its console
messages, uncaught script errors and dialogs, so a test can assert that nothing broke the Content
Security Policy and no script ran that should not have.

Use with pytest-django's ``live_server`` and a transactional database::

    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

    def test_something(page, login, live_server):
        login("alice", next_url="/projects/p/rate/")
        ...
        assert page.watch.csp_violations() == [] and page.watch.errors == []
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.conftest import chromium_path, missing

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pw-for-tests-123"  # what tests.fixtures.UserFactory sets


@dataclass
class PageWatch:
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


class Browser:
    """The session's Chromium, and Playwright's event loop parked between browser tests.

    Playwright's sync API runs an asyncio loop in a greenlet of the test's thread and leaves it
    marked as running between calls.  Django's ORM then refuses to run in that thread
    ("SynchronousOnlyOperation") unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set.  Setting that for the
    whole session would leak into every other test in the worker (and into the subprocesses some of
    them start), so the loop is marked running only inside a browser test (``page`` does this) and
    the variable is set only there.  Playwright itself marks the loop the same way (``asyncio.
    _set_running_loop`` in ``playwright/_impl/_greenlets.py``).
    """

    def __init__(self, path: str):
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.loop = asyncio.get_running_loop()
        self.chromium = self.playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        self.park()

    def unpark(self) -> None:
        asyncio._set_running_loop(self.loop)

    def park(self) -> None:
        asyncio._set_running_loop(None)

    def close(self) -> None:
        self.unpark()
        self.chromium.close()
        self.playwright.stop()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        missing("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    session = Browser(path)
    yield session
    session.close()


@pytest.fixture
def page(browser, live_server, monkeypatch):
    """A new page in a fresh context (no cookies) on the live server, watched."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    browser.unpark()
    context = browser.chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch()
    page.on("console", lambda message: watch.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: watch.errors.append(str(error)))

    def on_dialog(dialog):
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.watch = watch
    yield page
    context.close()
    browser.park()


@pytest.fixture
def login(page):
    """Log in with the keyboard alone (the username field has autofocus), then land on ``next_url``."""

    def log_in(username: str, password: str = PASSWORD, next_url: str = "/") -> None:
        page.goto(f"/accounts/login/?next={quote(next_url)}")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'id_username'")
        page.keyboard.type(username)
        page.keyboard.press("Tab")
        page.keyboard.type(password)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/accounts/login/" not in page.url, f"login as {username} failed"

    return log_in


@pytest.fixture
def open_rating_page(page, login):
    """Log in as ``username`` and open the scoring page of ``project``, its form shown."""

    def open_page(project, username: str = "alice") -> None:
        login(username, next_url=reverse("rate", args=[project.slug]))
        page.wait_for_selector("#rating-form")

    return open_page

"""Fixtures shared with other suites: API clients per user, and the Playwright browser and page."""

from tests.api.conftest import client_for  # noqa: F401
from tests.browser.conftest import browser, login, page  # noqa: F401

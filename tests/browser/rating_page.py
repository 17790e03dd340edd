"""Helpers for browser tests of the scoring page (``tests/browser/test_rating*.py``, ``test_rate_previous.py``).

The log-in-and-open step is the ``open_rating_page`` fixture in ``conftest.py``.
"""

from __future__ import annotations


def current_assignment(page) -> str:
    """The id of the assignment the scoring page shows ("" when it shows none)."""
    return page.get_attribute("#rate-task", "data-assignment") or ""


def wait_for_next(page, previous: str) -> None:
    """Wait until the page shows another item (or the empty queue) than ``previous``."""
    page.wait_for_function(
        "prev => { const t = document.getElementById('rate-task'); return t && t.dataset.assignment !== prev; }",
        arg=previous,
    )

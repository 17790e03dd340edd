"""The new-project form in a real browser: the slug follows the name until the lead writes their own."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_slug_follows_the_name_until_typed_by_hand(page, login, make_project):
    make_project()  # leading a project lets the lead start another
    login("lead", next_url="/projects/new/")
    page.fill("#id_name", "Support tickets: Round 2")
    assert page.input_value("#id_slug") == "support-tickets-round-2"
    page.fill("#id_slug", "round-two")
    page.fill("#id_name", "Something else")
    assert page.input_value("#id_slug") == "round-two"
    page.locator("details.items-format summary").click()
    assert page.is_visible("details.items-format pre")
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []

"""Going back with the keyboard: u opens the last item rated in this session with its answers, a digit
changes one, Enter revises it and the page returns to the item the rater holds."""

from __future__ import annotations

import pytest

from evalplatform.ratings.models import Rating, RatingRevision
from tests.browser.rating_page import current_assignment, wait_for_next

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]


def test_u_goes_back_and_enter_revises(page, open_rating_page, make_project):
    project = make_project(items=3, overlap=1, raters=("alice",))
    open_rating_page(project)
    first = current_assignment(page)
    page.keyboard.type("43y")
    page.keyboard.press("Enter")
    wait_for_next(page, first)
    second = current_assignment(page)

    with page.expect_navigation():
        page.keyboard.press("u")  # previous: the item just rated, its answers filled in
    page.wait_for_selector("#rating-form[data-revising]")
    assert "Revising your rating" in page.inner_text("#rate-task")
    assert current_assignment(page) == first
    assert page.is_checked('input[name="score-accuracy"][value="4"]')
    assert page.is_checked('input[name="score-helpfulness"][value="3"]')
    page.keyboard.type("2")  # accuracy 4 -> 2
    page.keyboard.press("Enter")
    wait_for_next(page, first)
    assert current_assignment(page) == second  # back to the item the rater holds
    assert "revised" in page.inner_text("#rate-status").lower()

    rating = Rating.objects.get(assignment_id=int(first))
    assert rating.scores.get(dimension__key="accuracy").value == 2
    history = RatingRevision.objects.get(rating=rating)
    assert (history.old["scores"]["accuracy"], history.new["scores"]["accuracy"]) == (4, 2)
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []

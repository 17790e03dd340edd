"""A new rater's onboarding in a real browser: the training item, the feedback after each submit (their
answer, the expected one and why, with the lead's Markdown rendered safely), the verdict, then the
scoring page with a real item."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingAttempt
from evalplatform.training.services import update_policy
from tests.training.conftest import TRAINING, jsonl

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]


def answer(page, scores: dict[str, int]) -> None:
    for key, value in scores.items():
        page.check(f'#training-form input[name="score-{key}"][value="{value}"]')
    with page.expect_navigation():
        page.click('#training-form button[type="submit"]')


def test_a_rater_trains_with_feedback_passes_and_reaches_a_real_item(page, login, make_project):
    project = make_project("onboard", items=2, raters=("alice",))
    evil = {**TRAINING[0], "explanation": {**TRAINING[0]["explanation"],
                                           "helpfulness": "<img src=x onerror=\"window.__xss=1\"> *fine*"}}
    import_training_items(project=project, stream=jsonl([evil, TRAINING[1]]), fmt="jsonl")
    update_policy(project=project, training_required=True, pass_mark=0.8, tolerance=1, max_attempts=2)

    login("alice", next_url=reverse("rate", args=[project.slug]))
    assert page.url.endswith(reverse("training", args=[project.slug]))  # sent to training first
    with page.expect_navigation():
        page.click("text=Start training")
    assert "Reset my password" in page.inner_text("[data-training-item]")
    assert "exactly" not in page.content()  # no explanation before answering

    # Item 1: accuracy 3 (expected 5, off by 2): a difference, explained.
    answer(page, {"accuracy": 3, "helpfulness": 4, "harmless": 1})
    row = page.locator('#training-feedback tr[data-key="accuracy"]')
    assert "differs" in row.inner_text()
    assert "5 (Fully right)" in row.inner_text()
    assert row.locator("strong").inner_text() == "exactly"
    assert "matches" in page.locator('tr[data-key="helpfulness"]').inner_text()
    assert page.locator('tr[data-key="helpfulness"] em').inner_text() == "fine"
    with page.expect_navigation():
        page.click("[data-next]")

    # Item 2: all right; 5 of 6 within tolerance passes the 0.8 mark.
    answer(page, {"accuracy": 3, "helpfulness": 1, "harmless": 1})
    assert "A bare refusal helps nobody." in page.inner_text("#training-feedback")
    assert page.get_attribute("[data-training-verdict]", "data-training-verdict") == "passed"
    with page.expect_navigation():
        page.click("text=Start rating")
    page.wait_for_selector("#rating-form")
    assert page.get_attribute(".rate-where", "data-item") == "t-0001"
    assert TrainingAttempt.objects.get().passed is True

    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    assert page.watch.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"

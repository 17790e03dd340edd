"""An external worker (Prolific style) in a real browser: the study link with the worker's id, the
project's training (a failed attempt, then a pass), the scoring page, the quota met, the completion
code, and the redirect to the platform's completion URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from evalplatform.enrolment.models import ExternalWorker
from evalplatform.enrolment.workforce import create_entry_link, entry_path
from evalplatform.ratings.models import Rating
from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingAttempt
from evalplatform.training.services import update_policy
from tests.training.conftest import RIGHT, TRAINING, jsonl

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
PID = "5f3a1b2c3d4e5f6a7b8c9d0e"
WRONG = [{"accuracy": 1, "helpfulness": 1, "harmless": 0}, {"accuracy": 5, "helpfulness": 5, "harmless": 0}]


def current_assignment(page) -> str:
    return page.get_attribute("#rate-task", "data-assignment") or ""


def answer(page, scores: dict[str, int]) -> None:
    for key, value in scores.items():
        page.check(f'#training-form input[name="score-{key}"][value="{value}"]')
    with page.expect_navigation():
        page.click('#training-form button[type="submit"]')


def train(page, answers) -> str:
    """One training attempt from its start button; returns the verdict."""
    with page.expect_navigation():
        page.click("form[action$='/training/start/'] button")
    for i, scores in enumerate(answers):
        answer(page, scores)
        if i < len(answers) - 1:
            with page.expect_navigation():
                page.click("[data-next]")
    return page.get_attribute("[data-training-verdict]", "data-training-verdict") or ""


def test_a_worker_trains_rates_up_to_the_quota_and_is_sent_back_with_the_code(page, live_server, make_project, lead):
    project = make_project("study", items=4, overlap=1)
    import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    update_policy(project=project, training_required=True, pass_mark=0.8, tolerance=0, max_attempts=2)
    # The "platform" here is the live server's health page, so the redirect can be followed to its end.
    link = create_entry_link(project=project, created_by=lead, quota=2, completion_code="BROWSER42",
                             completion_url=f"{live_server.url}/health/?cc={{code}}")
    page.goto(f"{entry_path(link)}?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x9")
    assert page.url.endswith(f"/projects/{project.slug}/training/")  # onboarding first

    assert train(page, WRONG) == "failed"  # one attempt left: try again
    with page.expect_navigation():
        page.click("text=Continue")
    assert train(page, RIGHT) == "passed"
    with page.expect_navigation():
        page.click("text=Start rating")
    page.wait_for_selector("#rating-form")

    first = current_assignment(page)
    page.keyboard.type("43y")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "prev => { const t = document.getElementById('rate-task'); return t && t.dataset.assignment !== prev; }",
        arg=first,
    )
    page.keyboard.type("52n")
    page.keyboard.press("Enter")  # the quota is met: the page's script follows the server to the code
    page.wait_for_url(re.compile(r".*/enter/complete/$"))
    assert page.inner_text("#completion-code") == "BROWSER42"
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    page.wait_for_url(re.compile(r".*/health/\?cc=BROWSER42$"), timeout=10_000)  # the page's 5 s refresh

    worker = ExternalWorker.objects.get()
    assert worker.worker_id == PID
    assert worker.completed_at is not None
    assert Rating.objects.filter(rater=worker.user).count() == 2
    assert [a.passed for a in TrainingAttempt.objects.filter(rater=worker.user).order_by("id")] == [False, True]


def test_a_workers_pages_fit_a_phone(page, live_server, make_project, lead):
    """Crowd workers often arrive on a phone: the pages of their way through (training, its verdict,
    scoring, the completion code) fit 390 px with tap targets of 44 px, as every other role's do."""
    from tests.browser.test_phone_and_desktop import PHONE, check_fits

    project = make_project("phone", items=4, overlap=1)
    import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    update_policy(project=project, training_required=True, pass_mark=0.8, tolerance=0, max_attempts=2)
    link = create_entry_link(project=project, created_by=lead, quota=1, completion_code="PHONE390",
                             completion_url=f"{live_server.url}/health/?cc={{code}}")
    page.set_viewport_size(PHONE)
    page.goto(f"{entry_path(link)}?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x9")
    training = f"/projects/{project.slug}/training/"
    assert page.url.endswith(training)
    problems = check_fits(page, training)
    assert train(page, RIGHT) == "passed"
    problems += check_fits(page, urlsplit(page.url).path)  # the verdict, with the way on to rating
    problems += check_fits(page, f"/projects/{project.slug}/rate/")
    page.wait_for_selector("#rating-form")
    page.keyboard.type("43y")
    page.keyboard.press("Enter")  # the quota is met: on to the code
    page.wait_for_url(re.compile(r".*/enter/complete/$"))
    problems += check_fits(page, "/enter/complete/")
    assert page.inner_text("#completion-code") == "PHONE390"
    assert not problems, "\n".join(problems)
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []

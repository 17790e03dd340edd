"""The rater keeps their bearings and their answers: which response of which item is on screen, whether
the prompt changed, the prompt in view on a phone with the submit bar at hand, and a submit after the
session ended that says so and keeps every answer until the rater has logged in again."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.ratings.models import Rating
from tests.browser.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]

WHERE = re.compile(r"^Response (\d) of 3 for (t-\d{4})")


def held(project) -> Assignment:
    return Assignment.objects.select_related("task__item").get(project=project, status=Assignment.Status.ACTIVE)


def test_the_page_says_which_response_of_which_item_and_when_the_prompt_changes(page, login, make_project):
    project = make_project(items=2, models=("m1", "m2", "m3"), overlap=1, raters=("alice",))
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    seen = []
    for _ in range(4):
        assignment = held(project)
        where = page.inner_text(".rate-where").strip()
        match = WHERE.match(where)
        assert match, where
        assert match.group(2) == assignment.task.item.external_id
        position = list(assignment.task.item.responses.order_by("position", "id")).index(assignment.task.response_a) + 1
        assert int(match.group(1)) == position
        if seen:
            same = seen[-1] == assignment.task.item.external_id
            assert ("same prompt as before" if same else "new prompt") in where
            status = page.inner_text("#rate-status")
            assert status.startswith("Rating saved.")
            assert ("Next: " if same else "New prompt: ") in status
            assert page.locator(".rate-task.is-new-prompt").count() == (0 if same else 1)
        seen.append(assignment.task.item.external_id)
        page.keyboard.type("43y")
        page.keyboard.press("Enter")
        page.wait_for_function("prev => document.getElementById('rate-task').dataset.assignment !== prev",
                               arg=str(assignment.pk))
    assert len(set(seen)) == 2  # both prompts came up, so both notes were checked
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []


def test_on_a_phone_the_prompt_stays_in_view_and_submit_stays_at_hand(page, login, make_project):
    project = make_project(items=1, overlap=1, raters=("alice",))
    page.set_viewport_size({"width": 390, "height": 844})
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    page.wait_for_timeout(200)
    assert page.evaluate("window.scrollY") == 0
    prompt = page.locator(".rate-prompt").bounding_box()
    assert prompt["y"] >= 0
    assert prompt["y"] < 844
    # The first question has the keyboard focus all the same.
    assert page.evaluate("document.activeElement.name") == "score-accuracy"
    # Once the questions are reached, the submit bar stays on screen while scrolling through them.
    page.locator("fieldset.dim").first.scroll_into_view_if_needed()
    bar = page.locator(".rate-actions").bounding_box()
    assert bar["y"] + bar["height"] <= 844 + 1
    assert page.locator(".rate-actions button.primary").bounding_box()["height"] >= 44


@pytest.mark.parametrize("lost", ["sessionid", "all cookies"])
def test_a_submit_after_the_session_ended_says_so_and_keeps_the_answers(page, login, make_project, lost):
    project = make_project(items=2, overlap=1, raters=("alice",))
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    first = held(project)
    page.keyboard.type("43y")
    if lost == "sessionid":
        page.context.clear_cookies(name="sessionid")  # the session expired on the server's side
    else:
        page.context.clear_cookies()  # the browser dropped everything: the CSRF check refuses (403)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('rate-status').textContent.includes('logged out')")
    status = page.inner_text("#rate-status")
    assert "You have been logged out" in status
    assert "log in again" in status
    assert "403" not in status
    assert page.locator("#rate-status a", has_text="log in again").get_attribute("href").startswith("/accounts/login/")
    checked = page.evaluate("() => [...document.querySelectorAll('input[type=radio]:checked')].map(r => r.name + '=' + r.value)")
    assert sorted(checked) == ["score-accuracy=4", "score-harmless=1", "score-helpfulness=3"]
    assert not Rating.objects.exists()

    # The rater logs in again in another tab (a new session, a new CSRF token), comes back and submits.
    other = page.context.new_page()
    other.goto(f"/accounts/login/?next={reverse('home')}")
    other.fill("#id_username", "alice")
    other.fill("#id_password", PASSWORD)
    with other.expect_navigation():
        other.get_by_role("button", name="Log in").click()
    other.close()
    page.keyboard.press("Enter")
    page.wait_for_function("prev => document.getElementById('rate-task').dataset.assignment !== prev",
                           arg=str(first.pk))
    rating = Rating.objects.get()
    assert rating.assignment_id == first.pk
    assert {s.dimension.key: s.value for s in rating.scores.all()} == {"accuracy": 4, "helpfulness": 3, "harmless": 1}
    assert "Rating saved." in page.inner_text("#rate-status")

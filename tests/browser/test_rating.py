"""The scoring page in a real browser: a keyboard-only session, a pairwise vote, hostile text that
must stay text, and a Content Security Policy the page's own scripts never break."""

from __future__ import annotations

import io
import json

import pytest

from evalplatform.assignments.models import Assignment
from evalplatform.projects.services import import_items
from evalplatform.ratings.models import Rating
from tests.browser.rating_page import current_assignment, wait_for_next
from tests.fixtures import next_assignment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
EVIL = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> [link](javascript:window.__xss=1)'


def assert_page_clean(page) -> None:
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    assert page.watch.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"


def rating_values(rating: Rating) -> dict:
    return {s.dimension.key: s.value if s.value is not None else s.text for s in rating.scores.all()}


def test_a_rater_scores_three_items_with_the_keyboard_alone(page, open_rating_page, make_project):
    project = make_project(items=3, overlap=1, raters=("alice",))
    open_rating_page(project)

    # Item 1: digits answer a question each and move on; y is "yes"; Enter submits.
    first = current_assignment(page)
    page.keyboard.type("43y")
    page.keyboard.press("Enter")
    wait_for_next(page, first)

    # Item 2: Enter with questions unanswered is refused on the page, nothing is sent.
    second = current_assignment(page)
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    assert "required" in page.inner_text("#rate-status").lower()
    assert page.locator("fieldset.has-error").count() == 2
    assert current_assignment(page) == second
    # Arrows move between questions, digits answer, n is "no", Tab reaches the text box.
    page.keyboard.press("ArrowUp")  # back from helpfulness (where the error put us) to accuracy...
    page.keyboard.press("ArrowUp")
    page.keyboard.type("2")  # ...accuracy 5 -> 2, and on to helpfulness
    page.keyboard.type("1n")
    page.keyboard.type("2")  # topic: the second option ("tech")
    page.keyboard.press("Tab")
    page.keyboard.type("short and 123")  # digits type into a text box
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    wait_for_next(page, second)

    # Item 3: the shortcuts overlay opens with ? and closes with Escape; then a quick rating.
    third = current_assignment(page)
    page.keyboard.press("?")
    assert page.is_visible("#shortcuts")
    page.keyboard.press("Escape")
    assert not page.is_visible("#shortcuts")
    page.keyboard.type("111")
    page.keyboard.press("Control+Enter")  # also submits, from anywhere
    page.wait_for_selector("[data-empty]")
    assert "Nothing left to rate" in page.inner_text("#rate-task")
    assert "3 rated in this project" in " ".join(page.inner_text(".rate-progress").split())

    ratings = {str(r.assignment_id): r for r in Rating.objects.filter(project=project).prefetch_related("scores__dimension")}
    assert set(ratings) == {first, second, third}
    assert rating_values(ratings[first]) == {"accuracy": 4, "helpfulness": 3, "harmless": 1}
    assert rating_values(ratings[second]) == {
        "accuracy": 2, "helpfulness": 1, "harmless": 0, "topic": 1, "why": "short and 123"
    }
    assert rating_values(ratings[third]) == {"accuracy": 1, "helpfulness": 1, "harmless": 1}
    assert all(r.duration_ms is not None and r.duration_ms > 0 for r in ratings.values())
    assert_page_clean(page)


def test_skipping_with_s_and_a_typed_reason(page, open_rating_page, make_project):
    project = make_project(items=3, overlap=1, raters=("alice",))
    open_rating_page(project)
    first = current_assignment(page)
    page.keyboard.press("s")
    wait_for_next(page, first)
    second = current_assignment(page)
    page.focus("input[name=skip_reason]")
    page.keyboard.type("not my language")
    page.keyboard.press("Enter")  # Enter in the reason box skips, it does not submit
    wait_for_next(page, second)
    skipped = {str(a.pk): a.skip_reason for a in Assignment.objects.filter(status=Assignment.Status.SKIPPED)}
    assert skipped == {first: "", second: "not my language"}
    assert not Rating.objects.exists()
    assert_page_clean(page)


def test_a_pairwise_item_is_voted_with_the_keyboard(page, open_rating_page, make_project, pairwise_version):
    project = make_project("duel", kind="pairwise", version=pairwise_version, items=2, models=("m1", "m2"),
                           overlap=1, raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    held = next_assignment(project=project, rater=alice)
    Assignment.objects.filter(pk=held.pk).update(swapped=True)  # response_b is shown on the left as "A"
    open_rating_page(project)
    task = held.task
    assert page.inner_text('[data-side="A"] .rate-response-body').strip() == task.response_b.text
    assert page.inner_text('[data-side="B"] .rate-response-body').strip() == task.response_a.text
    page.keyboard.press("1")  # "A is much better", as the rater saw it
    page.keyboard.press("Enter")
    wait_for_next(page, str(held.pk))
    nxt = Assignment.objects.get(project=project, status=Assignment.Status.ACTIVE)
    page.keyboard.press("5")  # "B is much better"
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-empty]")
    stored = {r.assignment_id: r.scores.get().value for r in Rating.objects.filter(project=project)}
    assert stored[held.pk] == 2  # "A" was response_b: stored in the task's orientation
    assert stored[nxt.pk] == (-2 if nxt.swapped else 2)
    assert_page_clean(page)


def test_hostile_text_shows_as_text_and_runs_nothing(page, open_rating_page, make_project):
    project = make_project("xss", overlap=1, raters=("alice",))
    lines = [
        {"id": "a-plain", "prompt": "Plain", "responses": [{"model": "m", "text": "fine"}]},
        {"id": "b-evil", "prompt": EVIL, "reference": EVIL, "responses": [{"model": "m", "text": EVIL}]},
    ]
    import_items(project=project, stream=io.BytesIO("\n".join(map(json.dumps, lines)).encode()), fmt="jsonl")
    open_rating_page(project)
    first = current_assignment(page)
    page.keyboard.type("43y")
    page.keyboard.press("Enter")  # the hostile item arrives through the script's fragment swap
    wait_for_next(page, first)
    page.keyboard.press("r")  # open the reference answer
    assert page.is_visible(".rate-reference .markdown")
    body = page.locator(".rate-response-body")
    assert "<script>window.__xss=1</script>" in body.inner_text()
    assert "[link](javascript:window.__xss=1)" in body.inner_text()
    assert page.locator(".rate-task img, .rate-task script").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    # A full page load of the same item takes the server-rendered path.
    page.reload()
    page.wait_for_selector("#rating-form")
    assert "<script>window.__xss=1</script>" in page.inner_text(".rate-prompt")
    page.keyboard.press("r")
    page.keyboard.type("43y")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-empty]")
    assert Rating.objects.count() == 2
    assert_page_clean(page)


def test_the_csp_watch_would_see_a_violation(page, open_rating_page, make_project):
    """The page's own scripts cause no CSP reports (checked above); this shows the check can fail."""
    project = make_project(items=1, raters=("alice",))
    open_rating_page(project)
    assert page.watch.csp_violations() == []
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__xss = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(100)
    assert page.watch.csp_violations()
    assert page.evaluate("typeof window.__xss") == "undefined"

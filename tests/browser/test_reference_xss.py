"""A hostile reference answer on the scoring page of a real browser: shown as text, never run, whether
the rater opens it with the mouse or the keyboard, on a full page load or after the script's swap."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse

from evalplatform.projects.services import import_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
PAYLOADS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "[x](javascript:window.__xss=1)",
)
REFERENCE = "Ideal answer, **bold**.\n\n" + "\n\n".join(PAYLOADS)



def add_items(project, *records):
    import_items(project=project, stream=io.BytesIO("\n".join(map(json.dumps, records)).encode()), fmt="jsonl")


def item(external_id, reference=REFERENCE):
    return {"id": external_id, "prompt": f"Prompt of {external_id}", "reference": reference,
            "responses": [{"model": "m", "text": "A plain response."}]}


def assert_nothing_ran(page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.watch.errors == []
    assert page.watch.dialogs == []
    assert page.watch.csp_violations() == []
    assert page.locator(".rate-reference img, .rate-reference script, a[href^='javascript']").count() == 0


def assert_shown_as_text(page) -> None:
    panel = page.locator(".rate-reference .markdown")
    assert panel.is_visible()
    text = panel.inner_text()
    for payload in PAYLOADS:
        assert payload in text
    assert panel.locator("strong").inner_text() == "bold"  # Markdown still renders


def test_a_hostile_reference_stays_text(page, login, make_project):
    project = make_project("refxss", overlap=1, raters=("alice",))
    add_items(project, item("a-evil"), item("b-evil"))
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    assert not page.locator(".rate-reference .markdown").is_visible()  # collapsed at first
    page.click(".rate-reference summary")  # full page load, opened with the mouse
    assert_shown_as_text(page)
    assert_nothing_ran(page)

    first = page.get_attribute("#rate-task", "data-assignment")
    page.keyboard.type("43y")  # accuracy, helpfulness, harmless
    page.keyboard.press("Enter")  # the next hostile item arrives through the script's fragment swap
    page.wait_for_function(
        "prev => document.getElementById('rate-task').dataset.assignment !== prev", arg=first
    )
    page.keyboard.press("r")  # opened with the keyboard
    assert_shown_as_text(page)
    page.wait_for_timeout(200)  # give any stray handler (img onerror) its chance
    assert_nothing_ran(page)


def test_a_hidden_reference_never_reaches_the_page(page, login, make_project):
    project = make_project("refhidden", overlap=1, raters=("alice",), show_reference=False)
    add_items(project, item("c-evil"))
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    assert page.locator(".rate-reference").count() == 0
    assert "window.__xss" not in page.content()
    assert_nothing_ran(page)

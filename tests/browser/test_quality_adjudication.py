"""A lead adjudicates a disagreed item in a real browser: from the queue to the final scores, with
raters' hostile justifications staying text and the page's script within the Content Security Policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.projects.models import Task
from evalplatform.quality.models import Adjudication
from evalplatform.quality.services import compute_quality
from tests.quality.conftest import member, rate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]
EVIL = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> [link](javascript:window.__xss=1)'



def test_a_lead_adjudicates_a_split_item(page, login, make_project):
    project = make_project(items=2, overlap=3, raters=("alice", "bob", "carol"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for name, split, agreed in (("alice", 1, 4), ("bob", 3, 4), ("carol", 5, 4)):
        rate(tasks[0], member(project, name), {"accuracy": split, "helpfulness": 2, "harmless": 1},
             justification=f"**{name}** thinks {split}. {EVIL}")
        rate(tasks[1], member(project, name), {"accuracy": agreed, "helpfulness": 2, "harmless": 1})
    compute_quality(project=project)

    login("lead", next_url=reverse("quality-adjudication", args=[project.slug]))
    queue = page.locator("#adjudication-queue tbody tr")
    assert queue.count() == 1
    assert "t-0001" in queue.first.inner_text()
    # Wait for the whole load: the page's deferred script must have bound the buttons before a click.
    with page.expect_navigation():
        queue.first.get_by_role("link", name="Adjudicate").click()
    page.wait_for_selector("#adjudication-form")
    assert page.locator("#task-ratings strong", has_text="bob").count() == 1  # Markdown rendered

    # A click on bob's accuracy puts his value in the form (the page's script), then the rest by hand.
    page.locator('#task-ratings tr[data-rater="bob"] button.use-value[data-field="score-accuracy"]').click()
    assert page.locator('select[name="score-accuracy"]').input_value() == "3"
    page.select_option('select[name="score-helpfulness"]', "2")
    page.select_option('select[name="score-harmless"]', "1")
    page.fill('textarea[name="note"]', "Bob's middle reading matches the guidelines.")
    with page.expect_navigation():
        page.get_by_role("button", name="Record final scores").click()

    assert "Adjudicated t-0001" in page.locator(".messages").inner_text()
    assert "t-0001" in page.locator("#adjudicated").inner_text()
    assert page.locator("#adjudication-queue").count() == 0
    adj = Adjudication.objects.get(task=tasks[0])
    assert {s.dimension.key: s.value for s in adj.scores.all()} == {"accuracy": 3, "helpfulness": 2, "harmless": 1}
    assert adj.note.startswith("Bob's middle reading")
    assert adj.decided_by.username == "lead"
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    assert page.watch.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_final_scores_start_at_the_consensus_and_can_be_recorded_as_they_are(page, login, make_project):
    project = make_project(items=1, overlap=3, raters=("alice", "bob", "carol"))
    task = Task.objects.get(project=project)
    for name, accuracy in (("alice", 2), ("bob", 4), ("carol", 4)):
        rate(task, member(project, name), {"accuracy": accuracy, "helpfulness": 3, "harmless": 1})
    compute_quality(project=project)  # the project's rule is the median: accuracy 4, helpfulness 3, harmless 1

    login("lead", next_url=reverse("quality-adjudicate", args=[project.slug, task.pk]))
    page.wait_for_selector("#adjudication-form")
    shown = {name: page.locator(f'select[name="score-{name}"]').input_value()
             for name in ("accuracy", "helpfulness", "harmless")}
    assert shown == {"accuracy": "4", "helpfulness": "3", "harmless": "1"}
    assert page.is_visible("#prefilled")
    # The item id leads to every rater's scores side by side.
    assert page.locator("h1 a").get_attribute("href") == reverse("report-item", args=[project.slug, "t-0001"])
    with page.expect_navigation():
        page.get_by_role("button", name="Record final scores").click()
    adj = Adjudication.objects.get(task=task)
    assert {s.dimension.key: s.value for s in adj.scores.all()} == {"accuracy": 4, "helpfulness": 3, "harmless": 1}
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []

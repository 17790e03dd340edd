"""Model comparison in a real browser: a rater votes on pairs with the keyboard alone (the stored
values in the task's orientation whichever side each response was shown on), and the lead's report
draws the leaderboard and position-bias charts without breaking the Content Security Policy."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from evalplatform.reports import services as reports
from rubrics.services import import_rubric
from tests.comparisons.test_per_response import DUEL_RUBRIC
from tests.fixtures import next_assignment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]



def assert_page_clean(page) -> None:
    assert page.watch.csp_violations() == [], page.watch.console
    assert page.watch.errors == []
    assert page.watch.dialogs == []


def stored(rating):
    return {(s.dimension.key, s.response.model if s.response else None): s.value
            for s in rating.scores.select_related("dimension", "response")}


def test_a_rater_votes_on_pairs_with_the_keyboard_whatever_the_sides(page, login, make_project):
    version, _ = import_rubric(data=DUEL_RUBRIC)
    project = make_project("duel", kind="pairwise", version=version, items=2, models=("m1", "m2"), overlap=1,
                           raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    first = next_assignment(project=project, rater=alice)
    Assignment.objects.filter(pk=first.pk).update(swapped=True)  # response_b is on the left, as "A"
    login("alice", next_url=reverse("rate", args=[project.slug]))
    page.wait_for_selector("#rating-form")
    assert page.get_attribute("#rate-task", "data-assignment") == str(first.pk)
    labels = [" ".join(t.split()) for t in page.locator("fieldset.dim legend").all_inner_texts()]
    assert labels[:3] == ["Preference *", "Accuracy: response A *", "Accuracy: response B *"]
    task = first.task
    assert page.inner_text('[data-side="A"] .rate-response-body').strip() == task.response_b.text

    page.keyboard.type("2")  # preference: "A is better" (the second choice), then on to accuracy of A
    page.keyboard.type("5")  # accuracy of A (the left one: response_b)
    page.keyboard.type("1")  # accuracy of B
    page.keyboard.press("Enter")
    page.wait_for_function("prev => document.getElementById('rate-task').dataset.assignment !== prev",
                           arg=str(first.pk))

    second = Assignment.objects.get(project=project, status=Assignment.Status.ACTIVE)
    Assignment.objects.filter(pk=second.pk).update(swapped=False)
    page.reload()  # the page shows the assignment as it now is
    page.wait_for_selector("#rating-form")
    assert page.inner_text('[data-side="A"] .rate-response-body').strip() == second.task.response_a.text
    page.keyboard.type("5")  # "B is much better"
    page.keyboard.type("2")
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-empty]")

    ratings = {r.assignment_id: r for r in Rating.objects.filter(project=project)}
    # First pair: the rater saw response_b as "A" and preferred it: stored positive (response_b better).
    assert stored(ratings[first.pk]) == {("preference", None): 1, ("accuracy", "m2"): 5, ("accuracy", "m1"): 1}
    # Second pair, unswapped: "B is much better" is response_b, +2.
    assert stored(ratings[second.pk]) == {("preference", None): 2, ("accuracy", "m1"): 2, ("accuracy", "m2"): 4}
    assert_page_clean(page)


def test_the_report_draws_the_leaderboard_and_position_bias(page, login, make_project, pairwise_version):
    project = make_project("arena", kind="pairwise", version=pairwise_version, items=8, models=("m1", "m2", "m3"),
                           overlap=2, raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    while (held := next_assignment(project=project, rater=alice)) is not None:
        from evalplatform.ratings.services import submit_rating

        task = held.task
        order = sorted([task.response_a.model, task.response_b.model])
        better_is_a = task.response_a.model == order[0]
        value = -2 if better_is_a else 2  # the lower-numbered model wins, in the task's orientation
        submit_rating(assignment=held, scores={"preference": -value if held.swapped else value})
    rows = [
        {"item_id": ext, "model_a": a, "model_b": b, "rater": "erin", "dimension": "preference", "value": 0}
        for ext, a, b in project.tasks.values_list("item__external_id", "response_a__model", "response_b__model")
    ]
    import_ratings(project=project, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl", create_raters=True)
    report = reports.compute(report_id=reports.request_report(project=project, bootstrap=200).pk)
    assert report.status == "done", report.error

    login("lead", next_url=reverse("report", args=[project.slug]))
    page.wait_for_selector("#leaderboard canvas[data-drawn]")
    page.wait_for_selector("#position_bias canvas[data-drawn]")
    leaders = page.locator("#leaderboard table.report-leaderboard tbody tr td:nth-child(2)").all_inner_texts()
    assert leaders == ["m1", "m2", "m3"]
    for selector in ("#leaderboard canvas", "#position_bias canvas"):
        painted = page.evaluate(
            """sel => { const c = document.querySelector(sel); const ctx = c.getContext('2d');
                 const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;
                 for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return [n, !!window.Chart.getChart(c)]; }""",
            selector,
        )
        assert painted[0] > 500, selector
        assert painted[1], selector
    # m1 beat the others in alice's 8 votes and tied in erin's 8: 0.75 a cell; m3 the mirror image.
    assert page.locator("#win_rates table.report-win-rates tbody tr:first-child td.heat-4").count() == 2
    assert page.locator("#win_rates table.report-win-rates tbody tr:last-child td.heat-1").count() == 2
    assert "alice" in page.inner_text("#position_bias table")
    assert_page_clean(page)

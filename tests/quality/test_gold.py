"""Gold expectations: what a lead may set, each rater's accuracy, the dashboard alert, pausing, and
gold ratings kept out of agreement figures unless a report asks for them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.projects.models import Membership, Task
from evalplatform.quality.selectors import gold_accuracy, gold_alerts
from evalplatform.quality.services import QualityError, set_gold, update_quality_settings
from evalplatform.reports import services as reports
from tests.quality.conftest import client_for, member, rate

pytestmark = pytest.mark.django_db



def tasks(project) -> list[Task]:
    return list(Task.objects.filter(project=project).order_by("id"))


@pytest.mark.parametrize(
    ("expectations", "field", "message"),
    [
        ({}, "expectations", "at least one"),
        ({"nope": 3}, "nope", "not a scored question"),
        ({"why": "text"}, "why", "not a scored question"),
        ({"accuracy": 9}, "accuracy", "off the scale"),
        ({"harmless": {"value": 1, "tolerance": 1}}, "harmless", "ordered scale"),
        ({"accuracy": {"value": 3, "tolerance": -1}}, "accuracy", "whole number"),
        # one past the column (a PositiveSmallIntegerField): was a 500 on PostgreSQL
        ({"accuracy": {"value": 3, "tolerance": 32768}}, "accuracy", "from 0 to 32767"),
        ({"accuracy": {"value": 3, "tolerance": 2**63}}, "accuracy", "from 0 to 32767"),
    ],
)
def test_gold_expectations_are_checked_against_the_rubric(project, expectations, field, message):
    with pytest.raises(QualityError) as exc:
        set_gold(task=tasks(project)[0], expectations=expectations)
    assert message in " ".join(exc.value.message_dict[field])
    assert not Task.objects.filter(project=project, is_gold=True).exists()


def test_marking_again_replaces_the_expectations(project):
    task = tasks(project)[0]
    set_gold(task=task, expectations={"accuracy": 4, "harmless": "yes"})
    set_gold(task=task, expectations={"helpfulness": {"value": 2, "tolerance": 1}})
    assert list(task.gold_expectations.values_list("dimension__key", "value", "tolerance")) == [("helpfulness", 2, 1)]


def test_gold_accuracy_counts_scores_within_tolerance(project):
    t1, t2, t3 = tasks(project)[:3]
    for t in (t1, t2, t3):
        set_gold(task=t, expectations={"accuracy": {"value": 4, "tolerance": 1}, "harmless": 1})
    alice, bob = member(project, "alice"), member(project, "bob")
    # alice: 5 (within 1) and yes, 3 (within 1) and yes, 2 (off by 2) and no: 4 of 6 right.
    rate(t1, alice, {"accuracy": 5, "helpfulness": 1, "harmless": 1})
    rate(t2, alice, {"accuracy": 3, "helpfulness": 1, "harmless": 1})
    rate(t3, alice, {"accuracy": 2, "helpfulness": 1, "harmless": 0})
    # bob: one gold item, both right; helpfulness has no expectation and does not count.
    rate(t1, bob, {"accuracy": 4, "helpfulness": 5, "harmless": 1})
    acc = gold_accuracy(project)
    assert (acc[alice.pk].n_items, acc[alice.pk].n_scores, acc[alice.pk].correct) == (3, 6, 4)
    assert acc[alice.pk].accuracy == pytest.approx(4 / 6)
    assert (acc[bob.pk].n_items, acc[bob.pk].correct, acc[bob.pk].accuracy) == (1, 2, 1.0)
    assert member(project, "carol").pk not in acc


def test_a_rater_below_the_threshold_is_shown_on_the_dashboard_and_can_be_paused(project, lead):
    gold = tasks(project)[:3]
    for t in gold:
        set_gold(task=t, expectations={"accuracy": 5})
    alice, bob = member(project, "alice"), member(project, "bob")
    for t in gold:
        rate(t, alice, {"accuracy": 1, "helpfulness": 1, "harmless": 1})
        rate(t, bob, {"accuracy": 5, "helpfulness": 1, "harmless": 1})
    project = update_quality_settings(project=project, gold_min_accuracy=0.5)
    assert [a.username for a in gold_alerts(project)] == ["alice"]
    lead_client = client_for(lead)
    page = lead_client.get(reverse("project-dashboard", args=[project.slug])).content.decode()
    assert 'id="gold-alert"' in page
    assert "alice" in page.split('id="gold-alert"')[1].split("</section>")[0]
    assert "bob" not in page.split('id="gold-alert"')[1].split("</section>")[0]
    response = lead_client.post(reverse("project-pause-member", args=[project.slug, alice.pk]), {"paused": "1"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=alice).paused
    assert gold_alerts(project)[0].paused


def test_no_alert_before_enough_gold_items(project):
    (t,) = tasks(project)[:1]
    set_gold(task=t, expectations={"accuracy": 5})
    rate(t, member(project, "alice"), {"accuracy": 1, "helpfulness": 1, "harmless": 1})
    assert gold_accuracy(project)[member(project, "alice").pk].accuracy == 0.0
    assert gold_alerts(project) == []


def test_reports_leave_gold_ratings_out_unless_asked(project):
    ordinary, gold = tasks(project)[:2], tasks(project)[4]
    set_gold(task=gold, expectations={"accuracy": 3})
    for name in ("alice", "bob"):
        for t in (*ordinary, gold):
            rate(t, member(project, name), {"accuracy": 3, "helpfulness": 3, "harmless": 1})
    default = reports.compute(report_id=reports.create_report(project=project, bootstrap=0).pk)
    with_gold = reports.compute(report_id=reports.create_report(project=project, bootstrap=0, include_gold=True).pk)
    assert default.n_ratings == 4
    assert with_gold.n_ratings == 6
    assert default.result["coverage"]["tasks"] == 4  # the gold item is not work to finish
    assert default.result["parameters"]["include_gold"] is False
    assert with_gold.result["parameters"]["include_gold"] is True
    accuracy = {d["dimension"]: d for d in default.result["dimensions"]}["accuracy"]
    assert accuracy["n_units"] == 2
    assert default.result["quality"]["parameters"]["include_gold"] is False
    page = client_for(project.created_by).get(reverse("report", args=[project.slug])).content.decode()
    assert "gold items counted in the agreement figures" in page  # the shown report says which

"""The adjudication and gold pages: item ids link to the item, "split" is explained, final scores start
at the consensus, and a gold item that no rater will ever see is said to be so."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.quality.models import Adjudication
from evalplatform.quality.services import compute_quality, update_quality_settings
from tests.quality.conftest import client_for, member, rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(make_project, tasks_of):
    """Task 0: accuracy 1/3/5 (split), helpfulness 2/2/4, harmless yes/yes/no; task 1 agreed."""
    project = make_project(items=2, overlap=3, raters=("alice", "bob", "carol"))
    tasks = tasks_of(project)
    for name, acc, helpful, harmless in (("alice", 1, 2, 1), ("bob", 3, 2, 1), ("carol", 5, 4, 0)):
        rate(tasks[0], member(project, name), {"accuracy": acc, "helpfulness": helpful, "harmless": harmless})
        rate(tasks[1], member(project, name), {"accuracy": 4, "helpfulness": 4, "harmless": 1})
    compute_quality(project=project)
    return project, tasks


def test_the_queue_links_items_and_explains_split(disputed, lead):
    project, _tasks = disputed
    html = client_for(lead).get(reverse("quality-adjudication", args=[project.slug])).content.decode()
    assert f'href="/projects/{project.slug}/report/items/t-0001/">t-0001</a>' in html
    assert "Split questions" in html
    assert "no single answer got the most votes" in html


@pytest.mark.parametrize(("rule", "expected"), [
    ("median", {"score-accuracy": "3", "score-helpfulness": "2", "score-harmless": "1"}),
    ("mean", {"score-accuracy": "3", "score-helpfulness": "3", "score-harmless": "1"}),  # 2.67 -> 3; 0.67 -> 1
])
def test_final_scores_start_at_the_consensus_under_the_projects_rule(disputed, lead, rule, expected):
    project, tasks = disputed
    update_quality_settings(project=project, consensus_rule=rule)
    page = client_for(lead).get(reverse("quality-adjudicate", args=[project.slug, tasks[0].pk]))
    form = page.context["form"]
    assert {k: v for k, v in form.initial.items() if k.startswith("score-")} == expected
    html = page.content.decode()
    assert 'id="prefilled"' in html
    assert "no single answer got the most votes" in html
    assert '<option value="3" selected>' in html


def test_an_earlier_adjudication_is_shown_instead_of_the_consensus(disputed, lead):
    project, tasks = disputed
    client = client_for(lead)
    url = reverse("quality-adjudicate", args=[project.slug, tasks[0].pk])
    client.post(url, {"score-accuracy": "5", "score-helpfulness": "4", "score-harmless": "0", "note": "carol is right"})
    assert Adjudication.objects.filter(task=tasks[0]).exists()
    page = client.get(url)
    assert page.context["form"].initial["score-accuracy"] == "5"
    assert page.context["prefilled"] is False


def test_the_gold_page_warns_while_the_gold_rate_is_zero(make_project, lead):
    project = make_project(items=2, overlap=1, raters=("alice",))
    client = client_for(lead)
    url = reverse("quality-gold", args=[project.slug])
    assert 'id="gold-rate-zero"' in client.get(url).content.decode()
    response = client.post(url, {"item_id": "t-0001", "score-accuracy": "4"}, follow=True)
    text = response.content.decode()
    assert "t-0001 is now a gold item" in text
    assert "no rater will be served this gold item" in text

    update_quality_settings(project=project, gold_rate=0.1)
    response = client.post(url, {"item_id": "t-0002", "score-accuracy": "4"}, follow=True)
    text = response.content.decode()
    assert "t-0002 is now a gold item" in text
    assert "no rater will be served" not in text
    assert 'id="gold-rate-zero"' not in text

"""Who sees what: raters never see gold expectations, scorecards or adjudication (pages 404, API 403),
strangers get 404 everywhere, and a gold item looks to its rater like any other."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from evalplatform.projects.models import Task
from evalplatform.quality.services import compute_quality, set_gold, update_quality_settings
from tests.fixtures import UserFactory, next_assignment
from tests.quality.conftest import client_for, member, rate

pytestmark = pytest.mark.django_db
PAGES = ("quality-overview", "quality-gold", "quality-adjudication")
POSTS = ("quality-settings", "quality-recompute", "quality-gold")



@pytest.fixture
def setup(project):
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for name in ("alice", "bob"):
        rate(tasks[0], member(project, name), {"accuracy": 1 if name == "alice" else 5, "helpfulness": 3,
                                               "harmless": 1})
    set_gold(task=tasks[4], expectations={"accuracy": 2})
    compute_quality(project=project)
    return tasks


def api(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def api_urls(project, tasks) -> list[str]:
    base = f"/api/projects/{project.pk}/quality/"
    return [f"{base}settings/", f"{base}gold/", f"{base}gold/{tasks[4].pk}/", f"{base}scorecards/",
            f"{base}adjudications/", f"{base}adjudications/{tasks[0].pk}/"]


def test_a_rater_gets_404_on_every_quality_page(project, setup):
    alice = client_for(member(project, "alice"))
    for name in PAGES:
        assert alice.get(reverse(name, args=[project.slug])).status_code == 404, name
    assert alice.get(reverse("quality-adjudicate", args=[project.slug, setup[0].pk])).status_code == 404
    for name in POSTS:
        assert alice.post(reverse(name, args=[project.slug]), {"gold_rate": "0.5"}).status_code == 404, name
    assert alice.post(reverse("quality-adjudicate", args=[project.slug, setup[0].pk]),
                      {"score-accuracy": "1"}).status_code == 404
    project.refresh_from_db()
    assert project.gold_rate == 0


def test_a_rater_gets_403_and_a_stranger_404_on_the_quality_api(project, setup):
    alice, stranger = api(member(project, "alice")), api(UserFactory(username="stranger"))
    for url in api_urls(project, setup):
        assert alice.get(url).status_code == 403, url
        assert stranger.get(url).status_code == 404, url
    assert alice.patch(api_urls(project, setup)[0], {"gold_rate": 0.5}, format="json").status_code == 403
    assert alice.put(api_urls(project, setup)[-1], {"scores": {"accuracy": 1}}, format="json").status_code == 403
    assert alice.delete(api_urls(project, setup)[2]).status_code == 403


def test_the_lead_and_an_admin_get_them(project, setup, lead, admin_user):
    for user in (lead, admin_user):
        for url in api_urls(project, setup):
            assert api(user).get(url).status_code == 200, url
        for name in PAGES:
            assert client_for(user).get(reverse(name, args=[project.slug])).status_code == 200, name
    gold = api(lead).get(api_urls(project, setup)[1]).json()["results"]
    assert gold[0]["expectations"] == {"accuracy": {"value": 2, "tolerance": 0}}
    cards = api(lead).get(api_urls(project, setup)[3]).json()
    assert {c["rater"] for c in cards["raters"]} == {"alice", "bob"}


def test_a_gold_item_looks_to_its_rater_like_any_other(project, setup):
    update_quality_settings(project=project, gold_rate=0.5)
    alice = member(project, "alice")
    rater_api = api(alice)
    random.seed(2)
    shapes = {}
    for _ in range(3):
        a = next_assignment(project=type(project).objects.get(pk=project.pk), rater=alice)
        body = rater_api.get(f"/api/assignments/{a.pk}/").json()
        page = client_for(alice).get(reverse("rate", args=[project.slug])).content.decode()
        assert "gold" not in page.lower()
        assert "gold" not in str(body).lower()
        shapes[a.task.is_gold] = sorted(body)
        rater_api.post(f"/api/assignments/{a.pk}/skip/", {"reason": "x"}, format="json")
    assert set(shapes) == {True, False}
    assert shapes[True] == shapes[False]


def test_gold_expectations_are_set_over_the_api_by_leads_only(project, setup, lead):
    url = api_urls(project, setup)[1]
    body = {"item_id": "t-0002", "expectations": {"accuracy": {"value": 4, "tolerance": 1}}}
    assert api(member(project, "bob")).post(url, body, format="json").status_code == 403
    created = api(lead).post(url, body, format="json")
    assert created.status_code == 201
    assert created.json()["expectations"]["accuracy"] == {"value": 4, "tolerance": 1}
    bad = api(lead).post(url, {"item_id": "t-0003", "expectations": {"harmless": {"value": 1, "tolerance": 2}}},
                         format="json")
    assert bad.status_code == 400
    assert "harmless" in bad.json()
    assert api(lead).post(url, {"item_id": "nope", "expectations": {"accuracy": 1}}, format="json").status_code == 404
    assert api(lead).delete(f"{url}{setup[1].pk}/").status_code == 204
    assert not Task.objects.get(pk=setup[1].pk).is_gold

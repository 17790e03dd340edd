"""Who may generate pairings, from the API and from the lead's dashboard: leads and admins; a rater
of the project is refused (403 in the API, 404 for the page), anyone else does not find it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.projects.models import Membership, Task
from evalplatform.projects.services import add_member
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def arena(make_project, pairwise_version, admin_user):
    project = make_project("arena", kind="pairwise", version=pairwise_version, items=10, models=("m1", "m2", "m3", "m4"),
                           raters=("alice",))
    other = make_project("other", kind="pairwise", version=pairwise_version, items=1, models=("m1", "m2"))
    add_member(project=other, user=UserFactory(username="dave"), role=Membership.Role.LEAD)
    return project


def pair_count(project):
    return Task.objects.filter(project=project, response_b__isnull=False).count()


@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", 200), ("admin", 200), ("alice", 403), ("dave", 404), ("stranger", 404), (None, 401)],
)
def test_the_pairings_endpoint_is_for_leads(arena, client_for, who, status):
    user = UserFactory(username=who) if who else None
    response = client_for(user).post(f"/api/projects/{arena.pk}/pairings/", {"per_item": 2, "seed": 1},
                                     format="json")
    assert response.status_code == status, response.content
    assert pair_count(arena) == (20 if status == 200 else 60)


def test_the_api_answers_with_the_balance(arena, client_for, lead):
    client = client_for(lead)
    body = client.post(f"/api/projects/{arena.pk}/pairings/", {"per_item": 3, "seed": 2}, format="json").json()
    assert body["strategy"] == "sample"
    assert body["pair_tasks"] == 30
    assert body["removed"] == 30
    assert sum(p["tasks"] for p in body["pair_counts"]) == 30
    assert len(body["pair_counts"]) == 6
    assert sum(body["model_tasks"].values()) == 60
    again = client.post(f"/api/projects/{arena.pk}/pairings/", {"per_item": 3, "seed": 2}, format="json").json()
    assert (again["created"], again["removed"], again["flipped"]) == (0, 0, 0)
    everything = client.post(f"/api/projects/{arena.pk}/pairings/", {}, format="json").json()
    assert everything["strategy"] == "all"
    assert everything["pair_tasks"] == 60


@pytest.mark.parametrize(
    ("body", "field"),
    [({"strategy": "sample"}, "non_field_errors"), ({"per_item": 0}, "per_item"), ({"strategy": "x"}, "strategy"),
     ({"strategy": "all", "per_item": 2}, "non_field_errors"), ({"seed": -1}, "seed")],
)
def test_bad_requests_are_400_with_the_field(arena, client_for, lead, body, field):
    response = client_for(lead).post(f"/api/projects/{arena.pk}/pairings/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_single_response_project_is_400(make_project, client_for, lead):
    project = make_project("single", items=1)
    response = client_for(lead).post(f"/api/projects/{project.pk}/pairings/", {}, format="json")
    assert response.status_code == 400
    assert "pairwise" in response.json()["non_field_errors"][0]


def test_the_dashboard_form_generates_pairings_for_leads_only(arena, client, lead):
    url = reverse("project-pairings", args=[arena.slug])
    client.force_login(lead)
    page = client.get(reverse("project-dashboard", args=[arena.slug])).content.decode()
    assert f'action="{url}"' in page
    assert "csrfmiddlewaretoken" in page
    answer = client.post(url, {"strategy": "sample", "per_item": "1", "seed": "3"}, follow=True)
    assert pair_count(arena) == 10
    assert "Pairings: 10 pair tasks on 10 items" in answer.content.decode()
    refused = client.post(url, {"strategy": "sample", "per_item": ""}, follow=True)
    assert "Pairings not changed" in refused.content.decode()
    assert pair_count(arena) == 10
    assert client.get(url).status_code == 405

    client.force_login(arena.memberships.get(user__username="alice").user)
    assert client.post(url, {"strategy": "all"}).status_code == 404
    assert pair_count(arena) == 10


def test_the_dashboard_form_checks_csrf(arena, lead):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(reverse("project-pairings", args=[arena.slug]), {"strategy": "all"}).status_code == 403


def test_single_response_dashboards_have_no_pairing_form(project, client, lead):
    client.force_login(lead)
    assert "Generate pairings" not in client.get(reverse("project-dashboard", args=[project.slug])).content.decode()

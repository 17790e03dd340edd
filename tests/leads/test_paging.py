"""List endpoints honour ``?page_size=`` up to a maximum; the adjudication list pages (API and page)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from evalplatform.pagination import PageSizePagination
from evalplatform.projects.models import Task
from evalplatform.quality.models import ConsensusLabel
from rubrics.models import Dimension

pytestmark = pytest.mark.django_db


def test_list_endpoints_honour_page_size_up_to_the_maximum(make_project, client_for, lead, monkeypatch):
    project = make_project("paged", items=7)
    url = f"/api/projects/{project.pk}/items/"
    body = client_for(lead).get(url, {"page_size": 3}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert "page_size=3" in body["next"]
    last = client_for(lead).get(url, {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    monkeypatch.setattr(PageSizePagination, "max_page_size", 4)
    assert len(client_for(lead).get(url, {"page_size": 1000}).json()["results"]) == 4
    assert len(client_for(lead).get(url).json()["results"]) == 7  # the default page holds them all
    assert len(client_for(lead).get(url, {"page_size": "lots"}).json()["results"]) == 7


@pytest.fixture
def disputed(make_project):
    project = make_project("disputed", items=7, raters=("alice",))
    accuracy = Dimension.objects.get(version=project.rubric_version, key="accuracy")
    for i, task in enumerate(Task.objects.filter(project=project).order_by("id")):
        ConsensusLabel.objects.create(project=project, task=task, dimension=accuracy, n_ratings=3,
                                      agreement=0.1 * i / 7, majority=3)
    return project


def test_the_adjudication_list_pages(disputed, client_for, lead):
    url = f"/api/projects/{disputed.pk}/quality/adjudications/"
    first = client_for(lead).get(url, {"page_size": 3}).json()
    assert first["count"] == 7
    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert "page=2" in first["next"]
    items = [r["item_id"] for r in first["results"]]
    second = client_for(lead).get(url, {"page_size": 3, "page": 2}).json()
    third = client_for(lead).get(url, {"page_size": 3, "page": 3}).json()
    items += [r["item_id"] for r in second["results"]] + [r["item_id"] for r in third["results"]]
    assert len(items) == len(set(items)) == 7
    assert third["next"] is None
    assert client_for(lead).get(url, {"page": 9}).status_code == 404


def test_the_adjudication_page_pages(disputed, lead, monkeypatch):
    from evalplatform.quality import views

    monkeypatch.setattr(views, "ADJUDICATION_PAGE", 3)
    client = Client()
    client.force_login(lead)
    page = client.get(f"/projects/{disputed.slug}/quality/adjudication/")
    html = page.content.decode()
    links = set(re.findall(r'href="/projects/disputed/quality/adjudication/(\d+)/"', html))
    assert page.status_code == 200
    assert "?page=2" in html
    assert len(links) == 3
    third = client.get(f"/projects/{disputed.slug}/quality/adjudication/?page=3").content.decode()
    assert "?page=2" in third
    assert "?page=4" not in third
    assert "Showing 7–7 of 7" in third

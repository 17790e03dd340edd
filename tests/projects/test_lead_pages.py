"""The lead pages share one navigation bar; the item list; /favicon.ico; the server's log lines."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from evalplatform.projects.models import Task

pytestmark = pytest.mark.django_db

NAV = ["Dashboard", "Report", "Quality", "Gold", "Training", "Adjudication", "Items", "Model runs", "Tracking", "Access"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nav_of(html: str) -> tuple[list[str], list[str]]:
    """The labels of the lead navigation bar, and those marked as the current page."""
    nav = re.search(r'<nav class="lead-nav[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no lead navigation bar on the page"
    links = re.findall(r"<a href=\"[^\"]+\"( aria-current=\"page\")?>([^<]+)</a>", nav.group(1))
    return [label for _, label in links], [label for current, label in links if current]


@pytest.mark.parametrize(("name", "here"), [
    ("project-dashboard", "Dashboard"), ("report", "Report"), ("quality-overview", "Quality"),
    ("quality-gold", "Gold"), ("training-manage", "Training"), ("quality-adjudication", "Adjudication"),
    ("report-items", "Items"), ("llm-runs", "Model runs"), ("report-tracking", "Tracking"),
    ("enrolment-access", "Access"),
])
def test_every_lead_page_has_the_same_navigation_with_itself_marked(make_project, lead, name, here):
    project = make_project(items=2, raters=("alice",))
    response = client_for(lead).get(reverse(name, args=[project.slug]))
    assert response.status_code == 200
    labels, current = nav_of(response.content.decode())
    assert labels == NAV
    assert current == [here]


def test_the_item_and_adjudication_pages_carry_the_navigation_too(make_project, lead):
    project = make_project(items=2, raters=("alice",))
    task = Task.objects.filter(project=project).first()
    client = client_for(lead)
    item = client.get(reverse("report-item", args=[project.slug, "t-0001"]))
    assert nav_of(item.content.decode()) == (NAV, ["Items"])
    adjudicate = client.get(reverse("quality-adjudicate", args=[project.slug, task.pk]))
    assert nav_of(adjudicate.content.decode()) == (NAV, ["Adjudication"])


def test_raters_see_no_lead_navigation(make_project):
    project = make_project(items=2, raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    page = client_for(alice).get(reverse("rate", args=[project.slug]))
    assert page.status_code == 200
    assert b"lead-nav" not in page.content


def test_the_item_list_links_each_item_and_finds_by_id(make_project, lead):
    project = make_project(items=12, models=("m1", "m2"), raters=("alice",))
    client = client_for(lead)
    page = client.get(reverse("report-items", args=[project.slug]))
    html = page.content.decode()
    assert "12 items" in html
    assert html.count('href="/projects/proj/report/items/t-00') == 12
    found = client.get(reverse("report-items", args=[project.slug]), {"q": "t-0011"}).content.decode()
    assert "1 item " in found
    assert "t-0011" in found
    assert "t-0010" not in found


def test_the_item_list_is_for_leads_only(make_project):
    project = make_project(items=2, raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    assert client_for(alice).get(reverse("report-items", args=[project.slug])).status_code == 404


def test_favicon_ico_points_at_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_a_django_log_line_is_printed_once():
    """Django's "django" logger has a console handler of its own when DEBUG is on; with the root's
    too, ``make run`` printed every warning twice."""
    printing = 0
    logger: logging.Logger | None = logging.getLogger("django.request")
    while logger is not None:
        printing += sum(type(h) is logging.StreamHandler for h in logger.handlers)
        logger = logger.parent if logger.propagate else None
    assert printing == 1


def test_the_per_day_chart_counts_what_the_completion_cards_count(lead):
    """The demo has an automated judge's ratings: the cards leave them out, so the chart does too."""
    from evalplatform.assignments.selectors import project_progress
    from evalplatform.demo.loader import load_demo
    from evalplatform.ratings.models import Rating
    from evalplatform.ratings.selectors import ratings_per_day

    project, _ = load_demo()
    assert Rating.objects.filter(project=project, rater__is_automated=True).exists()
    per_day = ratings_per_day(project, days=30)
    assert sum(n for _, n in per_day) == project_progress(project).ratings > 0


# --- The new-project form and the dashboard's overlap warning ---------------------------------------


def new_project(rubric_version, **changes) -> dict:
    return {"name": "Support tickets: round 2", "slug": "", "rubric_version": rubric_version.pk, "kind": "single",
            "overlap": "3", "lease_minutes": "30", "order": "priority", "description": "", **changes}


def test_a_project_left_without_a_slug_gets_one_from_its_name(make_project, lead, rubric_version):
    from evalplatform.projects.models import Project

    make_project()  # leading a project lets the lead start another
    response = client_for(lead).post(reverse("project-new"), new_project(rubric_version))
    assert response.status_code == 302
    assert Project.objects.get(slug="support-tickets-round-2").name == "Support tickets: round 2"


def test_a_name_with_nothing_to_make_a_slug_from_asks_for_one(make_project, lead, rubric_version):
    make_project()
    response = client_for(lead).post(reverse("project-new"), new_project(rubric_version, name="???"))
    assert response.status_code == 400
    assert "no letters or digits" in " ".join(response.context["form"].errors["slug"])


def test_the_forms_that_take_items_show_the_file_format(make_project, lead):
    client = client_for(lead)
    project = make_project(items=1, raters=("alice", "bob", "carol"))
    for url in (reverse("project-new"), reverse("project-dashboard", args=[project.slug])):
        html = client.get(url).content.decode()
        assert "Items file format, with an example" in html
        assert '{"id": "ticket-001", "prompt": ' in html
        assert "id,prompt,model,response" in html


def test_the_dashboard_warns_while_fewer_raters_than_the_overlap(make_project, lead):
    from evalplatform.projects.services import set_paused

    client = client_for(lead)
    short = make_project("short", overlap=3, items=1, raters=("alice", "bob"))
    html = client.get(reverse("project-dashboard", args=[short.slug])).content.decode()
    assert 'id="overlap-warning"' in html
    assert "add 1 more rater below" in html
    full = make_project("full", overlap=2, items=1, raters=("carol", "dave"))
    assert 'id="overlap-warning"' not in client.get(reverse("project-dashboard", args=[full.slug])).content.decode()
    set_paused(project=full, user=full.memberships.get(user__username="dave").user, paused=True)
    html = client.get(reverse("project-dashboard", args=[full.slug])).content.decode()
    assert "has 1 active rater:" in html


def test_counts_of_one_are_singular():
    from evalplatform.comparisons.services import PairingSummary
    from evalplatform.projects.services import ImportSummary
    from evalplatform.ratings.importing import RatingsImportSummary

    assert str(ImportSummary(items_created=1, items_updated=0, responses_created=1, tasks_created=1)).startswith(
        "1 item created, 0 updated, 1 response, 1 task")
    assert "3 items created" in str(ImportSummary(items_created=3, items_updated=0, responses_created=3, tasks_created=3))
    assert str(RatingsImportSummary(ratings=1, scores=1, raters_created=1)) == \
        "1 rating (1 score) imported, 1 rater account created"
    assert str(PairingSummary(strategy="all", per_item=None, seed=0, items=1, created=1, removed=0, flipped=0,
                              kept_started=0, pair_tasks=1)).startswith(
        "1 pair task on 1 item (")

"""List endpoints and list pages run a fixed number of queries, however many rows they show."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evalplatform.projects.models import Membership, Task
from evalplatform.projects.services import add_member
from evalplatform.quality.services import adjudicate, compute_quality, set_gold
from evalplatform.ratings.services import submit_rating
from evalplatform.reports import services as reports
from rubrics.services import clone_version
from tests.fixtures import GOOD, UserFactory, next_assignment

pytestmark = pytest.mark.django_db

API = {
    "projects": "/api/projects/",
    "members": "/api/projects/{id}/members/",
    "items": "/api/projects/{id}/items/",
    "ratings": "/api/ratings/",
    "reports": "/api/projects/{id}/reports/",
    "users": "/api/users/",
    "rubrics": "/api/rubrics/",
    "gold": "/api/projects/{id}/quality/gold/",
    "scorecards": "/api/projects/{id}/quality/scorecards/",
    "adjudications": "/api/projects/{id}/quality/adjudications/",
}
PAGES = ("project-dashboard", "report", "quality-overview", "quality-gold", "quality-adjudication")


def _filled(make_project, slug: str, *, items: int, raters: tuple[str, ...]):
    """A project whose raters rated everything through the queue, with a gold task, adjudications,
    a quality run, a report, a rater holding a lease, and one more draft of its rubric."""
    project = make_project(slug, items=items, models=("m1", "m2"), raters=raters, overlap=len(raters) + 1)
    for name in raters:
        rater = Membership.objects.get(project=project, user__username=name).user
        while (assignment := next_assignment(project=project, rater=rater)) is not None:
            submit_rating(assignment=assignment, scores=GOOD, duration_ms=20_000)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    set_gold(task=tasks[-1], expectations=GOOD, created_by=project.created_by)
    for task in tasks[: len(tasks) // 2]:
        adjudicate(task=task, scores=GOOD, decided_by=project.created_by)
    compute_quality(project=project)
    reports.compute(report_id=reports.create_report(project=project, bootstrap=0).pk)
    add_member(project=project, user=UserFactory(username=f"{slug}-new"), role=Membership.Role.RATER)
    next_assignment(project=project, rater=UserFactory(username=f"{slug}-new"))
    clone_version(version=project.rubric_version)
    return project


@pytest.fixture
def small_and_big(make_project):
    return (_filled(make_project, "small", items=2, raters=("r1", "r2")),
            _filled(make_project, "big", items=8, raters=("r3", "r4", "r5", "r6")))


def _count(get) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = get()
    assert response.status_code == 200, response.content[:200]
    return len(queries)


@pytest.mark.parametrize("name", sorted(API))
def test_api_lists_take_the_same_queries_for_more_rows(name, small_and_big, client_for, lead, admin_user,
                                                       django_assert_max_num_queries):
    client = client_for(admin_user if name == "users" else lead)
    small, big = small_and_big
    client.get(API[name].format(id=small.pk))  # warm the per-process caches (rubric scales)
    queries = _count(lambda: client.get(API[name].format(id=small.pk)))
    with django_assert_max_num_queries(queries):
        assert client.get(API[name].format(id=big.pk)).status_code == 200


def test_a_raters_assignments_take_the_same_queries_for_more_rows(small_and_big, client_for,
                                                                  django_assert_max_num_queries):
    small, big = small_and_big
    few, many = client_for(Membership.objects.get(project=small, user__username="r1").user), client_for(
        Membership.objects.get(project=big, user__username="r3").user
    )
    few.get("/api/assignments/")
    queries = _count(lambda: few.get("/api/assignments/"))
    with django_assert_max_num_queries(queries):
        response = many.get("/api/assignments/")
    assert response.json()["count"] == 16


@pytest.mark.parametrize("page", PAGES)
def test_lead_pages_take_the_same_queries_for_more_rows(page, small_and_big, lead, django_assert_max_num_queries):
    client = Client()
    client.force_login(lead)
    small, big = small_and_big
    client.get(reverse(page, args=[small.slug]))
    queries = _count(lambda: client.get(reverse(page, args=[small.slug])))
    with django_assert_max_num_queries(queries):
        assert client.get(reverse(page, args=[big.slug])).status_code == 200


ADMIN_LISTS = (
    "projects/project", "projects/item", "rubrics/rubricversion", "rubrics/dimension", "quality/goldexpectation",
    "quality/adjudication", "ratings/rating", "assignments/assignment", "reports/agreementreport",
)


@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_admin_lists_take_the_same_queries_for_more_rows(model, make_project, admin_user,
                                                         django_assert_max_num_queries):
    client = Client()
    client.force_login(admin_user)
    _filled(make_project, "small", items=2, raters=("r1", "r2"))
    client.get(f"/admin/{model}/")
    queries = _count(lambda: client.get(f"/admin/{model}/"))
    _filled(make_project, "big", items=6, raters=("r3", "r4", "r5"))
    with django_assert_max_num_queries(queries):
        assert client.get(f"/admin/{model}/").status_code == 200

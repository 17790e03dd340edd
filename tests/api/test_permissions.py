"""Every endpoint for every role: who is allowed, and whether a refusal is 403 or 404.

The rule: an object you may not know about is 404; one you may know exists (your own project's
report, as a rater) is 403.  ``bob`` rates in the same project as ``alice``; ``dave`` rates in
another project; ``stranger`` is in none; ``anon`` sends no credentials.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.utils import timezone

from evalplatform.ratings.services import submit_rating
from evalplatform.reports.models import AgreementReport
from tests.fixtures import GOOD, items_jsonl, next_assignment

pytestmark = pytest.mark.django_db

ROLES = ("lead", "admin", "alice", "bob", "dave", "stranger", "anon")


@pytest.fixture
def world(people):
    """alice has a rating (``rating``) and holds a lease (``assignment``); a report is done."""
    project = people.project
    first = next_assignment(project=project, rater=people.alice)
    submitted = submit_rating(assignment=first, scores=GOOD)
    rating = submitted.rating
    assignment = next_assignment(project=project, rater=people.alice)
    report = AgreementReport.objects.create(
        project=project, status="done", result={"dimensions": {}}, data_seq=1, finished_at=timezone.now(), progress=1
    )
    return SimpleNamespace(
        p=project.pk, o=people.other.pk, a=assignment.pk, r=rating.pk, report=report.pk,
        rubric=project.rubric_version.rubric_id,
    )


def expect(default: int, **by_role: int) -> dict[str, int]:
    """``default`` for every signed-in role not named; ``anon`` is 401 unless named."""
    return {"anon": 401, **{role: default for role in ROLES if role != "anon"}, **by_role}


PROJECT_LEADS = dict(alice=403, bob=403, dave=404, stranger=404)  # the shape of a lead-only project endpoint
JSONL = {"data": items_jsonl(2, start=900), "content_type": "application/x-ndjson"}
RATINGS_JSONL = {
    "data": b'{"item_id": "t-0005", "model": "m1", "rater": "erin", "dimension": "accuracy", "value": 3}\n'
    b'{"item_id": "t-0005", "model": "m1", "rater": "erin", "dimension": "helpfulness", "value": 3}\n'
    b'{"item_id": "t-0005", "model": "m1", "rater": "erin", "dimension": "harmless", "value": 1}\n',
    "content_type": "application/x-ndjson",
}

CASES = [
    # name, method, path, request kwargs, expected status by role
    ("projects list", "get", "/api/projects/", {}, expect(200)),
    ("project create", "post", "/api/projects/", "new-project", expect(403, lead=201, admin=201)),
    ("project detail", "get", "/api/projects/{p}/", {}, expect(200, dave=404, stranger=404)),
    ("project patch", "patch", "/api/projects/{p}/", {"data": {"name": "Renamed"}, "format": "json"},
     expect(200, **PROJECT_LEADS)),
    ("members list", "get", "/api/projects/{p}/members/", {}, expect(200, **PROJECT_LEADS)),
    ("member add", "post", "/api/projects/{p}/members/", {"data": {"username": "stranger", "role": "rater"},
                                                         "format": "json"}, expect(201, **PROJECT_LEADS)),
    ("member pause", "patch", "/api/projects/{p}/members/bob/", {"data": {"paused": True}, "format": "json"},
     expect(200, **PROJECT_LEADS)),
    ("items list", "get", "/api/projects/{p}/items/", {}, expect(200, **PROJECT_LEADS)),
    ("items import", "post", "/api/projects/{p}/items/import/", JSONL, expect(201, **PROJECT_LEADS)),
    ("ratings import", "post", "/api/projects/{p}/ratings/import/?create_raters=1", RATINGS_JSONL, expect(201, **PROJECT_LEADS)),
    ("export", "get", "/api/projects/{p}/export/?format=csv", {}, expect(200, **PROJECT_LEADS)),
    ("next", "post", "/api/projects/{p}/next/", {}, expect(403, alice=200, bob=200, dave=404, stranger=404)),
    ("report request", "post", "/api/projects/{p}/reports/", {"data": {"bootstrap": 0}, "format": "json"},
     expect(202, **PROJECT_LEADS)),
    ("reports list", "get", "/api/projects/{p}/reports/", {}, expect(200, **PROJECT_LEADS)),
    ("latest report", "get", "/api/projects/{p}/reports/latest/", {}, expect(200, **PROJECT_LEADS)),
    ("report detail", "get", "/api/reports/{report}/", {}, expect(200, **PROJECT_LEADS)),
    ("other project's detail", "get", "/api/projects/{o}/", {}, expect(404, lead=200, admin=200, dave=200)),
    ("rubrics list", "get", "/api/rubrics/", {}, expect(200)),
    ("rubric detail", "get", "/api/rubrics/{rubric}/", {}, expect(200, stranger=404)),
    ("rubric create", "post", "/api/rubrics/", "rubric-document", expect(403, admin=201)),
    ("rubric version", "get", "/api/rubrics/{rubric}/versions/1/", {}, expect(200, stranger=404)),
    ("rubric clone", "post", "/api/rubrics/{rubric}/versions/1/clone/", {}, expect(403, admin=201)),
    ("users list", "get", "/api/users/", {}, expect(403, admin=200)),
    ("user create", "post", "/api/users/", {"data": {"username": "newbie", "password": "a-long-pass-phrase-9"},
                                           "format": "json"}, expect(403, admin=201)),
    ("me", "get", "/api/users/me/", {}, expect(200)),
    ("own assignments", "get", "/api/assignments/", {}, expect(200)),
    ("assignment detail", "get", "/api/assignments/{a}/", {}, expect(404, alice=200, admin=200)),
    ("submit", "post", "/api/assignments/{a}/submit/", {"data": {"scores": GOOD}, "format": "json"},
     expect(404, alice=201, admin=403)),
    ("skip", "post", "/api/assignments/{a}/skip/", {"data": {"reason": "unsure"}, "format": "json"},
     expect(404, alice=200, admin=403)),
    ("ratings list", "get", "/api/ratings/", {}, expect(200)),
    ("rating detail", "get", "/api/ratings/{r}/", {}, expect(404, alice=200, lead=200, admin=200)),
]

SPECIAL_BODIES = {
    "rubric-document": lambda role: {
        "data": {"slug": f"r-{role}", "name": "R", "dimensions": [{"key": "ok", "kind": "binary"}]}, "format": "json",
    },
    "new-project": lambda role: {"data": {"slug": f"new-{role}", "rubric_version": 1}, "format": "json"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "path", "kwargs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_role_matrix(world, as_, people, role, name, method, path, kwargs, expected):
    if isinstance(kwargs, str):
        kwargs = SPECIAL_BODIES[kwargs](role)
        if "rubric_version" in kwargs["data"]:
            kwargs["data"]["rubric_version"] = people.project.rubric_version_id
    response = getattr(getattr(as_, role), method)(path.format(**vars(world)), **kwargs)
    assert response.status_code == expected[role], (name, role, getattr(response, "data", None))


def test_rater_cannot_read_another_raters_scores_in_any_list(world, as_):
    assert [r["rater"] for r in as_.bob.get("/api/ratings/").json()["results"]] == []
    assert as_.bob.get("/api/assignments/").json()["results"] == []
    alice_sees = as_.alice.get("/api/ratings/").json()["results"]
    assert [r["rater"] for r in alice_sees] == ["alice"]


def test_lead_of_another_project_cannot_read_this_projects_ratings(world, client_for, make_project, people):
    from evalplatform.projects.models import Membership
    from evalplatform.projects.services import add_member

    elsewhere = make_project("elsewhere", items=1)
    add_member(project=elsewhere, user=people.dave, role=Membership.Role.LEAD)
    dave = client_for(people.dave)  # leads "elsewhere", rates in "other", nothing in "proj"
    assert dave.get(f"/api/ratings/{world.r}/").status_code == 404
    assert dave.get("/api/ratings/", {"project": world.p}).json()["results"] == []
    assert dave.get(f"/api/reports/{world.report}/").status_code == 404

"""The two calls a rater makes per item, next and submit, answer from what they have just read or
written instead of reading it back.  These tests hold those answers to what the declared serializers
give for the same rows read afresh, and hold each call to its number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from evalplatform.assignments.api import AssignmentSerializer
from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import assignments_visible_to
from evalplatform.projects.models import Membership
from rubrics.services import import_rubric
from tests.fixtures import GOOD

pytestmark = pytest.mark.django_db

DUEL_RUBRIC = {
    "slug": "duel-hot",
    "name": "Preference, accuracy and notes",
    "justification": "optional",
    "dimensions": [
        {"key": "preference", "kind": "pairwise", "points": 5},
        {"key": "accuracy", "kind": "likert", "min": 1, "max": 5},
        {"key": "safe", "kind": "binary", "level": "nominal", "required": False},
        {"key": "notes", "kind": "text", "required": False},
    ],
}


def member(project, name):
    return Membership.objects.get(project=project, user__username=name).user


def declared(assignment_id: int, user) -> dict:
    """The assignment read afresh and written field by field, as the serializer's fields declare it."""
    assignment = assignments_visible_to(user).get(pk=assignment_id)
    serializer = AssignmentSerializer(assignment)
    return serializers.ModelSerializer.to_representation(serializer, assignment)


@pytest.mark.parametrize("show_reference", [True, False])
def test_a_new_lease_is_answered_as_the_serializer_declares(make_project, client_for, show_reference):
    project = make_project("single", items=2, raters=("rita",), show_reference=show_reference)
    project.items.update(reference="the *ideal* answer", metadata={"topic": "billing", "n": [1, 2]})
    rita = member(project, "rita")
    client = client_for(rita)
    new = client.post(f"/api/projects/{project.pk}/next/")
    assert new.status_code == 200
    assert new.json() == declared(new.json()["id"], rita)
    held = client.post(f"/api/projects/{project.pk}/next/")  # the lease already held: read back
    assert held.json() == new.json()
    assert (new.json()["item"]["reference"] is None) is not show_reference


def test_a_new_pair_lease_is_answered_as_the_serializer_declares_on_either_side(make_project, client_for):
    version, _ = import_rubric(data=DUEL_RUBRIC)
    raters = tuple(f"r{i}" for i in range(12))
    project = make_project("duel", kind="pairwise", version=version, items=1, models=("m1", "m2"),
                           overlap=len(raters), raters=raters)
    sides = set()
    for name in raters:
        user = member(project, name)
        body = client_for(user).post(f"/api/projects/{project.pk}/next/").json()
        assert body == declared(body["id"], user)
        sides.add(Assignment.objects.get(pk=body["id"]).swapped)
    assert sides == {False, True}  # both orders were checked (12 raters: chance of one order 1 in 2,048)


def submit_and_read_back(client, assignment_id: int, body: dict) -> tuple[dict, dict]:
    created = client.post(f"/api/assignments/{assignment_id}/submit/", body, format="json")
    assert created.status_code == 201, created.content
    read = client.get(f"/api/ratings/{created.json()['id']}/")
    assert read.status_code == 200
    return created.json(), read.json()


def test_a_new_rating_is_answered_as_it_reads_back(make_project, client_for):
    project = make_project("single", items=1, raters=("rita",))
    client = client_for(member(project, "rita"))
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()
    created, read = submit_and_read_back(client, assignment["id"], {
        "scores": {"accuracy": "4", "helpfulness": 2, "harmless": True, "topic": "tech", "why": "clear <b>enough</b>"},
        "justification": "checked the refund policy", "duration_ms": 4321,
    })
    assert created == read
    assert created["scores"] == {"accuracy": 4, "helpfulness": 2, "harmless": 1, "topic": 1, "why": "clear <b>enough</b>"}
    repeat = client.post(f"/api/assignments/{assignment['id']}/submit/", {"scores": {"accuracy": 1}}, format="json")
    assert repeat.status_code == 409
    assert "revise" in repeat.json()["detail"]  # a correction takes revise
    same = client.post(f"/api/assignments/{assignment['id']}/submit/", {
        "scores": {"accuracy": "4", "helpfulness": 2, "harmless": True, "topic": "tech", "why": "clear <b>enough</b>"},
        "justification": "checked the refund policy", "duration_ms": 4321,
    }, format="json")
    assert same.status_code == 200
    assert same.json() == read  # the first rating, unchanged


@pytest.mark.parametrize("swapped", [False, True])
def test_a_new_pair_rating_is_answered_as_it_reads_back(make_project, client_for, swapped):
    version, _ = import_rubric(data=DUEL_RUBRIC)
    project = make_project("duel", kind="pairwise", version=version, items=1, models=("m1", "m2"), raters=("pat",))
    client = client_for(member(project, "pat"))
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()
    Assignment.objects.filter(pk=assignment["id"]).update(swapped=swapped)
    created, read = submit_and_read_back(client, assignment["id"], {
        "scores": {"preference": -1, "accuracy.a": 5, "accuracy.b": 2, "safe.a": True, "notes": "A cites the policy"},
    })
    assert created == read
    assert created["scores"] == {"preference": -1, "accuracy.a": 5, "accuracy.b": 2, "safe.a": 1,
                                 "notes": "A cites the policy"}


def queries(client, method: str, path: str, body: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(path, body, format="json")
    assert response.status_code in (200, 201), response.content
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_next_and_submit_keep_to_their_queries(make_project, client_for):
    """next: the token, lapsed leases, the locked membership with its project, the rater's current
    lease, the candidate with its item and responses, the claim, the new assignment.  submit: the
    token, who holds the assignment, the locked assignment with all it is checked against, whether
    it is rated already (read after the lock, see ``submit_rating``), the rating, its scores and
    three counters (the refresh's debounce follows the commit, which a test's
    transaction never reaches).  Reading back what was just written would show up here as more."""
    project = make_project("budget", items=3, raters=("rita",))
    client = client_for(member(project, "rita"))
    client.post(f"/api/projects/{project.pk}/next/")  # warm the per-process rubric caches
    first = client.post(f"/api/projects/{project.pk}/next/").json()
    assert client.post(f"/api/assignments/{first['id']}/submit/", {"scores": GOOD}, format="json").status_code == 201
    served = queries(client, "post", f"/api/projects/{project.pk}/next/")
    assert len(served) == 7, "\n".join(served)
    assignment = Assignment.objects.filter(rater__username="rita", status="active").get()
    written = queries(client, "post", f"/api/assignments/{assignment.pk}/submit/", {"scores": GOOD})
    assert len(written) == 9, "\n".join(written)

"""Projects, members and users over the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from evalplatform.projects.models import Membership, Project
from rubrics.documents import validate
from rubrics.services import create_draft
from tests.fixtures import RUBRIC

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_projects_list_shows_id_slug_and_your_role(people, as_):
    rows = as_.alice.get("/api/projects/").json()["results"]
    assert [(r["id"], r["slug"], r["role"]) for r in rows] == [(people.project.pk, "proj", "rater")]
    admin_rows = as_.admin.get("/api/projects/").json()["results"]
    assert {r["role"] for r in admin_rows} == {"admin"}
    assert len(admin_rows) == 2


def test_lead_creates_a_project_and_becomes_its_lead(people, as_):
    body = {"slug": "fresh", "name": "Fresh", "rubric_version": people.project.rubric_version_id, "overlap": 2}
    response = as_.lead.post("/api/projects/", body, format="json")
    assert response.status_code == 201
    assert (response.json()["slug"], response.json()["role"], response.json()["overlap"]) == ("fresh", "lead", 2)
    project = Project.objects.get(slug="fresh")
    assert Membership.objects.get(project=project).user == people.lead


def test_project_creation_errors(people, as_):
    version = people.project.rubric_version_id
    dup = as_.lead.post("/api/projects/", {"slug": "proj", "rubric_version": version}, format="json")
    assert dup.status_code == 400
    assert "already exists" in dup.json()["non_field_errors"][0]
    shape = as_.lead.post("/api/projects/", {"slug": "Not A Slug", "rubric_version": version, "overlap": 0},
                          format="json")
    assert shape.status_code == 400
    assert {"slug", "overlap"} <= set(shape.json())
    draft = create_draft(spec=validate({**RUBRIC, "guidelines": "v2"}))
    on_draft = as_.lead.post("/api/projects/", {"slug": "d", "rubric_version": draft.pk}, format="json")
    assert on_draft.status_code == 400
    assert "rubric_version" in on_draft.json()
    pairwise = as_.lead.post("/api/projects/", {"slug": "p", "rubric_version": version, "kind": "pairwise"},
                             format="json")
    assert pairwise.status_code == 400
    assert "pairwise" in pairwise.json()["non_field_errors"][0]


def test_patch_changes_settings_through_the_service(people, as_):
    url = f"/api/projects/{people.project.pk}/"
    response = as_.lead.patch(url, {"overlap": 5, "show_reference": False}, format="json")
    assert response.status_code == 200
    assert response.json()["overlap"] == 5
    assert set(people.project.tasks.values_list("capacity", flat=True)) == {5}
    fixed = as_.lead.patch(url, {"kind": "pairwise", "rubric_version": 99}, format="json")
    assert fixed.status_code == 400
    assert set(fixed.json()) == {"kind", "rubric_version"}
    assert as_.lead.patch(url, {"lease_seconds": 5}, format="json").status_code == 400


def test_project_detail_shows_progress_to_leads_only(people, as_):
    assert as_.lead.get(f"/api/projects/{people.project.pk}/").json()["progress"]["tasks"] == 5
    assert as_.alice.get(f"/api/projects/{people.project.pk}/").json()["progress"] is None


def test_members_add_by_username_and_refuse_unknown_or_automated(people, as_):
    url = f"/api/projects/{people.project.pk}/members/"
    added = as_.lead.post(url, {"username": "stranger", "role": "rater"}, format="json")
    assert added.status_code == 201
    assert added.json()["role"] == "rater"
    unknown = as_.lead.post(url, {"username": "nobody", "role": "rater"}, format="json")
    assert unknown.status_code == 400
    assert "no user" in unknown.json()["username"][0]
    User.objects.create(username="judge:bot", is_automated=True, is_active=False)
    judge = as_.lead.post(url, {"username": "judge:bot", "role": "rater"}, format="json")
    assert judge.status_code == 400
    assert "automated" in judge.json()["non_field_errors"][0]
    names = [m["username"] for m in as_.lead.get(url).json()["results"]]
    assert names == ["lead", "alice", "bob", "carol", "stranger"]
    assert as_.lead.get(url + "nobody/").status_code == 404


def test_admin_creates_users_with_validated_passwords(people, as_):
    weak = as_.admin.post("/api/users/", {"username": "newbie", "password": "123"}, format="json")
    assert weak.status_code == 400
    assert any("too short" in m for m in weak.json()["password"])
    assert any("numeric" in m for m in weak.json()["password"])
    similar = as_.admin.post("/api/users/", {"username": "newbie", "password": "newbie12"}, format="json")
    assert similar.status_code == 400
    assert "similar" in similar.json()["password"][0]
    taken = as_.admin.post("/api/users/", {"username": "ALICE", "password": "a-long-pass-phrase-9"}, format="json")
    assert taken.status_code == 400
    assert "taken" in taken.json()["username"][0]
    ok = as_.admin.post("/api/users/", {"username": "newbie", "password": "a-long-pass-phrase-9",
                                        "email": "n@example.com"}, format="json")
    assert ok.status_code == 201
    assert "password" not in ok.json()
    assert User.objects.get(username="newbie").check_password("a-long-pass-phrase-9")


def test_me_lists_memberships(people, as_):
    me = as_.lead.get("/api/users/me/").json()
    assert me["username"] == "lead"
    assert {m["slug"] for m in me["memberships"]} == {"proj", "other"}
    assert {m["role"] for m in me["memberships"]} == {"lead"}

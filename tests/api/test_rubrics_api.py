"""Rubrics over the API: reading what one may see, and admins authoring drafts."""

from __future__ import annotations

import pytest

from rubrics.documents import validate
from rubrics.models import RubricVersion
from rubrics.services import create_draft
from tests.fixtures import RUBRIC

pytestmark = pytest.mark.django_db
DOC = {"slug": "tone", "name": "Tone", "dimensions": [{"key": "polite", "kind": "likert", "min": 1, "max": 3}]}


def test_detail_has_versions_dimensions_and_levels(people, as_):
    rubric_id = people.project.rubric_version.rubric_id
    body = as_.alice.get(f"/api/rubrics/{rubric_id}/").json()
    assert body["slug"] == "support-quality"
    version = body["versions"][0]
    assert version["status"] == "published"
    assert version["guidelines"] == RUBRIC["guidelines"]
    accuracy = version["dimensions"][0]
    assert accuracy["key"] == "accuracy"
    assert accuracy["required"] is True
    assert [lv["value"] for lv in accuracy["levels"]] == [1, 2, 3, 4, 5]


def test_drafts_are_for_admins_only(people, as_):
    draft = create_draft(spec=validate({**RUBRIC, "guidelines": "next"}))
    url = f"/api/rubrics/{draft.rubric_id}/versions/{draft.number}/"
    assert as_.admin.get(url).status_code == 200
    assert as_.lead.get(url).status_code == 404
    numbers = [v["number"] for v in as_.lead.get(f"/api/rubrics/{draft.rubric_id}/").json()["versions"]]
    assert numbers == [1]


def test_raters_see_only_their_projects_rubrics(people, as_, client_for):
    from rubrics.services import import_rubric

    import_rubric(data=DOC)
    assert [r["slug"] for r in as_.alice.get("/api/rubrics/").json()["results"]] == ["support-quality"]
    assert {r["slug"] for r in as_.lead.get("/api/rubrics/").json()["results"]} == {"support-quality", "tone"}
    assert as_.stranger.get("/api/rubrics/").json()["results"] == []


def test_admin_creates_a_draft_edits_and_publishes_it(people, as_):
    created = as_.admin.post("/api/rubrics/", DOC, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    rubric, number = created.json()["rubric"], created.json()["number"]
    url = f"/api/rubrics/{rubric}/versions/{number}/"
    patched = as_.admin.patch(url, {"guidelines": "Be kind", "dimensions": [
        {"key": "polite", "kind": "likert", "min": 1, "max": 5, "levels": {"5": "Very"}},
        {"key": "why", "kind": "text", "required": False},
    ]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["guidelines"] == "Be kind"
    assert [d["key"] for d in patched.json()["dimensions"]] == ["polite", "why"]
    assert patched.json()["dimensions"][0]["levels"][-1]["label"] == "Very"
    published = as_.admin.post(url + "publish/")
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    refused = as_.admin.patch(url, {"guidelines": "changed"}, format="json")
    assert refused.status_code == 409
    assert "clone" in refused.json()["detail"]
    clone = as_.admin.post(url + "clone/")
    assert clone.status_code == 201
    assert (clone.json()["number"], clone.json()["status"]) == (2, "draft")
    assert as_.admin.get(url + "document/").json()["dimensions"][0]["max"] == 5


def test_publish_true_publishes_at_once_and_is_idempotent(people, as_):
    first = as_.admin.post("/api/rubrics/", {**DOC, "publish": True}, format="json")
    again = as_.admin.post("/api/rubrics/", {**DOC, "publish": True}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["status"] == "published"


def test_document_errors_are_field_level_with_their_path(people, as_):
    bad = {"slug": "Bad Slug", "dimensions": [{"key": "a", "kind": "likert", "min": 5, "max": 1},
                                               {"key": "a", "kind": "binary"}]}
    response = as_.admin.post("/api/rubrics/", bad, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert "slug" in errors
    assert any("min < max" in e for e in errors["dimensions"])
    assert any("duplicate key" in e for e in errors["dimensions"])
    shape = as_.admin.post("/api/rubrics/", {"slug": "x", "dimensions": [{"key": "a", "kind": "stars"}]}, format="json")
    assert shape.status_code == 400
    assert "kind" in shape.json()["dimensions"]["0"]  # DRF keys list errors by index
    assert not RubricVersion.objects.filter(rubric__slug__in=["x", "Bad Slug"]).exists()


def test_publishing_an_empty_draft_is_400(people, as_):
    draft = create_draft(spec=validate(DOC))
    draft.dimensions.all().delete()
    response = as_.admin.post(f"/api/rubrics/{draft.rubric_id}/versions/{draft.number}/publish/")
    assert response.status_code == 400
    assert "at least one dimension" in response.json()["non_field_errors"][0]


def test_patch_of_a_draft_keeps_unnamed_parts_and_refuses_bad_ones(people, as_):
    draft = create_draft(spec=validate(DOC))
    url = f"/api/rubrics/{draft.rubric_id}/versions/{draft.number}/"
    kept = as_.admin.patch(url, {"justification": "required"}, format="json").json()
    assert kept["justification"] == "required"
    assert [d["key"] for d in kept["dimensions"]] == ["polite"]
    bad = as_.admin.patch(url, {"dimensions": [{"key": "c", "kind": "categorical", "options": ["one"]}]}, format="json")
    assert bad.status_code == 400
    assert "options" in bad.json()["dimensions"][0]

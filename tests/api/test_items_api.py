"""Importing items and ratings over the API, in every accepted body, and listing items."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from evalplatform.projects.models import Item, Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import submit_rating
from tests.fixtures import GOOD, items_jsonl, next_assignment

pytestmark = pytest.mark.django_db
CSV = b"id,prompt,model,response,topic\nc-1,Hello,m1,Hi there,billing\nc-1,Hello,m2,Hey,billing\nc-2,Bye,m1,See you,tech\n"


def records(n: int, start: int = 100) -> list[dict]:
    return [json.loads(line) for line in items_jsonl(n, start=start).decode().splitlines()]


def import_url(project, **query) -> str:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/projects/{project.pk}/items/import/" + (f"?{suffix}" if suffix else "")


@pytest.mark.parametrize(
    ("body", "content_type", "created"),
    [
        (json.dumps(records(3)).encode(), "application/json", 3),
        (items_jsonl(2, start=100), "application/x-ndjson", 2),
        (items_jsonl(2, start=100), "application/jsonl", 2),
        (CSV, "text/csv; charset=utf-8", 2),
    ],
    ids=["json-list", "ndjson", "jsonl", "csv"],
)
def test_raw_bodies_import(people, as_, body, content_type, created):
    response = as_.lead.post(import_url(people.project), body, content_type=content_type)
    assert response.status_code == 201, response.content
    assert response.json()["items_created"] == created
    assert people.project.items.count() == 5 + created


def test_csv_rows_become_responses_and_metadata(people, as_):
    as_.lead.post(import_url(people.project), CSV, content_type="text/csv")
    item = Item.objects.get(project=people.project, external_id="c-1")
    assert [r.model for r in item.responses.all()] == ["m1", "m2"]
    assert item.metadata == {"topic": "billing"}


@pytest.mark.parametrize("name", ["items.jsonl", "items.csv", "items.json", "no-extension"])
def test_multipart_file_upload(people, as_, name):
    content = {"items.csv": CSV, "items.json": json.dumps(records(2)).encode()}.get(name, items_jsonl(2, start=100))
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = as_.lead.post(import_url(people.project), {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["items_created"] == 2


def test_multipart_without_file_is_400(people, as_):
    response = as_.lead.post(import_url(people.project), {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_errors_have_line_numbers_and_nothing_is_written(people, as_):
    lines = items_jsonl(3, start=100).decode().splitlines()
    lines[1] = json.dumps({"id": "t-0101", "prompt": "", "responses": []})
    lines.insert(2, "{not json")
    body = ("\n".join(lines) + "\n").encode()
    response = as_.lead.post(import_url(people.project), body, content_type="application/x-ndjson")
    assert response.status_code == 400
    payload = response.json()
    assert payload["total"] == 3
    assert {(e["line"], e["field"]) for e in payload["errors"]} == {(2, "prompt"), (2, "responses"), (3, None)}
    assert all(e["message"] for e in payload["errors"])
    assert people.project.items.count() == 5
    assert Task.objects.filter(item__external_id="t-0100").count() == 0


def test_existing_ids_need_update(people, as_):
    body = items_jsonl(1, start=1)
    refused = as_.lead.post(import_url(people.project), body, content_type="application/x-ndjson")
    assert refused.status_code == 400
    assert "already exists" in refused.json()["errors"][0]["message"]
    changed = body.replace(b"Prompt 1", b"Prompt one")
    response = as_.lead.post(import_url(people.project, update=1), changed, content_type="application/x-ndjson")
    assert response.status_code == 201
    assert response.json()["items_updated"] == 1
    assert Item.objects.get(project=people.project, external_id="t-0001").prompt == "Prompt one"


def test_empty_body_bad_flag_and_unknown_media_type(people, as_):
    empty = as_.lead.post(import_url(people.project), b"", content_type="application/x-ndjson")
    assert empty.status_code == 400
    assert as_.lead.post(import_url(people.project, update="maybe"), items_jsonl(1, start=100),
                         content_type="application/x-ndjson").status_code == 400
    assert as_.lead.post(import_url(people.project), b"<items/>", content_type="application/xml").status_code == 415


def test_not_utf8_is_a_clear_400(people, as_):
    response = as_.lead.post(import_url(people.project), "id,prompt\n1,caf\xe9\n".encode("latin-1"),
                             content_type="text/csv")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["errors"][0]["message"]


@override_settings(EVAL_MAX_UPLOAD_BYTES=100)
def test_upload_over_the_limit_is_413(people, as_):
    response = as_.lead.post(import_url(people.project), items_jsonl(5, start=100), content_type="application/x-ndjson")
    assert response.status_code == 413
    assert people.project.items.count() == 5


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_big_json_list_is_refused_with_a_hint_to_send_jsonl(people, as_):
    response = as_.lead.post(import_url(people.project), json.dumps(records(5)).encode(), content_type="application/json")
    assert response.status_code == 413
    assert "JSONL" in response.json()["detail"]


def items(client, project, **params):
    response = client.get(f"/api/projects/{project.pk}/items/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_items_list_is_paginated_with_responses(people, as_):
    body = items(as_.lead, people.project)
    assert body["count"] == 5
    assert body["results"][0]["responses"][0]["model"] == "m1"
    assert body["results"][0]["complete"] is False
    assert body["results"][0]["ratings"] == 0


@pytest.mark.parametrize("param", ["metadata__topic", "meta.topic"])
def test_items_filter_by_metadata(people, as_, param):
    body = items(as_.lead, people.project, **{param: "billing"})
    assert [i["external_id"] for i in body["results"]] == ["t-0001", "t-0003", "t-0005"]


def test_metadata_numbers_booleans_and_nested_keys(people, as_):
    Item.objects.filter(external_id="t-0002").update(metadata={"turns": 3, "flagged": True, "src": {"kind": "chat"}})
    assert items(as_.lead, people.project, metadata__turns="3")["count"] == 1
    assert items(as_.lead, people.project, **{"meta.flagged": "true"})["count"] == 1
    assert items(as_.lead, people.project, **{"meta.src.kind": "chat"})["count"] == 1
    assert items(as_.lead, people.project, metadata__src__kind="chat")["count"] == 1
    bad = as_.lead.get(f"/api/projects/{people.project.pk}/items/", {"meta.a b": "x"})
    assert bad.status_code == 400


def test_items_filter_by_completion(make_project, client_for, lead):
    project = make_project("done", items=2, overlap=1, raters=("rae",))
    rae = project.memberships.get(user__username="rae").user
    submit_rating(assignment=next_assignment(project=project, rater=rae), scores=GOOD)
    client = client_for(lead)
    assert [i["external_id"] for i in items(client, project, complete="true")["results"]] == ["t-0001"]
    assert [i["external_id"] for i in items(client, project, complete="false")["results"]] == ["t-0002"]
    assert items(client, project, complete="true")["results"][0]["ratings"] == 1


def ratings_body(rater="erin", item="t-0001", **values) -> bytes:
    values = values or {"accuracy": 4, "helpfulness": 5, "harmless": "yes"}
    return b"".join(
        json.dumps({"item_id": item, "model": "m1", "rater": rater, "dimension": k, "value": v}).encode() + b"\n"
        for k, v in values.items()
    )


def test_ratings_import_and_its_errors(people, as_):
    url = f"/api/projects/{people.project.pk}/ratings/import/"
    bad = as_.lead.post(url, ratings_body(accuracy=9, helpfulness=5, harmless=1), content_type="application/x-ndjson")
    assert bad.status_code == 400
    assert bad.json()["errors"][0] == {"line": 1, "field": "value", "message": bad.json()["errors"][0]["message"]}
    assert "off the scale" in bad.json()["errors"][0]["message"]
    assert not Rating.objects.exists()
    good = as_.lead.post(url + "?create_raters=1", ratings_body(), content_type="application/x-ndjson")
    assert good.status_code == 201
    assert good.json() == {"ratings": 1, "scores": 3, "raters_created": 1}


def test_automated_ratings_import(people, as_):
    url = f"/api/projects/{people.project.pk}/ratings/import/?automated=1"
    response = as_.lead.post(url, ratings_body(rater="gpt"), content_type="application/x-ndjson")
    assert response.status_code == 201
    rating = Rating.objects.get()
    assert rating.rater.username == "judge:gpt"
    assert rating.rater.is_automated

"""Uploads are limited in size, refused with a message naming the limit, and nothing is written.

Pages answer with a form error (the new-project form, the dashboard's items form); the API's import
endpoints (items, ratings; raw bodies and multipart) answer 413.  A body far over the limit is refused
by the middleware before anything reads it, whoever sends it (the CSRF check would otherwise spool
it to disk first).
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from evalplatform.projects.models import Item, Project
from evalplatform.ratings.models import Rating
from tests.fixtures import items_jsonl

pytestmark = pytest.mark.django_db
LIMIT = 1000
SMALL = override_settings(EVAL_MAX_UPLOAD_BYTES=LIMIT)


def big_items() -> bytes:
    body = items_jsonl(40, start=100)
    assert len(body) > LIMIT
    return body


def ratings_body(project) -> bytes:
    items = list(project.items.order_by("id"))
    lines = [json.dumps({"item_id": item.external_id, "model": "m1", "rater": f"imported-{n}", "dimension": "accuracy",
                         "value": 3, "justification": "x" * 40}) for item in items for n in range(10)]
    body = "\n".join(lines).encode()
    assert len(body) > LIMIT
    return body


def lead_client(project) -> Client:
    c = Client()
    c.force_login(project.created_by)
    return c


@SMALL
def test_the_new_project_form_refuses_a_large_items_file(project, rubric_version):
    c = lead_client(project)
    response = c.post(reverse("project-new"), {
        "name": "Big", "slug": "big", "rubric_version": rubric_version.pk, "kind": "single", "overlap": 3,
        "lease_minutes": 30, "order": "priority", "items": SimpleUploadedFile("items.jsonl", big_items()),
    })
    assert response.status_code == 400
    errors = response.context["form"].errors["items"]
    assert errors == [f"The file is {len(big_items()) / 1024:.1f} KB, over the upload limit of 1,000 bytes; "
                      "nothing was imported."]
    assert "over the upload limit of 1,000 bytes" in response.content.decode()
    assert not Project.objects.filter(slug="big").exists()


@SMALL
def test_the_dashboard_refuses_a_large_items_file(project):
    c = lead_client(project)
    response = c.post(reverse("project-import-items", args=[project.slug]),
                      {"items": SimpleUploadedFile("items.jsonl", big_items())})
    assert response.status_code == 400
    assert "over the upload limit of 1,000 bytes" in response.content.decode()
    assert project.items.count() == 5


def test_a_file_within_the_limit_is_imported(project):
    c = lead_client(project)
    with override_settings(EVAL_MAX_UPLOAD_BYTES=len(big_items())):
        response = c.post(reverse("project-import-items", args=[project.slug]),
                          {"items": SimpleUploadedFile("items.jsonl", big_items())})
    assert response.status_code == 302
    assert project.items.count() == 45


def api(project) -> APIClient:
    c = APIClient()
    c.force_authenticate(project.created_by)
    return c


@SMALL
@pytest.mark.parametrize("how", ["raw", "multipart"])
@pytest.mark.parametrize("what", ["items", "ratings"])
def test_the_api_imports_answer_413_naming_the_limit(project, how, what):
    body = big_items() if what == "items" else ratings_body(project)
    url = f"/api/projects/{project.pk}/{what}/import/"
    c = api(project)
    if how == "raw":
        response = c.post(url, body, content_type="application/x-ndjson")
    else:
        response = c.post(url, {"file": SimpleUploadedFile(f"{what}.jsonl", body)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["detail"] == "the upload is larger than the limit of 1,000 bytes; nothing was imported"
    assert project.items.count() == 5
    assert not Rating.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_json_list_is_capped_by_the_memory_limit(project):
    body = json.dumps([json.loads(line) for line in items_jsonl(60, start=100).splitlines()]).encode()
    assert len(body) > 4096
    response = api(project).post(f"/api/projects/{project.pk}/items/import/", body, content_type="application/json")
    assert response.status_code == 413
    assert "at most 4 KB" in response.json()["detail"]
    assert project.items.count() == 5


@override_settings(EVAL_MAX_UPLOAD_BYTES=LIMIT, DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
@pytest.mark.parametrize("url", ["/api/projects/1/items/import/", "/projects/proj/items/", "/accounts/login/"])
def test_a_body_far_over_the_limit_is_refused_before_anything_reads_it(project, url):
    body = b"x" * (3 * LIMIT)
    response = Client(enforce_csrf_checks=True).generic(
        "POST", url, body, content_type="multipart/form-data; boundary=zzz")
    assert response.status_code == 413
    assert "upload limit of 1,000 bytes" in response.content.decode()
    assert Item.objects.count() == 5

"""Reference answers: imported from JSONL and CSV, shown to raters as sanitised collapsible Markdown only
when the project says so (page and API alike), always visible to leads, and carried by the exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.projects.models import Item, Membership
from evalplatform.projects.services import import_items
from evalplatform.ratings.exports import export_lines, export_options
from evalplatform.ratings.importing import import_ratings
from tests.fixtures import next_assignment

pytestmark = pytest.mark.django_db
REFERENCE = "Go to **Settings → Billing** and click *Replace card*."
EVIL = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> [x](javascript:window.__xss=1)'


def rater(project, name="alice"):
    return Membership.objects.get(project=project, user__username=name).user


def with_reference(make_project, slug="refs", reference=REFERENCE, **kwargs):
    project = make_project(slug, raters=("alice",), overlap=1, **kwargs)
    record = {"id": "r-1", "prompt": "How do I change my card?", "reference": reference,
              "responses": [{"model": "m1", "text": "Use settings."}]}
    import_items(project=project, stream=io.BytesIO(json.dumps(record).encode()), fmt="jsonl")
    return project


def page(project, user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("rate", args=[project.slug]))
    assert response.status_code == 200
    return response.content.decode()


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_jsonl_and_csv_imports_store_the_reference(make_project):
    project = make_project("imports")
    import_items(project=project, stream=io.BytesIO(json.dumps(
        {"id": "j-1", "prompt": "p", "reference": REFERENCE, "responses": [{"model": "m1", "text": "t"}]}
    ).encode()), fmt="jsonl")
    text = 'id,prompt,model,response,reference\nc-1,p,m1,t,"Line one,\nline two"\nc-2,p,m1,t,\n'
    import_items(project=project, stream=io.BytesIO(text.encode()), fmt="csv")
    stored = dict(Item.objects.filter(project=project).values_list("external_id", "reference"))
    assert stored == {"j-1": REFERENCE, "c-1": "Line one,\nline two", "c-2": ""}
    assert Item.objects.get(external_id="c-1").metadata == {}  # the column is the reference, not metadata


def test_the_page_shows_the_reference_collapsed_as_markdown(make_project):
    project = with_reference(make_project)
    html = page(project, rater(project))
    start = html.index('<details class="card rate-reference"')
    block = html[start : html.index("</details>", start)]
    assert " open" not in block.split(">")[0]  # collapsed until the rater opens it
    assert "<summary>Reference answer" in block
    assert "<strong>Settings → Billing</strong>" in block
    assert "<em>Replace card</em>" in block


def test_the_page_hides_the_reference_when_the_project_says_so(make_project):
    project = with_reference(make_project, show_reference=False)
    html = page(project, rater(project))
    assert "rate-reference" not in html
    assert "Replace card" not in html


def test_an_empty_reference_shows_no_panel(make_project):
    project = with_reference(make_project, reference="")
    assert "rate-reference" not in page(project, rater(project))


def test_a_hostile_reference_is_sanitised_on_the_server(make_project):
    project = with_reference(make_project, reference=EVIL)
    html = page(project, rater(project))
    start = html.index('<details class="card rate-reference"')
    block = html[start : html.index("</details>", start)]
    assert "<script" not in block
    assert "<img" not in block
    assert "javascript:" not in block.replace("[x](javascript:", "")
    assert "&lt;script&gt;" in block  # shown as text
    assert "href=" not in block


@pytest.mark.parametrize("shown", [True, False])
def test_the_api_serves_the_reference_only_when_shown(make_project, shown):
    project = with_reference(make_project, show_reference=shown)
    client = api(rater(project))
    task = client.post(f"/api/projects/{project.pk}/next/").json()
    again = client.get(f"/api/assignments/{task['id']}/").json()
    expected = REFERENCE if shown else None
    assert task["item"]["reference"] == again["item"]["reference"] == expected
    listed = client.get("/api/assignments/").json()
    assert REFERENCE not in json.dumps(listed)  # the list of one's work carries no item text


def test_leads_always_see_the_reference(make_project, lead):
    project = with_reference(make_project, show_reference=False)
    items = api(lead).get(f"/api/projects/{project.pk}/items/").json()["results"]
    assert items[0]["reference"] == REFERENCE


def test_exports_carry_the_reference(make_project):
    project = with_reference(make_project)
    next_assignment(project=project, rater=rater(project))  # a human lease does not block the judge
    rows = [{"item_id": "r-1", "rater": "gpt", "dimension": d, "value": v}
            for d, v in (("accuracy", 4), ("helpfulness", 5), ("harmless", "yes"))]
    import_ratings(project=project, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl",
                   automated=True)
    judges = export_options(project, include_automated=True)  # the report leaves judges out, so do exports
    records = [json.loads(line) for line in "".join(export_lines(project, "jsonl", options=judges)).splitlines()]
    assert len(records) == 3
    assert {r["reference"] for r in records} == {REFERENCE}
    assert {(r["rater"], r["automated"]) for r in records} == {("judge:gpt", True)}
    table = list(csv.DictReader(io.StringIO("".join(export_lines(project, "csv", options=judges)))))
    assert [r["reference"] for r in table] == [REFERENCE] * 3

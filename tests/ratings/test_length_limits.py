"""One length limit per free-text field, whichever way the text arrives: the rating page, the API and
a ratings import refuse a justification or a free-text answer over the same limit (the page used to
store a 1,000,000-character justification the API refused), and keep one at the limit.  Item ids
whose item page no URL could reach ("." and ".." parts) are refused on import."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.assignments.services import claim_next
from evalplatform.input_rules import JUSTIFICATION_MAX, TEXT_ANSWER_MAX
from evalplatform.projects.models import Item
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import import_items
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from tests.fixtures import GOOD

pytestmark = pytest.mark.django_db
FORM = {"score-accuracy": "4", "score-helpfulness": "3", "score-harmless": "1"}


def alice_on(project):
    alice = project.memberships.get(user__username="alice").user
    return alice, claim_next(project=project, rater=alice).assignment


def page_submit(project, data: dict):
    alice, assignment = alice_on(project)
    page = Client()
    page.force_login(alice)
    return page.post(reverse("rate-submit", args=[project.slug, assignment.pk]), data,
                     HTTP_ACCEPT="application/json")


def api_submit(project, body: dict):
    alice, assignment = alice_on(project)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=alice)[0].key}")
    return api.post(f"/api/assignments/{assignment.pk}/submit/", body, format="json")


def test_the_page_refuses_a_justification_of_a_million_characters(project):
    response = page_submit(project, {**FORM, "justification": "x" * 1_000_000})
    assert response.status_code == 400
    assert "20,000" in response.json()["errors"]["justification"]
    assert not Rating.objects.exists()


def test_the_page_and_the_api_take_a_justification_at_the_limit(project):
    assert page_submit(project, {**FORM, "justification": "x" * JUSTIFICATION_MAX}).status_code == 200
    bob = project.memberships.get(user__username="bob").user
    assignment = claim_next(project=project, rater=bob).assignment
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=bob)[0].key}")
    response = api.post(f"/api/assignments/{assignment.pk}/submit/",
                        {"scores": GOOD, "justification": "y" * JUSTIFICATION_MAX}, format="json")
    assert response.status_code == 201
    over = api_submit(project, {"scores": GOOD, "justification": "y" * (JUSTIFICATION_MAX + 1)})
    assert over.status_code == 400


def test_a_free_text_answer_over_the_limit_is_refused_by_page_and_api(project):
    page = page_submit(project, {**FORM, "score-why": "w" * (TEXT_ANSWER_MAX + 1)})
    assert page.status_code == 400
    assert "at most 20,000 characters" in page.json()["errors"]["why"]
    api = api_submit(project, {"scores": {**GOOD, "why": "w" * (TEXT_ANSWER_MAX + 1)}})
    assert api.status_code == 400
    assert "at most 20,000 characters" in json.dumps(api.json())
    assert not Rating.objects.exists()
    assert api_submit(project, {"scores": {**GOOD, "why": "w" * TEXT_ANSWER_MAX}}).status_code == 201


def test_a_ratings_import_refuses_the_same_lengths_by_line(project):
    rows = [{"item_id": "t-0001", "model": "m1", "rater": "alice", "dimension": k, "value": v}
            for k, v in {"accuracy": 4, "helpfulness": 5, "harmless": "yes"}.items()]
    rows[1]["justification"] = "j" * (JUSTIFICATION_MAX + 1)
    rows.append({"item_id": "t-0001", "model": "m1", "rater": "alice", "dimension": "why",
                 "value": "w" * (TEXT_ANSWER_MAX + 1)})
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl")
    assert {(e.line, e.field) for e in exc.value.errors} == {(2, "justification"), (4, "value")}


@pytest.mark.parametrize("external_id", [".", "..", "a/../b", "./x", "x/.", "a/./b"])
def test_item_ids_no_url_could_reach_are_refused(make_project, external_id):
    project = make_project(items=0)
    line = json.dumps({"id": external_id, "prompt": "p", "responses": [{"model": "m", "text": "t"}]})
    with pytest.raises(ImportRejected) as exc:
        import_items(project=project, stream=io.BytesIO(line.encode()), fmt="jsonl")
    assert [(e.line, e.field) for e in exc.value.errors] == [(1, "id")]


@pytest.mark.parametrize("external_id", [".hidden", "a.b", "a/b", "..x", "v1.2/../../x"[:5], "a//b"])
def test_other_ids_with_dots_and_slashes_import_and_their_pages_answer(make_project, external_id):
    project = make_project(items=0)
    line = json.dumps({"id": external_id, "prompt": "p", "responses": [{"model": "m", "text": "t"}]})
    import_items(project=project, stream=io.BytesIO(line.encode()), fmt="jsonl")
    assert Item.objects.filter(project=project, external_id=external_id).exists()
    lead = Client()
    lead.force_login(project.created_by)
    assert lead.get(reverse("report-item", args=[project.slug, external_id])).status_code == 200

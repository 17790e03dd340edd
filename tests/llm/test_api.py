"""The runs API: start (202), watch, cancel, resume; who may; bad input."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.llm import services
from evalplatform.llm.models import Run
from evalplatform.projects.models import Membership
from evalplatform.projects.services import add_member
from tests.fixtures import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def setup(make_project, make_endpoint, lead):
    project = make_project("tickets", items=4, raters=("alice",))
    make_endpoint("drafter")
    make_endpoint("critic")
    return project


def test_lead_starts_watches_and_reads_a_generation_run(setup, lead):
    api = client_for(lead)
    answer = api.post(f"/api/projects/{setup.pk}/llm-runs/",
                      {"kind": "generation", "endpoints": ["drafter"], "template": "Reply to: {prompt}"}, format="json")
    assert answer.status_code == 202, answer.content
    run_id = answer.json()["id"]
    assert answer["Location"] == f"/api/llm-runs/{run_id}/"
    detail = api.get(f"/api/llm-runs/{run_id}/").json()
    assert detail["status"] == "done"
    assert detail["progress"]["done"] == 4
    assert detail["progress"]["fraction"] == 1.0
    assert detail["endpoints"] == ["drafter"]
    assert detail["prompt_template"] == "Reply to: {prompt}"
    listed = api.get(f"/api/projects/{setup.pk}/llm-runs/").json()
    assert [r["id"] for r in listed["results"]] == [run_id]
    assert listed["results"][0]["progress"]["total"] == 4


def test_judge_run_reports_invalid_outputs_with_the_reason(setup, lead, fake_llm):
    fake_llm.control.add("malformed", count=1)
    api = client_for(lead)
    ep = services.ModelEndpoint.objects.get(name="critic")
    ep.supports_json_schema = False
    ep.save()
    run_id = api.post(f"/api/projects/{setup.pk}/llm-runs/", {"kind": "judge", "endpoints": ["critic"]},
                      format="json").json()["id"]
    detail = api.get(f"/api/llm-runs/{run_id}/").json()
    assert detail["progress"]["invalid"] == 1
    assert detail["progress"]["done"] == 3
    (bad,) = detail["invalid_outputs"]
    assert "not valid JSON" in bad["reason"]
    assert bad["endpoint"] == "critic"
    assert bad["output"]


def test_cancel_and_resume(setup, lead, monkeypatch):
    enqueue_workers = services._enqueue_workers
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    api = client_for(lead)
    run_id = api.post(f"/api/projects/{setup.pk}/llm-runs/", {"kind": "generation", "endpoints": ["drafter"]},
                      format="json").json()["id"]
    answer = api.post(f"/api/llm-runs/{run_id}/cancel/")
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    assert answer.json()["progress"]["cancelled"] == 4
    assert api.post(f"/api/llm-runs/{run_id}/cancel/").json()["status"] == "cancelled"  # idempotent
    monkeypatch.setattr(services, "_enqueue_workers", enqueue_workers)
    answer = api.post(f"/api/llm-runs/{run_id}/resume/")
    assert answer.json()["status"] == "done"
    assert answer.json()["progress"]["done"] == 4


@pytest.mark.parametrize("body, field, message", [
    ({"kind": "generation", "endpoints": ["ghost"]}, "endpoints", "no model endpoint(s) ghost"),
    ({"kind": "generation", "endpoints": []}, "endpoints", "Ensure this field has at least 1 elements."),
    ({"kind": "poem", "endpoints": ["drafter"]}, "kind", '"poem" is not a valid choice.'),
    ({"kind": "generation", "endpoints": ["drafter"], "template": "{oops}"}, "non_field_errors", "unknown field(s) oops"),
    ({"kind": "generation", "endpoints": ["drafter"], "items": ["t-0001", "zzz"]}, "non_field_errors", "no item(s) zzz"),
    ({"kind": "judge", "endpoints": ["critic"], "tasks": [999999]}, "non_field_errors", "no task(s) 999999"),
])
def test_bad_requests_are_400_with_the_reason_and_start_nothing(setup, lead, body, field, message):
    answer = client_for(lead).post(f"/api/projects/{setup.pk}/llm-runs/", body, format="json")
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])
    assert not Run.objects.exists()


def test_raters_are_refused_and_strangers_find_nothing(setup, lead, make_project):
    run = services.start_generation(project=setup, endpoints=[services.ModelEndpoint.objects.get(name="drafter")])
    alice = Membership.objects.get(project=setup, role="rater").user
    stranger = UserFactory(username="stranger")
    other = make_project("other")
    add_member(project=other, user=stranger, role=Membership.Role.LEAD)
    for user, code in ((alice, 403), (stranger, 404)):
        api = client_for(user)
        assert api.get(f"/api/llm-runs/{run.pk}/").status_code == code
        assert api.post(f"/api/llm-runs/{run.pk}/cancel/").status_code == code
        assert api.post(f"/api/projects/{setup.pk}/llm-runs/", {"kind": "judge", "endpoints": ["critic"]},
                        format="json").status_code == code
    assert client_for(alice).get("/api/llm/endpoints/").status_code == 403
    assert APIClient().get("/api/llm/endpoints/").status_code == 401
    assert Run.objects.count() == 1


def test_endpoints_are_listed_without_their_keys(setup, lead, make_endpoint):
    make_endpoint("keyed", api_key="sk-very-secret-123")
    listed = client_for(lead).get("/api/llm/endpoints/").json()["results"]
    keyed = next(e for e in listed if e["name"] == "keyed")
    assert keyed["has_secret"] is True
    assert "api_key_env" not in keyed
    assert "api_key_encrypted" not in keyed
    assert not next(e for e in listed if e["name"] == "drafter")["has_secret"]

"""The rater's loop over the API: next, submit, skip, and reading one's own work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership
from evalplatform.projects.services import add_member, set_paused
from evalplatform.ratings.models import Rating, Score
from rubrics.services import import_rubric
from tests.fixtures import GOOD, RUBRIC, UserFactory, next_assignment

pytestmark = pytest.mark.django_db


def next_for(client, project):
    return client.post(f"/api/projects/{project.pk}/next/")


def submit(client, assignment_id, **body):
    return client.post(f"/api/assignments/{assignment_id}/submit/", body, format="json")


def test_next_returns_item_responses_rubric_and_lease(people, as_):
    response = next_for(as_.alice, people.project)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"
    assert body["lease_expires_at"] > body["leased_at"]
    assert body["item"]["external_id"] == "t-0001"
    assert body["item"]["metadata"] == {"topic": "billing"}
    assert body["responses"] == [{"label": "", "text": "Answer 1 from m1"}]
    rubric = body["rubric_version"]
    assert rubric["number"] == 1
    assert [d["key"] for d in rubric["dimensions"]][:2] == ["accuracy", "helpfulness"]
    assert rubric["dimensions"][0]["levels"][0] == {"value": 1, "label": "Wrong", "anchor": ""}
    assert "model" not in str(body["responses"])  # blind rating
    assert next_for(as_.alice, people.project).json()["id"] == body["id"]  # the same lease back


def test_reference_is_hidden_when_the_project_says_so(make_project, client_for):
    project = make_project("hidden", items=1, raters=("rita",), show_reference=False)
    project.items.update(reference="the ideal answer")
    body = next_for(client_for(Membership.objects.get(user__username="rita").user), project).json()
    assert body["item"]["reference"] is None


def test_pairwise_responses_follow_the_swap(make_project, pairwise_version, client_for):
    project = make_project("pairs", items=1, models=("m1", "m2"), raters=("pat",), version=pairwise_version,
                           kind="pairwise")
    pat = Membership.objects.get(project=project, user__username="pat").user
    assignment = next_assignment(project=project, rater=pat)
    Assignment.objects.filter(pk=assignment.pk).update(swapped=True)
    client = client_for(pat)
    body = client.get(f"/api/assignments/{assignment.pk}/").json()
    assert body["responses"] == [{"label": "A", "text": "Answer 1 from m2"}, {"label": "B", "text": "Answer 1 from m1"}]
    rating = submit(client, assignment.pk, scores={"preference": -2}).json()  # "A (m2) is much better"
    assert rating["scores"] == {"preference": -2}  # as the rater saw it
    assert Score.objects.get().value == 2  # stored in the task's orientation: m2 (response_b) better


def test_next_is_204_when_nothing_is_left(make_project, client_for):
    project = make_project("tiny", items=1, overlap=1, raters=("rae",))
    client = client_for(Membership.objects.get(user__username="rae").user)
    assignment = next_for(client, project).json()
    assert submit(client, assignment["id"], scores=GOOD).status_code == 201
    response = next_for(client, project)
    assert response.status_code == 204
    assert response.content == b""


def test_paused_rater_is_refused_with_the_reason(people, as_):
    set_paused(project=people.project, user=people.alice, paused=True)
    response = next_for(as_.alice, people.project)
    assert response.status_code == 403
    assert "paused" in response.json()["detail"]


def test_submit_is_201_then_200_with_the_same_rating(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    first = submit(as_.alice, assignment["id"], scores=GOOD, justification="fine", duration_ms=1234)
    again = submit(as_.alice, assignment["id"], scores=GOOD, justification="fine", duration_ms=1234)
    other = submit(as_.alice, assignment["id"], scores={"accuracy": 1, "helpfulness": 1, "harmless": False})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert first.json() == again.json()
    assert "revise" in other.json()["detail"]
    assert first.json()["scores"] == {"accuracy": 4, "helpfulness": 3, "harmless": 1}
    assert first.json()["duration_ms"] == 1234
    assert Rating.objects.count() == 1
    detail = as_.alice.get(f"/api/assignments/{assignment['id']}/").json()
    assert detail["status"] == "submitted"
    assert detail["rating"] == first.json()["id"]


@pytest.mark.parametrize(
    ("scores", "field", "phrase"),
    [
        ({**GOOD, "tone": 3}, "tone", "unknown dimension"),
        ({**GOOD, "accuracy": 9}, "accuracy", "off the scale"),
        ({"helpfulness": 3, "harmless": True}, "accuracy", "required"),
        ({**GOOD, "topic": "sports"}, "topic", "not a value of this scale"),
    ],
)
def test_submit_validation_errors_are_field_level(people, as_, scores, field, phrase):
    assignment = next_for(as_.alice, people.project).json()
    response = submit(as_.alice, assignment["id"], scores=scores)
    assert response.status_code == 400
    assert phrase in response.json()[field][0]
    assert not Rating.objects.exists()


def test_submit_shape_errors_are_field_level(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    response = submit(as_.alice, assignment["id"], scores=[1, 2], duration_ms=-5)
    assert response.status_code == 400
    assert set(response.json()) == {"scores", "duration_ms"}


def test_missing_justification_when_required(make_project, client_for):
    version, _ = import_rubric(data={**RUBRIC, "slug": "strict", "justification": "required"})
    project = make_project("strict", items=1, raters=("jo",), version=version)
    client = client_for(Membership.objects.get(user__username="jo").user)
    assignment = next_for(client, project).json()
    response = submit(client, assignment["id"], scores=GOOD)
    assert response.status_code == 400
    assert "justification" in response.json()
    assert submit(client, assignment["id"], scores=GOOD, justification="because").status_code == 201


def test_submitting_a_skipped_task_is_409(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    skipped = as_.alice.post(f"/api/assignments/{assignment['id']}/skip/", {"reason": "not my field"}, format="json")
    assert skipped.status_code == 200
    assert skipped.json()["status"] == "skipped"
    assert skipped.json()["skip_reason"] == "not my field"
    response = submit(as_.alice, assignment["id"], scores=GOOD)
    assert response.status_code == 409
    assert "skipped" in response.json()["detail"]
    assert next_for(as_.alice, people.project).json()["item"]["external_id"] != assignment["item"]["external_id"]


def test_skipping_a_rated_task_is_409(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    submit(as_.alice, assignment["id"], scores=GOOD)
    assert as_.alice.post(f"/api/assignments/{assignment['id']}/skip/").status_code == 409


def test_late_submit_after_the_task_filled_is_409(make_project, client_for):
    project = make_project("full", items=1, overlap=1, raters=("ann", "ben"))
    ann, ben = (Membership.objects.get(project=project, user__username=n).user for n in ("ann", "ben"))
    late = next_for(client_for(ann), project).json()
    Assignment.objects.filter(pk=late["id"]).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1), leased_at=timezone.now() - timedelta(hours=1)
    )
    taken = next_for(client_for(ben), project).json()
    assert submit(client_for(ben), taken["id"], scores=GOOD).status_code == 201
    response = submit(client_for(ann), late["id"], scores=GOOD)
    assert response.status_code == 409
    assert "expired" in response.json()["detail"]


def test_late_submit_with_room_left_is_accepted(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    Assignment.objects.filter(pk=assignment["id"]).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1), leased_at=timezone.now() - timedelta(hours=1)
    )
    next_assignment(project=people.project, rater=people.bob)  # expires alice's lease on the way
    assert submit(as_.alice, assignment["id"], scores=GOOD).status_code == 201


def test_leads_and_strangers_are_not_served(people, as_):
    assert next_for(as_.lead, people.project).status_code == 403
    assert next_for(as_.stranger, people.project).status_code == 404


def test_a_member_who_is_only_a_lead_cannot_read_raters_assignments(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    assert as_.lead.get(f"/api/assignments/{assignment['id']}/").status_code == 404
    assert as_.bob.get(f"/api/assignments/{assignment['id']}/").status_code == 404


def test_own_assignments_list_filters_by_status(people, as_):
    first = next_for(as_.alice, people.project).json()
    submit(as_.alice, first["id"], scores=GOOD)
    next_for(as_.alice, people.project)
    submitted = as_.alice.get("/api/assignments/", {"status": "submitted"}).json()["results"]
    assert [a["id"] for a in submitted] == [first["id"]]
    assert as_.alice.get("/api/assignments/", {"project": people.project.pk}).json()["count"] == 2


def test_lead_reads_ratings_of_their_project_by_rater(people, as_):
    for client in (as_.alice, as_.bob):
        submit(client, next_for(client, people.project).json()["id"], scores=GOOD, justification="ok")
    ratings = as_.lead.get("/api/ratings/", {"project": people.project.pk, "rater": "bob"}).json()["results"]
    assert [r["rater"] for r in ratings] == ["bob"]
    assert ratings[0]["justification"] == "ok"


def test_automated_users_cannot_get_a_token(db):
    UserFactory(username="judge:x", is_automated=True, is_active=False)
    from rest_framework.test import APIClient

    response = APIClient().post("/api/auth/token/", {"username": "judge:x", "password": "pw-for-tests-123"})
    assert response.status_code == 400


def test_membership_can_change_role_and_unpause(people, as_):
    add_member(project=people.project, user=people.stranger, role="rater")
    url = f"/api/projects/{people.project.pk}/members/stranger/"
    assert as_.lead.patch(url, {"paused": True}, format="json").json()["paused"] is True
    assert next_for(as_.stranger, people.project).status_code == 403
    assert as_.lead.patch(url, {"paused": False, "role": "lead"}, format="json").json() == {
        **as_.lead.get(url).json(), "role": "lead", "paused": False,
    }

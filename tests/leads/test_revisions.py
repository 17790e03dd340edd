"""Corrections, audited: a re-submit with other values is a 409 that points to revise; a revision keeps
the old values in a history table, refreshes the report, and a lead may lock revisions."""

from __future__ import annotations

import pytest

from evalplatform.projects.models import Membership, Project
from evalplatform.ratings.models import Rating, RatingRevision
from evalplatform.ratings.services import RevisionRefused, SubmitError, revise_rating
from evalplatform.reports.services import latest_done
from tests.fixtures import GOOD

pytestmark = pytest.mark.django_db

CHANGED = {**GOOD, "accuracy": 2}


def next_for(client, project):
    return client.post(f"/api/projects/{project.pk}/next/")


def submit(client, assignment_id, **body):
    return client.post(f"/api/assignments/{assignment_id}/submit/", body, format="json")


def revise(client, rating_id, **body):
    return client.post(f"/api/ratings/{rating_id}/revise/", body, format="json")


@pytest.fixture
def rated(people, as_):
    assignment = next_for(as_.alice, people.project).json()
    first = submit(as_.alice, assignment["id"], scores=GOOD, justification="fine")
    assert first.status_code == 201
    return first.json()


def test_identical_resubmit_stays_idempotent(people, as_, rated):
    again = submit(as_.alice, rated["assignment"], scores=GOOD, justification="fine")
    assert again.status_code == 200
    assert again.json()["id"] == rated["id"]


def test_resubmit_with_other_values_is_409_pointing_to_revise(people, as_, rated):
    seq = Project.objects.get(pk=people.project.pk).ratings_seq
    again = submit(as_.alice, rated["assignment"], scores=CHANGED)
    assert again.status_code == 409
    detail = again.json()["detail"]
    assert "revise" in detail
    assert f"/api/ratings/{rated['id']}/revise/" in detail
    stored = as_.alice.get(f"/api/ratings/{rated['id']}/").json()
    assert stored["scores"]["accuracy"] == 4  # nothing changed
    assert Project.objects.get(pk=people.project.pk).ratings_seq == seq


def test_revise_changes_scores_and_keeps_the_old_values(people, as_, rated):
    seq = Project.objects.get(pk=people.project.pk).ratings_seq
    response = revise(as_.alice, rated["id"], scores=CHANGED, justification="misread the ticket")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == rated["id"]
    assert body["scores"]["accuracy"] == 2
    assert body["justification"] == "misread the ticket"
    history = RatingRevision.objects.get(rating_id=rated["id"])
    assert history.revised_by == people.alice
    assert history.revised_at is not None
    assert history.old == {"scores": {"accuracy": 4, "helpfulness": 3, "harmless": 1}, "justification": "fine"}
    assert history.new == {"scores": {"accuracy": 2, "helpfulness": 3, "harmless": 1},
                           "justification": "misread the ticket"}
    assert Project.objects.get(pk=people.project.pk).ratings_seq == seq + 1
    # The rating page and the API read the new values; the revision shows in the rating's history.
    detail = as_.alice.get(f"/api/ratings/{rated['id']}/").json()
    assert detail["scores"]["accuracy"] == 2
    history_api = as_.lead.get(f"/api/ratings/{rated['id']}/revisions/")
    assert history_api.status_code == 200
    [entry] = history_api.json()["results"] if "results" in history_api.json() else history_api.json()
    assert entry["revised_by"] == "alice"
    assert entry["old"]["scores"]["accuracy"] == 4


def test_revise_with_the_same_values_writes_nothing(people, as_, rated):
    seq = Project.objects.get(pk=people.project.pk).ratings_seq
    response = revise(as_.alice, rated["id"], scores=GOOD, justification="fine")
    assert response.status_code == 200
    assert not RatingRevision.objects.exists()
    assert Project.objects.get(pk=people.project.pk).ratings_seq == seq


def test_revise_validates_like_submit_and_writes_nothing_on_error(people, as_, rated):
    response = revise(as_.alice, rated["id"], scores={**GOOD, "accuracy": 9})
    assert response.status_code == 400
    assert "accuracy" in response.json()
    assert not RatingRevision.objects.exists()
    assert as_.alice.get(f"/api/ratings/{rated['id']}/").json()["scores"]["accuracy"] == 4


def test_only_the_rater_may_revise_their_rating(people, as_, rated):
    assert revise(as_.bob, rated["id"], scores=CHANGED).status_code == 404
    assert revise(as_.lead, rated["id"], scores=CHANGED).status_code == 403
    assert revise(as_.anon, rated["id"], scores=CHANGED).status_code in (401, 403)
    assert not RatingRevision.objects.exists()


def test_a_lead_may_lock_revisions(people, as_, rated):
    assert as_.alice.post(f"/api/projects/{people.project.pk}/revisions-lock/", {"locked": True},
                          format="json").status_code == 403
    locked = as_.lead.post(f"/api/projects/{people.project.pk}/revisions-lock/", {"locked": True}, format="json")
    assert locked.status_code == 200
    assert locked.json()["revisions_locked"] is True
    refused = revise(as_.alice, rated["id"], scores=CHANGED)
    assert refused.status_code == 409
    assert "locked" in refused.json()["detail"]
    as_.lead.post(f"/api/projects/{people.project.pk}/revisions-lock/", {"locked": False}, format="json")
    assert revise(as_.alice, rated["id"], scores=CHANGED).status_code == 200


def test_revising_refreshes_the_report(rated_project, django_capture_on_commit_callbacks):
    project = rated_project()
    from evalplatform.reports.services import compute, create_report

    compute(report_id=create_report(project=project, bootstrap=0).pk)
    rating = Rating.objects.filter(project=project, rater__username="alice").order_by("id").first()
    alice = Membership.objects.get(project=project, user__username="alice").user
    scores = {"accuracy": 1 if rating.scores.get(dimension__key="accuracy").value != 1 else 5,
              "helpfulness": 3, "harmless": True}
    with django_capture_on_commit_callbacks(execute=True):
        _, changed = revise_rating(rating=rating, by=alice, scores=scores)
    assert changed
    project.refresh_from_db()
    report = latest_done(project)  # the test settings run the debounced refresh at once
    assert report.data_seq == project.ratings_seq
    assert report.parameters["bootstrap"] == 0


def test_revise_service_refuses_someone_else(people, rated):
    rating = Rating.objects.get(pk=rated["id"])
    with pytest.raises(RevisionRefused):
        revise_rating(rating=rating, by=people.bob, scores=CHANGED)
    with pytest.raises(SubmitError):
        revise_rating(rating=rating, by=people.alice, scores={"accuracy": "lots"})

"""On the scoring page a rater goes back ("previous", the u key) to items rated in this session and
revises them; the old answers go to the rating's history."""

from __future__ import annotations

import pytest
from django.test import Client

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Membership
from evalplatform.ratings.models import Rating, RatingRevision

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]
GOOD = {"score-accuracy": "4", "score-helpfulness": "3", "score-harmless": "1"}
JSON = {"HTTP_ACCEPT": "application/json"}


def rater_client(project, name) -> tuple[Client, object]:
    user = Membership.objects.get(project=project, user__username=name).user
    client = Client()
    client.force_login(user)
    return client, user


def rate_one(client, project, user, **answers):
    client.get(f"/projects/{project.slug}/rate/")
    held = Assignment.objects.get(project=project, rater=user, status="active")
    client.post(f"/projects/{project.slug}/rate/{held.pk}/submit/", {**GOOD, **answers}, **JSON)
    return Rating.objects.get(assignment=held)


def test_previous_shows_the_last_rating_with_its_answers_and_revise_keeps_history(project):
    client, alice = rater_client(project, "alice")
    first = rate_one(client, project, alice, **{"score-accuracy": "2"})
    second = rate_one(client, project, alice)
    page = client.get(f"/projects/{project.slug}/rate/").content.decode()
    assert 'data-previous' in page
    assert "Previous" in page
    back = client.get(f"/projects/{project.slug}/rate/previous/").content.decode()
    assert f"/rate/rating/{second.pk}/revise/" in back
    assert "Revising your rating" in back
    assert 'value="4" data-keys="4" required checked' in back  # its accuracy, filled in
    earlier = client.get(f"/projects/{project.slug}/rate/previous/?before={second.pk}").content.decode()
    assert f"/rate/rating/{first.pk}/revise/" in earlier
    assert 'value="2" data-keys="2" required checked' in earlier
    none = client.get(f"/projects/{project.slug}/rate/previous/?before={first.pk}")
    assert none.status_code == 302  # nothing earlier in this session
    revised = client.post(f"/projects/{project.slug}/rate/rating/{first.pk}/revise/",
                          {**GOOD, "score-accuracy": "5"}, **JSON)
    assert revised.status_code == 200
    assert "revised" in revised.json()["notice"]
    assert first.scores.get(dimension__key="accuracy").value == 5
    history = RatingRevision.objects.get(rating=first)
    assert history.old["scores"]["accuracy"] == 2
    assert history.new["scores"]["accuracy"] == 5


def test_previous_goes_back_only_to_this_sessions_ratings_of_this_rater(project):
    client, alice = rater_client(project, "alice")
    rating = rate_one(client, project, alice)
    other, _ = rater_client(project, "alice")  # a new browser session
    assert other.get(f"/projects/{project.slug}/rate/previous/").status_code == 302
    bob, _ = rater_client(project, "bob")
    assert bob.post(f"/projects/{project.slug}/rate/rating/{rating.pk}/revise/", GOOD).status_code == 404


def test_a_bad_revision_is_shown_beside_the_questions_and_changes_nothing(project):
    client, alice = rater_client(project, "alice")
    rating = rate_one(client, project, alice)
    bad = client.post(f"/projects/{project.slug}/rate/rating/{rating.pk}/revise/",
                      {**GOOD, "score-accuracy": "9"})
    assert bad.status_code == 400
    assert "Revising your rating" in bad.content.decode()
    assert rating.scores.get(dimension__key="accuracy").value == 4
    assert not RatingRevision.objects.exists()


def test_previous_is_offered_when_nothing_is_left_to_rate(make_project):
    project = make_project("small", items=1, overlap=1, raters=("alice",))
    client, alice = rater_client(project, "alice")
    rating = rate_one(client, project, alice)
    done = client.get(f"/projects/{project.slug}/rate/").content.decode()
    assert "Nothing left to rate" in done
    assert "data-previous" in done
    back = client.get(f"/projects/{project.slug}/rate/previous/").content.decode()
    assert f"/rate/rating/{rating.pk}/revise/" in back

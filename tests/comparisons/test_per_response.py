"""Questions asked of each response of a pair: keyed ``key.a``/``key.b`` as the rater saw the pair,
stored with the response that was on that side, one score per (rating, dimension, response)."""

from __future__ import annotations

import io
import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Score
from evalplatform.ratings.services import SubmitError, submit_rating
from rubrics.services import import_rubric
from tests.fixtures import next_assignment

pytestmark = pytest.mark.django_db

DUEL_RUBRIC = {
    "slug": "duel-plus",
    "name": "Preference and accuracy",
    "dimensions": [
        {"key": "preference", "kind": "pairwise", "points": 5},
        {"key": "accuracy", "kind": "likert", "min": 1, "max": 5},
        {"key": "notes", "kind": "text", "required": False},
    ],
}


@pytest.fixture
def duel(make_project):
    version, _ = import_rubric(data=DUEL_RUBRIC)
    return make_project("duel", kind="pairwise", version=version, items=2, models=("m1", "m2"), overlap=2,
                        raters=("alice", "bob"))


def rater(project, name):
    return project.memberships.get(user__username=name).user


def stored(rating):
    return {
        (s.dimension.key, s.response.model if s.response else None): s.value if s.value is not None else s.text
        for s in rating.scores.select_related("dimension", "response")
    }


@pytest.mark.parametrize("swapped", [False, True])
def test_per_response_answers_are_stored_with_the_response_on_that_side(duel, swapped):
    held = next_assignment(project=duel, rater=rater(duel, "alice"))
    Assignment.objects.filter(pk=held.pk).update(swapped=swapped)
    held.refresh_from_db()
    submitted = submit_rating(assignment=held, scores={"preference": -2, "accuracy.a": 5, "accuracy.b": 2,
                                                       "notes": "left wins"})
    rating = submitted.rating
    left, right = ("m2", "m1") if swapped else ("m1", "m2")
    assert stored(rating) == {
        ("preference", None): 2 if swapped else -2, ("accuracy", left): 5, ("accuracy", right): 2,
        ("notes", None): "left wins",
    }


def test_the_api_reads_them_back_as_the_rater_saw_them(duel, client_for):
    alice = rater(duel, "alice")
    held = next_assignment(project=duel, rater=alice)
    Assignment.objects.filter(pk=held.pk).update(swapped=True)
    response = client_for(alice).post(f"/api/assignments/{held.pk}/submit/",
                                      {"scores": {"preference": 1, "accuracy.a": 3, "accuracy.b": 4}}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["scores"] == {"preference": 1, "accuracy.a": 3, "accuracy.b": 4}


@pytest.mark.parametrize(
    ("scores", "field", "message"),
    [
        ({"preference": 0, "accuracy": 3}, "accuracy", "give accuracy.a and accuracy.b"),
        ({"preference": 0, "accuracy.a": 3}, "accuracy.b", "required"),
        ({"preference": 0, "accuracy.a": 3, "accuracy.b": 9}, "accuracy.b", "off the scale"),
        ({"preference": 0, "accuracy.a": 3, "accuracy.b": 3, "accuracy.c": 1}, "accuracy.c", "unknown dimension"),
    ],
)
def test_submissions_that_do_not_answer_each_response_are_refused(duel, scores, field, message):
    held = next_assignment(project=duel, rater=rater(duel, "alice"))
    with pytest.raises(SubmitError) as refused:
        submit_rating(assignment=held, scores=scores)
    assert message in refused.value.errors[field]


def test_the_database_keeps_one_score_per_rating_dimension_and_response(duel):
    held = next_assignment(project=duel, rater=rater(duel, "alice"))
    submitted = submit_rating(assignment=held, scores={"preference": 0, "accuracy.a": 3, "accuracy.b": 3})
    rating = submitted.rating
    score = rating.scores.filter(response__isnull=False).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Score.objects.create(rating=rating, dimension=score.dimension, response=score.response, value=1)
    preference = rating.scores.get(response__isnull=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Score.objects.create(rating=rating, dimension=preference.dimension, value=1)


def test_the_scoring_page_asks_each_response_and_stores_it(duel, client):
    alice = rater(duel, "alice")
    client.force_login(alice)
    page = client.get(reverse("rate", args=[duel.slug]))
    html = page.content.decode()
    assert 'name="score-accuracy.a"' in html
    assert 'name="score-accuracy.b"' in html
    assert "Accuracy: response A" in html or "accuracy: response A" in html
    held = Assignment.objects.get(rater=alice, status="active")
    answer = client.post(reverse("rate-submit", args=[duel.slug, held.pk]),
                         {"score-preference": "1", "score-accuracy.a": "4", "score-accuracy.b": "2"})
    assert answer.status_code == 302
    task = held.task
    left, right = (task.response_b, task.response_a) if held.swapped else (task.response_a, task.response_b)
    rating = held.rating
    assert stored(rating)[("accuracy", left.model)] == 4
    assert stored(rating)[("accuracy", right.model)] == 2
    refused = client.post(reverse("rate-submit", args=[duel.slug, next_assignment(project=duel, rater=alice).pk]),
                          {"score-preference": "1", "score-accuracy.a": "4"})
    assert refused.status_code == 400
    assert 'data-error-for="accuracy.b"' in refused.content.decode()


def test_imported_ratings_name_the_response_of_per_response_questions(duel):
    rows = [
        {"item_id": "t-0001", "model_a": "m1", "model_b": "m2", "rater": "erin", "dimension": "preference", "value": 2},
        {"item_id": "t-0001", "model_a": "m1", "model_b": "m2", "model": "m1", "rater": "erin",
         "dimension": "accuracy", "value": 2},
        {"item_id": "t-0001", "model_a": "m1", "model_b": "m2", "model": "m2", "rater": "erin",
         "dimension": "accuracy", "value": 5},
    ]
    import_ratings(project=duel, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl", create_raters=True)
    rating = duel.ratings.get(rater__username="erin")
    assert stored(rating) == {("preference", None): 2, ("accuracy", "m1"): 2, ("accuracy", "m2"): 5}


def test_an_import_without_the_model_of_a_per_response_question_is_refused(duel):
    from evalplatform.projects.records import ImportRejected

    rows = [
        {"item_id": "t-0001", "model_a": "m1", "model_b": "m2", "rater": "erin", "dimension": "preference", "value": 2},
        {"item_id": "t-0001", "model_a": "m1", "model_b": "m2", "rater": "erin", "dimension": "accuracy", "value": 2},
    ]
    with pytest.raises(ImportRejected) as refused:
        import_ratings(project=duel, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl", create_raters=True)
    text = " ".join(refused.value.lines())
    assert "scored per response" in text
    assert "both responses" in text


def test_the_long_export_names_the_response_and_imports_back(duel, make_project):
    from evalplatform.ratings.exports import rating_columns, rating_rows

    held = next_assignment(project=duel, rater=rater(duel, "alice"))
    Assignment.objects.filter(pk=held.pk).update(swapped=True)
    held.refresh_from_db()
    submit_rating(assignment=held, scores={"preference": -1, "accuracy.a": 5, "accuracy.b": 2})
    header = rating_columns(duel)
    rows = [dict(zip(header, row, strict=True)) for row in rating_rows(duel)]
    assert {(r["dimension"], r["model"], r["value"]) for r in rows} == {
        ("preference", "", 1), ("accuracy", "m2", 5), ("accuracy", "m1", 2)
    }
    copy = make_project("copy", kind="pairwise", version=duel.rubric_version, items=2, models=("m1", "m2"))
    # alice has an account: she must be a rater of the copy before a file may carry her ratings there.
    copy.memberships.get_or_create(user=rater(duel, "alice"), defaults={"role": "rater"})
    import_ratings(project=copy, stream=io.BytesIO("\n".join(json.dumps(r) for r in rows).encode()), fmt="jsonl", create_raters=True)
    assert stored(copy.ratings.get()) == {("preference", None): 1, ("accuracy", "m2"): 5, ("accuracy", "m1"): 2}

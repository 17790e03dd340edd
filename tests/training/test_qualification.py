"""Training with feedback, and qualification: the pass mark with its tolerance, attempts, the verdict,
and the gate that keeps an unqualified rater from real items on the page and the API alike."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import NotCleared, claim_next
from evalplatform.ratings.models import Rating
from evalplatform.training import selectors, services
from evalplatform.training.grading import grade
from evalplatform.training.models import TrainingAttempt
from tests.fixtures import GOOD
from tests.training.conftest import RIGHT, api_client, page_client, train

pytestmark = pytest.mark.django_db


def test_after_each_submit_the_rater_sees_their_answer_the_expected_one_and_why(trained, alice):
    client = page_client(alice)
    assert client.get(reverse("rate", args=[trained.slug])).url == reverse("training", args=[trained.slug])
    page = client.get(reverse("training", args=[trained.slug])).content.decode()
    assert "Start training" in page
    assert "2 training items" in page
    client.post(reverse("training-start", args=[trained.slug]))
    page = client.get(reverse("training", args=[trained.slug])).content.decode()
    assert "Reset my password" in page
    assert "Training item 1 of 2" in page
    item = selectors.training_items(trained).first()
    response = client.post(reverse("training-answer", args=[trained.slug, item.pk]),
                           {"score-accuracy": "3", "score-helpfulness": "4", "score-harmless": "0"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    # accuracy: 3 against 5 is off by 2 (tolerance 1): differs, with the lead's explanation, rendered safely
    assert '<tr data-key="accuracy" class="mismatch">' in page
    assert "<strong>exactly</strong>" in page
    assert "5 (Fully right)" in page
    assert '<tr data-key="helpfulness" class="match">' in page
    assert '<tr data-key="harmless" class="mismatch">' in page
    assert "Nothing risky here." in page
    assert "Next training item" in page


def test_a_second_submit_of_the_same_item_keeps_the_first_answer(trained, alice):
    attempt = services.start_attempt(project=trained, rater=alice)
    item = selectors.next_training_item(attempt)
    first = services.submit_training_answer(attempt=attempt, item=item, scores=RIGHT[0])
    again = services.submit_training_answer(attempt=attempt, item=item, scores={**RIGHT[0], "accuracy": 1})
    assert again.pk == first.pk
    assert again.values["accuracy"] == 5


def test_an_invalid_training_answer_is_refused_with_the_dimension_named(trained, alice):
    client = page_client(alice)
    client.post(reverse("training-start", args=[trained.slug]))
    item = selectors.training_items(trained).first()
    response = client.post(reverse("training-answer", args=[trained.slug, item.pk]), {"score-accuracy": "4"})
    assert response.status_code == 400
    assert "helpfulness: required" in response.content.decode()
    assert not TrainingAttempt.objects.get().answers.exists()


def test_answers_within_the_tolerance_pass(trained, alice):
    # Off by one on both likert questions of the first item: within tolerance 1.
    train(trained, alice, [{**RIGHT[0], "accuracy": 4, "helpfulness": 5}, RIGHT[1]])
    attempt = TrainingAttempt.objects.get(rater=alice)
    assert attempt.passed is True
    assert (attempt.n_correct, attempt.n_scored) == (6, 6)
    assert selectors.qualification(trained, alice.pk).state == selectors.PASSED
    assert selectors.refusal(trained, alice.pk) is None
    assert claim_next(project=trained, rater=alice) is not None  # on to real items


def test_nominal_answers_must_match_exactly_whatever_the_tolerance(trained, alice):
    services.update_policy(project=trained, tolerance=4, pass_mark=1.0)
    train(trained, alice, [{**RIGHT[0], "harmless": 0}, RIGHT[1]])
    attempt = TrainingAttempt.objects.get(rater=alice)
    assert attempt.passed is False
    assert attempt.by_dimension["harmless"]["correct"] == 1
    assert attempt.by_dimension["accuracy"]["share"] == 1.0


def test_the_pass_mark_can_apply_to_each_dimension(trained, alice, bob):
    wrong_help = [{**RIGHT[0], "helpfulness": 1}, {**RIGHT[1], "helpfulness": 5}]  # 4 of 6 right, helpfulness 0 of 2
    services.update_policy(project=trained, pass_mark=0.6)
    train(trained, alice, wrong_help)
    services.update_policy(project=trained, per_dimension=True)
    train(trained, bob, wrong_help)
    assert TrainingAttempt.objects.get(rater=alice).passed is True
    assert TrainingAttempt.objects.get(rater=bob).passed is False


def test_grade_counts_per_dimension_over_pair_keys():
    result = grade([{"acc.a": True, "acc.b": False, "pref": True}], pass_mark=0.5, per_dimension=True)
    assert result.by_dimension == {"acc": {"n": 2, "correct": 1, "share": 0.5},
                                   "pref": {"n": 1, "correct": 1, "share": 1.0}}
    assert result.passed
    assert grade([], pass_mark=1, per_dimension=True).passed


def test_a_failed_rater_may_retry_until_the_attempts_run_out_then_is_stopped(trained, alice):
    bad = [{"accuracy": 1, "helpfulness": 1, "harmless": 0}, {"accuracy": 5, "helpfulness": 5, "harmless": 0}]
    train(trained, alice, bad)
    state = selectors.qualification(trained, alice.pk)
    assert state.state == selectors.TO_START
    assert state.attempts_left == 1
    client = page_client(alice)
    page = client.get(reverse("training", args=[trained.slug])).content.decode()
    assert "Not passed yet" in page
    assert "1 attempt left" in page
    assert "Try again" in page
    train(trained, alice, bad)
    assert selectors.qualification(trained, alice.pk).state == selectors.FAILED
    page = client.get(reverse("training", args=[trained.slug])).content.decode()
    assert "Training not passed" in page
    assert "will not give you items" in page
    assert client.get(reverse("rate", args=[trained.slug])).url == reverse("training", args=[trained.slug])
    with pytest.raises(services.TrainingError, match="every attempt"):
        services.start_attempt(project=trained, rater=alice)
    with pytest.raises(NotCleared) as refused:
        claim_next(project=trained, rater=alice)
    assert refused.value.refusal.code == "training_failed"


def test_an_unqualified_rater_cannot_claim_a_real_item_through_the_api(trained, alice):
    response = api_client(alice).post(f"/api/projects/{trained.pk}/next/")
    assert response.status_code == 403
    assert "training" in response.json()["detail"]
    assert f"/projects/{trained.slug}/training/" in response.json()["detail"]
    assert not Assignment.objects.exists()
    train(trained, alice, RIGHT)
    assert api_client(alice).post(f"/api/projects/{trained.pk}/next/").status_code == 200


def test_a_lease_held_from_before_training_was_required_cannot_be_submitted(trained, alice):
    services.update_policy(project=trained, training_required=False)
    assignment = claim_next(project=trained, rater=alice).assignment
    services.update_policy(project=trained, training_required=True)
    response = api_client(alice).post(f"/api/assignments/{assignment.pk}/submit/", {"scores": GOOD},
                                          format="json")
    assert response.status_code == 403
    assert "training" in response.json()["detail"]
    page = page_client(alice).post(reverse("rate-submit", args=[trained.slug, assignment.pk]),
                                   {"score-accuracy": "4", "score-helpfulness": "3", "score-harmless": "1"})
    assert page.status_code == 302
    assert not Rating.objects.exists()


def test_a_project_without_training_items_or_policy_serves_raters_as_before(make_project):
    project = make_project("plain", items=1, raters=("rita",))
    from django.contrib.auth import get_user_model

    rita = get_user_model().objects.get(username="rita")
    assert selectors.refusal(project, rita.pk) is None
    services.update_policy(project=project, training_required=True)  # no training items: nothing to train on
    assert claim_next(project=project, rater=rita) is not None


def test_requalification_on_a_new_rubric_version_when_the_project_asks(trained, alice, rubric_version):
    from evalplatform.projects.models import Project
    from rubrics.services import import_rubric
    from tests.fixtures import RUBRIC

    train(trained, alice, RIGHT)
    new_version, _ = import_rubric(data={**RUBRIC, "guidelines": "Rate each draft, carefully."})
    assert new_version.pk != rubric_version.pk
    # No service moves a project to another version yet (the admin shows it read-only); the rules key on
    # the project's current version, whatever changes it.
    Project.objects.filter(pk=trained.pk).update(rubric_version=new_version)
    trained.refresh_from_db()
    assert selectors.refusal(trained, alice.pk) is None  # re-qualification is off: the pass stands
    services.update_policy(project=trained, requalify_on_new_version=True)
    state = selectors.qualification(trained, alice.pk)
    assert state.state == selectors.TO_START
    assert state.attempts_left == 2  # fresh attempts on the new version
    with pytest.raises(NotCleared):
        claim_next(project=trained, rater=alice)
    train(trained, alice, RIGHT)
    assert claim_next(project=trained, rater=alice) is not None
    assert TrainingAttempt.objects.filter(rater=alice, rubric_version=new_version, passed=True).count() == 1


def test_an_attempt_whose_remaining_items_were_removed_is_graded_when_the_rater_comes_back(trained, alice):
    attempt = services.start_attempt(project=trained, rater=alice)
    services.submit_training_answer(attempt=attempt, item=selectors.next_training_item(attempt), scores=RIGHT[0])
    services.delete_training_item(item=selectors.next_training_item(attempt))
    page = page_client(alice).get(reverse("training", args=[trained.slug])).content.decode()
    assert "Training passed" in page
    attempt.refresh_from_db()
    assert attempt.passed is True
    assert (attempt.n_correct, attempt.n_scored) == (3, 3)


def test_a_pair_training_item_is_answered_and_graded_like_a_pair_task(make_project, pairwise_version):
    from evalplatform.training.importing import import_training_items
    from tests.training.conftest import jsonl

    project = make_project("pairs", items=1, models=("m1", "m2"), raters=("pat",), version=pairwise_version)
    record = {"id": "p-1", "prompt": "Which?", "responses": [{"model": "m1", "text": "A"}, {"model": "m2", "text": "B"}],
              "expected": {"preference": -2}, "explanation": {"preference": "A answers the question."}}
    import_training_items(project=project, stream=jsonl([record]), fmt="jsonl")
    services.update_policy(project=project, training_required=True, tolerance=1, pass_mark=1.0)
    pat = project.memberships.get(user__username="pat").user
    client = page_client(pat)
    client.post(reverse("training-start", args=[project.slug]))
    page = client.get(reverse("training", args=[project.slug])).content.decode()
    assert "Response A" in page
    assert "Response B" in page
    item = selectors.training_items(project).get()
    response = client.post(reverse("training-answer", args=[project.slug, item.pk]), {"score-preference": "-1"})
    feedback = client.get(response.url).content.decode()
    assert '<tr data-key="preference" class="match">' in feedback
    assert "A answers the question." in feedback
    assert selectors.qualification(project, pat.pk).state == selectors.PASSED


def test_the_gate_costs_a_fixed_few_queries_on_next_and_none_without_onboarding(trained, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evalplatform.assignments.services import skip

    train(trained, alice, RIGHT)
    client = api_client(alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/api/projects/{trained.pk}/next/")
        assert response.status_code == 200
        skip(assignment=Assignment.objects.get(pk=response.json()["id"]))
        return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])

    count()  # warm the per-process rubric caches
    with_gate = count()
    services.update_policy(project=trained, training_required=False)
    without = count()
    assert with_gate - without == 3, (with_gate, without)  # the policy, "any training items", the rater's attempts

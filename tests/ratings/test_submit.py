"""Submitting a rating (``ratings.services.submit_rating``): idempotent, validated against the rubric
version, refused when the task's state refuses it (skipped, lease lapsed and the task full), and
accepted late while the task has room."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.assignments.services import expire_leases, skip
from evalplatform.projects.models import Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import SubmitConflict, SubmitError, submit_rating
from tests.assignments.invariants import assert_queue_invariants
from tests.fixtures import GOOD, next_assignment

pytestmark = pytest.mark.django_db


def test_submit_is_idempotent(project):
    alice = project.memberships.get(user__username="alice").user
    a = next_assignment(project=project, rater=alice)
    submitted = submit_rating(assignment=a, scores=GOOD, duration_ms=1200)
    rating, created = submitted.rating, submitted.created
    submitted = submit_rating(assignment=a, scores=GOOD, duration_ms=1200)
    again, created_again = submitted.rating, submitted.created
    assert created
    assert not created_again
    assert again.pk == rating.pk
    with pytest.raises(SubmitConflict, match="revise"):  # other values: a correction takes revise_rating
        submit_rating(assignment=a, scores={**GOOD, "accuracy": 1})
    assert Rating.objects.count() == 1
    assert Task.objects.get(pk=a.task_id).rated_count == 1


def test_submit_validates_against_the_rubric(project):
    alice = project.memberships.get(user__username="alice").user
    a = next_assignment(project=project, rater=alice)
    with pytest.raises(SubmitError) as exc:
        submit_rating(assignment=a, scores={"accuracy": 7, "colour": 1})
    assert set(exc.value.errors) == {"accuracy", "colour", "helpfulness", "harmless"}
    assert "off the scale" in exc.value.errors["accuracy"]
    assert not Rating.objects.exists()


def test_expired_lease_returns_to_queue_and_late_submit_needs_room(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a = next_assignment(project=project, rater=r1)
    later = timezone.now() + timedelta(seconds=project.lease_seconds + 1)
    assert expire_leases(project=project, now=later) == 1
    b = next_assignment(project=project, rater=r2, now=later)
    assert b.task_id == a.task_id
    with pytest.raises(SubmitConflict, match="expired"):
        submit_rating(assignment=a, scores=GOOD)
    submit_rating(assignment=b, scores=GOOD)
    assert Task.objects.get(pk=a.task_id).rated_count == 1


def test_late_submit_is_accepted_while_the_task_has_room(make_project):
    project = make_project(items=1, overlap=2, raters=("r1",))
    r1 = project.memberships.get(user__username="r1").user
    a = next_assignment(project=project, rater=r1)
    expire_leases(project=project, now=timezone.now() + timedelta(hours=1))
    assert Task.objects.get(pk=a.task_id).claimed_count == 0
    submitted = submit_rating(assignment=a, scores=GOOD)
    created = submitted.created
    assert created
    assert Task.objects.get(pk=a.task_id).claimed_count == 1


def test_skipped_task_cannot_be_submitted(project):
    alice = project.memberships.get(user__username="alice").user
    a = next_assignment(project=project, rater=alice)
    skip(assignment=a)
    with pytest.raises(SubmitConflict, match="skipped"):
        submit_rating(assignment=a, scores=GOOD)


def test_a_nul_character_in_a_justification_is_a_field_error(project):
    alice = project.memberships.get(user__username="alice").user
    a = next_assignment(project=project, rater=alice)
    with pytest.raises(SubmitError) as exc:
        submit_rating(assignment=a, scores={**GOOD, "why": "x\x00y"}, justification="a\x00b")
    assert set(exc.value.errors) == {"why", "justification"}
    assert not Rating.objects.exists()


def test_a_skipped_lease_is_refused_at_submit_even_after_expiry(make_project):
    project = make_project(items=1, overlap=1, raters=("r1",))
    a = next_assignment(project=project, rater=project.memberships.get(user__username="r1").user)
    skip(assignment=a)
    expire_leases(project=project, now=timezone.now() + timedelta(hours=2))
    with pytest.raises(SubmitConflict, match="skipped"):
        submit_rating(assignment=a, scores=GOOD)
    assert_queue_invariants(project)


def test_an_automated_rating_returns_the_same_result_as_a_raters_submit(project):
    """``submit_automated_rating`` gives a ``Submitted`` like ``submit_rating``: the score rows written with a
    new rating, and the first rating (``created`` False, no rows) on a repeat."""
    from django.contrib.auth import get_user_model

    from evalplatform.ratings.services import Submitted, submit_automated_rating

    judge = get_user_model().objects.create(username="judge:gpt", is_active=False, is_automated=True)
    task = Task.objects.filter(project=project).first()
    first = submit_automated_rating(task=task, rater=judge, scores=GOOD)
    assert isinstance(first, Submitted)
    assert first.created
    assert sorted(s.dimension.key for s in first.scores) == sorted(GOOD)
    assert all(s.pk is not None and s.rating_id == first.rating.pk for s in first.scores)
    again = submit_automated_rating(task=task, rater=judge, scores=GOOD)
    assert not again.created
    assert again.rating.pk == first.rating.pk
    assert again.scores == ()
    assert Rating.objects.filter(rater=judge).count() == 1

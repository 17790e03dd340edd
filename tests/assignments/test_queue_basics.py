"""The queue's core rules on one connection; concurrency has its own module."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import NotARater, claim_next, expire_leases, skip
from evalplatform.projects.models import Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import SubmitConflict, SubmitError, submit_rating
from tests.fixtures import GOOD, UserFactory

pytestmark = pytest.mark.django_db


def test_same_rater_gets_the_same_lease_back(project):
    alice = project.memberships.get(user__username="alice").user
    first = claim_next(project=project, rater=alice)
    assert claim_next(project=project, rater=alice).pk == first.pk


def test_rater_is_never_served_a_task_twice_and_overlap_is_respected(make_project):
    project = make_project(items=2, overlap=2, raters=("r1", "r2", "r3"))
    served: dict[str, list[int]] = {}
    for name in ("r1", "r2", "r3"):
        rater = project.memberships.get(user__username=name).user
        while (a := claim_next(project=project, rater=rater)) is not None:
            submit_rating(assignment=a, scores=GOOD)
            served.setdefault(name, []).append(a.task_id)
    for tasks in served.values():
        assert len(tasks) == len(set(tasks))
    assert sum(len(t) for t in served.values()) == 2 * 2
    assert all(t.rated_count == 2 for t in Task.objects.filter(project=project))


def test_started_tasks_finish_before_new_ones_open(make_project):
    project = make_project(items=3, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a1 = claim_next(project=project, rater=r1)
    assert claim_next(project=project, rater=r2).task_id == a1.task_id


def test_priority_comes_first(make_project):
    project = make_project(items=3, raters=("r1",))
    Task.objects.filter(item__external_id="t-0003").update(priority=5)
    rater = project.memberships.get(user__username="r1").user
    assert claim_next(project=project, rater=rater).task.item.external_id == "t-0003"


def test_non_members_and_leads_are_not_served(project, lead):
    with pytest.raises(NotARater):
        claim_next(project=project, rater=UserFactory(username="stranger"))
    with pytest.raises(NotARater):
        claim_next(project=project, rater=lead)


def test_skip_releases_the_place_and_the_rater_never_sees_it_again(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a = claim_next(project=project, rater=r1)
    assert claim_next(project=project, rater=r2) is None  # full while r1 holds it
    skip(assignment=a, reason="not my language")
    assert Assignment.objects.get(pk=a.pk).skip_reason == "not my language"
    assert claim_next(project=project, rater=r1) is None
    assert claim_next(project=project, rater=r2).task_id == a.task_id


def test_submit_is_idempotent(project):
    alice = project.memberships.get(user__username="alice").user
    a = claim_next(project=project, rater=alice)
    rating, created = submit_rating(assignment=a, scores=GOOD, duration_ms=1200)
    again, created_again = submit_rating(assignment=a, scores={**GOOD, "accuracy": 1})
    assert created and not created_again and again.pk == rating.pk
    assert Rating.objects.count() == 1 and Task.objects.get(pk=a.task_id).rated_count == 1


def test_submit_validates_against_the_rubric(project):
    alice = project.memberships.get(user__username="alice").user
    a = claim_next(project=project, rater=alice)
    with pytest.raises(SubmitError) as exc:
        submit_rating(assignment=a, scores={"accuracy": 7, "colour": 1})
    assert set(exc.value.errors) == {"accuracy", "colour", "helpfulness", "harmless"}
    assert "off the scale" in exc.value.errors["accuracy"]
    assert not Rating.objects.exists()


def test_expired_lease_returns_to_queue_and_late_submit_needs_room(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a = claim_next(project=project, rater=r1)
    later = timezone.now() + timedelta(seconds=project.lease_seconds + 1)
    assert expire_leases(project=project, now=later) == 1
    b = claim_next(project=project, rater=r2, now=later)
    assert b.task_id == a.task_id
    with pytest.raises(SubmitConflict, match="expired"):
        submit_rating(assignment=a, scores=GOOD)
    submit_rating(assignment=b, scores=GOOD)
    assert Task.objects.get(pk=a.task_id).rated_count == 1


def test_late_submit_is_accepted_while_the_task_has_room(make_project):
    project = make_project(items=1, overlap=2, raters=("r1",))
    r1 = project.memberships.get(user__username="r1").user
    a = claim_next(project=project, rater=r1)
    expire_leases(project=project, now=timezone.now() + timedelta(hours=1))
    assert Task.objects.get(pk=a.task_id).claimed_count == 0
    _, created = submit_rating(assignment=a, scores=GOOD)
    assert created and Task.objects.get(pk=a.task_id).claimed_count == 1


def test_skipped_task_cannot_be_submitted(project):
    alice = project.memberships.get(user__username="alice").user
    a = claim_next(project=project, rater=alice)
    skip(assignment=a)
    with pytest.raises(SubmitConflict, match="skipped"):
        submit_rating(assignment=a, scores=GOOD)


def test_a_nul_character_in_a_justification_is_a_field_error(project):
    alice = project.memberships.get(user__username="alice").user
    a = claim_next(project=project, rater=alice)
    with pytest.raises(SubmitError) as exc:
        submit_rating(assignment=a, scores={**GOOD, "why": "x\x00y"}, justification="a\x00b")
    assert set(exc.value.errors) == {"why", "justification"}
    assert not Rating.objects.exists()

"""The queue's core rules on one connection; concurrency has its own module."""


import pytest

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import NotARater, claim_next, skip
from evalplatform.projects.models import Task
from evalplatform.ratings.services import submit_rating
from tests.fixtures import GOOD, UserFactory, next_assignment

pytestmark = pytest.mark.django_db


def test_same_rater_gets_the_same_lease_back(project):
    alice = project.memberships.get(user__username="alice").user
    first = next_assignment(project=project, rater=alice)
    assert next_assignment(project=project, rater=alice).pk == first.pk


def test_a_claim_says_whether_its_lease_is_new(project):
    alice = project.memberships.get(user__username="alice").user
    first = claim_next(project=project, rater=alice)
    again = claim_next(project=project, rater=alice)
    assert first.new is True
    assert again.new is False
    assert again.assignment.pk == first.assignment.pk


def test_a_new_lease_comes_with_what_the_rater_is_shown(project, django_assert_num_queries):
    claim = claim_next(project=project, rater=project.memberships.get(user__username="alice").user)
    with django_assert_num_queries(0):
        shown = (claim.assignment.task.item.prompt, claim.assignment.task.response_a.text,
                 claim.assignment.project.rubric_version.number)
    assert shown[0].startswith("Prompt")


def test_nothing_left_is_no_claim(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    assert claim_next(project=project, rater=project.memberships.get(user__username="r1").user) is not None
    assert claim_next(project=project, rater=project.memberships.get(user__username="r2").user) is None


def test_rater_is_never_served_a_task_twice_and_overlap_is_respected(make_project):
    project = make_project(items=2, overlap=2, raters=("r1", "r2", "r3"))
    served: dict[str, list[int]] = {}
    for name in ("r1", "r2", "r3"):
        rater = project.memberships.get(user__username=name).user
        while (a := next_assignment(project=project, rater=rater)) is not None:
            submit_rating(assignment=a, scores=GOOD)
            served.setdefault(name, []).append(a.task_id)
    for tasks in served.values():
        assert len(tasks) == len(set(tasks))
    assert sum(len(t) for t in served.values()) == 2 * 2
    assert all(t.rated_count == 2 for t in Task.objects.filter(project=project))


def test_started_tasks_finish_before_new_ones_open(make_project):
    project = make_project(items=3, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a1 = next_assignment(project=project, rater=r1)
    assert next_assignment(project=project, rater=r2).task_id == a1.task_id


def test_priority_comes_first(make_project):
    project = make_project(items=3, raters=("r1",))
    Task.objects.filter(item__external_id="t-0003").update(priority=5)
    rater = project.memberships.get(user__username="r1").user
    assert next_assignment(project=project, rater=rater).task.item.external_id == "t-0003"


def test_non_members_and_leads_are_not_served(project, lead):
    with pytest.raises(NotARater):
        next_assignment(project=project, rater=UserFactory(username="stranger"))
    with pytest.raises(NotARater):
        next_assignment(project=project, rater=lead)


def test_skip_releases_the_place_and_the_rater_never_sees_it_again(make_project):
    project = make_project(items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = (project.memberships.get(user__username=n).user for n in ("r1", "r2"))
    a = next_assignment(project=project, rater=r1)
    assert next_assignment(project=project, rater=r2) is None  # full while r1 holds it
    skip(assignment=a, reason="not my language")
    assert Assignment.objects.get(pk=a.pk).skip_reason == "not my language"
    assert next_assignment(project=project, rater=r1) is None
    assert next_assignment(project=project, rater=r2).task_id == a.task_id

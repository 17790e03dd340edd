"""Automated judges rate only through imports: never served a task, never counted toward overlap, and
left out of the human agreement figures unless the lead asks for them (``include_automated``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.services import NotARater
from evalplatform.projects.models import Membership, Task
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from evalplatform.reports.compute import build_result
from tests.fixtures import next_assignment
from tests.judges.conftest import N_UNITS, jsonl
from tests.judges.synthetic import HUMANS, JUDGES, long_rows, panel

pytestmark = pytest.mark.django_db
User = get_user_model()


def counts(project) -> list[tuple[int, int]]:
    return list(Task.objects.filter(project=project).order_by("id").values_list("claimed_count", "rated_count"))


def test_claim_next_refuses_an_automated_rater(calibrated_project):
    judge = User.objects.get(username="judge:copy")
    assert judge.is_automated
    assert not judge.is_active
    assert not judge.has_usable_password()
    assert not Membership.objects.filter(user=judge).exists()
    open_project_task = Task.objects.filter(project=calibrated_project).first()
    Task.objects.filter(pk=open_project_task.pk).update(capacity=10)  # room in the queue
    with pytest.raises(NotARater, match="automated"):
        next_assignment(project=calibrated_project, rater=judge)
    assert not Assignment.objects.filter(rater=judge).exists()
    assert Rating.objects.filter(rater=judge, assignment__isnull=True).count() == N_UNITS


def test_an_automated_rater_is_refused_even_as_a_member(make_project):
    # A membership row that should never exist (the services refuse it) still does not serve tasks.
    project = make_project("members", items=2)
    judge = User.objects.create(username="judge:sneaky", is_automated=True, is_active=False)
    Membership.objects.create(project=project, user=judge, role=Membership.Role.RATER)
    with pytest.raises(NotARater):
        next_assignment(project=project, rater=judge)


def test_judge_imports_never_change_overlap_counts(make_project, quality_version):
    project = make_project("overlap", items=N_UNITS, overlap=2, raters=("ann", "ben", "cat"), version=quality_version)
    humans, judges = panel(N_UNITS)
    before = counts(project)
    import_ratings(project=project, stream=jsonl(long_rows(judges)), fmt="jsonl", automated=True)
    assert counts(project) == before == [(0, 0)] * N_UNITS
    # the humans still get every place: two raters per task, the third finds nothing left
    import_ratings(project=project, stream=jsonl(long_rows({"ann": humans[0], "ben": humans[1]})), fmt="jsonl", create_raters=True)
    assert counts(project) == [(2, 2)] * N_UNITS
    assert next_assignment(project=project, rater=User.objects.get(username="cat")) is None
    # and a judge can still score tasks that are full
    import_ratings(project=project, stream=jsonl(long_rows({"late": judges["high"]})), fmt="jsonl", automated=True)
    assert counts(project) == [(2, 2)] * N_UNITS
    assert Rating.objects.filter(project=project, rater__is_automated=True).count() == 4 * N_UNITS
    assert not Assignment.objects.filter(project=project, rater__is_automated=True).exists()


def test_judges_are_left_out_of_the_human_figures_unless_asked(calibrated_project):
    params = {"bootstrap": 0, "seed": 0}
    human, n_human = build_result(calibrated_project, {**params, "include_automated": False})
    (dim,) = human["dimensions"]
    assert dim["n_raters"] == len(HUMANS)
    assert n_human == len(HUMANS) * N_UNITS
    assert {r["rater"] for r in dim["raters"]} == set(HUMANS)
    everyone, n_all = build_result(calibrated_project, {**params, "include_automated": True})
    (dim,) = everyone["dimensions"]
    assert dim["n_raters"] == len(HUMANS) + len(JUDGES)
    assert n_all == n_human + len(JUDGES) * N_UNITS
    assert {f"judge:{j}" for j in JUDGES} <= {r["rater"] for r in dim["raters"]}

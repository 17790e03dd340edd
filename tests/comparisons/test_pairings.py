"""Balanced pairings: every model pair and each side about equally often, never a response with
itself, never the same two responses twice, and a re-run that changes nothing."""

from __future__ import annotations

import io
from collections import Counter
from itertools import combinations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evalplatform.comparisons.services import PairingError, generate_pairings
from evalplatform.projects.models import Task
from evalplatform.projects.services import import_items
from evalplatform.ratings.services import submit_rating
from tests.fixtures import items_jsonl, next_assignment

pytestmark = pytest.mark.django_db
MODELS = ("m1", "m2", "m3", "m4", "m5")


@pytest.fixture
def arena(make_project, pairwise_version):
    def make(items=30, models=MODELS, **kwargs):
        return make_project("arena", kind="pairwise", version=pairwise_version, items=items, models=models,
                            raters=("alice", "bob"), **kwargs)

    return make


def pair_tasks(project):
    return list(Task.objects.filter(project=project, response_b__isnull=False).values_list(
        "item_id", "response_a_id", "response_b_id", "response_a__model", "response_b__model"))


def check_invariants(project):
    tasks = pair_tasks(project)
    assert all(a != b for _, a, b, _, _ in tasks)
    unordered = Counter((item, frozenset((a, b))) for item, a, b, _, _ in tasks)
    assert max(unordered.values(), default=1) == 1
    return tasks


def test_import_then_all_balances_the_sides_of_every_model_pair(arena):
    project = arena(items=20, models=("m1", "m2", "m3"))
    before = pair_tasks(project)
    assert {(ma, mb) for *_, ma, mb in before} == {("m1", "m2"), ("m1", "m3"), ("m2", "m3")}  # import order

    summary = generate_pairings(project=project, strategy="all", seed=1)

    tasks = check_invariants(project)
    assert len(tasks) == 60
    assert summary.created == 0
    assert summary.removed == 0
    assert summary.flipped > 0
    first = Counter((ma, mb) for *_, ma, mb in tasks)
    for x, y in combinations(("m1", "m2", "m3"), 2):
        assert first[(x, y)] + first[(y, x)] == 20
        assert abs(first[(x, y)] - first[(y, x)]) <= 1
    assert all(abs(summary.model_first[m] - summary.model_tasks[m] / 2) <= 1 for m in summary.model_tasks)


@pytest.mark.parametrize(("n_items", "per_item", "seed"), [(30, 2, 0), (41, 3, 7), (25, 1, 3)])
def test_a_sample_covers_each_model_pair_and_each_model_about_equally(arena, n_items, per_item, seed):
    project = arena(items=n_items)
    summary = generate_pairings(project=project, strategy="sample", per_item=per_item, seed=seed)

    tasks = check_invariants(project)
    assert len(tasks) == n_items * per_item == summary.pair_tasks
    assert Counter(item for item, *_ in tasks) == {item: per_item for item, *_ in tasks}
    per_pair = Counter(frozenset((ma, mb)) for *_, ma, mb in tasks)
    assert len(per_pair) == 10
    assert max(per_pair.values()) - min(per_pair.values()) <= 1
    per_model = Counter(m for *_, ma, mb in tasks for m in (ma, mb))
    assert max(per_model.values()) - min(per_model.values()) <= 2
    first = Counter(ma for *_, ma, _ in tasks)
    assert all(abs(first[m] - per_model[m] / 2) <= 2 for m in MODELS)
    first_in_pair = Counter((ma, mb) for *_, ma, mb in tasks)
    assert all(abs(first_in_pair[(x, y)] - first_in_pair[(y, x)]) <= 1 for x, y in combinations(MODELS, 2))


def test_a_rerun_changes_nothing_and_another_seed_only_reshapes_untouched_tasks(arena):
    project = arena(items=12)
    generate_pairings(project=project, strategy="sample", per_item=2, seed=5)
    first = sorted(pair_tasks(project))
    again = generate_pairings(project=project, strategy="sample", per_item=2, seed=5)
    assert (again.created, again.removed, again.flipped) == (0, 0, 0)
    assert sorted(pair_tasks(project)) == first

    # A rater starts one task; a new plan keeps it exactly as it is.
    alice = project.memberships.get(user__username="alice").user
    held = next_assignment(project=project, rater=alice)
    kept = (held.task.item_id, held.task.response_a_id, held.task.response_b_id)
    other = generate_pairings(project=project, strategy="sample", per_item=3, seed=9)
    tasks = check_invariants(project)
    assert other.kept_started == 1
    assert len(tasks) == 36
    assert Task.objects.filter(pk=held.task_id, response_a_id=kept[1], response_b_id=kept[2]).exists()


def test_rated_tasks_count_toward_the_plan_and_survive_it(arena):
    project = arena(items=4, models=("m1", "m2", "m3"))
    alice = project.memberships.get(user__username="alice").user
    held = next_assignment(project=project, rater=alice)
    submit_rating(assignment=held, scores={"preference": -2})
    summary = generate_pairings(project=project, strategy="sample", per_item=1, seed=0)
    assert summary.kept_started == 1
    assert summary.pair_tasks == 4
    assert Task.objects.filter(item_id=held.task.item_id).count() == 1
    assert Task.objects.get(item_id=held.task.item_id).ratings.count() == 1


def test_items_with_fewer_responses_than_asked_get_all_their_pairs(arena):
    project = arena(items=0, models=())
    lines = items_jsonl(3, ("m1", "m2")) + items_jsonl(2, ("m1",), start=10)
    import_items(project=project, stream=io.BytesIO(lines), fmt="jsonl")
    summary = generate_pairings(project=project, strategy="sample", per_item=4, seed=0)
    assert summary.items == 3
    assert summary.pair_tasks == 3
    check_invariants(project)


def test_new_items_imported_later_are_brought_into_the_plan(arena):
    project = arena(items=6)
    generate_pairings(project=project, strategy="sample", per_item=2, seed=1)
    import_items(project=project, stream=io.BytesIO(items_jsonl(4, MODELS, start=100)), fmt="jsonl")
    assert len(pair_tasks(project)) == 12 + 40  # the import made every pair of the new items
    generate_pairings(project=project, strategy="sample", per_item=2, seed=1)
    assert len(check_invariants(project)) == 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "best"}, "strategy must be one of"),
        ({"strategy": "sample"}, "needs per_item"),
        ({"strategy": "sample", "per_item": 0}, "needs per_item"),
        ({"strategy": "all", "per_item": 2}, "sample strategy only"),
    ],
)
def test_bad_requests_are_refused(arena, kwargs, message):
    project = arena(items=1)
    with pytest.raises(PairingError, match=message):
        generate_pairings(project=project, **kwargs)


def test_single_response_projects_have_no_pairings(make_project):
    project = make_project(items=2, models=("m1", "m2"))
    with pytest.raises(PairingError, match="pairwise projects"):
        generate_pairings(project=project)


def test_the_command_samples_and_reports(arena):
    project = arena(items=10)
    out = io.StringIO()
    call_command("generate_pairings", "--project", project.slug, "--per-item", "2", "--seed", "4", stdout=out)
    assert "20 pair tasks on 10 items" in out.getvalue()
    assert len(check_invariants(project)) == 20
    with pytest.raises(CommandError, match="no project"):
        call_command("generate_pairings", "--project", "nope")

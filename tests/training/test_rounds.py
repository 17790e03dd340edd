"""Training across a suite's rounds: a new round carries the previous round's training (policy and items,
checked against the new rubric version), and a rater who passed in an earlier round is qualified in the
new one, unless the round moved to a new rubric version and the policy asks raters to requalify."""

from __future__ import annotations

import copy
import io

import pytest

from evalplatform.assignments.services import NotCleared, claim_next
from evalplatform.projects.models import Project
from evalplatform.suites.models import Round
from evalplatform.suites.services import SuiteError, create_suite, new_round
from evalplatform.training import selectors, services
from evalplatform.training.models import TrainingItem, TrainingPolicy
from evalplatform.training.services import TrainingError
from rubrics.services import import_rubric
from tests.fixtures import RUBRIC, items_jsonl
from tests.training.conftest import RIGHT, train

pytestmark = pytest.mark.django_db

WRONG = [{"accuracy": 1, "helpfulness": 5, "harmless": 0}, {"accuracy": 5, "helpfulness": 5, "harmless": 0}]


def version_with(*, guidelines: str | None = None, drop: str | None = None, relabel: bool = False):
    """A new published version of the test rubric, compatible with the first (same scales)."""
    data = copy.deepcopy(RUBRIC)
    if guidelines is not None:
        data["guidelines"] = guidelines
    if drop is not None:
        data["dimensions"] = [d for d in data["dimensions"] if d["key"] != drop]
    if relabel:
        data["dimensions"][0]["levels"] = {"1": "Wrong", "5": "Entirely right"}
    version, created = import_rubric(data=data)
    assert created
    return version


def next_round(project, version=None) -> Project:
    suite = getattr(project, "_suite", None) or create_suite(slug=f"s-{project.slug}", project=project)
    round_ = new_round(suite=suite, stream=io.BytesIO(items_jsonl(2)), fmt="jsonl", rubric_version=version)
    round_.project._suite = suite
    return round_.project


def test_a_new_round_copies_the_training_policy_and_items(trained):
    services.update_policy(project=trained, requalify_on_new_version=True, per_dimension=True)
    p2 = next_round(trained)
    before, after = TrainingPolicy.objects.get(project=trained), TrainingPolicy.objects.get(project=p2)
    assert {k: getattr(after, k) for k in services.POLICY_FIELDS} == {
        "training_required": True, "pass_mark": 0.75, "per_dimension": True, "tolerance": 1, "max_attempts": 2,
        "requalify_on_new_version": True, "require_guidelines_ack": False,
    } == {k: getattr(before, k) for k in services.POLICY_FIELDS}
    assert p2.onboarding_required
    assert Project.objects.get(pk=p2.pk).onboarding_required
    fields = ("external_id", "prompt", "reference", "responses", "expected", "explanations", "position")
    copied = list(TrainingItem.objects.filter(project=p2).order_by("position").values(*fields))
    assert copied == list(TrainingItem.objects.filter(project=trained).order_by("position").values(*fields))
    assert [c["external_id"] for c in copied] == ["train-1", "train-2"]
    assert copied[0]["expected"] == {"accuracy": 5, "helpfulness": 4, "harmless": 1}
    assert TrainingItem.objects.filter(project=trained).count() == 2  # the earlier round keeps its own


def test_a_round_without_training_stays_without(make_project):
    p1 = make_project("plain", items=1, raters=("alice",))
    p2 = next_round(p1)
    assert not TrainingPolicy.objects.filter(project=p2).exists()
    assert not p2.onboarding_required
    alice = p2.memberships.get(user__username="alice").user
    assert claim_next(project=p2, rater=alice) is not None


def test_a_rater_who_passed_round_1_goes_straight_to_real_items_in_round_2(trained, alice, bob):
    train(trained, alice, RIGHT)
    p2 = next_round(trained)  # same rubric version
    assert selectors.qualification(p2, alice.pk).state == selectors.PASSED
    assert selectors.refusal(p2, alice.pk) is None
    assert claim_next(project=p2, rater=alice) is not None
    # bob never trained: round 2 sends him to its training, like round 1 did
    assert selectors.refusal(p2, bob.pk).code == "training"
    with pytest.raises(NotCleared):
        claim_next(project=p2, rater=bob)
    with pytest.raises(TrainingError, match="passed this project's training already"):
        services.start_attempt(project=p2, rater=alice)
    rows = {r["rater"]: r["state"] for r in selectors.training_results(p2)}
    assert rows == {"alice": selectors.PASSED, "bob": selectors.TO_START}


def test_a_pass_carries_to_every_later_round(trained, alice):
    train(trained, alice, RIGHT)
    p3 = next_round(next_round(trained))
    assert selectors.refusal(p3, alice.pk) is None


def test_failing_round_1_does_not_use_up_round_2s_attempts(trained, bob):
    train(trained, bob, WRONG)
    train(trained, bob, WRONG)
    assert selectors.qualification(trained, bob.pk).state == selectors.FAILED
    p2 = next_round(trained)
    state = selectors.qualification(p2, bob.pk)
    assert (state.state, state.attempts_used) == (selectors.TO_START, 0)
    train(p2, bob, RIGHT)
    assert selectors.refusal(p2, bob.pk) is None


def test_a_new_version_with_requalify_sends_the_rater_to_training_again(trained, alice):
    services.update_policy(project=trained, requalify_on_new_version=True)
    train(trained, alice, RIGHT)
    p2 = next_round(trained, version_with(relabel=True))
    assert p2.rubric_version_id != trained.rubric_version_id
    assert selectors.qualification(p2, alice.pk).state == selectors.TO_START
    refused = selectors.refusal(p2, alice.pk)
    assert refused is not None
    assert refused.code == "training"
    assert refused.url.endswith(f"/{p2.slug}/training/")
    with pytest.raises(NotCleared):
        claim_next(project=p2, rater=alice)
    train(p2, alice, RIGHT)  # requalified on the new version
    assert claim_next(project=p2, rater=alice) is not None
    # a third round on that same new version needs no third training
    assert selectors.refusal(next_round(p2), alice.pk) is None


def test_a_new_version_without_requalify_keeps_the_rater_qualified(trained, alice):
    train(trained, alice, RIGHT)
    p2 = next_round(trained, version_with(relabel=True))
    assert p2.rubric_version_id != trained.rubric_version_id
    assert selectors.refusal(p2, alice.pk) is None
    assert claim_next(project=p2, rater=alice) is not None


def test_guidelines_are_confirmed_again_only_when_their_text_changed(make_project, no_report_refresh):
    p1 = make_project("guided", items=1, raters=("alice",))
    services.update_policy(project=p1, require_guidelines_ack=True)
    alice = p1.memberships.get(user__username="alice").user
    services.acknowledge_guidelines(project=p1, rater=alice)
    p2 = next_round(p1)  # same version
    assert selectors.refusal(p2, alice.pk) is None
    p3 = next_round(p2, version_with(relabel=True))  # new version, same guidelines text
    assert p3.rubric_version_id != p1.rubric_version_id
    assert selectors.refusal(p3, alice.pk) is None
    p4 = next_round(p3, version_with(relabel=True, guidelines="Rate **each** draft. Cite the policy."))
    refused = selectors.refusal(p4, alice.pk)
    assert refused is not None
    assert refused.code == "guidelines"
    assert selectors.guidelines_change(p4, alice.pk).changed
    services.acknowledge_guidelines(project=p4, rater=alice)
    assert claim_next(project=p4, rater=alice) is not None


def test_expectations_for_a_dimension_the_new_version_dropped_are_left_out_with_a_note(trained, alice):
    p2 = next_round(trained, version_with(drop="helpfulness"))
    items = {t.external_id: t for t in TrainingItem.objects.filter(project=p2)}
    assert items["train-1"].expected == {"accuracy": 5, "harmless": 1}
    assert items["train-2"].explanations == {}
    note = Round.objects.get(project=p2).note
    assert "training item 'train-1': the expected answer for 'helpfulness' was dropped" in note
    assert "training item 'train-2': the explanation for 'helpfulness' was dropped" in note
    assert "no such dimension" in note
    # the copied training is gradable on the new version
    train(p2, alice, [{"accuracy": 5, "harmless": 1}, {"accuracy": 2, "harmless": 1}])
    assert selectors.refusal(p2, alice.pk) is None


def test_an_expected_value_off_the_new_scale_refuses_the_round_and_makes_nothing(trained):
    TrainingItem.objects.filter(project=trained, external_id="train-2").update(
        expected={"accuracy": 9, "helpfulness": 1, "harmless": 1})
    suite = create_suite(slug="s-off", project=trained)
    projects = Project.objects.count()
    with pytest.raises(SuiteError) as caught:
        new_round(suite=suite, stream=io.BytesIO(items_jsonl(2)), fmt="jsonl")
    message = caught.value.messages[0]
    assert message.startswith("round 2 was not made: the training items cannot be carried over")
    assert "training item 'train-2', accuracy" in message
    assert "9" in message
    assert Project.objects.count() == projects
    assert suite.rounds.count() == 1


def test_carrying_a_pass_across_rounds_costs_the_gate_no_extra_query(trained, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    train(trained, alice, RIGHT)
    p2 = next_round(trained)

    def gate_queries(project):
        fresh = Project.objects.select_related("rubric_version").get(pk=project.pk)
        with CaptureQueriesContext(connection) as captured:
            assert selectors.refusal(fresh, alice.pk) is None
        return len(captured)

    assert gate_queries(p2) == gate_queries(trained) == 3  # policy, training items exist, attempts

"""Training exports round-trip: preference pairs agree with the votes whatever side raters saw,
the margin threshold filters, and per-response mean scores come out for reward-model regression."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from evalplatform.assignments.models import Assignment
from evalplatform.ratings.exports import preference_rows, reward_rows
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.services import submit_rating
from rubrics.services import import_rubric
from tests.comparisons.test_per_response import DUEL_RUBRIC
from tests.fixtures import next_assignment

pytestmark = pytest.mark.django_db


def download(client, project, **params):
    response = client.get(f"/api/projects/{project.pk}/export/", params)
    assert response.status_code == 200, getattr(response, "data", None)
    text = b"".join(response.streaming_content).decode()
    return response, [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def voted(make_project, pairwise_version):
    """Three models on 12 items, every pair, three raters voting through the queue (random sides):
    each rater's vote, as they saw the pair, prefers the better model (m1 > m2 > m3) by a drawn margin."""
    project = make_project("prefs", kind="pairwise", version=pairwise_version, items=12, models=("m1", "m2", "m3"),
                           overlap=3, raters=("r1", "r2", "r3"))
    rank = {"m1": 0, "m2": 1, "m3": 2}
    rng = np.random.default_rng(4)
    truth = {}
    for name in ("r1", "r2", "r3"):
        rater = project.memberships.get(user__username=name).user
        while (held := next_assignment(project=project, rater=rater)) is not None:
            task = held.task
            left, right = (task.response_b, task.response_a) if held.swapped else (task.response_a, task.response_b)
            strength = int(rng.integers(0, 3))  # 0 = tie
            shown = strength * (-1 if rank[left.model] < rank[right.model] else 1)
            if rng.random() < 0.15:
                shown = -shown  # an occasional dissent
            submit_rating(assignment=held, scores={"preference": shown})
            stored = -shown if held.swapped else shown
            truth.setdefault(task.pk, []).append(stored)
    assert Assignment.objects.filter(project=project, swapped=True).exists()
    return project, truth


def test_preference_pairs_round_trip_and_agree_with_the_votes(voted, client_for, lead):
    project, truth = voted
    response, pairs = download(client_for(lead), project, format="preferences")
    assert 'filename="prefs-preferences.jsonl"' in response["Content-Disposition"]
    tasks = {t.pk: t for t in project.tasks.select_related("item", "response_a", "response_b")}
    by_pair = {}
    for task_id, values in truth.items():
        task = tasks[task_id]
        by_pair[(task.item.prompt, frozenset((task.response_a.model, task.response_b.model)))] = (task, values)
    expected = sum(1 for values in truth.values() if sum(values) != 0)
    assert len(pairs) == expected > 20
    for pair in pairs:
        task, values = by_pair[(pair["prompt"], frozenset((pair["chosen_model"], pair["rejected_model"])))]
        mean = sum(values) / (2 * len(values))
        winner, loser = (task.response_a, task.response_b) if mean < 0 else (task.response_b, task.response_a)
        assert (pair["chosen_model"], pair["rejected_model"]) == (winner.model, loser.model)
        assert (pair["chosen"], pair["rejected"]) == (winner.text, loser.text)
        assert pair["n_votes"] == len(values) == 3
        assert pair["margin"] == pytest.approx(abs(mean), abs=1e-4)
        on_side = sum(1 for v in values if (v < 0) == (mean < 0) and v != 0)
        assert pair["agreement"] == pytest.approx(on_side / 3, abs=1e-4)
    assert sum(p["chosen_model"] == "m1" for p in pairs) > sum(p["rejected_model"] == "m1" for p in pairs)


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_the_margin_threshold_keeps_only_clear_pairs(voted, client_for, lead, threshold):
    project, truth = voted
    _, pairs = download(client_for(lead), project, format="preferences", min_margin=threshold)
    margins = [abs(sum(v) / (2 * len(v))) for v in truth.values()]
    assert len(pairs) == sum(1 for m in margins if m >= threshold - 1e-9 and m > 0)
    assert all(p["margin"] >= threshold - 1e-4 for p in pairs)


def test_reward_rows_average_each_response(make_project, client_for, lead):
    project = make_project("reward", items=3, models=("m1", "m2"), overlap=2)
    rows = []
    for ext, model in project.tasks.values_list("item__external_id", "response_a__model"):
        for rater, accuracy, harmless in (("r1", 4, 1), ("r2", 5 if model == "m1" else 2, 0)):
            rows += [
                {"item_id": ext, "model": model, "rater": rater, "dimension": "accuracy", "value": accuracy},
                {"item_id": ext, "model": model, "rater": rater, "dimension": "helpfulness", "value": 3},
                {"item_id": ext, "model": model, "rater": rater, "dimension": "harmless", "value": harmless},
            ]
    import_ratings(project=project, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl", create_raters=True)
    response, records = download(client_for(lead), project, format="reward")
    assert 'filename="reward-reward.jsonl"' in response["Content-Disposition"]
    assert len(records) == 6
    for record in records:
        assert set(record) == {"item_id", "prompt", "response", "model", "scores", "n_ratings"}
        assert record["response"] == f"Answer {int(record['prompt'].split()[-1])} from {record['model']}"
        assert list(record["scores"]) == ["accuracy", "helpfulness", "harmless"]  # no categorical, no text
        assert record["scores"]["accuracy"] == (4.5 if record["model"] == "m1" else 3.0)
        assert record["scores"]["harmless"] == 0.5
        assert record["n_ratings"] == 2


def test_reward_rows_of_a_pairwise_project_use_per_response_scores(make_project):
    version, _ = import_rubric(data=DUEL_RUBRIC)
    project = make_project("duel", kind="pairwise", version=version, items=2, models=("m1", "m2", "m3"),
                           overlap=1, raters=("alice",))
    alice = project.memberships.get(user__username="alice").user
    while (held := next_assignment(project=project, rater=alice)) is not None:
        task = held.task
        left, right = (task.response_b, task.response_a) if held.swapped else (task.response_a, task.response_b)
        score = {"m1": 5, "m2": 3, "m3": 1}
        submit_rating(assignment=held, scores={"preference": 0, "accuracy.a": score[left.model],
                                               "accuracy.b": score[right.model]})
    records = list(reward_rows(project))
    assert len(records) == 6  # 2 items x 3 responses, each in two pairs
    assert {(r["model"], r["scores"]["accuracy"], r["n_ratings"]) for r in records} == {
        ("m1", 5.0, 2), ("m2", 3.0, 2), ("m3", 1.0, 2)
    }
    assert list(preference_rows(project)) == []  # every vote a tie


def test_exports_that_do_not_apply_are_400(make_project, pairwise_version, client_for, lead):
    pairs = make_project("pairs", kind="pairwise", version=pairwise_version, items=1, models=("m1", "m2"))
    single = make_project("single", items=1)
    client = client_for(lead)
    refused = client.get(f"/api/projects/{pairs.pk}/export/", {"format": "reward"})
    assert refused.status_code == 400
    assert "likert or yes/no" in refused.json()["format"][0]
    assert client.get(f"/api/projects/{single.pk}/export/", {"format": "preferences"}).status_code == 400
    assert client.get(f"/api/projects/{single.pk}/export/", {"format": "reward"}).status_code == 200


def test_the_export_command_filters_preferences_by_margin(voted, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    project, truth = voted
    out = tmp_path / "prefs.jsonl"
    call_command("export", "--project", project.slug, "--format", "preferences", "--min-margin", "0.5",
                 "--output", str(out), stderr=io.StringIO())
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(pairs) == sum(1 for v in truth.values() if abs(sum(v) / (2 * len(v))) >= 0.5)
    assert pairs
    assert all(p["margin"] >= 0.5 for p in pairs)
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("export", "--project", project.slug, "--format", "preferences", "--min-margin", "2")

"""The lead's side: settings, training items made from unseen items and edited, the import over the
API with line-numbered errors, and raters' results on the training page and the quality scorecards."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.projects.models import Item
from evalplatform.training.models import TrainingItem, TrainingPolicy
from tests.fixtures import next_assignment
from tests.training.conftest import RIGHT, TRAINING, api_client, page_client, train

pytestmark = pytest.mark.django_db


def test_the_lead_sets_the_policy_on_the_training_page(make_project, lead):
    project = make_project("p", items=1)
    client = page_client(lead)
    assert client.get(reverse("training-manage", args=[project.slug])).status_code == 200
    response = client.post(reverse("training-settings", args=[project.slug]), {
        "training_required": "on", "pass_mark": "0.9", "tolerance": "1", "max_attempts": "3",
        "requalify_on_new_version": "on",
    })
    assert response.status_code == 302
    policy = TrainingPolicy.objects.get(project=project)
    assert (policy.training_required, policy.pass_mark, policy.tolerance, policy.max_attempts) == (True, 0.9, 1, 3)
    assert policy.requalify_on_new_version
    assert not policy.require_guidelines_ack
    assert not policy.per_dimension
    bad = client.post(reverse("training-settings", args=[project.slug]), {"pass_mark": "1.5", "tolerance": "0",
                                                                          "max_attempts": "0"})
    assert bad.status_code == 400
    assert TrainingPolicy.objects.get(project=project).pass_mark == 0.9


def test_an_unseen_item_becomes_a_training_item_and_leaves_the_queue(make_project, lead):
    project = make_project("p", items=2, raters=("rita",))
    client = page_client(lead)
    response = client.post(reverse("training-make", args=[project.slug]), {
        "item_id": "t-0001", "new-expected-accuracy": "4", "new-explanation-accuracy": "Right, but terse.",
    })
    assert response.status_code == 302
    training = TrainingItem.objects.get(project=project)
    assert training.expected == {"accuracy": 4}
    assert training.explanations == {"accuracy": "Right, but terse."}
    assert training.prompt == "Prompt 1"
    assert training.responses == [{"model": "m1", "text": "Answer 1 from m1"}]
    assert not Item.objects.filter(project=project, external_id="t-0001").exists()
    # a served item cannot become one
    rita = project.memberships.get(user__username="rita").user
    assert next_assignment(project=project, rater=rita).task.item.external_id == "t-0002"
    refused = client.post(reverse("training-make", args=[project.slug]), {"item_id": "t-0002"})
    assert refused.status_code == 400
    assert "already been served" in refused.content.decode()


def test_the_lead_edits_expected_answers_and_a_bad_value_is_refused(trained, lead):
    item = TrainingItem.objects.get(project=trained, external_id="train-1")
    client = page_client(lead)
    url = reverse("training-item", args=[trained.slug, item.pk])
    assert "The steps are **exactly** right." in client.get(url).content.decode()
    response = client.post(url, {"expected-accuracy": "3", "explanation-accuracy": "Half right."})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.expected == {"accuracy": 3}
    assert item.explanations == {"accuracy": "Half right."}
    api = api_client(lead)
    bad = api.put(f"/api/projects/{trained.pk}/training/items/{item.pk}/",
                  {"expected": {"accuracy": 7, "bogus": 1}}, format="json")
    assert bad.status_code == 400
    assert "off the scale" in str(bad.json()["expected.accuracy"])
    assert "unknown dimension" in str(bad.json()["expected.bogus"])


def test_the_import_api_lists_bad_lines_and_writes_nothing(make_project, lead):
    project = make_project("p")
    body = "\n".join([
        '{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}], "expected": {"accuracy": 4}}',
        '{"id": "b", "prompt": "p", "responses": [{"model": "m", "text": "t"}], "expected": {"accuracy": 0}}',
    ])
    response = api_client(lead).post(f"/api/projects/{project.pk}/training/items/import/", body,
                                      content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2
    assert response.json()["errors"][0]["field"] == "expected.accuracy"
    assert not TrainingItem.objects.exists()
    ok = api_client(lead).post(f"/api/projects/{project.pk}/training/items/import/", body.split("\n")[0],
                               content_type="application/x-ndjson")
    assert ok.status_code == 201
    assert ok.json() == {"items_created": 1, "items_updated": 0}


def test_the_api_reads_and_changes_the_policy(make_project, lead):
    project = make_project("p")
    client = api_client(lead)
    assert client.get(f"/api/projects/{project.pk}/training/policy/").json()["training_required"] is False
    response = client.patch(f"/api/projects/{project.pk}/training/policy/", {"training_required": True, "tolerance": 2},
                            format="json")
    assert response.status_code == 200
    assert response.json()["tolerance"] == 2
    assert client.patch(f"/api/projects/{project.pk}/training/policy/", {"pass_mark": 2},
                        format="json").status_code == 400


def test_raters_training_results_show_on_the_scorecards(trained, alice, bob, lead):
    train(trained, alice, RIGHT)
    train(trained, bob, [{"accuracy": 1, "helpfulness": 5, "harmless": 0}, RIGHT[1]])
    page = page_client(lead).get(reverse("quality-overview", args=[trained.slug])).content.decode()
    assert 'data-rater="alice" data-training="passed"' in page
    assert 'data-rater="bob" data-training="to_start"' in page
    assert "0.67" in page
    body = api_client(lead).get(f"/api/projects/{trained.pk}/quality/scorecards/").json()
    rows = {row["rater"]: row for row in body["training"]}
    assert rows["alice"]["state"] == "passed"
    assert rows["alice"]["share"] == 1.0
    assert rows["bob"]["n_correct"] == 4
    assert rows["bob"]["by_dimension"]["harmless"]["share"] == 0.5
    results = api_client(lead).get(f"/api/projects/{trained.pk}/training/results/").json()["raters"]
    assert [r["rater"] for r in results] == ["alice", "bob"]
    assert TRAINING[0]["id"] in page_client(lead).get(reverse("training-manage", args=[trained.slug])).content.decode()


def test_a_policy_saved_in_the_admin_turns_the_gate_on(trained, admin_user, alice):
    from evalplatform.projects.models import Project
    from evalplatform.training.models import TrainingPolicy

    TrainingPolicy.objects.filter(project=trained).delete()
    Project.objects.filter(pk=trained.pk).update(onboarding_required=False)
    client = page_client(admin_user)
    response = client.post(reverse("admin:training_trainingpolicy_add"), {
        "project": trained.pk, "training_required": "on", "pass_mark": "0.5", "tolerance": "0", "max_attempts": "1",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    trained.refresh_from_db()
    assert trained.onboarding_required
    assert TrainingPolicy.objects.get(project=trained).pass_mark == 0.5
    assert api_client(alice).post(f"/api/projects/{trained.pk}/next/").status_code == 403

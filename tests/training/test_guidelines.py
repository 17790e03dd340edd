"""Guidelines acknowledged: required before rating when the project asks, stored per rater and rubric
version, asked again when a new version changes the text, with the change shown (escaped)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.assignments.services import NotCleared, claim_next
from evalplatform.projects.models import Project
from evalplatform.training import selectors, services
from evalplatform.training.models import GuidelinesAck
from rubrics.services import import_rubric
from tests.fixtures import RUBRIC
from tests.training.conftest import api_client, page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def guided(make_project, no_report_refresh):
    project = make_project("guided", items=2, raters=("alice",))
    services.update_policy(project=project, require_guidelines_ack=True)
    return project


def _alice(project):
    return project.memberships.get(user__username="alice").user


def test_a_rater_confirms_the_guidelines_before_rating(guided):
    alice = _alice(guided)
    client = page_client(alice)
    assert client.get(reverse("rate", args=[guided.slug])).url == reverse("training-guidelines", args=[guided.slug])
    assert api_client(alice).post(f"/api/projects/{guided.pk}/next/").status_code == 403
    page = client.get(reverse("training-guidelines", args=[guided.slug])).content.decode()
    assert "Rate <strong>each</strong> draft." in page
    assert "I have read these guidelines" in page
    assert "What changed" not in page  # nothing confirmed before: no diff to show
    response = client.post(reverse("training-guidelines", args=[guided.slug]))
    assert response.url == reverse("rate", args=[guided.slug])
    assert GuidelinesAck.objects.filter(rater=alice, rubric_version=guided.rubric_version).count() == 1
    assert client.get(reverse("rate", args=[guided.slug])).status_code == 200
    assert claim_next(project=guided, rater=alice) is not None


def test_guidelines_come_before_training(guided):
    from evalplatform.training.importing import import_training_items
    from tests.training.conftest import TRAINING, jsonl

    import_training_items(project=guided, stream=jsonl(TRAINING), fmt="jsonl")
    services.update_policy(project=guided, training_required=True)
    alice = _alice(guided)
    assert selectors.refusal(guided, alice.pk).code == "guidelines"
    client = page_client(alice)
    assert client.get(reverse("training", args=[guided.slug])).url == reverse("training-guidelines", args=[guided.slug])
    services.acknowledge_guidelines(project=guided, rater=alice)
    assert selectors.refusal(guided, alice.pk).code == "training"


def test_a_new_version_with_changed_guidelines_asks_again_and_shows_the_change(guided):
    alice = _alice(guided)
    services.acknowledge_guidelines(project=guided, rater=alice)
    old = guided.rubric_version
    text = "Rate **each** draft.\nNever reward <script>alert(1)</script> answers."
    new, _ = import_rubric(data={**RUBRIC, "guidelines": text})
    Project.objects.filter(pk=guided.pk).update(rubric_version=new)  # (no service moves a project's version yet)
    guided.refresh_from_db()
    with pytest.raises(NotCleared) as refused:
        claim_next(project=guided, rater=alice)
    assert refused.value.refusal.code == "guidelines"
    page = page_client(alice).get(reverse("training-guidelines", args=[guided.slug])).content.decode()
    assert f"What changed since version {old.number}" in page
    assert '<span class="diff-added" data-diff="added">+ Never reward &lt;script&gt;alert(1)&lt;/script&gt; answers.' in page
    assert '<span class="diff-same" data-diff="same">  Rate **each** draft.' in page
    assert "<script>alert(1)</script>" not in page  # escaped in the diff and sanitised in the Markdown
    page_client(alice).post(reverse("training-guidelines", args=[guided.slug]))
    assert GuidelinesAck.objects.filter(rater=alice).count() == 2
    assert claim_next(project=guided, rater=alice) is not None


def test_a_new_version_with_the_same_guidelines_needs_no_new_confirmation(guided):
    alice = _alice(guided)
    services.acknowledge_guidelines(project=guided, rater=alice)
    changed_scale = {**RUBRIC, "dimensions": [*RUBRIC["dimensions"][:4]]}  # "why" removed, same guidelines
    new, created = import_rubric(data=changed_scale)
    assert created
    Project.objects.filter(pk=guided.pk).update(rubric_version=new)
    guided.refresh_from_db()
    assert selectors.guidelines_acknowledged(guided, alice.pk)
    assert claim_next(project=guided, rater=alice) is not None


def test_guidelines_diff_marks_removed_and_added_lines():
    lines = selectors.guideline_diff("a\nb\nc", "a\nc\nd")
    assert lines == [("same", "a"), ("removed", "b"), ("same", "c"), ("added", "d")]

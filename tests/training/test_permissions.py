"""Who sees what: a rater never sees an expected answer before answering, nor another rater's feedback;
leads of other projects, raters and strangers cannot read or change a project's training."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.projects.models import Membership
from evalplatform.projects.services import add_member
from evalplatform.training import selectors, services
from evalplatform.training.models import TrainingItem, TrainingPolicy
from tests.fixtures import UserFactory
from tests.training.conftest import RIGHT, api_client, page_client, train

pytestmark = pytest.mark.django_db


def test_the_training_item_page_shows_no_expected_answer_or_explanation(trained, alice):
    client = page_client(alice)
    client.post(reverse("training-start", args=[trained.slug]))
    page = client.get(reverse("training", args=[trained.slug])).content.decode()
    assert "Reset my password" in page
    assert "exactly" not in page
    assert "Nothing risky" not in page
    assert "Expected" not in page


def test_raters_get_403_from_the_training_api_and_strangers_404(trained, alice):
    for path in ("policy/", "items/", "results/", f"items/{TrainingItem.objects.first().pk}/"):
        assert api_client(alice).get(f"/api/projects/{trained.pk}/training/{path}").status_code == 403, path
        assert api_client(UserFactory(username="nobody")).get(
            f"/api/projects/{trained.pk}/training/{path}").status_code == 404, path


def test_another_projects_lead_can_neither_read_nor_edit_this_training(trained, make_project):
    other_lead = UserFactory(username="olga")
    other = make_project("other", items=1)
    add_member(project=other, user=other_lead, role=Membership.Role.LEAD)
    item = TrainingItem.objects.filter(project=trained).first()
    client = api_client(other_lead)
    assert client.get(f"/api/projects/{trained.pk}/training/items/").status_code == 404
    assert client.put(f"/api/projects/{trained.pk}/training/items/{item.pk}/", {"expected": {"accuracy": 1}},
                      format="json").status_code == 404
    assert client.patch(f"/api/projects/{trained.pk}/training/policy/", {"pass_mark": 0}, format="json").status_code == 404
    pages = page_client(other_lead)
    assert pages.get(reverse("training-manage", args=[trained.slug])).status_code == 404
    assert pages.post(reverse("training-item", args=[trained.slug, item.pk]), {"expected-accuracy": "1"}).status_code == 404
    # and the project's own raters are not leads either
    alice = trained.memberships.get(user__username="alice").user
    assert page_client(alice).get(reverse("training-manage", args=[trained.slug])).status_code == 404
    item.refresh_from_db()
    assert item.expected["accuracy"] == 5
    assert TrainingPolicy.objects.get(project=trained).pass_mark == 0.75


def test_a_rater_cannot_open_another_raters_feedback(trained, alice, bob):
    answers = train(trained, alice, RIGHT)
    url = reverse("training-feedback", args=[trained.slug, answers[0].pk])
    assert page_client(alice).get(url).status_code == 200
    assert page_client(bob).get(url).status_code == 404


def test_a_rater_cannot_answer_a_training_item_of_another_project(trained, alice, make_project):
    from evalplatform.training.importing import import_training_items
    from tests.training.conftest import TRAINING, jsonl

    other = make_project("elsewhere", items=1)
    import_training_items(project=other, stream=jsonl(TRAINING[:1]), fmt="jsonl")
    foreign = TrainingItem.objects.get(project=other)
    client = page_client(alice)
    client.post(reverse("training-start", args=[trained.slug]))
    response = client.post(reverse("training-answer", args=[trained.slug, foreign.pk]), {"score-accuracy": "5"})
    assert response.status_code == 404
    attempt = selectors.qualification(trained, alice.pk).open_attempt
    with pytest.raises(services.TrainingError, match="another project"):
        services.submit_training_answer(attempt=attempt, item=foreign, scores=RIGHT[0])

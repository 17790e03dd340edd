"""Training items come in through the items format plus ``expected`` and ``explanation``; a bad value is
refused with its line and field, and nothing is written."""

from __future__ import annotations

import io

import pytest

from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import import_items
from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingItem
from tests.training.conftest import TRAINING, jsonl

pytestmark = pytest.mark.django_db


def test_jsonl_training_items_keep_their_expected_values_and_explanations(make_project):
    project = make_project()
    summary = import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    assert (summary.items_created, summary.items_updated) == (2, 0)
    first, second = TrainingItem.objects.filter(project=project)
    assert first.external_id == "train-1"
    assert second.position > first.position
    assert first.expected == {"accuracy": 5, "helpfulness": 4, "harmless": 1}  # "yes" read as the stored 1
    assert first.explanations["accuracy"] == "The steps are **exactly** right."
    assert first.responses == [{"model": "m1", "text": "Click 'Forgot'."}]
    assert project.items.count() == 0  # never a real, queued item
    assert project.tasks.count() == 0


def test_csv_takes_expected_and_explanation_columns(make_project):
    project = make_project()
    body = ("id,prompt,model,response,expected.accuracy,expected.topic,explanation.accuracy\n"
            "c-1,Hello,m1,Hi there,4,tech,Polite but thin\n")
    import_training_items(project=project, stream=io.BytesIO(body.encode()), fmt="csv")
    item = TrainingItem.objects.get(project=project)
    assert item.expected == {"accuracy": 4, "topic": 1}
    assert item.explanations == {"accuracy": "Polite but thin"}


def test_bad_expected_values_are_refused_by_line_and_field_and_nothing_is_written(make_project):
    project = make_project()
    good = TRAINING[0]
    records = [
        good,
        {**good, "id": "b-1", "expected": {"clarity": 3}},
        {**good, "id": "b-2", "expected": {"accuracy": 9}},
        {**good, "id": "b-3", "expected": {"harmless": "maybe"}},
        {**good, "id": "b-4", "expected": {"why": "text"}},
        {**good, "id": "b-5", "expected": [4]},
        {**good, "id": "b-6", "explanation": {"nope": "x"}},
        {**good, "id": "train-1"},
    ]
    with pytest.raises(ImportRejected) as caught:
        import_training_items(project=project, stream=jsonl(records), fmt="jsonl")
    found = {(e.line, e.field): e.message for e in caught.value.errors}
    assert "unknown dimension 'clarity'" in found[(2, "expected.clarity")]
    assert "off the scale" in found[(3, "expected.accuracy")]
    assert "1 to 5" in found[(3, "expected.accuracy")]
    assert "not a value of this scale" in found[(4, "expected.harmless")]
    assert "free-text question" in found[(5, "expected.why")]
    assert "must be an object" in found[(6, "expected")]
    assert "unknown dimension 'nope'" in found[(7, "explanation.nope")]
    assert "duplicate id" in found[(8, "id")]
    assert not TrainingItem.objects.exists()


def test_existing_training_items_are_replaced_only_on_request(make_project):
    project = make_project()
    import_training_items(project=project, stream=jsonl(TRAINING[:1]), fmt="jsonl")
    changed = [{**TRAINING[0], "expected": {"accuracy": 3}}]
    with pytest.raises(ImportRejected) as caught:
        import_training_items(project=project, stream=jsonl(changed), fmt="jsonl")
    assert "already exists" in caught.value.errors[0].message
    summary = import_training_items(project=project, stream=jsonl(changed), fmt="jsonl", update=True)
    assert summary.items_updated == 1
    assert TrainingItem.objects.get().expected == {"accuracy": 3}


def test_the_items_import_refuses_expected_answers_instead_of_queueing_them(make_project):
    project = make_project()
    with pytest.raises(ImportRejected) as caught:
        import_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    error = caught.value.errors[0]
    assert (error.line, error.field) == (1, "expected")
    assert "Training page" in error.message
    body = "id,prompt,model,response,expected.accuracy\nx,Hi,m1,Hello,4\n"
    with pytest.raises(ImportRejected) as caught:
        import_items(project=project, stream=io.BytesIO(body.encode()), fmt="csv")
    assert caught.value.errors[0].field == "expected.accuracy"
    assert project.items.count() == 0

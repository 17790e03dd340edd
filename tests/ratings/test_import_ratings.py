import io
import json

import pytest

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Task
from evalplatform.projects.records import ImportRejected
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating, Score
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


def rows(item="t-0001", model="m1", rater="alice", **values):
    values = values or {"accuracy": 4, "helpfulness": 5, "harmless": "yes"}
    return [{"item_id": item, "model": model, "rater": rater, "dimension": k, "value": v} for k, v in values.items()]


def _jsonl(records) -> io.BytesIO:
    return io.BytesIO(("\n".join(json.dumps(r) for r in records) + "\n").encode())


def test_ratings_import_creates_ratings_scores_and_fills_places(project):
    summary = import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl")
    assert (summary.ratings, summary.scores) == (2, 6)
    task = Task.objects.get(item__external_id="t-0001")
    assert (task.claimed_count, task.rated_count) == (2, 2)
    scores = dict(Score.objects.filter(rating__rater__username="alice").values_list("dimension__key", "value"))
    assert scores == {"accuracy": 4, "helpfulness": 5, "harmless": 1}
    assert Assignment.objects.filter(task=task, status="submitted", source="import").count() == 2
    project.refresh_from_db()
    assert project.ratings_seq == 2


def test_unknown_raters_become_inactive_rater_accounts(project):
    import_ratings(project=project, stream=_jsonl(rows(rater="dave")), fmt="jsonl")
    dave = Rating.objects.get().rater
    assert dave.username == "dave" and not dave.is_active and not dave.has_usable_password()
    assert project.memberships.get(user=dave).role == "rater"


def test_model_may_be_empty_when_item_has_one_response(project):
    import_ratings(project=project, stream=_jsonl(rows(model="")), fmt="jsonl")
    assert Rating.objects.count() == 1


def test_csv_ratings_import(project):
    text = "item_id,model,rater,dimension,value\n" + "".join(
        f"t-0002,m1,{r},{d},{v}\n" for r in ("alice", "bob") for d, v in (("accuracy", 3), ("helpfulness", 2), ("harmless", 0))
    )
    import_ratings(project=project, stream=io.BytesIO(text.encode()), fmt="csv")
    assert Score.objects.filter(dimension__key="harmless", value=0).count() == 2


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (rows(accuracy=9, helpfulness=3, harmless=1), "line 1: value: accuracy: 9 is off the scale; expected a whole number from 1 to 5"),
        (rows(accuracy=4, helpfulness=3, harmless="maybe"), "line 3: value: harmless: 'maybe' is not a value"),
        (rows(accuracy=4, helpfulness=3, harmless=1, colour=2), "line 4: dimension: unknown dimension 'colour'"),
        (rows(item="nope"), "line 1: item_id: no item 'nope'"),
        (rows(model="m9"), "line 1: model: item 't-0001' has no response from model 'm9'"),
        (rows(accuracy=4, helpfulness=3), "line 1: dimension: the rating of alice for this task lacks required dimension 'harmless'"),
        (rows() + rows(accuracy=2), "line 4: dimension: alice already scored accuracy for this task on line 1"),
        ([{"item_id": "t-0001", "model": "m1", "dimension": "accuracy", "value": 3}], "line 1: rater: required"),
        (rows(accuracy=3.5, helpfulness=3, harmless=1), "accuracy: 3.5 is off the scale"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(project, records, expected):
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl")
    assert any(expected in line for line in exc.value.lines()), exc.value.lines()
    assert not Rating.objects.exists() and not Score.objects.exists()
    assert not Assignment.objects.exists()
    assert set(Task.objects.values_list("claimed_count", flat=True)) == {0}


def test_more_ratings_than_overlap_are_refused(project):
    records = [r for name in ("a1", "a2", "a3", "a4") for r in rows(rater=name)]
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl")
    assert "no room for 4 more rating(s)" in exc.value.lines()[0]
    assert not Rating.objects.exists()


def test_a_rater_cannot_be_imported_twice_for_one_task(project):
    import_ratings(project=project, stream=_jsonl(rows()), fmt="jsonl")
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(rows()), fmt="jsonl")
    assert "already rated or holds this task" in exc.value.lines()[0]
    assert Rating.objects.count() == 1


def test_automated_ratings_never_touch_overlap_counts(project):
    import_ratings(project=project, stream=_jsonl(rows(rater="gpt-x")), fmt="jsonl", automated=True)
    rating = Rating.objects.get()
    assert rating.rater.username == "judge:gpt-x" and rating.rater.is_automated and not rating.rater.is_active
    assert rating.assignment is None
    assert set(Task.objects.values_list("claimed_count", flat=True)) == {0}
    assert not project.memberships.filter(user=rating.rater).exists()


def test_human_name_cannot_be_imported_as_automated_or_back(project):
    UserFactory(username="judge:x")  # a human who happens to have this name
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(rows(rater="x")), fmt="jsonl", automated=True)
    assert "is a human rater" in exc.value.lines()[0]

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
    summary = import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl", create_raters=True)
    assert (summary.ratings, summary.scores) == (2, 6)
    task = Task.objects.get(item__external_id="t-0001")
    assert (task.claimed_count, task.rated_count) == (2, 2)
    scores = dict(Score.objects.filter(rating__rater__username="alice").values_list("dimension__key", "value"))
    assert scores == {"accuracy": 4, "helpfulness": 5, "harmless": 1}
    assert Assignment.objects.filter(task=task, status="submitted", source="import").count() == 2
    project.refresh_from_db()
    assert project.ratings_seq == 2


def test_unknown_raters_become_inactive_rater_accounts(project):
    import_ratings(project=project, stream=_jsonl(rows(rater="dave")), fmt="jsonl", create_raters=True)
    dave = Rating.objects.get().rater
    assert dave.username == "dave"
    assert not dave.is_active
    assert not dave.has_usable_password()
    assert project.memberships.get(user=dave).role == "rater"


def test_model_may_be_empty_when_item_has_one_response(project):
    import_ratings(project=project, stream=_jsonl(rows(model="")), fmt="jsonl", create_raters=True)
    assert Rating.objects.count() == 1


def test_csv_ratings_import(project):
    text = "item_id,model,rater,dimension,value\n" + "".join(
        f"t-0002,m1,{r},{d},{v}\n" for r in ("alice", "bob") for d, v in (("accuracy", 3), ("helpfulness", 2), ("harmless", 0))
    )
    import_ratings(project=project, stream=io.BytesIO(text.encode()), fmt="csv", create_raters=True)
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
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    assert any(expected in line for line in exc.value.lines()), exc.value.lines()
    assert not Rating.objects.exists()
    assert not Score.objects.exists()
    assert not Assignment.objects.exists()
    assert set(Task.objects.values_list("claimed_count", flat=True)) == {0}


def test_more_ratings_than_overlap_are_refused(project):
    records = [r for name in ("a1", "a2", "a3", "a4") for r in rows(rater=name)]
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    assert "no room for 4 more rating(s)" in exc.value.lines()[0]
    assert not Rating.objects.exists()


def test_a_rater_cannot_be_imported_twice_for_one_task(project):
    import_ratings(project=project, stream=_jsonl(rows()), fmt="jsonl", create_raters=True)
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(rows()), fmt="jsonl", create_raters=True)
    assert "already rated or holds this task" in exc.value.lines()[0]
    assert Rating.objects.count() == 1


def test_automated_ratings_never_touch_overlap_counts(project):
    import_ratings(project=project, stream=_jsonl(rows(rater="gpt-x")), fmt="jsonl", automated=True)
    rating = Rating.objects.get()
    assert rating.rater.username == "judge:gpt-x"
    assert rating.rater.is_automated
    assert not rating.rater.is_active
    assert rating.assignment is None
    assert set(Task.objects.values_list("claimed_count", flat=True)) == {0}
    assert not project.memberships.filter(user=rating.rater).exists()


def test_human_name_cannot_be_imported_as_automated_or_back(project):
    UserFactory(username="judge:x")  # a human who happens to have this name
    with pytest.raises(ImportRejected, match="error") as exc:
        import_ratings(project=project, stream=_jsonl(rows(rater="x")), fmt="jsonl", automated=True)
    assert "is a human rater" in exc.value.lines()[0]


def test_imported_ratings_take_their_places_on_each_task(project):
    records = [r for name in ("a1", "a2") for r in rows(rater=name)] + rows(item="t-0002", rater="a1")
    import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    counts = dict(Task.objects.filter(project=project).values_list("item__external_id", "claimed_count"))
    rated = dict(Task.objects.filter(project=project).values_list("item__external_id", "rated_count"))
    assert (counts["t-0001"], counts["t-0002"], rated["t-0001"], rated["t-0002"]) == (2, 1, 2, 1)
    assert set(counts.values()) - {0, 1, 2} == set()


def test_a_place_taken_by_a_rater_during_the_import_refuses_it_whole(project, monkeypatch):
    """The room is read first and the places taken after: a claim in between (another rater's) makes the
    conditional update change fewer tasks, and the import is refused with nothing written."""
    from evalplatform.ratings import importing

    real = importing.add_to_counts

    def claim_first(model, amounts, fields, **kwargs):
        Task.objects.filter(pk=next(iter(amounts))).update(claimed_count=3)  # the task is full now
        return real(model, amounts, fields, **kwargs)

    monkeypatch.setattr(importing, "add_to_counts", claim_first)
    records = rows(rater="a1") + rows(item="t-0002", rater="a1")
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    assert "claimed places on these tasks while the file was being imported" in exc.value.lines()[0]
    assert not Rating.objects.exists()
    assert not Assignment.objects.exists()
    assert set(Task.objects.values_list("claimed_count", flat=True)) == {0}


def test_a_repeated_answer_names_the_line_of_the_first_when_ratings_are_interleaved(project):
    """A rating's rows need not be consecutive: the message still names the first answer's own line."""
    alice, bob = rows(rater="alice"), rows(rater="bob")
    records = [alice[0], bob[0], alice[1], bob[1], alice[2], bob[2], {**alice[1], "value": 1}]
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    assert exc.value.lines() == ["line 7: dimension: alice already scored helpfulness for this task on line 3"]
    records = [alice[0], alice[1], bob[0], {**alice[0], "value": 2}]
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=_jsonl(records), fmt="jsonl", create_raters=True)
    assert "line 4: dimension: alice already scored accuracy for this task on line 1" in exc.value.lines()

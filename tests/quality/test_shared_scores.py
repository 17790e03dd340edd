"""The quality section takes the scores from the report's snapshot only when they are the ones a
quality run counts, and then gives exactly what a run that reads them itself gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from evalplatform.projects.models import Membership, Task
from evalplatform.quality import analysis, labels
from evalplatform.quality.analysis import QUALITY_DEFAULTS, run_quality
from evalplatform.quality.services import set_gold
from evalplatform.reports.data import load_data
from tests.quality.conftest import member, rate


@pytest.fixture
def rated(make_project):
    """Four raters on five tasks, one of them gold; dave is paused."""
    project = make_project(items=5, overlap=4, raters=("alice", "bob", "carol", "dave"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    set_gold(task=tasks[4], expectations={"accuracy": {"value": 4, "tolerance": 1}})
    for r, name in enumerate(("alice", "bob", "carol", "dave")):
        for i, task in enumerate(tasks):
            rate(task, member(project, name), {"accuracy": 1 + (i + r) % 5, "helpfulness": 1 + (i * r) % 5,
                                                "harmless": (i + r) % 2}, duration_ms=1000 * (1 + i + r))
    Membership.objects.filter(project=project, user__username="dave").update(paused=True)
    return project


def quality_params(report: dict) -> dict:
    return {key: report.get(key, default) for key, default in QUALITY_DEFAULTS.items()}


@pytest.mark.django_db
@pytest.mark.parametrize(("report", "shared"), [
    ({}, True),  # the report leaves gold tasks out: the run reads only theirs
    ({"include_gold": True}, True),
    ({"include_paused": False}, True),  # the quality run follows the report's rule
    ({"include_automated": True}, True),
    ({"include_excluded": True}, False),  # a quality run never counts excluded ratings
])
def test_a_run_on_the_snapshot_equals_a_run_that_reads(rated, monkeypatch, report, shared):
    reads = []
    query = analysis._score_query
    monkeypatch.setattr(analysis, "_score_query", lambda *a, **only: reads.append(only) or query(*a, **only))
    data = load_data(rated, report)
    assert data.score_keys is not None
    on_snapshot = run_quality(rated, quality_params(report), data=data)
    assert reads == ([] if report.get("include_gold") else [{"rating__task__is_gold": True}]) if shared else [{}]
    read = run_quality(rated, quality_params(report))
    assert on_snapshot.result == read.result
    assert on_snapshot.labels == read.labels
    assert on_snapshot.result["n_scores"] == 5 * 4 * 3 - (3 if report.get("include_paused") is False else 0) * 5


@pytest.mark.django_db
def test_a_snapshot_missing_scores_is_not_taken(rated, monkeypatch):
    """The snapshot's scores differ from the rule's (here: the quality run counts paused raters, the
    report did not): the run reads."""
    data = load_data(rated, {"include_paused": False})
    reads = []
    query = analysis._score_query
    monkeypatch.setattr(analysis, "_score_query", lambda *a, **only: reads.append(only) or query(*a, **only))
    on_snapshot = run_quality(rated, quality_params({}), data=data)
    assert reads == [{}]
    assert on_snapshot.result == run_quality(rated, quality_params({})).result


def test_shared_list_gives_finite_lists_figures_with_equal_values_sharing_one_float():
    values = [0.5, float("nan"), 2.0, 0.5, float("inf"), 2.0, -1.5]
    shared = labels._shared_list(values)
    assert shared == labels._finite_list(values) == [0.5, None, 2.0, 0.5, None, 2.0, -1.5]
    assert shared[0] is shared[3] and shared[2] is shared[5]
    # np.unique would take -0.0 for 0.0: such a column keeps its own floats, and the sign
    assert [repr(v) for v in labels._shared_list([0.0, -0.0, 1.0])] == ["0.0", "-0.0", "1.0"]
    assert labels._shared_list([]) == []


@pytest.mark.django_db
def test_a_rating_committed_between_the_reads_is_left_to_the_next_run(make_project, monkeypatch):
    """A worker's run reads the ratings, then the scores, then the days, each in its own statement: a
    rating committed in between (a rater submitting meanwhile) must neither break the run (its scores
    without their rating, one day too many) nor be half counted; the run is what it was before it."""
    project = make_project(items=4, overlap=3, raters=("alice", "bob", "carol"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for name in ("alice", "bob"):
        for i, task in enumerate(tasks):
            rate(task, member(project, name), {"accuracy": 1 + i, "helpfulness": 2, "harmless": 1})
    before = run_quality(project, quality_params({}))
    query = analysis._score_query

    def a_rater_submits_meanwhile(*args, **only):
        if not only:  # the main score read, after the ratings were read
            rate(tasks[0], member(project, "carol"), {"accuracy": 5, "helpfulness": 5, "harmless": 0})
        return query(*args, **only)

    monkeypatch.setattr(analysis, "_score_query", a_rater_submits_meanwhile)
    during = run_quality(project, quality_params({}))
    assert during.result["n_scores"] == before.result["n_scores"] == 2 * 4 * 3
    assert during.labels == before.labels
    monkeypatch.setattr(analysis, "_score_query", query)
    after = run_quality(project, quality_params({}))
    assert after.result["n_scores"] == 2 * 4 * 3 + 3


@pytest.mark.parametrize("moment", [
    datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC),  # a Sunday, last second: its week began on the 30th
    datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC),  # the Monday after
    datetime(2027, 1, 1, 12, 0, tzinfo=UTC),  # a Friday whose Monday is in the year before
    datetime(2024, 2, 29, 6, 30, tzinfo=UTC),  # a leap day
    datetime(1999, 12, 31, 23, 0, tzinfo=UTC),
])
def test_the_database_gives_each_ratings_week_as_python_would(make_project, moment):
    from django.db.models import DateField
    from django.db.models.functions import Cast

    from evalplatform.projects.models import Project
    from evalplatform.quality.analysis import _WeekOf

    project = make_project("weeks")
    Project.objects.filter(pk=project.pk).update(created_at=moment)
    week = Project.objects.filter(pk=project.pk).annotate(w=_WeekOf(Cast("created_at", DateField()))).values_list(
        "w", flat=True).get()
    day = moment.date()
    assert date.fromordinal(week) == day - timedelta(days=day.weekday())


@pytest.mark.django_db
def test_a_refresh_that_gives_the_stored_labels_builds_no_label_rows(rated, monkeypatch):
    from evalplatform.quality.models import ConsensusLabel
    from evalplatform.quality.services import LABEL_FIELDS, compute_quality

    compute_quality(project=rated)
    stored = list(ConsensusLabel.objects.filter(project=rated).order_by("id").values_list("id", *LABEL_FIELDS))
    run = run_quality(rated, dict(QUALITY_DEFAULTS))
    assert len(run.labels) == len(stored) > 0
    # the table's rows are the stored rows (a bool reads 0/1 on SQLite: equal to False/True)
    assert [tuple(label) for label in run.labels] == [row[1:] for row in stored]

    monkeypatch.setattr(labels.LabelTable, "rows", lambda self: pytest.fail("the labels' rows were built"))
    compute_quality(project=rated)  # the same ratings: the same digest
    assert list(ConsensusLabel.objects.filter(project=rated).order_by("id").values_list("id", *LABEL_FIELDS)) == stored


@pytest.mark.django_db
@pytest.mark.parametrize(("report", "quality_gold", "taken"), [
    ({}, False, True),  # both leave gold tasks out
    ({"include_gold": True}, True, True),  # both count them
    ({"include_gold": True}, False, False),  # the report counts gold tasks, the quality run's agreement does not
    ({}, True, False),  # and the other way round
])
def test_the_per_rater_figures_come_from_the_agreement_section_when_it_counted_the_same_scores(
        rated, monkeypatch, report, quality_gold, taken):
    from evalplatform.reports.sections import agreement_section
    from tests.reports.test_report_golden import first_difference

    params = {**quality_params(report), "include_gold": quality_gold}
    data = load_data(rated, report)
    agreement_section(rated, {**report, "bootstrap": 20}, data)
    calls = []
    summarize = analysis.summarize
    monkeypatch.setattr(analysis, "summarize", lambda *a, **k: calls.append(1) or summarize(*a, **k))
    on_snapshot = run_quality(rated, params, data=data)
    assert len(calls) == (0 if taken else 1)
    read = run_quality(rated, params)  # reads the ratings and computes every figure itself
    assert len(calls) == (1 if taken else 2)
    assert first_difference(on_snapshot.result, read.result, "result") is None
    assert on_snapshot.labels == read.labels
    cards = {c["rater"]: c for c in on_snapshot.result["raters"]}
    assert cards["alice"]["dimensions"][0]["alpha_without"] is not None  # figures there to compare


@pytest.mark.django_db
def test_per_response_questions_are_figured_by_the_quality_run_itself(make_project, monkeypatch):
    """On a pair project a per-response question's unit is (task, response) here, but (item, model) in
    the agreement section, which gathers a response's scores from all its pairs: not taken, though the
    run takes the snapshot's scores."""
    from evalplatform.ratings.services import submit_rating
    from evalplatform.reports.sections import agreement_section
    from rubrics.services import import_rubric
    from tests.comparisons.test_per_response import DUEL_RUBRIC
    from tests.fixtures import next_assignment

    version, _ = import_rubric(data=DUEL_RUBRIC)
    raters = ("alice", "bob", "carol", "dan", "erin", "fay")
    project = make_project("duel", kind="pairwise", version=version, items=1, models=("m1", "m2", "m3"), overlap=2,
                           raters=raters)
    for r, name in enumerate(raters):  # one pair each: no rater scores a response twice
        held = next_assignment(project=project, rater=project.memberships.get(user__username=name).user)
        submit_rating(assignment=held, scores={"preference": r % 5 - 2, "accuracy.a": 1 + r % 5,
                                               "accuracy.b": 1 + (r * 3) % 5})
    data = load_data(project, {})
    assert data.score_keys is not None  # the snapshot's scores are taken: only the units differ
    agreement_section(project, {"bootstrap": 20}, data)
    calls = []
    summarize = analysis.summarize
    monkeypatch.setattr(analysis, "summarize", lambda *a, **k: calls.append(1) or summarize(*a, **k))
    run_quality(project, quality_params({}), data=data)
    assert calls == [1]


@pytest.mark.django_db
@pytest.mark.parametrize("quality_gold", [False, True])
def test_a_task_made_gold_after_the_snapshot_was_read(rated, monkeypatch, quality_gold):
    """The report read the task's scores as not gold; by the quality run it is gold: the run reads the
    scores afresh rather than count them twice or take the report's figures, which counted them."""
    from evalplatform.reports.sections import agreement_section
    from tests.reports.test_report_golden import first_difference

    data = load_data(rated, {})
    agreement_section(rated, {"bootstrap": 20}, data)
    set_gold(task=Task.objects.filter(project=rated).order_by("id")[1],
             expectations={"accuracy": {"value": 3, "tolerance": 1}})
    params = {**quality_params({}), "include_gold": quality_gold}
    on_snapshot = run_quality(rated, params, data=data)
    read = run_quality(rated, params)
    assert first_difference(on_snapshot.result, read.result, "result") is None
    assert on_snapshot.labels == read.labels

"""The demo project carries an automated judge: slightly lenient, well correlated, loaded once."""

from __future__ import annotations

import pytest

from evalplatform.demo.loader import JUDGE, RATED_TICKETS, load_demo
from evalplatform.ratings.models import Rating, Score
from evalplatform.reports import services

pytestmark = pytest.mark.django_db


def judge_scores(project) -> list[tuple]:
    return list(Score.objects.filter(rating__project=project, rating__rater__username=JUDGE)
                .order_by("id").values_list("rating__task_id", "dimension__key", "value"))


def test_the_demo_judge_is_imported_once_and_calibrates_as_lenient():
    project, created = load_demo()
    assert created
    judge = Rating.objects.filter(project=project, rater__username=JUDGE)
    assert judge.count() == RATED_TICKETS * 3
    assert all(r.rater.is_automated for r in judge.select_related("rater"))
    assert not judge.filter(assignment__isnull=False).exists()
    scores = judge_scores(project)
    assert len(scores) == RATED_TICKETS * 3 * 4  # accuracy, helpfulness, tone, harmless

    again, created = load_demo()
    assert again == project
    assert not created
    assert judge_scores(project) == scores

    report = services.compute(report_id=services.create_report(project=project, bootstrap=200).pk)
    (entry,) = report.result["judges"]
    assert entry["rater"] == JUDGE
    dims = {d["dimension"]: d for d in entry["dimensions"]}
    assert set(dims) == {"accuracy", "helpfulness", "tone", "harmless"}
    for key in ("accuracy", "helpfulness", "tone"):
        assert dims[key]["spearman"]["value"] > 0.8
        assert 0.2 < dims[key]["offset"]["value"] < 0.8
        assert dims[key]["offset"]["direction"] == "lenient"
    assert all(r["n_raters"] == 3 for r in report.result["dimensions"])  # the judge is not in the panel


def test_a_demo_loaded_before_the_judge_gets_it_on_the_next_load():
    project, _ = load_demo()
    Rating.objects.filter(rater__username=JUDGE).delete()
    load_demo()
    assert len(judge_scores(project)) == RATED_TICKETS * 3 * 4

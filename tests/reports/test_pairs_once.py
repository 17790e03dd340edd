"""A preference question's per-model scores list each pair of models once: the pair's tasks come in
both orders, and a vote on a "b vs a" task counts for "a vs b" with its sign turned."""

from __future__ import annotations

import statistics
from collections import defaultdict

import pytest

from evalplatform.demo.head_to_head import PROJECT_SLUG
from evalplatform.demo.loader import load_demo
from evalplatform.projects.models import Project
from evalplatform.ratings.models import Score
from evalplatform.reports.compute import build_result

pytestmark = pytest.mark.django_db


def test_each_pair_is_listed_once_with_votes_turned_to_its_order():
    load_demo()
    project = Project.objects.get(slug=PROJECT_SLUG)
    result, _ = build_result(project, {"bootstrap": 50, "seed": 0})
    preference = next(d for d in result["dimensions"] if d.get("pairs_once"))
    names = [m["model"] for m in preference["by_model"]]
    assert names == sorted(names)
    assert len(names) == 3  # three models: three pairs, once each
    for name in names:
        first, second = name.split(" vs ")
        assert first < second
        assert f"{second} vs {first}" not in names

    # By hand from the stored votes (human raters, ordinary tasks): turned to alphabetical order,
    # averaged per task, then over tasks.
    per_task: dict[int, list[int]] = defaultdict(list)
    pair_of: dict[int, str] = {}
    scores = Score.objects.filter(rating__project=project, dimension__key=preference["dimension"],
                                  rating__rater__is_automated=False, rating__task__is_gold=False,
                                  response__isnull=True).values_list(
        "rating__task_id", "rating__task__response_a__model", "rating__task__response_b__model", "value")
    for task_id, a, b, value in scores:
        per_task[task_id].append(value if a < b else -value)
        pair_of[task_id] = " vs ".join(sorted((a, b)))
    for entry in preference["by_model"]:
        tasks = [t for t, name in pair_of.items() if name == entry["model"]]
        assert entry["n"] == len(tasks)
        assert entry["mean"] == pytest.approx(statistics.fmean(statistics.fmean(per_task[t]) for t in tasks))
        assert entry["n_ratings"] == sum(len(per_task[t]) for t in tasks) == sum(entry["distribution"].values())
    # The better model is named first in the demo's pairs, so every pair leans below 0.
    assert all(entry["mean"] < 0 for entry in preference["by_model"])

"""The head-to-head demo: the same tickets as pairs, most voted by the three demo raters through the
queue, one of them leaning left; loaded once, quickly."""

from __future__ import annotations

import time

import pytest

from evalplatform.demo.head_to_head import PROJECT_SLUG, VOTED_TICKETS
from evalplatform.demo.loader import load_demo
from evalplatform.projects.models import Project
from evalplatform.reports import services

pytestmark = pytest.mark.django_db


def test_the_head_to_head_demo_is_loaded_once_with_votes_and_a_left_leaning_rater():
    # CPU time of this process: ~1-2 s here; wall time varies with whatever else shares the machine.
    started = time.process_time()
    load_demo()
    assert time.process_time() - started < 5
    project = Project.objects.get(slug=PROJECT_SLUG)
    assert project.kind == "pairwise"
    assert project.overlap == 3
    assert project.name == "Support replies: head to head"
    assert project.tasks.count() == 24 * 3
    assert project.tasks.filter(rated_count=3).count() == VOTED_TICKETS * 3
    assert project.tasks.filter(rated_count=0).count() == (24 - VOTED_TICKETS) * 3  # left to vote
    assert sorted(project.memberships.filter(role="rater").values_list("user__username", flat=True)) == [
        "alice", "bob", "carol"]
    ratings = project.ratings.count()

    load_demo()
    assert Project.objects.filter(slug=PROJECT_SLUG).count() == 1
    assert project.ratings.count() == ratings

    report = services.compute(report_id=services.request_report(project=project, bootstrap=200).pk)
    (board,) = report.result["leaderboard"]
    assert [m["model"] for m in board["models"]] == ["helpbot-large", "helpbot-small", "open-llm-8b"]
    (bias,) = report.result["position_bias"]
    raters = {r["rater"]: r for r in bias["per_rater"]}
    assert raters["bob"]["left_win_rate"] > raters["alice"]["left_win_rate"]
    assert raters["bob"]["left_win_rate"] > raters["carol"]["left_win_rate"]

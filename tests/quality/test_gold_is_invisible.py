"""A rater cannot tell gold items apart by any figure they see: the "left for you" counter drops by
one with every item served, gold or ordinary, and the home page shows raters no project-wide figure
(gold ratings are left out of it, so it stood still on every gold item)."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from evalplatform.projects.models import Task
from evalplatform.quality.services import set_gold, update_quality_settings
from evalplatform.ratings.selectors import rater_progress
from evalplatform.ratings.services import submit_rating
from tests.fixtures import GOOD, next_assignment
from tests.quality.conftest import client_for, member

pytestmark = pytest.mark.django_db
LEFT = re.compile(r"<strong>(\d+)</strong> left for you")


def gold_project(make_project, *, items: int, gold: int, overlap: int = 2):
    project = make_project(items=items, overlap=overlap, raters=("alice", "bob"))
    for task in Task.objects.filter(project=project).order_by("id")[:gold]:
        set_gold(task=task, expectations={"accuracy": {"value": 4, "tolerance": 1}})
    return update_quality_settings(project=project, gold_rate=0.4)


def test_the_left_counter_drops_by_one_on_every_item_gold_or_not(make_project):
    project = gold_project(make_project, items=30, gold=6)
    alice = member(project, "alice")
    random.seed(11)
    counts, kinds = [], []
    while (assignment := next_assignment(project=project, rater=alice)) is not None:
        counts.append(rater_progress(project=project, rater=alice).left)
        kinds.append(assignment.task.is_gold)
        submit_rating(assignment=assignment, scores=GOOD)
    assert any(kinds), "the test needs both kinds served"
    assert not all(kinds), "the test needs both kinds served"
    drops = [a - b for a, b in itertools.pairwise(counts)]
    # Every item but the last ordinary one takes the counter down by exactly one; the last one shows 1.
    assert set(drops[:-1]) == {1}, list(zip(kinds, counts, strict=False))
    assert counts[-1] == 1
    assert rater_progress(project=project, rater=alice).left == 0


def test_the_rating_page_counter_moves_alike_for_gold_and_ordinary(make_project):
    project = gold_project(make_project, items=16, gold=4)
    alice = member(project, "alice")
    page = client_for(alice)
    random.seed(4)
    shown, kinds = [], []
    for _ in range(10):
        html = page.get(f"/projects/{project.slug}/rate/").content.decode()
        assignment = next_assignment(project=project, rater=alice)  # the lease the page holds
        shown.append(int(LEFT.search(html).group(1)))
        kinds.append(assignment.task.is_gold)
        submit_rating(assignment=assignment, scores=GOOD)
    assert any(kinds)
    assert not all(kinds)
    assert [a - b for a, b in itertools.pairwise(shown)] == [1] * 9, list(zip(kinds, shown, strict=False))


def test_raters_see_no_project_wide_progress_on_the_home_page(make_project, lead):
    project = gold_project(make_project, items=6, gold=2)
    rater_home = client_for(member(project, "alice")).get("/").content.decode()
    assert "/ 8 ratings" not in rater_home
    assert "on your rating page" in rater_home
    assert "0 / 8 ratings" in client_for(lead).get("/").content.decode()

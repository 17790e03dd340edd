"""Training answers never reach real work: reports and their agreement, consensus, exports, progress
counts, the queue's assignments and overlap all see the real ratings only."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import project_progress
from evalplatform.projects.models import Membership, Task
from evalplatform.projects.services import add_member
from evalplatform.quality.models import ConsensusLabel
from evalplatform.ratings.exports import formats
from evalplatform.ratings.models import Rating
from evalplatform.ratings.selectors import rater_progress
from evalplatform.ratings.services import submit_rating
from evalplatform.reports import services as reports
from evalplatform.training import selectors, services
from evalplatform.training.models import TrainingAnswer
from tests.fixtures import GOOD, UserFactory, next_assignment
from tests.training.conftest import RIGHT, api_client, train

pytestmark = pytest.mark.django_db


def test_training_answers_are_absent_from_reports_exports_progress_and_the_queue(trained, alice, bob, lead):
    carol = UserFactory(username="carol")
    add_member(project=trained, user=carol, role=Membership.Role.RATER)
    for rater in (alice, bob):
        train(trained, rater, RIGHT)
        while (assignment := next_assignment(project=trained, rater=rater)) is not None:
            submit_rating(assignment=assignment, scores=GOOD)
    # carol is half-way through her training: an open attempt with one answer
    attempt = services.start_attempt(project=trained, rater=carol)
    services.submit_training_answer(attempt=attempt, item=selectors.next_training_item(attempt), scores=RIGHT[0])
    assert TrainingAnswer.objects.count() == 5

    # the queue and its counters: 3 real tasks, each rated twice
    assert Assignment.objects.filter(project=trained).count() == 6
    assert sorted(Task.objects.filter(project=trained).values_list("rated_count", flat=True)) == [2, 2, 2]
    assert Rating.objects.filter(project=trained).count() == 6
    progress = project_progress(trained)
    assert (progress.tasks, progress.ratings) == (3, 6)
    assert rater_progress(project=trained, rater=alice).done_project == 3
    assert rater_progress(project=trained, rater=carol).done_project == 0

    # the report (agreement, sections, scorecards, consensus) is computed from the 6 real ratings
    report = reports.compute(report_id=reports.create_report(project=trained, bootstrap=0).pk)
    assert report.status == "done"
    assert report.n_ratings == 6
    text = json.dumps(report.result, default=str)
    assert "train-" not in text
    assert "Reset my password" not in text
    consensus_tasks = set(ConsensusLabel.objects.filter(project=trained).values_list("task__item__external_id", flat=True))
    assert consensus_tasks <= {"t-0001", "t-0002", "t-0003"}

    # every export format the lead can download
    client = api_client(lead)
    downloaded = []
    for fmt in formats():
        response = client.get(f"/api/projects/{trained.pk}/export/", {"format": fmt})
        if response.status_code != 200:
            continue  # a format that does not apply to this project (pairwise only, say)
        body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
        assert "train-" not in body, fmt
        assert "Reset my password" not in body, fmt
        downloaded.append(fmt)
    assert {"csv", "jsonl"} <= set(downloaded)

    # the report API's JSON too
    latest = client.get(f"/api/projects/{trained.pk}/reports/latest/")
    if latest.status_code == 200:
        assert "train-" not in latest.content.decode()
    assert get_user_model().objects.filter(username="carol").exists()

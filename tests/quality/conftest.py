"""Helpers for quality-control tests: ratings of chosen tasks by chosen raters, through the services."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Task
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import submit_rating


def rate(task: Task, rater, scores: dict, *, duration_ms: int | None = 20_000, at: datetime | None = None,
         justification: str = "") -> Rating:
    """``rater`` rates ``task`` (as if the queue had served it): a lease, then the real submit."""
    now = timezone.now()
    with transaction.atomic():
        assert Task.objects.filter(pk=task.pk, claimed_count__lt=F("capacity")).update(
            claimed_count=F("claimed_count") + 1
        )
        assignment = Assignment.objects.create(
            project_id=task.project_id, task=task, rater=rater, leased_at=now, lease_expires_at=now + timedelta(hours=1)
        )
    submitted = submit_rating(assignment=assignment, scores=scores, duration_ms=duration_ms,
                                    justification=justification)
    rating, created = submitted.rating, submitted.created
    assert created
    if at is not None:
        Rating.objects.filter(pk=rating.pk).update(created_at=at)
    return rating


def member(project, name):
    return project.memberships.get(user__username=name).user


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def tasks_of():
    def get(project):
        return list(Task.objects.filter(project=project).select_related("item").order_by("id"))

    return get


@pytest.fixture(autouse=True)
def _no_report_refresh(no_report_refresh):
    """Every test here is about something other than reports."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from evalplatform.enrolment.workforce import create_entry_link, entry_path

PID = "5f3a1b2c3d4e5f6a7b8c9d0e"  # a Prolific id: 24 lowercase hex digits
PID2 = "60aa1b2c3d4e5f6a7b8c9d0f"
COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"


def enter_url(link, **params) -> str:
    return entry_path(link) + ("?" + urlencode(params) if params else "")


@pytest.fixture
def study(make_project, lead):
    """A project with 4 items (one rater per task) and a Prolific entry link with a quota of 2."""
    project = make_project("study", items=4, overlap=1)
    link = create_entry_link(project=project, created_by=lead, quota=2, completion_code="CODE42",
                             completion_url=COMPLETE)
    return project, link


@pytest.fixture
def no_refresh(no_report_refresh):
    return None


def rate_url(project) -> str:
    return reverse("rate", args=[project.slug])

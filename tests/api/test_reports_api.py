"""Agreement reports over the API: requested with 202, read once stored."""

from __future__ import annotations

import pytest
from django.utils import timezone

from evalplatform.reports.models import AgreementReport

pytestmark = pytest.mark.django_db


def done_report(project, **fields):
    return AgreementReport.objects.create(
        project=project, status="done", result={"dimensions": {"accuracy": {"alpha": 0.61}}}, data_seq=0,
        finished_at=timezone.now(), progress=1.0, **fields,
    )


def test_request_is_202_with_the_report_and_its_location(people, as_, django_capture_on_commit_callbacks):
    url = f"/api/projects/{people.project.pk}/reports/"
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_.lead.post(url, {"bootstrap": 50, "seed": 7, "include_automated": True}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"] == f"/api/reports/{body['id']}/"
    report = AgreementReport.objects.get(pk=body["id"])
    assert report.parameters["bootstrap"] == 50
    assert report.parameters["seed"] == 7
    assert report.parameters["include_automated"] is True
    assert report.requested_by == people.lead
    assert len(callbacks) == 1  # the computation is enqueued after commit, never run in the request


def test_request_parameters_are_validated(people, as_):
    url = f"/api/projects/{people.project.pk}/reports/"
    response = as_.lead.post(url, {"bootstrap": 50000, "include_automated": "perhaps"}, format="json")
    assert response.status_code == 400
    assert {"bootstrap", "include_automated"} <= set(response.json())
    assert not AgreementReport.objects.exists()


def test_latest_is_404_until_a_report_is_done_then_the_newest_done(people, as_):
    url = f"/api/projects/{people.project.pk}/reports/latest/"
    assert as_.lead.get(url).status_code == 404
    older, newer = done_report(people.project), done_report(people.project)
    AgreementReport.objects.create(project=people.project)  # queued: not a result yet
    body = as_.lead.get(url).json()
    assert body["id"] == newer.pk != older.pk
    assert body["result"]["dimensions"]["accuracy"]["alpha"] == 0.61


def test_report_detail_and_staleness(people, as_):
    report = done_report(people.project)
    body = as_.lead.get(f"/api/reports/{report.pk}/").json()
    assert body["status"] == "done"
    assert body["stale"] is False
    assert body["result"] is not None
    people.project.__class__.objects.filter(pk=people.project.pk).update(ratings_seq=3)
    assert as_.lead.get(f"/api/reports/{report.pk}/").json()["stale"] is True


def test_raters_never_see_reports(people, as_):
    report = done_report(people.project)
    assert as_.alice.get(f"/api/reports/{report.pk}/").status_code == 403
    assert as_.alice.get(f"/api/projects/{people.project.pk}/reports/latest/").status_code == 403
    assert as_.dave.get(f"/api/reports/{report.pk}/").status_code == 404
    assert as_.alice.get("/api/reports/999999/").status_code == 404


def test_reports_list_newest_first(people, as_):
    first, second = done_report(people.project), AgreementReport.objects.create(project=people.project)
    rows = as_.lead.get(f"/api/projects/{people.project.pk}/reports/").json()["results"]
    assert [r["id"] for r in rows] == [second.pk, first.pk]
    assert "result" not in rows[0]

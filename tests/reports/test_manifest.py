"""Reports that prove themselves: the manifest, the exact ratings download, the alpha cross-check,
and ``agreement`` on a report's own export reproducing its figures exactly."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from evalplatform.projects.models import Membership, Task
from evalplatform.ratings.models import Score
from evalplatform.reports import services

pytestmark = pytest.mark.django_db


def downloads(project, lead, tmp_path):
    client = Client()
    client.force_login(lead)
    doc = client.get(reverse("report-export", args=[project.slug, "report"]))
    ratings = client.get(reverse("report-export", args=[project.slug, "report-ratings-csv"]))
    assert doc.status_code == 200, ratings.content
    assert ratings.status_code == 200, ratings.content
    (tmp_path / "report.json").write_bytes(doc.content)
    (tmp_path / "ratings.csv").write_bytes(ratings.content)
    return json.loads(doc.content), ratings


def test_manifest_hash_counts_and_crosscheck(rated_project, lead, tmp_path):
    project = rated_project("man", items=8, models=("m1", "m2"))
    # a gold task's ratings and a paused rater's: left out, and counted by reason
    gold = Task.objects.filter(project=project).order_by("id").first()
    gold.is_gold = True
    gold.save()
    Membership.objects.filter(project=project, user__username="carol").update(paused=True)
    report = services.compute(report_id=services.create_report(project=project, bootstrap=30,
                                                                include_paused=False).pk)
    manifest = report.result["manifest"]
    doc, ratings = downloads(project, lead, tmp_path)
    assert doc["result"]["manifest"] == manifest
    assert hashlib.sha256(ratings.content).hexdigest() == manifest["ratings_sha256"] == ratings["X-Ratings-SHA256"]
    assert manifest["parameters"]["seed"] == 0
    assert manifest["parameters"]["bootstrap"] == 30
    assert set(manifest["software"]) >= {"python", "numpy", "scipy", "statsmodels", "krippendorff", "Django"}
    counts = manifest["ratings"]
    assert counts["by_reason"]["gold"] == 3
    assert counts["by_reason"]["paused"] == 16
    assert counts["by_reason"]["automated"] == 0
    assert counts["used"] == report.n_ratings
    assert counts["total_ratings"] == counts["used"] + counts["left_out"]
    check = manifest["alpha_crosscheck"]
    assert check["n_checked"] == len(report.result["dimensions"])
    assert check["max_abs_diff"] < 1e-12
    html = Client()
    html.force_login(lead)
    page = html.get(reverse("report", args=[project.slug])).content.decode()
    assert manifest["ratings_sha256"][:16] in page
    assert "krippendorff" in page


def test_agreement_on_the_reports_own_export_reproduces_it_exactly(rated_project, lead, tmp_path):
    project = rated_project("repro", items=10, models=("m1", "m2", "m3"), raters=("alice", "bob", "carol", "dan"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=200, seed=7).pk)
    downloads(project, lead, tmp_path)
    out, err = io.StringIO(), io.StringIO()
    call_command("agreement", str(tmp_path / "ratings.csv"), "--manifest", str(tmp_path / "report.json"),
                 stdout=out, stderr=err)
    assert err.getvalue() == ""  # the hash matches, the scales are given
    theirs = json.loads(out.getvalue())
    ours = report.result["dimensions"]
    assert [d["dimension"] for d in theirs["dimensions"]] == [d["dimension"] for d in ours] or \
        sorted(d["dimension"] for d in theirs["dimensions"]) == sorted(d["dimension"] for d in ours)
    by_key = {d["dimension"]: d for d in theirs["dimensions"]}
    for dim in ours:
        assert by_key[dim["dimension"]] == dim, dim["dimension"]  # every figure and interval, exactly
    assert theirs["manifest"]["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]


def test_the_ratings_download_refuses_once_the_data_changed(rated_project, lead, tmp_path):
    project = rated_project("stale", items=6, models=("m1",))
    services.compute(report_id=services.create_report(project=project, bootstrap=0).pk)
    score = Score.objects.filter(rating__project=project, value=3).first()
    Score.objects.filter(pk=score.pk).update(value=4)  # the data moved on since the report
    client = Client()
    client.force_login(lead)
    response = client.get(reverse("report-export", args=[project.slug, "report-ratings-csv"]))
    assert response.status_code == 409
    assert b"Recompute" in response.content

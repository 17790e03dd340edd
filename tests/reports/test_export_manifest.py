"""Every project-level export carries a manifest (issue 20, item 5): the download's
``X-Export-Manifest`` header and ``manage.py export --manifest FILE``.  Its ratings hash is the report
manifest's own when the export holds what the report counted, it moves when a rating changes, and it
counts what was left out by reason."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from evalplatform.projects.models import Membership, Task
from evalplatform.ratings import exports
from evalplatform.ratings.models import Rating, Score
from evalplatform.reports import services

pytestmark = pytest.mark.django_db


def header_manifest(project, lead, fmt="csv"):
    client = Client()
    client.force_login(lead)
    response = client.get(reverse("report-export", args=[project.slug, fmt]))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return json.loads(response[exports.MANIFEST_HEADER])


def report_ratings_sha(project, lead):
    client = Client()
    client.force_login(lead)
    response = client.get(reverse("report-export", args=[project.slug, "report-ratings-csv"]))
    assert response.status_code == 200
    return hashlib.sha256(response.content).hexdigest()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "items-csv", "items-jsonl", "reward"])
def test_a_download_carries_the_reports_hash_when_it_holds_what_the_report_counted(rated_project, lead, fmt):
    project = rated_project("exman", items=6, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=0).pk)
    manifest = header_manifest(project, lead, fmt)
    assert manifest["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]
    assert manifest["ratings_sha256"] == report_ratings_sha(project, lead)  # sha256sum of that download
    assert manifest["format"] == fmt
    assert manifest["project"] == project.slug
    assert manifest["rubric_version"] == project.rubric_version_id
    assert manifest["ratings"]["used"] == report.n_ratings
    assert manifest["n_scores"] == report.result["manifest"]["n_scores"]
    assert set(manifest["software"]) >= {"python", "numpy", "Django", "evalplatform"}
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["left_out"] == exports.export_options(project).describe()


def test_the_hash_changes_when_a_rating_changes(rated_project, lead):
    project = rated_project("exmove", items=4, models=("m1",))
    before = header_manifest(project, lead)
    score = Score.objects.filter(rating__project=project, value=3, dimension__key="accuracy").first()
    Score.objects.filter(pk=score.pk).update(value=4)
    after = header_manifest(project, lead)
    assert before["ratings_sha256"] != after["ratings_sha256"]
    Score.objects.filter(pk=score.pk).update(value=3)
    assert header_manifest(project, lead)["ratings_sha256"] == before["ratings_sha256"]


def test_left_out_counts_by_reason(rated_project, lead):
    project = rated_project("exleft", items=8, models=("m1", "m2"))
    gold = Task.objects.filter(project=project).order_by("id").first()
    gold.is_gold = True
    gold.save()
    Membership.objects.filter(project=project, user__username="carol").update(paused=True)
    options = exports.export_options(project, include_paused=False)
    manifest = exports.export_manifest(project, "csv", options)
    ratings = Rating.objects.filter(project=project)
    counts = manifest["ratings"]
    assert counts["by_reason"] == {
        "gold": ratings.filter(task__is_gold=True).count(),
        "automated": 0,
        "paused": ratings.filter(rater__username="carol").count(),
        "excluded": 0,
    }
    assert counts["by_reason"]["gold"] > 0
    assert counts["by_reason"]["paused"] > 0
    used = ratings.exclude(task__is_gold=True).exclude(rater__username="carol").count()
    assert counts["used"] == used
    assert counts["total_ratings"] == ratings.count()
    assert counts["left_out"] == ratings.count() - used
    assert manifest["options"]["include_paused"] is False
    assert manifest["options"]["include_gold"] is False
    # keeping everything: nothing left out, and a different hash (more ratings)
    everything = exports.export_options(project, include_gold=True, include_paused=True)
    full = exports.export_manifest(project, "csv", everything)
    assert full["ratings"]["left_out"] == 0
    assert "gold" not in full["ratings"]["by_reason"]
    assert full["ratings_sha256"] != manifest["ratings_sha256"]


def test_the_command_writes_a_manifest_sidecar(rated_project, tmp_path):
    project = rated_project("excli", items=5, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=0).pk)
    out, side, err = tmp_path / "ratings.csv", tmp_path / "ratings.manifest.json", io.StringIO()
    call_command("export", "--project", project.slug, "--format", "csv", "--output", str(out),
                 "--manifest", str(side), stderr=err)
    manifest = json.loads(side.read_text())
    assert manifest["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]
    assert manifest["format"] == "csv"
    assert manifest["parameters"] == {"min_margin": 0.0, "split": None, "seed": 0}
    assert manifest["ratings_sha256"] in err.getvalue()
    assert out.read_text().startswith("item_id,")


def test_the_api_download_carries_the_manifest(rated_project, lead):
    project = rated_project("exapi", items=3, models=("m1",))
    client = Client()
    client.force_login(lead)
    response = client.get(f"/api/projects/{project.pk}/export/", {"format": "jsonl", "include_gold": "true"})
    assert response.status_code == 200
    manifest = json.loads(response[exports.MANIFEST_HEADER])
    assert manifest["format"] == "jsonl"
    assert manifest["options"]["include_gold"] is True
    assert manifest["ratings_sha256"] == exports.export_manifest(
        project, "jsonl", exports.export_options(project, include_gold=True))["ratings_sha256"]


def test_a_consensus_download_says_which_quality_run_its_labels_come_from(rated_project, lead):
    project = rated_project("excons", items=4, models=("m1",))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=0).pk)
    manifest = header_manifest(project, lead, "consensus-csv")
    assert manifest["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]
    rows_from = manifest["rows_from"]
    assert rows_from["quality_run_data_seq"] == manifest["data_seq"]
    assert rows_from["adjudications"] == 0
    assert rows_from["consensus_rule"] == str(project.consensus_rule)
    assert "rows_from" not in header_manifest(project, lead, "csv")

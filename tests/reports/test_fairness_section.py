"""The fairness audit in the report: the section, the page, the CSV export, and the metadata flags
that now come from its corrected tests only."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from evalplatform.reports import services
from evalplatform.reports.compute import build_result
from evalplatform.reports.selectors import FAIRNESS_COLUMNS
from tests.reports.conftest import import_records, rating_records

pytestmark = pytest.mark.django_db
PARAMS = {"bootstrap": 50, "seed": 0}


def test_the_audit_finds_the_planted_gap_and_flags_only_from_corrected_tests(make_project):
    project = make_project("fair", items=30, models=("m1", "m2"), overlap=3)
    import_records(project, rating_records(project, ("alice", "bob", "carol"), seed=5))
    result, _ = build_result(project, PARAMS)
    audit = result["fairness"]
    assert audit["correction"] == "holm"
    assert audit["n_tests"] == sum(len(c["pairs"]) for c in audit["cells"])
    cell = next(c for c in audit["cells"] if c["dimension"] == "accuracy" and c["model"] == "m2")
    assert cell["flagged"]
    assert cell["gap"]["high"] == "billing"
    assert cell["gap"]["low"] == "tech"
    assert cell["gap"]["ci95"][0] > 0  # a point lower on tech: the interval excludes no gap
    for c in audit["cells"]:
        for pair in c["pairs"]:
            assert pair["flagged"] == (pair["p_adjusted"] is not None and pair["p_adjusted"] < 0.05)
    harmless = next(c for c in audit["cells"] if c["dimension"] == "harmless" and c["model"] == "m1")
    assert harmless["binary"]
    assert harmless["four_fifths"] is not None
    assert all(0 <= g["rate_ci95"][0] <= g["rate"] <= g["rate_ci95"][1] <= 1 for g in harmless["groups"])
    # the metadata breakdown's flags are the audit's: m2 below on tech, above on billing, nothing for m1
    meta = next(d for d in result["metadata"]["fields"][0]["dimensions"] if d["dimension"] == "accuracy")
    flags = {(r["value"], r["model"]): r["flag"] for r in meta["rows"]}
    assert flags[("tech", "m2")] == "below"
    assert flags[("billing", "m2")] == "above"
    m1 = next(c for c in audit["cells"] if c["dimension"] == "accuracy" and c["model"] == "m1")
    assert flags[("tech", "m1")] == ("below" if m1["flagged"] else None)


def test_the_page_shows_the_audit_and_the_csv_export_holds_it(rated_project, lead):
    project = rated_project("fairpage", items=12, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=20).pk)
    client = Client()
    client.force_login(lead)
    html = client.get(reverse("report", args=[project.slug])).content.decode()
    assert 'id="fairness"' in html
    assert "Fairness audit (CSV)" in html
    response = client.get(reverse("report-export", args=[project.slug, "fairness-csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["X-Ratings-SHA256"] == report.result["manifest"]["ratings_sha256"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == FAIRNESS_COLUMNS
    audit = report.result["fairness"]
    assert sum(r["row"] == "pair" for r in rows) == audit["n_tests"] + sum(
        p["p_value"] is None for c in audit["cells"] for p in c["pairs"])
    assert sum(r["row"] == "pair" and r["flagged"] == "true" for r in rows) == audit["n_flags"]
    assert {r["row"] for r in rows} <= {"group", "gap", "omnibus", "pair"}

"""The report's judge section, end to end: ratings stored through the imports, a report computed by the
service, read back as JSON (API) and on the lead's page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.reports import services
from evalplatform.reports.data import load_data
from evalplatform.reports.judges import judge_rows, judges_section
from tests.judges.conftest import N_UNITS, jsonl
from tests.judges.synthetic import HUMANS, JUDGES, assert_told_apart, long_rows, panel

pytestmark = pytest.mark.django_db
PARAMS = {"bootstrap": 300, "seed": 0}


def computed(project, **parameters):
    report = services.create_report(project=project, **{**PARAMS, **parameters})
    return services.compute(report_id=report.pk)


def by_judge(section) -> dict[str, dict]:
    return {entry["rater"].removeprefix("judge:"): entry["dimensions"][0] for entry in section}


def lead_page(project) -> str:
    client = Client()
    client.force_login(project.created_by)
    response = client.get(reverse("report", args=[project.slug]))
    assert response.status_code == 200
    return response.content.decode()


def test_three_stored_judges_are_told_apart_in_the_report(calibrated_project):
    report = computed(calibrated_project)
    assert report.status == "done", report.error
    result = report.result
    assert [j["rater"] for j in result["judges"]] == [f"judge:{j}" for j in sorted(JUDGES)]
    assert_told_apart(by_judge(result["judges"]))
    high = by_judge(result["judges"])["high"]
    assert high["dimension"] == "quality"
    assert high["n_humans"] == len(HUMANS)
    assert high["n_judge_ratings"] == N_UNITS
    assert {h["rater"] for h in high["human_kappas"]} == set(HUMANS)
    assert high["disagreements"][0]["model"] == "m1"
    assert high["disagreements"][0]["item_id"].startswith("t-")
    (dim,) = result["dimensions"]  # the human figures leave the judges out
    assert dim["n_raters"] == len(HUMANS)
    assert report.n_ratings == len(HUMANS) * N_UNITS
    assert "judges" in result["sections"]


def test_including_judges_in_the_agreement_leaves_the_calibration_alone(calibrated_project):
    default = computed(calibrated_project).result
    included = computed(calibrated_project, include_automated=True).result
    assert included["dimensions"][0]["n_raters"] == len(HUMANS) + len(JUDGES)
    assert included["judges"] == default["judges"]  # the panel is the humans either way


def test_the_api_serves_the_section(calibrated_project, lead):
    computed(calibrated_project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=lead)[0].key}")
    body = client.get(f"/api/projects/{calibrated_project.pk}/reports/latest/").json()
    assert_told_apart(by_judge(body["result"]["judges"]))


def test_no_automated_ratings_no_section(make_project, quality_version):
    project = make_project("humans-only", items=10, overlap=5, raters=HUMANS, version=quality_version)
    humans, _ = panel(10)
    from evalplatform.ratings.importing import import_ratings

    import_ratings(project=project, stream=jsonl(long_rows(dict(zip(HUMANS, humans, strict=True)))), fmt="jsonl", create_raters=True)
    result = computed(project).result
    assert result["judges"] == []
    assert render_to_string("reports/_judges.html", {"section": result["judges"], "result": result,
                                                     "project": project}).strip() == ""
    assert 'id="judges"' not in lead_page(project)


def test_judge_rows_are_one_query_whatever_the_size(calibrated_project, make_project, quality_version):
    data = load_data(calibrated_project, PARAMS)
    with CaptureQueriesContext(connection) as queries:
        rows = judge_rows(calibrated_project, data)
    assert len(queries) == 1
    assert len(rows) == len(JUDGES) * N_UNITS
    with CaptureQueriesContext(connection) as queries:
        judges_section(calibrated_project, {**PARAMS, "bootstrap": 0}, data)
    assert len(queries) == 1


def test_a_judge_on_a_dimension_no_human_rated(make_project, quality_version):
    project = make_project("lonely", items=5, overlap=2, raters=("ann",), version=quality_version)
    from evalplatform.ratings.importing import import_ratings

    import_ratings(project=project, stream=jsonl(long_rows({"solo": [3, 4, 2, 5, 1]})), fmt="jsonl", automated=True)
    (entry,) = computed(project).result["judges"]
    (dim,) = entry["dimensions"]
    assert dim["n_humans"] == 0
    assert dim["judge_kappa"]["value"] is None
    assert dim["verdict"] is None
    assert dim["reason"] == "the judge rated no unit with a human consensus"


def test_the_section_renders_verdicts_figures_and_item_links(calibrated_project):
    result = computed(calibrated_project).result
    html = render_to_string("reports/_judges.html", {"section": result["judges"], "result": result,
                                                     "project": calibrated_project})
    assert html.count('data-judge="judge:') == len(JUDGES)
    assert "judge:high on Quality" in html
    assert "agrees with the panel more than a typical human" in html  # judge:copy
    assert html.count("agrees with the panel less than a typical human") == 2
    assert "It scores <strong>higher</strong> than the humans" in html  # judge:high
    first = by_judge(result["judges"])["high"]["disagreements"][0]["item_id"]
    assert f'<a href="{reverse("report-item", args=[calibrated_project.slug, first])}">{first}</a>' in html


def test_the_lead_page_shows_the_section(calibrated_project):
    computed(calibrated_project)
    html = lead_page(calibrated_project)
    assert 'id="judges"' in html
    assert "<h2>Automated judges</h2>" in html
    assert "This judge <strong>agrees with the panel more than a typical human</strong>" in html

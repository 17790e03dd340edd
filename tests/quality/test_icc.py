"""ICC in ``manage.py agreement`` and in the report: which dimensions get it, its shape, its reading,
and what happens with missing ratings and degenerate data."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from evalplatform.projects.models import Task
from evalplatform.reports import services as reports
from evalplatform.stats.icc import ICC_FORMS
from tests.quality.conftest import client_for, member, rate

# Shrout & Fleiss (1979), table 2: six targets rated by four judges.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
PUBLISHED = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}


@pytest.fixture
def ratings_file(tmp_path):
    lines = ["item_id,rater,value"]
    for item, row in enumerate(SHROUT_FLEISS, start=1):
        lines += [f"{item},{judge},{value}" for judge, value in zip("abcd", row, strict=True)]
    lines.append("7,a,5")  # an item only one judge rated: left out of the ICC, counted as left out
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def agreement(*args) -> str:
    out = StringIO()
    call_command("agreement", *map(str, args), "--bootstrap", "0", stdout=out)
    return out.getvalue()


def test_agreement_command_gives_every_icc_form_with_value_and_interval_for_interval_data(ratings_file):
    (dim,) = json.loads(agreement(ratings_file, "--level", "interval"))["dimensions"]
    icc = dim["icc"]
    for form, published in PUBLISHED.items():
        assert icc[form]["value"] == pytest.approx(published, abs=0.005)
        lo, hi = icc[form]["ci95"]
        assert lo < icc[form]["value"] < hi
        assert icc[form]["reading"].startswith("ICC(")
    assert (icc["n_units_used"], icc["n_units_dropped"], icc["n_raters"]) == (6, 1, 4)
    assert icc["missing_policy"] == "complete units only"
    assert "1 units with missing ratings left out" in icc["ICC2"]["reading"]


def test_ordinal_dimensions_get_icc_only_when_asked(ratings_file):
    (plain,) = json.loads(agreement(ratings_file))["dimensions"]
    assert plain["level"] == "ordinal"
    assert "icc" not in plain
    (asked,) = json.loads(agreement(ratings_file, "--icc"))["dimensions"]
    assert asked["icc"]["ICC3"]["value"] == pytest.approx(0.71, abs=0.005)
    (nominal,) = json.loads(agreement(ratings_file, "--level", "nominal", "--icc"))["dimensions"]
    assert "icc" not in nominal


def test_the_table_format_prints_the_icc_readings(ratings_file):
    text = agreement(ratings_file, "--icc", "--format", "table")
    assert "ICC on 6 complete units (1 with missing ratings left out), 4 raters" in text
    assert "ICC(3,1) = 0.71" in text
    assert "moderate reliability" in text
    assert [form for form in ICC_FORMS if f"\n  {form} (" in text] == list(ICC_FORMS)


def test_degenerate_input_gets_a_reason_not_a_number(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("item_id,rater,value\n1,a,3\n2,a,4\n3,a,5\n")
    (dim,) = json.loads(agreement(path, "--level", "interval"))["dimensions"]
    assert dim["icc"]["ICC2"]["value"] is None
    assert dim["icc"]["reason"]
    assert "could not be computed" in dim["icc"]["ICC2"]["reading"]


@pytest.mark.django_db
def test_the_report_carries_icc_when_asked_and_the_page_reads_it(project, lead):
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for name, offset in (("alice", 0), ("bob", 1), ("carol", 0)):
        for i, task in enumerate(tasks):
            rate(task, member(project, name), {"accuracy": min(5, 1 + i + offset), "helpfulness": 3, "harmless": 1})
    plain = reports.compute(report_id=reports.create_report(project=project, bootstrap=0).pk)
    dims = {d["dimension"]: d for d in plain.result["dimensions"]}
    assert "icc" not in dims["accuracy"]
    assert plain.result["icc"] == {"ordinal": False, "dimensions": []}
    asked = reports.compute(report_id=reports.create_report(project=project, bootstrap=0, icc=True).pk)
    dims = {d["dimension"]: d for d in asked.result["dimensions"]}
    icc = dims["accuracy"]["icc"]
    assert set(ICC_FORMS) <= set(icc)
    assert icc["n_units_used"] == 5
    assert icc["ICC2"]["value"] > 0.5
    assert "icc" not in dims["harmless"]  # nominal: never
    assert dims["helpfulness"]["icc"]["ICC1"]["value"] is None  # everyone said 3: no variance, and a reason
    assert asked.result["icc"] == {"ordinal": True, "dimensions": ["accuracy", "helpfulness"]}
    page = client_for(lead).get(reverse("report", args=[project.slug])).content.decode()
    section = page.split('id="icc"')[1].split("</section>")[0]
    assert icc["ICC2"]["reading"].split(" (")[0] in section
    assert "5 items rated by all 3 raters" in section

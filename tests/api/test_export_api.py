"""Exports: streamed long-format CSV/JSONL, preference pairs, and CSV formula neutralisation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalplatform.assignments.models import Assignment
from evalplatform.exporting import safe_cell
from evalplatform.projects.models import Membership
from evalplatform.ratings.exports import preference_rows
from evalplatform.ratings.services import submit_rating
from tests.fixtures import GOOD, next_assignment

pytestmark = pytest.mark.django_db


def rate_all(project, names, scores=GOOD, **extra):
    for name in names:
        rater = Membership.objects.get(project=project, user__username=name).user
        while (assignment := next_assignment(project=project, rater=rater)) is not None:
            submit_rating(assignment=assignment, scores=scores, **extra)


def download(client, project, **params):
    response = client.get(f"/api/projects/{project.pk}/export/", params)
    assert response.status_code == 200, getattr(response, "data", None)
    assert response.streaming
    return response, b"".join(response.streaming_content).decode()


def test_csv_is_long_format_one_row_per_score(people, as_):
    rate_all(people.project, ["alice"], justification="clear", duration_ms=900)
    response, text = download(as_.lead, people.project, format="csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="proj-ratings.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 * 3  # five items, three scored dimensions given
    first = rows[0]
    assert (first["item_id"], first["model"], first["rater"], first["dimension"]) == ("t-0001", "m1", "alice", "accuracy")
    assert (first["value"], first["value_label"], first["justification"], first["duration_ms"]) == ("4", "4", "clear", "900")
    assert rows[2]["value_label"] == "Yes"
    assert first["automated"] == "false"


def test_csv_neutralises_formulas_but_not_numbers(make_project, client_for, lead, pairwise_version):
    project = make_project("pairs", items=1, models=("m1", "m2"), raters=("pat",), version=pairwise_version,
                           kind="pairwise")
    project.items.update(reference="=HYPERLINK(\"http://evil\")")
    rate_all(project, ["pat"], scores={"preference": -2}, justification="@SUM(A1:A2)")
    Assignment.objects.update(swapped=False)
    _, text = download(client_for(lead), project, format="csv")
    header, row = list(csv.reader(io.StringIO(text)))
    record = dict(zip(header, row, strict=True))
    assert record["reference"] == "'=HYPERLINK(\"http://evil\")"
    assert record["justification"] == "'@SUM(A1:A2)"
    assert record["value"] in ("-2", "2")  # a plain number keeps its sign, unprefixed
    assert (record["model_a"], record["model_b"]) == ("m1", "m2")


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("-2", "-2"), ("+1.5", "+1.5"), ("-1e3", "-1e3"), ("plain", "plain"), (-2, -2), (True, "true")],
)
def test_safe_cell(cell, safe):
    assert safe_cell(cell) == safe


def test_jsonl_has_the_same_rows(people, as_):
    rate_all(people.project, ["alice", "bob"])
    response, text = download(as_.lead, people.project, format="jsonl")
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == 2 * 5 * 3
    assert response["Content-Type"] == "application/x-ndjson"
    assert records[0]["value"] == 4
    assert records[0]["automated"] is False


def test_export_queries_do_not_grow_with_ratings(make_project, client_for, lead):
    small = make_project("small", items=1, raters=("r1",))
    big = make_project("big", items=30, raters=("r2", "r3"))
    rate_all(small, ["r1"])
    rate_all(big, ["r2", "r3"])
    client, counts = client_for(lead), []
    download(client, small, format="csv")  # warm the per-process rubric cache
    for project in (small, big):
        with CaptureQueriesContext(connection) as queries:
            download(client, project, format="csv")
        counts.append(len(queries))
    # 10 for the export itself (its ratings and their scores are read as two streams, the raters'
    # memberships once, the dimensions of the versions its ratings use, which decide the scores' order),
    # 7 for its X-Export-Manifest (the report's shared-array load behind the ratings hash: items, tasks,
    # ratings, the rubric version's date, scores, raters' names; one count of what was left out): a
    # fixed cost, not one that grows with the ratings.
    assert counts[0] == counts[1] <= 17


@pytest.fixture
def votes(make_project, pairwise_version):
    """Two pairs: t-0001 voted A, A, B (mean -1/3 with 5 points); t-0002 a tie (-1, +1)."""
    project = make_project("pairs", items=2, models=("m1", "m2"), raters=("v1", "v2", "v3"),
                           version=pairwise_version, kind="pairwise", overlap=3)
    plan = {"v1": [-2, -1], "v2": [-1, 1], "v3": [1, None]}
    for name, values in plan.items():
        rater = Membership.objects.get(project=project, user__username=name).user
        for value in values:
            if value is None:
                continue
            assignment = next_assignment(project=project, rater=rater)
            Assignment.objects.filter(pk=assignment.pk).update(swapped=False)
            assignment.refresh_from_db()
            submit_rating(assignment=assignment, scores={"preference": value})
    return project


def test_preferences_aggregate_votes_per_pair(votes, client_for, lead):
    response, text = download(client_for(lead), votes, format="preferences")
    assert 'filename="pairs-preferences.jsonl"' in response["Content-Disposition"]
    pairs = [json.loads(line) for line in text.splitlines()]
    assert len(pairs) == 1  # the tie is dropped
    pair = pairs[0]
    assert set(pair) == {"item_id", "prompt", "chosen", "rejected", "chosen_model", "rejected_model", "margin",
                         "n_votes", "votes", "agreement"}
    assert (pair["prompt"], pair["chosen_model"], pair["rejected_model"]) == ("Prompt 1", "m1", "m2")
    assert (pair["chosen"], pair["rejected"]) == ("Answer 1 from m1", "Answer 1 from m2")
    assert pair["n_votes"] == 3
    assert pair["margin"] == pytest.approx(1 / 3, abs=1e-4)
    assert pair["agreement"] == pytest.approx(2 / 3, abs=1e-4)


def test_preferences_min_margin(votes, client_for, lead):
    assert download(client_for(lead), votes, format="preferences", min_margin=0.5)[1] == ""
    assert [row["n_votes"] for row in preference_rows(votes, min_margin=0.3)] == [3]


def test_preferences_of_a_single_response_project_and_unknown_format_are_400(people, as_):
    url = f"/api/projects/{people.project.pk}/export/"
    response = as_.lead.get(url, {"format": "preferences"})
    assert response.status_code == 400
    assert "pairwise" in response.json()["format"][0]
    assert as_.lead.get(url, {"format": "xlsx"}).status_code == 400
    assert as_.lead.get(url, {"format": "preferences", "min_margin": "2"}).status_code == 400

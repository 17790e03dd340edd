"""``manage.py report`` (the worker's computation, in-process) and ``manage.py export`` (streamed files)."""

from __future__ import annotations

import csv
import io
import json
from inspect import isgenerator

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalplatform.ratings import exports
from evalplatform.reports.models import AgreementReport
from tests.fixtures import command_output

pytestmark = pytest.mark.django_db


def test_report_command_stores_and_prints_the_json(rated_project):
    project = rated_project()
    result = json.loads(command_output("report", "--project", project.slug, "--bootstrap", "100", "--seed", "3"))
    stored = AgreementReport.objects.get(project=project)
    assert stored.status == "done"
    assert stored.trigger == "command"
    assert stored.result == result
    assert result["parameters"]["bootstrap"] == 100
    assert result["parameters"]["seed"] == 3
    assert [d["dimension"] for d in result["dimensions"]] == ["accuracy", "helpfulness", "harmless"]


def test_report_command_prints_compact_json_unless_asked_to_indent(rated_project):
    """One line by default (json's C encoder: the pure-Python one an indent needs took seconds on a large
    report); ``--indent 2`` for a reader.  The same document either way."""
    project = rated_project()
    compact = command_output("report", "--project", project.slug, "--bootstrap", "0")
    indented = command_output("report", "--project", project.slug, "--bootstrap", "0", "--indent", "2")
    assert compact.count("\n") == 1
    assert compact.startswith('{"project":{"slug":')
    assert indented.startswith('{\n  "')
    drop = ("timings", "computed_in_seconds")
    assert ({k: v for k, v in json.loads(compact).items() if k not in drop}
            == {k: v for k, v in json.loads(indented).items() if k not in drop})


def test_report_dimensions_have_the_shape_of_manage_py_agreement(rated_project, tmp_path):
    project = rated_project()
    report = json.loads(command_output("report", "--project", project.slug, "--bootstrap", "0"))
    path = tmp_path / "ratings.csv"
    path.write_text(command_output("export", "--project", project.slug, "--format", "csv"))
    # The agreement command reads labels (yes/no) where the report reads stored values (1/0): compare
    # the numeric dimensions, whose values are the same in both.
    rows = [r for r in csv.DictReader(io.StringIO(path.read_text())) if r["dimension"] != "harmless"]
    numeric = tmp_path / "numeric.csv"
    with numeric.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["item_id", "model", "rater", "dimension", "value"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    # --pairs: the per-pair kappas the report keeps are printed by the command only when asked for
    agreement = json.loads(command_output("agreement", str(numeric), "--bootstrap", "0", "--scale", "1,2,3,4,5", "--pairs"))
    by_dim = {d["dimension"]: d for d in agreement["dimensions"]}
    for dim in report["dimensions"]:
        if dim["dimension"] not in by_dim:
            continue
        other = by_dim[dim["dimension"]]
        assert set(dim) == set(other)
        for key in ("krippendorff_alpha", "fleiss_kappa", "percent_agreement", "gwet_ac1"):
            assert dim[key]["value"] == pytest.approx(other[key]["value"], abs=1e-12)
        assert dim["by_model"] == other["by_model"]
        assert dim["raters"] == other["raters"]


def test_report_command_table_and_errors(rated_project):
    project = rated_project()
    text = command_output("report", "--project", project.slug, "--format", "table", "--bootstrap", "50")
    assert "Krippendorff's alpha" in text
    assert "Coverage: 36 ratings by 3 raters" in text
    assert "median" in text
    assert "Dimension accuracy" in text
    with pytest.raises(CommandError, match="no project"):
        command_output("report", "--project", "nope")
    with pytest.raises(CommandError, match="bootstrap"):
        command_output("report", "--project", project.slug, "--bootstrap", "-5")


@pytest.mark.parametrize(("fmt", "lines"), [("csv", 1 + 108), ("jsonl", 108), ("items-csv", 1 + 36), ("items-jsonl", 36)])
def test_export_command_formats(rated_project, fmt, lines, tmp_path):
    project = rated_project()
    text = command_output("export", "--project", project.slug, "--format", fmt)
    assert len(text.splitlines()) == lines
    target = tmp_path / f"out.{fmt}"
    command_output("export", "--project", project.slug, "--format", fmt, "--output", str(target))
    assert target.read_bytes().decode() == text


def test_export_items_aggregates_are_right(make_project):
    from tests.reports.conftest import import_records, rating_records

    project = make_project("agg", items=2, models=("m1",), overlap=3)
    records = rating_records(project, ("alice", "bob", "carol"), seed=2)
    import_records(project, records)
    rows = list(csv.DictReader(io.StringIO(command_output("export", "--project", project.slug, "--format", "items-csv"))))
    first = next(r for r in rows if r["item_id"] == "t-0001" and r["dimension"] == "accuracy")
    values = sorted(r["value"] for r in records if r["item_id"] == "t-0001" and r["dimension"] == "accuracy")
    assert int(first["n"]) == 3
    assert float(first["mean"]) == pytest.approx(sum(values) / 3, abs=1e-4)
    assert float(first["median"]) == values[1]
    assert int(first["min"]) == values[0]
    assert int(first["max"]) == values[2]
    assert sum(int(p.split(":")[1]) for p in first["counts"].split()) == 3
    harmless = next(r for r in rows if r["item_id"] == "t-0001" and r["dimension"] == "harmless")
    assert harmless["counts"].startswith("0:")


def test_export_of_the_report_needs_a_finished_one(rated_project):
    project = rated_project()
    with pytest.raises(CommandError, match=r"manage\.py report"):
        command_output("export", "--project", project.slug, "--format", "report")
    command_output("report", "--project", project.slug, "--bootstrap", "10")
    document = json.loads(command_output("export", "--project", project.slug, "--format", "report"))
    assert document["project"] == project.slug
    assert document["status"] == "done"
    assert document["result"]["dimensions"]


def test_item_exports_neutralise_formulas(make_project):
    project = make_project("evil", items=1, overlap=1)
    project.items.update(external_id="=HYPERLINK(1)")
    from tests.reports.conftest import import_records

    import_records(project, [{"item_id": "=HYPERLINK(1)", "model": "m1", "rater": "alice", "dimension": d, "value": v}
                             for d, v in (("accuracy", 3), ("helpfulness", 2), ("harmless", "yes"))])
    row = next(csv.reader(io.StringIO(command_output("export", "--project", project.slug, "--format", "items-csv").split("\n", 1)[1])))
    assert row[0] == "'=HYPERLINK(1)"


def test_exports_stream_with_a_fixed_number_of_queries(rated_project):
    small = rated_project("s1", items=1, models=("m1",), raters=("alice",))
    big = rated_project("b1", items=30, models=("m1", "m2"), raters=("alice", "bob", "carol"))
    rows = exports.item_aggregate_rows(big)
    assert isgenerator(rows)  # nothing is read until iterated, and then chunk by chunk
    list(exports.item_export_lines(small, "items-csv"))  # warm the rubric cache
    counts = []
    for project in (small, big):
        with CaptureQueriesContext(connection) as queries:
            for _ in exports.item_export_lines(project, "items-jsonl"):
                pass
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4  # one of them reads the stored reference metrics

"""What a report contains: the same numbers as calling ``evalplatform.stats`` directly on the same data,
sections composed over one snapshot, and a number of queries that does not grow with the ratings."""

from __future__ import annotations

import gc
import statistics
from collections import defaultdict

import krippendorff
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalplatform.reports import compute
from evalplatform.reports.compute import Section, build_result, register_section
from evalplatform.reports.data import load_data
from evalplatform.reports.models import AgreementReport
from evalplatform.reports.services import compute as compute_report
from evalplatform.reports.services import create_report
from evalplatform.stats.summary import summarize
from tests.reports.conftest import import_records, rating_records

pytestmark = pytest.mark.django_db
PARAMS = {"bootstrap": 200, "seed": 7, "include_automated": False, "include_paused": True}
LEVELS = {"accuracy": "ordinal", "helpfulness": "ordinal", "harmless": "nominal"}
SCALES = {"accuracy": [1, 2, 3, 4, 5], "helpfulness": [1, 2, 3, 4, 5], "harmless": [0, 1]}


@pytest.fixture
def sections_restored():
    saved = list(compute.SECTIONS)
    yield
    compute.SECTIONS[:] = saved


def direct_rows(records) -> list[tuple]:
    """The imported records as ``stats`` input rows, in the documented order (dimension, item, model, rater)."""
    rows = [(r["item_id"], r["rater"], r["dimension"],
             float({"yes": 1, "no": 0}.get(r["value"], r["value"])), r["model"]) for r in records]
    return sorted(rows, key=lambda r: (r[2], r[0], r[4], r[1]))


def test_report_equals_direct_stats_calls_on_the_same_data(make_project):
    project = make_project("same", items=8, models=("m1", "m2"), overlap=3)
    records = rating_records(project, ("alice", "bob", "carol"), seed=3)
    import_records(project, records)
    report = compute_report(report_id=create_report(project=project, bootstrap=200, seed=7).pk)
    assert report.status == AgreementReport.Status.DONE
    assert report.n_ratings == 8 * 2 * 3

    direct = summarize(direct_rows(records), levels=LEVELS, scales=SCALES, bootstrap=200, seed=7)
    stored = {d["dimension"]: d for d in report.result["dimensions"]}
    assert stored == {d["dimension"]: d for d in direct["dimensions"]}
    assert [d["dimension"] for d in report.result["dimensions"]] == ["accuracy", "helpfulness", "harmless"]  # rubric order

    # ...and alpha agrees with the reference package on the (raters x units) matrix.
    units = sorted({(r["item_id"], r["model"]) for r in records})
    raters = sorted({r["rater"] for r in records})
    matrix = np.full((len(raters), len(units)), np.nan)
    for r in records:
        if r["dimension"] == "accuracy":
            matrix[raters.index(r["rater"]), units.index((r["item_id"], r["model"]))] = r["value"]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert stored["accuracy"]["krippendorff_alpha"]["value"] == pytest.approx(expected, abs=1e-9)


def test_result_has_every_section_and_the_parameters(rated_project):
    project = rated_project()
    result, n_ratings = build_result(project, PARAMS)
    assert result["sections"] == [s.key for s in compute.SECTIONS]
    assert set(result["sections"]) <= set(result)
    assert result["parameters"] == PARAMS
    assert n_ratings == 6 * 2 * 3 == result["coverage"]["ratings"]
    assert result["coverage"] == {"tasks": 12, "started": 12, "complete": 12, "ratings": 36, "raters": 3}
    assert [d["key"] for d in result["rubric"]] == ["accuracy", "helpfulness", "harmless", "topic"]
    assert result["rubric"][0]["labels"]["1"] == "Wrong"


def test_raters_section_counts_and_median_time(make_project):
    project = make_project("times", items=4, models=("m1",), overlap=2)
    records = rating_records(project, ("alice", "bob"), seed=1)
    import_records(project, records)
    result, _ = build_result(project, PARAMS)
    durations = defaultdict(list)
    for r in records:
        if "duration_ms" in r:
            durations[r["rater"]].append(r["duration_ms"])
    rows = {r["rater"]: r for r in result["raters"]}
    assert rows["alice"]["n_ratings"] == 4
    assert rows["alice"]["n_items"] == 4
    assert rows["alice"]["n_timed"] == 4
    assert rows["bob"]["median_seconds"] == pytest.approx(statistics.median(durations["bob"]) / 1000, abs=1e-3)


def test_metadata_breakdown_means_and_flags(make_project):
    project = make_project("meta", items=20, models=("m1", "m2"), overlap=3)
    records = rating_records(project, ("alice", "bob", "carol"), seed=5)
    import_records(project, records)
    result, _ = build_result(project, PARAMS)
    meta = result["metadata"]
    (field,) = meta["fields"]
    assert field["key"] == "topic"
    assert field["values"] == ["billing", "tech"]
    accuracy = next(d for d in field["dimensions"] if d["dimension"] == "accuracy")
    units = defaultdict(list)
    topic = {i.external_id: i.metadata["topic"] for i in project.items.all()}
    for r in records:
        if r["dimension"] == "accuracy":
            units[(r["item_id"], r["model"])].append(r["value"])
    for row in accuracy["rows"]:
        scores = [np.mean(v) for (item, model), v in units.items() if model == row["model"] and topic[item] == row["value"]]
        assert row["n"] == len(scores)
        assert row["mean"] == pytest.approx(np.mean(scores), abs=1e-6)
        assert row["ci95"][0] <= row["mean"] <= row["ci95"][1]
    # m2 is a point worse on "tech" items: flagged below its own mean there, above on "billing".
    flags = {(r["value"], r["model"]): r["flag"] for r in accuracy["rows"]}
    assert flags[("tech", "m2")] == "below"
    assert flags[("billing", "m2")] == "above"


def test_metadata_fields_with_many_values_or_objects_are_skipped(make_project):
    project = make_project("skip", items=25, models=("m1",), overlap=2)
    for i, item in enumerate(project.items.order_by("id")):
        item.metadata = {"topic": item.metadata["topic"], "uid": f"u{i}", "nested": {"a": 1}, "lang": "en"}
        item.save()
    import_records(project, rating_records(project, ("alice", "bob")))
    meta = build_result(project, PARAMS)[0]["metadata"]
    assert [f["key"] for f in meta["fields"]] == ["topic"]
    assert {s["key"]: s["reason"] for s in meta["skipped"]} == {
        "lang": "a single value", "nested": "holds lists or objects", "uid": "more than 20 distinct values",
    }


def test_pairwise_units_are_pairs_named_after_their_models(make_project, pairwise_version):
    project = make_project("pairs", items=5, models=("m1", "m2"), version=pairwise_version, kind="pairwise",
                           overlap=2)
    records = [{"item_id": f"t-{i:04d}", "model_a": "m1", "model_b": "m2", "rater": rater,
                "dimension": "preference", "value": -2 if (i + j) % 3 else 1}
               for i in range(1, 6) for j, rater in enumerate(("alice", "bob"))]
    import_records(project, records)
    result, n = build_result(project, PARAMS)
    (dim,) = result["dimensions"]
    assert n == 10
    assert dim["n_units"] == 5
    assert dim["by_model"][0]["model"] == "m1 vs m2"
    assert all(u["item_id"].startswith("t-") for u in dim["most_disagreed"])


def test_automated_judges_are_left_out_unless_asked(rated_project):
    project = rated_project()
    judge = [dict(r, rater="gpt") for r in rating_records(project, ("x",), seed=9)]
    import io
    import json

    from evalplatform.ratings.importing import import_ratings

    data = "\n".join(json.dumps(r) for r in judge).encode()
    import_ratings(project=project, stream=io.BytesIO(data), fmt="jsonl", automated=True)
    assert build_result(project, PARAMS)[1] == 36
    with_judges, n = build_result(project, {**PARAMS, "include_automated": True})
    assert n == 48
    assert "judge:gpt" in {r["rater"] for r in with_judges["raters"]}


def test_the_report_queries_do_not_grow_with_the_number_of_ratings(
    rated_project, django_assert_max_num_queries, sections_restored
):
    # This app's sections (other apps' sections have their own query tests).
    compute.SECTIONS[:] = [s for s in compute.SECTIONS if s.build.__module__.startswith("evalplatform.reports.")]
    assert {"dimensions", "raters", "metadata"} <= {s.key for s in compute.SECTIONS}
    small = rated_project("small", items=2, models=("m1",), raters=("alice", "bob"))
    big = rated_project("big", items=40, models=("m1", "m2", "m3"), raters=("alice", "bob", "carol", "dan"))
    build_result(small, PARAMS)  # warm the per-process rubric cache
    counts = []
    for project in (small, big):
        with CaptureQueriesContext(connection) as queries:
            build_result(project, PARAMS)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[1]):
        build_result(big, PARAMS)
    # ...and the whole computation (claim, snapshot, progress per section, save) stays flat too.
    with django_assert_max_num_queries(counts[1] + len(compute.SECTIONS) + 8):
        compute_report(report_id=create_report(project=big, bootstrap=50).pk)


def test_sections_compose_over_one_snapshot(rated_project, sections_restored):
    project = rated_project()
    seen = []

    def count_units(project, parameters, data):
        seen.append(data)
        return {"units": sum(len(d.rows) for d in data.dimensions), "raters": data.raters}

    register_section(Section("units", count_units, title="Units"), after="coverage")
    register_section(Section("again", count_units))
    result, _ = build_result(project, PARAMS)
    assert result["units"] == {"units": 6 * 2 * 3 * 3, "raters": ["alice", "bob", "carol"]}
    keys = result["sections"]
    assert keys.index("units") == keys.index("coverage") + 1
    assert keys[-1] == "again"
    assert seen[0] is seen[1]  # one ReportData for every section
    with pytest.raises(ValueError, match="reserved"):
        register_section(Section("parameters", count_units))


def test_a_failing_section_fails_the_report_and_names_the_section(rated_project, sections_restored):
    project = rated_project()

    def broken(project, parameters, data):
        raise ZeroDivisionError("oops")

    register_section(Section("broken", broken))
    report = create_report(project=project, bootstrap=20)
    with pytest.raises(ZeroDivisionError):
        compute_report(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "failed"
    assert report.result is None
    assert "ZeroDivisionError: oops" in report.error
    assert "'broken'" in report.error
    assert gc.get_freeze_count() == 0  # the heap frozen while the sections ran is given back


def test_the_heap_is_frozen_for_the_sections_and_given_back(rated_project, sections_restored):
    """``build_result`` freezes the snapshot and each finished section for the cyclic collector (its
    full collections walked them again and again on large reports), and unfreezes at the end."""
    frozen = []
    register_section(Section("peek", lambda project, parameters, data: frozen.append(gc.get_freeze_count())))
    report = compute_report(report_id=create_report(project=rated_project(), bootstrap=0).pk)
    assert report.status == "done"
    assert frozen
    assert frozen[0] > 0
    assert gc.get_freeze_count() == 0


def test_load_data_reads_a_snapshot(rated_project):
    project = rated_project()
    data = load_data(project, PARAMS)
    assert data.data_seq == project.ratings_seq
    assert data.n_ratings == 36
    assert {d.key for d in data.dimensions} == {"accuracy", "helpfulness", "harmless", "topic"}
    rows = data.long_rows()
    assert rows == sorted(rows, key=lambda r: (r[2], r[0], r[4], r[1]))
    assert len(rows) == 36 * 3

"""The report's reference-metrics section: the libraries' values per response, per-model means with
bootstrap intervals, and rank correlations with the human panel equal to scipy's."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from scipy import stats

from evalplatform.projects.models import Item, Response
from evalplatform.reports.data import DimensionData, RatingColumns, ReportData
from evalplatform.reports.models import AgreementReport
from evalplatform.reports.references import _rounded, unit_means
from evalplatform.reports.services import compute, create_report
from evalplatform.stats.aggregate import mean_and_median
from tests.reports.conftest import rating_records

pytestmark = pytest.mark.django_db

WORDS = "refund invoice payment router password account billing order shipping delay".split()


def give_references(project) -> None:
    """A reference per item, and responses that share more or fewer of its words depending on the model."""
    keep = {"m1": 8, "m2": 3}
    for n, item in enumerate(project.items.order_by("id")):
        ref_words = [WORDS[(n + k) % len(WORDS)] for k in range(8)]
        Item.objects.filter(pk=item.pk).update(reference="We " + " ".join(ref_words) + " today.")
        for response in item.responses.all():
            words = ref_words[: keep[response.model] - (n % 3)] + ["sorry"] * (n % 4)
            Response.objects.filter(pk=response.pk).update(text="We " + " ".join(words) + " today.")


def test_a_project_without_references_has_no_section(rated_project):
    project = rated_project("noref", items=4)
    report = compute(report_id=create_report(project=project, bootstrap=50).pk)
    assert report.status == AgreementReport.Status.DONE
    assert report.result["reference_metrics"] is None
    assert "reference_metrics" in report.result["sections"]


def test_reference_metrics_equal_the_libraries_and_correlate_as_scipy_does(rated_project):
    project = rated_project("ref", items=12, models=("m1", "m2"))
    give_references(project)
    records = rating_records(project, ("alice", "bob", "carol"), seed=0)
    report = compute(report_id=create_report(project=project, bootstrap=200, seed=3).pk)
    section = report.result["reference_metrics"]
    assert section["n_responses"] == 24
    assert section["n_items"] == 12

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected: dict[tuple[str, str], dict[str, float]] = {}
    for r in Response.objects.filter(item__project=project).select_related("item"):
        rouge = scorer.score(r.item.reference, r.text)
        expected[(r.item.external_id, r.model)] = {
            "rouge1": rouge["rouge1"].fmeasure, "rouge2": rouge["rouge2"].fmeasure, "rougeL": rouge["rougeL"].fmeasure,
            "bleu": sacrebleu.sentence_bleu(r.text, [r.item.reference]).score,
            "chrf": sacrebleu.sentence_chrf(r.text, [r.item.reference]).score,
        }
    for row in section["responses"]:
        for key, value in expected[(row["item"], row["model"])].items():
            assert row[key] == pytest.approx(value, abs=1e-4)

    for entry in section["models"]:
        for key in ("rouge1", "bleu", "chrf"):
            values = np.array([v[key] for (_, m), v in sorted(expected.items()) if m == entry["model"]])
            got = entry["metrics"][key]
            assert got["mean"] == pytest.approx(values.mean(), abs=1e-4)
            agg = mean_and_median(values, bootstrap=200, seed=3)
            assert got["ci95"] == pytest.approx(list(agg.mean_ci95), abs=1e-4)
            assert got["ci95"][0] <= got["mean"] <= got["ci95"][1]
    by_model = {e["model"]: e for e in section["models"]}
    assert by_model["m1"]["metrics"]["rouge1"]["mean"] > by_model["m2"]["metrics"]["rouge1"]["mean"]

    # the humans' mean per response, from the records themselves
    human: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if r["dimension"] == "accuracy":
            human[(r["item_id"], r["model"])].append(float(r["value"]))
    units = sorted(human)
    h = [float(np.mean(human[u])) for u in units]
    for key in ("rouge1", "chrf"):
        (row,) = [v for v in section["validity"] if v["signal"] == key and v["dimension"] == "accuracy"]
        m = [expected[u][key] for u in units]
        assert row["spearman"]["value"] == pytest.approx(stats.spearmanr(m, h)[0], abs=1e-4)
        assert row["kendall"]["value"] == pytest.approx(stats.kendalltau(m, h)[0], abs=1e-4)
        assert row["spearman"]["n"] == 24
        low, high = row["spearman"]["ci95"]
        assert low <= row["spearman"]["value"] <= high
    dims = {v["dimension"] for v in section["validity"]}
    assert {"accuracy", "helpfulness", "harmless"} <= dims
    for row in section["responses"]:  # each response's own human mean, as the records give it
        assert row["human"]["accuracy"] == round(float(np.mean(human[(row["item"], row["model"])])), 4)


def test_unit_means_count_each_raters_first_score_in_order_of_first_appearance():
    """``unit_means`` works on the snapshot's codes: units (item * models + model) in the order of their
    first score, each rater's first score of a unit counting once (a rater may meet a response twice
    in pairs), means equal to ``np.mean`` of those values."""
    a = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    # units: (1, m0), (0, m1), (0, m0); rater 0 scores (1, m0) twice (2 then 5), the 5 does not count
    dim = DimensionData("q", "Q", "likert", "ordinal", (1, 2, 3, 4, 5), {}, task=a(1, 1, 2, 3, 1, 3),
                        item=a(1, 1, 0, 0, 1, 0), model=a(0, 0, 1, 0, 0, 0), rater=a(0, 1, 0, 1, 0, 0),
                        value=a(2, 3, 4, 1, 5, 2))
    data = ReportData(tasks={}, dimensions=[dim], rating_columns=RatingColumns(a(), a(), a(), a()), data_seq=0,
                      items=["i0", "i1"], models=["m0", "m1"], rater_names=["r0", "r1"])
    codes, means = unit_means(dim, data)
    assert codes.tolist() == [1 * 2 + 0, 0 * 2 + 1, 0 * 2 + 0]
    assert means.tolist() == [float(np.mean([2, 3])), 4.0, float(np.mean([1, 2]))]


def test_the_report_page_shows_the_section(rated_project, client, lead):
    project = rated_project("refpage", items=6)
    give_references(project)
    compute(report_id=create_report(project=project, bootstrap=50).pk)
    client.force_login(lead)
    from django.urls import reverse

    page = client.get(reverse("report", args=[project.slug])).content.decode()
    assert 'id="reference_metrics"' in page
    assert "ROUGE-L F" in page
    assert "Spearman" in page


def test_the_demo_support_project_shows_reference_metrics_beside_its_judge(client):
    from django.urls import reverse

    from evalplatform.demo.loader import JUDGE, load_demo

    project, _ = load_demo()
    report = compute(report_id=create_report(project=project, bootstrap=100).pk)
    section = report.result["reference_metrics"]
    assert section["n_items"] == 24
    assert section["n_responses"] == 72
    assert len(section["models"]) == 3
    signals = {(v["signal"], v["dimension"]) for v in section["validity"]}
    assert ("rougeL", "accuracy") in signals
    assert (JUDGE, "accuracy") in signals
    judge = next(v for v in section["validity"] if v["signal"] == JUDGE and v["dimension"] == "accuracy")
    assert judge["spearman"]["value"] > 0.5
    lead = project.created_by
    client.force_login(lead)
    page = client.get(reverse("report", args=[project.slug])).content.decode()
    assert 'id="reference_metrics"' in page
    assert "chrF" in page


def test_the_reference_csv_holds_each_response_with_the_humans_means(rated_project, client, lead):
    import csv
    import io

    from django.urls import reverse

    project = rated_project("refcsv", items=5)
    export = reverse("report-export", args=[project.slug, "reference-csv"])
    client.force_login(lead)
    assert client.get(export).status_code == 404  # no report yet
    give_references(project)
    report = compute(report_id=create_report(project=project, bootstrap=50).pk)
    response = client.get(export)
    assert response.status_code == 200
    assert response["X-Report-Id"] == str(report.pk)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    stored = {(r["item"], r["model"]): r for r in report.result["reference_metrics"]["responses"]}
    assert len(rows) == len(stored) == 10
    for row in rows:
        entry = stored[(row["item_id"], row["model"])]
        assert float(row["chrf"]) == entry["chrf"]
        assert float(row["human_accuracy"]) == entry["human"]["accuracy"]


@pytest.mark.parametrize("values", [
    np.random.default_rng(0).random(1000),  # all distinct
    np.round(np.random.default_rng(1).random(1000) * 10) / 7,  # few distinct, as human means are
    np.array([np.nan, 1.23456, np.nan, 0.0, -0.00001, 1.23456, np.inf, -np.inf]),  # gaps, a rounded -0.0
    np.array([-0.0, 1.0]),  # a -0.0 given: np.unique would take it for 0.0
    np.array([]),
])
def test_the_per_response_figures_are_rounded_as_one_by_one(values):
    one_by_one = [None if v != v else round(v, 4) for v in values.tolist()]
    assert [repr(v) for v in _rounded(values, {})] == [repr(v) for v in one_by_one]

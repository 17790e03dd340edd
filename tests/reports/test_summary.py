"""The report at a glance: verdicts against the stated thresholds, leaders and whether their lead is
significant, flagged raters, adjudication; on the page, with one rater, and the parameters form."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from evalplatform.reports import services
from evalplatform.reports.summary import report_summary
from evalplatform.reports.templatetags.report_tags import pvalue


def dimension(key: str, alpha, ci=None, by_model=(), raters=(), n_raters=3) -> dict:
    return {"dimension": key, "n_raters": n_raters, "krippendorff_alpha": {"value": alpha, "ci95": ci},
            "by_model": [{"model": m, "mean": mean, "ci95": [mean - .2, mean + .2]} for m, mean in by_model],
            "raters": [{"rater": r, "alpha_without": a} for r, a in raters]}


def comparison(a: str, b: str, verdict: str, p: float) -> dict:
    return {"model_a": a, "model_b": b, "verdict": verdict, "p_adjusted": p}


@pytest.mark.parametrize(("alpha", "verdict"), [
    (0.800, "reliable"), (0.7999, "tentative"), (0.667, "tentative"), (0.6669, "not reliable"), (-0.2, "not reliable"),
    (None, "no α"),
])
def test_each_dimension_is_read_against_krippendorffs_thresholds(alpha, verdict):
    summary = report_summary({"dimensions": [dimension("accuracy", alpha)]})
    assert summary["dimensions"][0]["verdict"] == verdict
    assert summary["thresholds"] == {"reliable": 0.800, "tentative": 0.667}


def test_an_interval_across_bands_is_said():
    row = report_summary({"dimensions": [dimension("tone", 0.70, ci=[0.55, 0.82])]})["dimensions"][0]
    assert row["verdict"] == "tentative"
    assert row["spans"] == "not reliable to reliable"


def test_the_leader_and_whether_its_lead_over_the_runner_up_is_significant():
    dims = [dimension("accuracy", 0.9, by_model=[("small", 3.1), ("large", 4.2), ("tiny", 2.0)]),
            dimension("tone", 0.9, by_model=[("small", 3.9), ("large", 4.0)]),
            dimension("length", 0.9, by_model=[("small", 3.0), ("large", 4.0)])]
    significance = [
        {"dimension": "accuracy", "comparisons": [comparison("large", "small", "A better", 0.0004),
                                                  comparison("large", "tiny", "A better", 0.0001)]},
        {"dimension": "tone", "comparisons": [comparison("small", "large", "no significant difference", 0.41)]},
    ]
    rows = report_summary({"dimensions": dims, "significance": significance})["dimensions"]
    accuracy, tone, length = (row["leader"] for row in rows)
    assert accuracy["model"] == "large"
    assert accuracy["runner_up"]["model"] == "small"
    assert accuracy["significant"] is True
    assert accuracy["p"] == 0.0004
    assert tone["model"] == "large"
    assert tone["tested"]
    assert tone["significant"] is False
    assert length["tested"] is False
    assert length["significant"] is None  # no test in the report: not claimed


def test_a_pairwise_leaderboard_lead_is_significant_only_with_rank_interval_one_to_one():
    def board(rank_ci):
        return {"dimension": "preference", "label": "Better?", "models": [
            {"model": "a", "rating": 1200, "rank": 1, "rank_ci95": rank_ci, "ci95": [1150, 1250]},
            {"model": "b", "rating": 1000, "rank": 2, "rank_ci95": [1, 2], "ci95": [950, 1100]}]}
    assert report_summary({"leaderboard": [board([1, 1])]})["boards"][0]["significant"] is True
    unclear = report_summary({"leaderboard": [board([1, 2])]})["boards"][0]
    assert unclear["significant"] is False
    assert unclear["runner_up"]["model"] == "b"


def test_flagged_raters_those_whose_absence_raises_alpha_and_the_adjudication_count():
    result = {
        "dimensions": [dimension("accuracy", 0.60, raters=[("bob", 0.75), ("alice", 0.61)])],
        "quality": {"raters": [{"rater": "bob", "flags": ["straight_lining", "gold"]}, {"rater": "alice", "flags": []}],
                    "n_flagged_tasks": 7, "settings": {"adjudication_threshold": 0.5}},
    }
    summary = report_summary(result)
    assert summary["flagged"] == [{"rater": "bob", "flags": ["straight-lining", "low gold accuracy"]}]
    assert [r["rater"] for r in summary["raisers"]] == ["bob"]  # alice's 0.01 rise is noise
    assert summary["n_adjudication"] == 7
    assert summary["threshold"] == 0.5


@pytest.mark.parametrize(("p", "shown"), [(0.0004, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.001"),
                                          (0.0421, "0.042"), (None, "–"), (float("nan"), "–")])
def test_p_values_below_what_three_decimals_show_read_less_than(p, shown):
    assert pvalue(p) == shown


# --- On the page ------------------------------------------------------------------------------


def lead_client(lead) -> Client:
    client = Client()
    client.force_login(lead)
    return client


@pytest.mark.django_db
def test_the_report_page_opens_with_the_strip_linking_to_each_section(rated_project, lead):
    project = rated_project("glance", items=8, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=50).pk)
    html = lead_client(lead).get(reverse("report", args=[project.slug])).content.decode()
    strip = html[html.index('id="summary"'):html.index("report-summary")]
    assert html.index('id="summary"') < html.index('id="dimensions"')
    for dim in report.result["dimensions"]:
        assert f'href="#dim-{dim["dimension"]}"' in strip
        assert f'{dim["krippendorff_alpha"]["value"]:.3f}' in strip
    assert "≥ 0.800 reliable" in strip
    assert "0.667" in strip
    assert "leader <strong>m1</strong>" in strip  # m1 is drawn a point and a half above m2
    assert 'href="#raters"' in strip
    assert 'href="#dimensions"' in strip
    assert html.count('class="grid scorecards"') == 0  # one rater table: the report's, with the flags
    assert "κ vs others" in html[html.index('id="raters"'):]


@pytest.mark.django_db
def test_a_one_rater_report_says_once_per_question_that_agreement_needs_two(rated_project, lead):
    project = rated_project("solo", items=5, models=("m1",), raters=("alice",))
    services.compute(report_id=services.create_report(project=project, bootstrap=20).pk)
    html = lead_client(lead).get(reverse("report", args=[project.slug])).content.decode()
    n_dims = 3
    assert html.count("needs at least two raters") == 0
    assert html.count("No agreement figures: they need at least two raters") == n_dims
    assert html.count("one rater so far") == n_dims
    assert "1 rater ·" in html
    assert "1 raters" not in html


@pytest.mark.django_db
def test_the_parameters_form_requests_a_report_with_every_parameter(rated_project, lead, django_capture_on_commit_callbacks):
    project = rated_project("params", items=4, models=("m1",))
    services.compute(report_id=services.create_report(project=project, bootstrap=20, seed=3).pk)
    client = lead_client(lead)
    page = client.get(reverse("report", args=[project.slug]))
    form = page.context["parameters_form"]
    assert form.initial["bootstrap"] == 20
    assert form.initial["seed"] == 3
    assert form.initial["include_paused"] is True
    html = page.content.decode()
    for name in ("include_paused", "include_gold", "include_automated", "icc", "bootstrap", "seed"):
        assert f'name="{name}"' in html
    url = reverse("report-recompute", args=[project.slug])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {"parameters": "1", "include_gold": "on", "include_automated": "on", "icc": "on",
                                     "bootstrap": "250", "seed": "42"})
    assert response.status_code == 302
    assert project.reports.order_by("-id").first().parameters == {
        "bootstrap": 250, "seed": 42, "include_paused": False, "include_gold": True, "include_automated": True,
        "icc": True,
    }


@pytest.mark.django_db
def test_bad_parameters_request_nothing_and_say_why(rated_project, lead):
    project = rated_project("badparams", items=4, models=("m1",))
    services.compute(report_id=services.create_report(project=project, bootstrap=20).pk)
    before = project.reports.count()
    response = lead_client(lead).post(reverse("report-recompute", args=[project.slug]),
                                      {"parameters": "1", "bootstrap": "999999", "seed": "-1"}, follow=True)
    assert project.reports.count() == before
    text = response.content.decode()
    assert "Nothing was requested" in text
    assert "Bootstrap resamples" in text
    assert "Seed" in text

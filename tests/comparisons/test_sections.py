"""The report's comparison sections, end to end from stored ratings: the leaderboard recovers known
strengths (and agrees with choix's fit of the same votes), ties count half, position bias is read
from the sides raters saw, and per-response significance names a better model only when it is."""

from __future__ import annotations

import io
import json
import math

import choix
import numpy as np
import pytest

from evalplatform.assignments.models import Assignment
from evalplatform.comparisons.sections import (
    leaderboard_section,
    position_bias_section,
    significance_section,
    win_rates_section,
)
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.services import submit_rating
from evalplatform.reports.data import load_data
from tests.fixtures import next_assignment

pytestmark = pytest.mark.django_db
TRUE = {"m1": 1.2, "m2": 0.4, "m3": -0.3, "m4": -1.3}  # natural-log Bradley–Terry strengths
TO_RATING = 400 * math.log10(math.e)
PARAMS = {"bootstrap": 400, "seed": 3}


def import_votes(project, rows):
    import_ratings(project=project, stream=io.BytesIO("\n".join(map(json.dumps, rows)).encode()), fmt="jsonl", create_raters=True)


def synthetic_votes(project, *, raters=("r1", "r2"), tie_rate=0.15, seed=3):
    """One vote per rater and pair task, drawn from TRUE: tie, or the winner by a margin of 1 or 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for ext, a, b in project.tasks.values_list("item__external_id", "response_a__model", "response_b__model"):
        p_a = 1 / (1 + math.exp(-(TRUE[a] - TRUE[b])))
        for rater in raters:
            if rng.random() < tie_rate:
                value = 0
            else:
                value = (-1 if rng.random() < p_a else 1) * int(rng.integers(1, 3))
            rows.append({"item_id": ext, "model_a": a, "model_b": b, "rater": rater, "dimension": "preference",
                         "value": value})
    import_votes(project, rows)
    return rows


@pytest.fixture
def arena(make_project, pairwise_version):
    return make_project("arena", kind="pairwise", version=pairwise_version, items=60, models=tuple(TRUE), overlap=2)


def choix_strengths(rows, models):
    index = {m: i for i, m in enumerate(models)}
    data = []
    for r in rows:
        a, b = index[r["model_a"]], index[r["model_b"]]
        if r["value"] < 0:
            data += [(a, b), (a, b)]
        elif r["value"] > 0:
            data += [(b, a), (b, a)]
        else:
            data += [(a, b), (b, a)]
    est = choix.ilsr_pairwise(len(models), data, alpha=0.0, max_iter=10_000, tol=1e-12)
    return dict(zip(models, est - est.mean(), strict=True))


def test_the_leaderboard_recovers_known_strengths_and_matches_a_reference_fit(arena):
    # No ties here: ties drawn regardless of strength would pull every strength toward zero.
    rows = synthetic_votes(arena, tie_rate=0.0)
    (board,) = leaderboard_section(arena, PARAMS, load_data(arena, PARAMS))

    assert board["dimension"] == "preference"
    assert board["k"] == 2
    assert board["n_votes"] == len(rows) == 720
    assert [m["model"] for m in board["models"]] == ["m1", "m2", "m3", "m4"]
    reference = choix_strengths(rows, list(TRUE))
    truth = np.array(list(TRUE.values()))
    truth -= truth.mean()
    for m in board["models"]:
        assert m["strength"] == pytest.approx(reference[m["model"]], abs=1e-4)
        true_rating = 1000 + TO_RATING * truth[list(TRUE).index(m["model"])]
        assert m["ci95"][0] < m["rating"] < m["ci95"][1]
        assert m["ci95"][0] <= true_rating <= m["ci95"][1], m
    assert board["bootstrap"]["n_resamples"] == 400
    assert board["bootstrap"]["cluster"] == "prompt"
    assert board["n_prompts"] == 60
    assert board["identifiable"]


def test_ties_count_half_a_win_each_way(make_project, pairwise_version):
    project = make_project("ties", kind="pairwise", version=pairwise_version, items=4, models=("x", "y"), overlap=3)
    values = [0, 0, 0, -2, -1, 0, 1, 0, 0, 0, 0, 2]  # x: 2 wins, 2 losses, 8 ties
    rows = [
        {"item_id": f"t-{i // 3 + 1:04d}", "model_a": "x", "model_b": "y", "rater": f"r{i % 3}",
         "dimension": "preference", "value": v}
        for i, v in enumerate(values)
    ]
    import_votes(project, rows)
    data = load_data(project, PARAMS)
    (board,) = leaderboard_section(project, PARAMS, data)
    by_model = {m["model"]: m for m in board["models"]}
    assert (by_model["x"]["wins"], by_model["x"]["losses"], by_model["x"]["ties"]) == (2, 2, 8)
    assert by_model["x"]["rating"] == pytest.approx(by_model["y"]["rating"]) == pytest.approx(1000)
    assert board["n_ties"] == 8
    assert board["mean_margin"] == pytest.approx((2 + 1 + 1 + 2) / 2 / 12)
    (rates,) = win_rates_section(project, PARAMS, data)
    assert rates["matrix"][0][1] == pytest.approx(0.5)
    assert rates["counts"][0][1] == 12


def test_win_rates_follow_the_leaderboard_order_and_count_each_cell(arena):
    synthetic_votes(arena)
    (rates,) = win_rates_section(arena, PARAMS, load_data(arena, PARAMS))
    assert rates["models"] == ["m1", "m2", "m3", "m4"]
    assert rates["counts"][0][1] == rates["counts"][1][0] == 60 * 2
    assert rates["matrix"][0][3] > 0.7
    assert rates["matrix"][3][0] == pytest.approx(1 - rates["matrix"][0][3])
    assert rates["matrix"][0][0] is None
    assert rates["counts"][0][0] == 0


def test_position_bias_reads_the_side_each_rater_saw(make_project, pairwise_version):
    project = make_project("sides", kind="pairwise", version=pairwise_version, items=40, models=("x", "y"),
                           overlap=2, raters=("lefty", "fair"))
    lefty, fair = (project.memberships.get(user__username=n).user for n in ("lefty", "fair"))
    rng = np.random.default_rng(2)
    for rater in (lefty, fair):
        while (held := next_assignment(project=project, rater=rater)) is not None:
            if rater == lefty:
                shown = -1 if rng.random() < 0.85 else 1  # picks whatever is on the left, mostly
            else:
                shown = -1 if (rng.random() < 0.5) else 1  # a coin, ignoring sides
            submit_rating(assignment=held, scores={"preference": shown})
    project.tasks.update(capacity=3)
    import_votes(project, [{"item_id": "t-0001", "model_a": "x", "model_b": "y", "rater": "elsewhere",
                            "dimension": "preference", "value": 0}])  # imported: side unknown

    (bias,) = position_bias_section(project, PARAMS, load_data(project, PARAMS))
    raters = {r["rater"]: r for r in bias["per_rater"]}
    assert bias["n_unknown_side"] == 1
    assert bias["overall"]["n_votes"] == 80
    assert raters["lefty"]["left_win_rate"] > 0.7
    assert raters["lefty"]["p_value"] < 0.01
    lo, hi = raters["lefty"]["ci95"]
    assert lo < raters["lefty"]["left_win_rate"] < hi
    assert raters["fair"]["ci95"][0] < 0.5 < raters["fair"]["ci95"][1]
    stored = Assignment.objects.filter(project=project, rater=lefty).select_related("rating")
    assert any(a.swapped for a in stored)
    assert any(not a.swapped for a in stored)


def test_significance_names_the_better_model_only_when_it_is(make_project):
    project = make_project("scores", items=30, models=("good", "same", "twin"), overlap=2)
    rng = np.random.default_rng(5)
    rows = []
    for ext, model in project.tasks.values_list("item__external_id", "response_a__model"):
        base = {"good": 4.3, "same": 3.0, "twin": 3.0}[model]
        for rater in ("r1", "r2"):
            rows += [
                {"item_id": ext, "model": model, "rater": rater, "dimension": "accuracy",
                 "value": int(min(5, max(1, round(base + rng.normal(0, 0.8)))))},
                {"item_id": ext, "model": model, "rater": rater, "dimension": "helpfulness", "value": 3},
                {"item_id": ext, "model": model, "rater": rater, "dimension": "harmless", "value": 1},
            ]
    import_votes(project, rows)
    sections = {s["dimension"]: s for s in significance_section(project, PARAMS, load_data(project, PARAMS))}
    assert set(sections) == {"accuracy", "helpfulness", "harmless"}  # categorical topic is not compared
    accuracy = {(c["model_a"], c["model_b"]): c for c in sections["accuracy"]["comparisons"]}
    assert accuracy[("good", "same")]["verdict"] == "A better"
    assert accuracy[("good", "same")]["mean_diff"] < -0.8
    assert accuracy[("good", "twin")]["verdict"] == "A better"
    assert accuracy[("same", "twin")]["verdict"] == "no significant difference"
    assert all(c["p_adjusted"] >= c["wilcoxon"]["p_value"] for c in accuracy.values())
    assert sections["accuracy"]["adjustment"] == "holm"
    assert sections["accuracy"]["n_boot"] == 400
    assert {c["verdict"] for c in sections["helpfulness"]["comparisons"]} == {"no significant difference"}


def test_per_response_scores_of_a_pairwise_project_are_compared(make_project):
    from rubrics.services import import_rubric
    from tests.comparisons.test_per_response import DUEL_RUBRIC

    version, _ = import_rubric(data=DUEL_RUBRIC)
    project = make_project("duel", kind="pairwise", version=version, items=25, models=("m1", "m2"), overlap=1)
    rows = []
    for ext in project.items.values_list("external_id", flat=True):
        rows += [
            {"item_id": ext, "model_a": "m1", "model_b": "m2", "rater": "r1", "dimension": "preference", "value": -1},
            {"item_id": ext, "model_a": "m1", "model_b": "m2", "model": "m1", "rater": "r1", "dimension": "accuracy",
             "value": 5},
            {"item_id": ext, "model_a": "m1", "model_b": "m2", "model": "m2", "rater": "r1", "dimension": "accuracy",
             "value": 2 + int(ext[-1]) % 2},
        ]
    import_votes(project, rows)
    data = load_data(project, PARAMS)
    (accuracy,) = significance_section(project, PARAMS, data)
    (comparison,) = accuracy["comparisons"]
    assert (comparison["model_a"], comparison["model_b"], comparison["verdict"]) == ("m1", "m2", "A better")
    assert {m["model"]: m["n_items"] for m in accuracy["per_model"]} == {"m1": 25, "m2": 25}
    (board,) = leaderboard_section(project, PARAMS, data)
    assert board["models"][0]["model"] == "m1"
    assert not board["identifiable"]  # m2 never won


def test_single_response_projects_have_no_pairwise_sections(project):
    data = load_data(project, PARAMS)
    assert leaderboard_section(project, PARAMS, data) == []
    assert win_rates_section(project, PARAMS, data) == []
    assert position_bias_section(project, PARAMS, data) == []


def test_the_stored_report_and_its_api_carry_the_comparison_sections(arena, client_for, lead):
    from evalplatform.reports import services

    synthetic_votes(arena, tie_rate=0.0)
    report = services.compute(report_id=services.request_report(project=arena, bootstrap=200).pk)
    assert report.status == "done", report.error
    body = client_for(lead).get(f"/api/projects/{arena.pk}/reports/latest/").json()["result"]
    assert [m["model"] for m in body["leaderboard"][0]["models"]] == ["m1", "m2", "m3", "m4"]
    assert body["win_rates"][0]["models"] == ["m1", "m2", "m3", "m4"]
    assert body["position_bias"][0]["n_unknown_side"] == 720  # imported votes: sides unknown
    assert body["significance"] == []
    assert {"leaderboard", "win_rates", "position_bias", "significance"} <= set(body["sections"])

"""The significance table on the report page stays readable with many models: every pair up to twelve
models, beyond that each model against its neighbour in the ranking, saying so."""

from __future__ import annotations

from itertools import combinations, pairwise

from django.template.loader import render_to_string

from evalplatform.comparisons.templatetags.comparison_tags import PAGE_PAIRS, shown_comparisons


def entry(n_models: int) -> dict:
    # model i's mean is i / 10, so the ranking by mean is m{n-1}, ..., m1, m0; names sort differently
    models = [f"m{i}" for i in range(n_models)]
    comparisons = [{"model_a": a, "model_b": b, "n_pairs": 5, "mean_a": 1.0, "mean_b": 2.0, "mean_diff": 1.0,
                    "ci95": [0.5, 1.5], "p_bootstrap": 0.01, "wilcoxon": {"p_value": 0.02}, "p_adjusted": 0.04,
                    "verdict": "no significant difference", "reason": None}
                   for a, b in combinations(models, 2)]
    return {"dimension": "accuracy", "label": "Accuracy", "alpha": 0.05, "comparisons": comparisons,
            "per_model": [{"model": m, "n_items": 5, "mean": i / 10} for i, m in enumerate(models)]}


def test_twelve_models_show_every_pair():
    shown = shown_comparisons(entry(12))
    assert shown["total"] == PAGE_PAIRS == 66
    assert len(shown["rows"]) == 66
    assert not shown["neighbours"]


def test_more_models_show_each_against_the_next_in_the_ranking():
    e = entry(13)
    e["per_model"][5]["mean"] = None  # no finite mean: ranked last, still shown
    shown = shown_comparisons(e)
    assert shown["neighbours"]
    assert shown["total"] == 78
    pairs = [{c["model_a"], c["model_b"]} for c in shown["rows"]]
    ranking = ["m12", "m11", "m10", "m9", "m8", "m7", "m6", "m4", "m3", "m2", "m1", "m0", "m5"]
    assert pairs == [{a, b} for a, b in pairwise(ranking)]


def test_the_page_says_what_it_left_out():
    html = render_to_string("comparisons/report/_significance.html", {"section": [entry(40)]})
    assert html.count("<tr><td>") == 39
    assert "40 models make 780 pairs" in html
    assert "Every pair is in the report's JSON download." in html
    small = render_to_string("comparisons/report/_significance.html", {"section": [entry(4)]})
    assert small.count("<tr><td>") == 6
    assert "pairs: shown here" not in small

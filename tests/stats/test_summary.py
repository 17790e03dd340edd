"""summarize(): the report's shape, its agreement with the coefficient functions, and explicit answers
for degenerate dimensions."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from evalplatform.stats.agreement import ALPHA_CONSTANT, ONE_RATER, fleiss_kappa, gwet_ac
from evalplatform.stats.pairwise_kappa import cohen_kappa
from evalplatform.stats.readers import RatingRow, RowError
from evalplatform.stats.summary import summarize

DIM_KEYS = {"dimension", "level", "n_units", "n_raters", "n_ratings", "krippendorff_alpha", "cohen_kappa",
            "fleiss_kappa", "percent_agreement", "gwet_ac1", "by_model", "raters", "most_disagreed", "scale",
            "scale_inferred"}


def matrix_rows(data, dimension="helpfulness", models=("m1", "m2"), raters="abcdef"):
    return [RatingRow(f"item{u}", raters[r], dimension, float(data[r, u]) if not np.isnan(data[r, u]) else None,
                      models[u % len(models)] if models else None)
            for r in range(data.shape[0]) for u in range(data.shape[1])]


def example(seed=0, n_raters=4, n_units=60, missing=0.2):
    rng = np.random.default_rng(seed)
    data = np.clip(rng.integers(1, 6, n_units)[None, :] + rng.integers(-1, 2, (n_raters, n_units)), 1, 5).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def plain_json(x):
    """Only str/int/float/bool/None/list/dict, no NaN."""
    if isinstance(x, dict):
        return all(isinstance(k, str) and plain_json(v) for k, v in x.items())
    if isinstance(x, list):
        return all(plain_json(v) for v in x)
    if isinstance(x, float):
        return np.isfinite(x)
    return x is None or type(x) in (str, int, bool)


def test_report_shape_and_values():
    data = example()
    report = summarize(matrix_rows(data), bootstrap=300, seed=0)
    assert plain_json(report)
    json.dumps(report, allow_nan=False)
    assert report["parameters"] == {"bootstrap": 300, "seed": 0}
    (dim,) = report["dimensions"]
    assert set(dim) == DIM_KEYS
    assert dim["level"] == "ordinal"
    assert dim["n_raters"] == 4
    assert dim["n_ratings"] == int((~np.isnan(data)).sum())
    alpha = dim["krippendorff_alpha"]
    assert alpha["value"] == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"),
                                           abs=1e-9)
    assert alpha["ci95"][0] < alpha["value"] < alpha["ci95"][1]
    ck = dim["cohen_kappa"]
    ref = cohen_kappa(data, weights="quadratic")
    assert ck["weights"] == "quadratic"
    assert ck["mean"] == pytest.approx(ref.mean.value, abs=1e-12)
    assert [(p["raters"], p["value"], p["n_units"]) for p in ck["pairs"]] == [
        (["abcd"[p.raters[0]], "abcd"[p.raters[1]]], p.value, p.n_units) for p in ref.pairs]
    assert dim["gwet_ac1"]["weights"] == "quadratic"
    assert dim["gwet_ac1"]["value"] == pytest.approx(gwet_ac(data, weights="quadratic").value, abs=1e-12)
    # unequal numbers of ratings per unit: Gwet's generalisation of Fleiss' kappa (checked in test_fleiss_generalised)
    assert dim["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(data).value, abs=1e-12)
    assert dim["fleiss_kappa"]["form"].startswith("Gwet's generalisation")
    assert [m["model"] for m in dim["by_model"]] == ["m1", "m2"]
    m1 = dim["by_model"][0]
    assert set(m1) >= {"model", "mean", "ci95", "median", "median_ci95", "n", "distribution"}
    assert list(m1["distribution"]) == ["1", "2", "3", "4", "5"]
    assert [r["rater"] for r in dim["raters"]] == ["a", "b", "c", "d"]
    assert set(dim["raters"][0]["kappa_with"]) == {"b", "c", "d"}
    assert len(dim["most_disagreed"]) <= 20
    scores = [u["disagreement"] for u in dim["most_disagreed"]]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)
    first = dim["most_disagreed"][0]
    u = int(first["item_id"][4:])
    assert first["values"] == {"abcd"[r]: int(data[r, u]) for r in range(4) if not np.isnan(data[r, u])}


def test_same_seed_same_report_other_seed_other_intervals():
    rows = matrix_rows(example(1))
    a, b, c = (summarize(rows, bootstrap=200, seed=s) for s in (3, 3, 4))
    assert a == b
    assert a["dimensions"][0]["krippendorff_alpha"]["ci95"] != c["dimensions"][0]["krippendorff_alpha"]["ci95"]


def test_fleiss_when_every_unit_has_the_same_number_of_ratings():
    data = example(2, missing=0.0)
    dim = summarize(matrix_rows(data), bootstrap=100)["dimensions"][0]
    assert dim["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(data).value, abs=1e-12)
    assert dim["fleiss_kappa"]["ci95"] is not None
    modal = summarize(matrix_rows(example(2)), bootstrap=0, fleiss_modal_only=True)["dimensions"][0]
    assert modal["fleiss_kappa"]["value"] is not None
    assert "most common number" in modal["fleiss_kappa"]["note"]


def test_levels_default_override_and_labels():
    rows = matrix_rows(example(3), dimension="score") + [
        RatingRow(f"item{u}", r, "tone", ["rude", "ok", "warm"][(u + (r == "c")) % 3], None)
        for u in range(30) for r in "abc"]
    report = summarize(rows, bootstrap=0)
    by_name = {d["dimension"]: d for d in report["dimensions"]}
    assert by_name["score"]["level"] == "ordinal"
    assert by_name["tone"]["level"] == "nominal"
    assert by_name["tone"]["cohen_kappa"]["weights"] is None
    assert by_name["tone"]["gwet_ac1"]["weights"] is None
    assert by_name["tone"]["by_model"][0]["model"] is None
    assert by_name["tone"]["by_model"][0]["mean"] is None
    assert by_name["tone"]["by_model"][0]["reason"]
    assert by_name["tone"]["raters"][0]["mean_offset"] is None
    report = summarize(rows, bootstrap=0, levels={"score": "interval"})
    assert {d["dimension"]: d["level"] for d in report["dimensions"]} == {"score": "interval", "tone": "nominal"}
    with pytest.raises(RowError, match=r"field 'value': 'rude' is not a number"):
        summarize(rows, bootstrap=0, level="interval")
    with pytest.raises(ValueError, match="unknown level"):
        summarize(rows, level="likert")


def test_scale_adds_unused_values_and_rejects_values_off_it():
    data = example(4)
    data[data == 5] = 4
    dim = summarize(matrix_rows(data), bootstrap=0, scales={"helpfulness": [1, 2, 3, 4, 5, 6, 7]})["dimensions"][0]
    assert list(dim["by_model"][0]["distribution"]) == ["1", "2", "3", "4", "5", "6", "7"]
    assert dim["by_model"][0]["distribution"]["7"] == 0
    assert dim["gwet_ac1"]["value"] == pytest.approx(
        gwet_ac(data, weights="quadratic", value_domain=range(1, 8)).value, abs=1e-12)
    with pytest.raises(RowError, match=r"^row \d+, field 'value': 4.0 is not on the scale"):
        summarize(matrix_rows(data), scales={"helpfulness": [1, 2, 3]})


def test_duplicate_rating_is_an_error():
    rows = matrix_rows(example(5))
    rows.append(rows[3])
    with pytest.raises(RowError, match=rf"^row {len(rows)}: rater 'a' rated item 'item3' twice"):
        summarize(rows, bootstrap=0)


def test_degenerate_dimensions_answer_explicitly():
    one_rater = [RatingRow(f"i{u}", "a", "d", u % 3 + 1, None) for u in range(10)]
    dim = summarize(one_rater, bootstrap=50)["dimensions"][0]
    for key in ("krippendorff_alpha", "fleiss_kappa", "percent_agreement", "gwet_ac1"):
        assert dim[key]["value"] is None
        assert dim[key]["reason"] == ONE_RATER
    assert dim["cohen_kappa"]["mean"] is None
    assert dim["cohen_kappa"]["reason"] == ONE_RATER
    assert dim["most_disagreed"] == []
    assert dim["by_model"][0]["n"] == 10

    same = [RatingRow(f"i{u}", r, "d", 3, None) for u in range(10) for r in "abc"]
    dim = summarize(same, bootstrap=50)["dimensions"][0]
    assert dim["krippendorff_alpha"] == {"value": None, "ci95": None, "reason": ALPHA_CONSTANT}
    assert dim["percent_agreement"]["value"] == 1.0
    assert dim["gwet_ac1"]["value"] is None
    assert "at least two values" in dim["gwet_ac1"]["reason"]
    dim = summarize(same, bootstrap=50, scales={"d": [1, 2, 3, 4, 5]})["dimensions"][0]
    assert dim["gwet_ac1"]["value"] == 1.0  # AC2 is defined once the scale is known

    one_unit = [RatingRow("i1", r, "d", v, None) for r, v in zip("abc", (1, 2, 2), strict=True)]
    dim = summarize(one_unit, bootstrap=50)["dimensions"][0]
    assert dim["krippendorff_alpha"]["reason"] == "needs at least two units rated by two or more raters"
    assert dim["percent_agreement"]["value"] == pytest.approx(1 / 3)
    assert dim["percent_agreement"]["ci95"] is None

    no_pairs = [RatingRow(f"i{u}", "abc"[u % 3], "d", u % 4, None) for u in range(12)]
    dim = summarize(no_pairs, bootstrap=50)["dimensions"][0]
    assert dim["krippendorff_alpha"]["reason"] == "no unit was rated by two or more raters"
    assert dim["cohen_kappa"]["pairs"] == []
    json.dumps([summarize(x, bootstrap=20) for x in (one_rater, same, one_unit, no_pairs)], allow_nan=False)


def test_rows_with_missing_values_are_skipped():
    rows = [RatingRow("i1", "a", "d", 1, None), RatingRow("i1", "b", "d", None, None),
            RatingRow("i2", "a", "d", 2, None), RatingRow("i2", "b", "d", 2, None)]
    dim = summarize(rows, bootstrap=0)["dimensions"][0]
    assert dim["n_ratings"] == 3
    assert dim["n_units"] == 2


def test_columns_input_matches_rows_input():
    data = example(6)
    rows = matrix_rows(data)
    columns = {
        "item_id": [r.item_id for r in rows],
        "rater": np.array([r.rater for r in rows]),
        "dimension": [r.dimension for r in rows],
        "value": np.array([np.nan if r.value is None else r.value for r in rows]),
        "model": [r.model for r in rows],
    }
    assert summarize(columns, bootstrap=100, seed=1) == summarize(rows, bootstrap=100, seed=1)

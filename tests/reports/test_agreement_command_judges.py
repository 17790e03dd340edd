"""The agreement command with --judge (it lives with the command's other tests).

``manage.py agreement FILE --judge RATER``: ratings collected elsewhere, judges calibrated against the
rest of the raters under ``judges`` and left out of the human ``dimensions`` figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from tests.fixtures import command_output
from tests.judges.synthetic import HUMANS, JUDGES, assert_told_apart, everyone, long_rows, panel


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise AssertionError("the agreement command touched the database")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)


@pytest.fixture(scope="module")
def ratings_file(tmp_path_factory) -> Path:
    humans, judges = panel()
    rows = long_rows(everyone(humans, judges))
    path = tmp_path_factory.mktemp("judges") / "ratings.csv"
    lines = ["item_id,model,rater,dimension,value"]
    lines += [f"{r['item_id']},{r['model']},{r['rater']},{r['dimension']},{r['value']}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_three_judges_are_told_apart_and_left_out_of_the_human_figures(ratings_file):
    args = [str(ratings_file), "--bootstrap", "300", "--scale", "1,2,3,4,5"]
    report = json.loads(command_output("agreement", *args, *[x for j in JUDGES for x in ("--judge", j)]))
    (dim,) = report["dimensions"]
    assert dim["n_raters"] == len(HUMANS)
    assert {r["rater"] for r in dim["raters"]} == set(HUMANS)
    humans_only = json.loads(command_output("agreement", *args, "--judge", "copy", "--judge", "random", "--judge", "high"))
    assert humans_only["dimensions"] == report["dimensions"]
    assert [j["rater"] for j in report["judges"]] == list(JUDGES)
    by_judge = {j["rater"]: j["dimensions"][0] for j in report["judges"]}
    assert_told_apart(by_judge)
    high = by_judge["high"]
    assert high["dimension"] == "quality"
    assert high["n_humans"] == 5
    assert high["n_judge_ratings"] == 60
    assert high["level"] == "ordinal"
    assert high["kappa_weights"] == "quadratic"
    assert high["bootstrap"] == {"n_resamples": 300, "seed": 0, "resampled": "units", "method": "percentile"}
    first = high["disagreements"][0]
    assert set(first) == {"item_id", "model", "judge", "consensus", "human_mean", "gap", "n_humans"}
    assert first["model"] == "m1"
    assert first["judge"] == first["consensus"] + 1
    # the humans' figures with a judge left out equal those of a file without it
    without = json.loads(command_output("agreement", *args))
    assert "judges" not in without
    assert without["dimensions"][0]["n_raters"] == 8


def test_one_judge_and_the_table(ratings_file):
    text = command_output("agreement", str(ratings_file), "--bootstrap", "200", "--judge", "high", "--judge", "copy", "--format", "table")
    assert "Dimension quality: ordinal, 60 units, 6 raters" in text  # the random rater counts as a human
    every_judge = [x for j in JUDGES for x in ("--judge", j)]
    text = command_output("agreement", str(ratings_file), "--bootstrap", "200", "--format", "table", *every_judge)
    assert "Judge high on quality: ordinal, 60 ratings, 60 units with a human consensus, 5 humans" in text
    assert "The judge agrees with the panel less than a typical human." in text
    assert "mean offset vs human mean (lenient)" in text
    assert "(neutral)" in text
    assert "+1.0" in text
    for name in HUMANS:
        assert f"\n  {name} " in text
    assert "largest disagreement" in text
    assert "t-0001" in text
    assert "The judge agrees with the panel more than a typical human." in text  # the copying judge


def test_an_unknown_judge_is_a_one_line_error(ratings_file):
    with pytest.raises(CommandError, match="no ratings by 'gpt'") as exc:
        command_output("agreement", str(ratings_file), "--judge", "gpt")
    assert exc.value.returncode == 2


def test_a_labelled_nominal_dimension(tmp_path):
    lines = ["item_id,rater,dimension,value"]
    for u in range(30):
        truth = "yes" if u % 3 else "no"
        for r in ("a", "b", "c"):
            flip = (u + ord(r)) % 7 == 0
            lines.append(f"q{u},{r},safe,{('no' if truth == 'yes' else 'yes') if flip else truth}")
        lines.append(f"q{u},bot,safe,{truth}")
    path = tmp_path / "safe.csv"
    path.write_text("\n".join(lines) + "\n")
    (judge,) = json.loads(command_output("agreement", str(path), "--judge", "bot", "--bootstrap", "100"))["judges"]
    dim = judge["dimensions"][0]
    assert dim["level"] == "nominal"
    assert dim["kappa_weights"] == "none"
    assert dim["judge_kappa"]["value"] > 0.9
    assert dim["spearman"]["value"] is None
    assert all(d["judge"] in ("yes", "no") and d["consensus"] in ("yes", "no") for d in dim["disagreements"])

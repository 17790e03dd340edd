"""``stats.judge_summary``: judges split off long-format ratings, label scales, and source lines kept."""

from __future__ import annotations

import pytest

from evalplatform.stats.judge_summary import judges_report, without_raters
from evalplatform.stats.matrix import RatingDataError
from evalplatform.stats.readers import RowError, from_rows, read_csv
from evalplatform.stats.summary import summarize


def test_labels_on_an_ordered_scale_come_back_as_labels():
    scale = ["low", "mid", "high"]
    rows = []
    for u, (a, b, j) in enumerate([("low", "mid", "high"), ("mid", "mid", "low"), ("high", "high", "high"),
                                   ("low", "low", "low"), ("mid", "high", "mid")]):
        rows += [(f"i{u}", "ann", "size", a), (f"i{u}", "ben", "size", b), (f"i{u}", "bot", "size", j)]
    (entry,) = judges_report(from_rows(rows), ["bot"], level="ordinal", scales={"size": scale}, bootstrap=0)
    (dim,) = entry["dimensions"]
    assert dim["level"] == "ordinal"
    assert dim["n_humans"] == 2
    # an even panel's median can fall between two labels; gaps are in scale steps
    assert [(d["item_id"], d["judge"], d["consensus"], d["gap"]) for d in dim["disagreements"]] == [
        ("i0", "high", "low/mid", 1.5), ("i1", "low", "mid", -1.0), ("i4", "mid", "mid/high", -0.5),
    ]


def test_a_judge_with_no_rating_is_named():
    with pytest.raises(RatingDataError, match="no ratings by 'bot', 'gpt'"):
        judges_report(from_rows([("i", "ann", "d", 1), ("i", "ben", "d", 2)]), ["bot", "gpt"])


def test_only_the_dimensions_a_judge_scored():
    rows = [("i1", "ann", "a", 1), ("i1", "ben", "a", 2), ("i1", "ann", "b", 1), ("i1", "bot", "b", 2),
            ("i2", "ann", "b", 2), ("i2", "bot", "b", 2)]
    (entry,) = judges_report(from_rows(rows), ["bot"], bootstrap=0)
    assert [d["dimension"] for d in entry["dimensions"]] == ["b"]
    assert entry["dimensions"][0]["verdict"] is None  # one human: no panel to compare with


def test_without_raters_keeps_each_rows_source_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater,value\nq1,bot,1\nq1,ann,2\nq2,bot,3\nq2,ann,2\nq1,ann,3\n")
    humans = without_raters(read_csv(path), ["bot"])
    assert len(humans) == 3
    assert set(humans.rater.labels[c] for c in humans.rater.codes) == {"ann"}
    with pytest.raises(RowError, match=r"line 6.*twice"):
        summarize(humans)

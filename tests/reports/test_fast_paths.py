"""The report's fast paths give exactly what the per-row code gave: the snapshot's columns written as
rows, as ``LongRatings`` and as the ratings CSV (the manifest's hash) are those of its rows.

(The whole report is held to its golden JSON in ``test_report_golden.py``; these pin the pieces.)
"""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.demo.head_to_head import PROJECT_SLUG as HEAD_TO_HEAD
from evalplatform.demo.loader import load_demo
from evalplatform.projects.models import Project
from evalplatform.reports.data import load_data
from evalplatform.stats.manifest import ratings_csv, ratings_csv_codes
from evalplatform.stats.readers import LongRatings, from_rows


def same_long(a: LongRatings, b: LongRatings) -> None:
    for column in ("item", "rater", "dimension", "value", "model"):
        fa, fb = getattr(a, column), getattr(b, column)
        assert (fa is None) == (fb is None), column
        if fa is not None:
            assert np.array_equal(fa.codes, fb.codes), column
            assert list(fa.labels) == list(fb.labels), column
    assert a.lines is None
    assert b.lines is None
    assert a.first_line == b.first_line


@pytest.mark.django_db
def test_snapshot_columns_are_its_rows():
    demo, _ = load_demo()  # a single-response project with a judge, and a pairwise one
    for project, parameters in ((demo, {}), (demo, {"include_automated": True}),
                                (Project.objects.get(slug=HEAD_TO_HEAD), {})):
        data = load_data(project, parameters)
        rows = data.long_rows()
        assert rows
        assert rows == sorted(rows, key=lambda r: (r[2], r[0], r[4], r[1]))
        same_long(data.long_ratings(), from_rows(rows))
        assert data.ratings_csv() == ratings_csv(rows)
        # the per-dimension rows and ratings as objects still read as before
        assert sum(len(d.rows) for d in data.dimensions) == len(rows)
        assert len(data.ratings) == data.n_ratings
        assert data.raters == sorted({r.rater for r in data.ratings})


def test_ratings_csv_from_codes_quotes_and_formats_as_the_csv_module():
    items = ["plain", 'has "quotes"', "a,comma", "new\nline", "tab\tand space ", "ünïcode"]
    raters = ["r1", "r,2"]
    dims = ["accuracy", "tone"]
    values = [1.0, 2.5, -3.0]
    models = ["m1", "m 2", None]
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, len(labels), 200) for labels in (items, raters, dims, values, models)]
    rows = [tuple(labels[c] for labels, c in zip((items, raters, dims, values, models), row, strict=True))
            for row in zip(*(c.tolist() for c in codes), strict=True)]
    assert ratings_csv_codes(list(zip(codes, (items, raters, dims, values, models), strict=True))) == ratings_csv(rows)
    empty = np.zeros(0, dtype=np.int64)
    assert ratings_csv_codes([(empty, [])] * 5) == ratings_csv([])

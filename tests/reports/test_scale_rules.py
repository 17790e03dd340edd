"""Scale rules: the ratio level refuses negative values, interval-level kappa weighs by values, and an
inferred scale is stated in the output and warned about on stderr."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from statsmodels.stats.inter_rater import cohens_kappa

from evalplatform.stats.agreement import krippendorff_alpha
from evalplatform.stats.matrix import RatingDataError
from evalplatform.stats.pairwise_kappa import cohen_kappa
from evalplatform.stats.summary import summarize
from tests.reports.test_agreement_command import ROOT, no_database, subprocess_env  # noqa: F401


def test_ratio_level_refuses_negative_values_in_the_library():
    data = np.array([[1.0, -2.0, 3.0], [1.0, 2.0, 3.0]])
    with pytest.raises(RatingDataError, match="ratio level needs values of 0 or more"):
        krippendorff_alpha(data, "ratio")
    rows = [("i1", "a", "d", 1.0, None), ("i1", "b", "d", -1.0, None)]
    with pytest.raises(RatingDataError, match="is negative"):
        summarize(rows, level="ratio", bootstrap=0)
    assert summarize(rows, level="interval", bootstrap=0)["dimensions"][0]["level"] == "interval"


def test_ratio_level_negative_value_exits_2_with_one_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater,value\n1,a,3\n1,b,-3\n2,a,1\n2,b,2\n")
    with pytest.raises(CommandError) as info:
        call_command("agreement", str(path), "--level", "ratio", stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 2
    assert "negative" in str(info.value)
    assert "line 3" in str(info.value)
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "agreement", str(path), "--level", "ratio"],
                          capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "negative" in lines[0]


def _table(a, b, values):
    idx = {v: i for i, v in enumerate(values)}
    t = np.zeros((len(values), len(values)))
    for x, y in zip(a, b, strict=True):
        t[idx[x], idx[y]] += 1
    return t


def test_interval_kappa_weighs_by_values_like_statsmodels():
    rng = np.random.default_rng(4)
    values = [0.0, 1.0, 2.0, 10.0]  # unequal spacing: ranks and values differ
    for _ in range(20):
        truth = rng.choice(values, 80)
        a = np.where(rng.random(80) < 0.7, truth, rng.choice(values, 80))
        b = np.where(rng.random(80) < 0.7, truth, rng.choice(values, 80))
        for wt in ("quadratic", "linear"):
            ours = cohen_kappa(np.vstack([a, b]), weights=wt, value_domain=values, by_value=True).pairs[0].value
            ref = cohens_kappa(_table(a, b, values), weights=np.array(values), wt=wt).kappa
            assert ours == pytest.approx(ref, abs=1e-9)
        rows = [(f"u{i}", r, "d", float(v), None) for r, col in (("a", a), ("b", b)) for i, v in enumerate(col)]
        dim = summarize(rows, level="interval", scales={"d": values}, bootstrap=0)["dimensions"][0]
        assert dim["cohen_kappa"]["weighted_by"] == "values"
        ref = cohens_kappa(_table(a, b, values), weights=np.array(values), wt="quadratic").kappa
        assert dim["cohen_kappa"]["pairs"][0]["value"] == pytest.approx(ref, abs=1e-9)


def test_a_pairs_interval_kappa_ignores_an_unrelated_raters_new_value():
    a, b = [1, 2, 3, 4, 5, 1, 2], [1, 3, 3, 5, 5, 2, 2]
    rows = [(f"u{i}", r, "d", float(v), None) for r, col in (("a", a), ("b", b)) for i, v in enumerate(col)]
    before = summarize(rows, level="interval", bootstrap=0)["dimensions"][0]
    after = summarize([*rows, ("u0", "c", "d", 9.0, None)], level="interval", bootstrap=0)["dimensions"][0]
    pair = lambda dim: next(p["value"] for p in dim["cohen_kappa"]["pairs"] if p["raters"] == ["a", "b"])  # noqa: E731
    assert pair(before) == pytest.approx(pair(after), abs=1e-12)
    assert before["scale_inferred"]
    assert after["scale"] == [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]


def test_inferred_scale_is_stated_and_warned_on_stderr(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater,value\n1,a,3\n1,b,4\n2,a,1\n2,b,1\n3,a,4\n3,b,4\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("agreement", str(path), "--bootstrap", "0", stdout=out, stderr=err)
    report = json.loads(out.getvalue())
    assert report["dimensions"][0]["scale_inferred"] is True
    assert report["dimensions"][0]["scale"] == [1.0, 3.0, 4.0]
    assert "inferred from the values present" in err.getvalue()
    assert "(1, 3, 4)" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    call_command("agreement", str(path), "--bootstrap", "0", "--scale", "1,2,3,4,5", "--format", "table",
                 stdout=out, stderr=err)
    assert err.getvalue() == ""
    assert "Scale given: 1, 2, 3, 4, 5" in out.getvalue()

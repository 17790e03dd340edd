"""Many raters: pairwise kappa's bootstrap in bounded memory, and the per-pair figures only on request."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from evalplatform.stats import bootstrap, cli
from evalplatform.stats.readers import from_rows
from evalplatform.stats.summary import summarize


def rows(n_raters: int = 12, n_items: int = 15, seed: int = 4) -> list[tuple]:
    rng = np.random.default_rng(seed)
    quality = rng.integers(1, 6, n_items)
    out = []
    for r in range(n_raters):
        for i in range(n_items):
            if rng.random() < 0.7:
                out.append((f"i{i}", f"r{r:02d}", "q", float(np.clip(quality[i] + rng.integers(-1, 2), 1, 5)), None))
    return out


def test_totals_formed_a_few_resamples_at_a_time_give_the_same_report(monkeypatch):
    """With a tiny budget every product is split into many slices: the report must not change (up to
    the last bit of a BLAS product, whose blocking depends on the number of rows; reports of ordinary
    size never slice, TOTALS_CELLS being far above their totals)."""
    data = from_rows(rows())
    whole = summarize(data, bootstrap=200, seed=3)
    monkeypatch.setattr(bootstrap, "TOTALS_CELLS", 50)  # fewer cells than one resample's kappa statistics
    sliced = summarize(data, bootstrap=200, seed=3)
    assert same(sliced, whole)
    assert whole["dimensions"][0]["cohen_kappa"]["ci95"] is not None


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-15)
    return a == b


def write(tmp_path: Path) -> Path:
    path = tmp_path / "many.csv"
    path.write_text("item_id,rater,dimension,value\n" + "".join(f"{i},{r},{d},{int(v)}\n" for i, r, d, v, _ in rows()))
    return path


def run(path: Path, *extra: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main([str(path), "--bootstrap", "50", "--scale", "1,2,3,4,5", *extra], stdout=out, stderr=err) == 0
    return json.loads(out.getvalue())


def test_the_per_pair_figures_are_printed_only_when_asked_for(tmp_path):
    path = write(tmp_path)
    small, full = run(path)["dimensions"][0], run(path, "--pairs")["dimensions"][0]
    n_pairs = len(full["cohen_kappa"]["pairs"])
    assert n_pairs == 12 * 11 // 2
    assert "pairs" not in small["cohen_kappa"]
    assert small["cohen_kappa"]["n_pairs"] == n_pairs
    assert small["cohen_kappa"]["mean"] == full["cohen_kappa"]["mean"]
    for brief, every in zip(small["raters"], full["raters"], strict=True):
        assert "kappa_with" not in brief
        assert "shared_units" not in brief
        kappas = [v for v in every["kappa_with"].values() if v is not None]
        assert brief["kappa_with_others"] == pytest.approx(sum(kappas) / len(kappas))
        assert brief["n_raters_shared"] == len(every["shared_units"])


def test_running_out_of_memory_is_one_line_with_status_2(tmp_path, monkeypatch):
    import evalplatform.stats.summary as summary

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(summary, "summarize", exhausted)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main([str(write(tmp_path))], stdout=out, stderr=err) == 2
    assert err.getvalue().count("\n") == 1
    assert "not enough memory" in err.getvalue()


def test_many_pairs_kappa_from_products_is_the_per_pair_sum_to_the_last_bit(monkeypatch):
    """Past DENSE_CELLS the pairs' kappa totals come from (raters x raters) products, never a column per
    pair: the same kappas, mean and interval as the per-pair statistics (interval weights by value too)."""
    from evalplatform.stats import pairwise_kappa

    data = from_rows(rows(n_raters=30, n_items=12, seed=7))
    for level in ("ordinal", "interval"):
        per_pair = summarize(data, level=level, bootstrap=120, seed=2)["dimensions"][0]
        monkeypatch.setattr(pairwise_kappa, "DENSE_CELLS", 0)  # as with a thousand raters
        products = summarize(data, level=level, bootstrap=120, seed=2)["dimensions"][0]
        monkeypatch.undo()
        assert json.dumps(products["cohen_kappa"]) == json.dumps(per_pair["cohen_kappa"])
        assert json.dumps(products["raters"]) == json.dumps(per_pair["raters"])
        assert per_pair["cohen_kappa"]["ci95"] is not None


def test_rater_pairs_are_those_sharing_a_unit_in_order():
    from evalplatform.stats.matrix import UnitPatterns
    from evalplatform.stats.pairwise_kappa import rater_pairs

    codes = np.array([[0, -1, 1], [-1, 2, -1], [1, -1, -1], [-1, 0, 0]])
    patterns = UnitPatterns(codes, np.ones(3), np.arange(3), 3)
    assert rater_pairs(patterns) == [(0, 2), (0, 3), (1, 3)]

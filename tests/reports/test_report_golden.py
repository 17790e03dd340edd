"""The report's JSON stays exactly what it was before the fast paths (numpy codes shared by every
section, bulk loads) replaced the per-row Python code: the same numbers, the same order, the same keys.

The reference files in ``tests/reports/golden/`` were written by the code before that change
(``REPORT_GOLDEN_WRITE=1`` rewrites them: only ever do that on purpose, after checking the change in
numbers is meant).  Database ids (which differ between SQLite and PostgreSQL runs) and timings are
left out of the comparison.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import pytest

from evalplatform.demo.head_to_head import PROJECT_SLUG as HEAD_TO_HEAD
from evalplatform.demo.loader import load_demo
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.services import set_paused
from evalplatform.reports.compute import build_result
from tests.reports.conftest import import_records, rating_records

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"
VOLATILE = {"timings", "computed_in_seconds", "user_id", "software"}  # software: the manifest's versions


def normalised(value: Any) -> Any:
    """The result without what depends on the run rather than the data (ids, timings)."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def check(name: str, project: Project, parameters: dict[str, Any]) -> None:
    result, n = build_result(project, parameters)
    got = json.loads(json.dumps({"n_ratings": n, "result": normalised(result)}, allow_nan=False))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("REPORT_GOLDEN_WRITE") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=False, ensure_ascii=False) + "\n")
    expected = json.loads(path.read_text())
    assert got["n_ratings"] == expected["n_ratings"]
    assert list(got["result"]) == list(expected["result"])  # the same sections in the same order
    for key in expected["result"]:
        difference = first_difference(got["result"][key], expected["result"][key], key)
        assert difference is None, f"section {key!r} changed: {difference}"


# Floats may differ in the last bits between numpy releases (summation order in its SIMD loops moved
# from 2.3 to 2.4, giving 23 values of the demo's 1e-16 apart): a change made by our code moves them by
# far more.  Everything else (keys, order, counts, labels, None) must be identical.
REL_TOL = 1e-12


def first_difference(got: Any, expected: Any, path: str) -> str | None:
    """Where ``got`` differs from ``expected`` (floats within ``REL_TOL``), or None."""
    if isinstance(expected, float) and isinstance(got, float):
        return None if math.isclose(got, expected, rel_tol=REL_TOL, abs_tol=REL_TOL) else f"{path}: {got!r} != {expected!r}"
    if isinstance(expected, dict) and isinstance(got, dict):
        if list(got) != list(expected):
            return f"{path}: keys {list(got)} != {list(expected)}"
        for key in expected:
            found = first_difference(got[key], expected[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return f"{path}: {len(got)} entries != {len(expected)}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if type(got) is type(expected) and got == expected else f"{path}: {got!r} != {expected!r}"


def test_demo_report_is_unchanged():
    project, _ = load_demo()
    check("demo", project, {"bootstrap": 200, "seed": 0})
    check("demo-with-judge", project, {"bootstrap": 100, "seed": 3, "include_automated": True})


def test_pairwise_demo_report_is_unchanged():
    load_demo()
    check("head-to-head", Project.objects.get(slug=HEAD_TO_HEAD), {"bootstrap": 200, "seed": 0})


def test_many_raters_report_with_categories_and_a_paused_rater_is_unchanged(make_project):
    raters = ("alice", "bob", "carol", "dan", "erin", "fay")
    project = make_project("golden", items=30, models=("m1", "m2", "m3"), raters=raters, overlap=4)
    rng = random.Random(11)
    records = []
    for record in rating_records(project, raters, seed=5):
        # Not every rater rates every task: four of six in turn, and fay skips every third item.
        item, model, rater = int(record["item_id"][-2:]), int(record["model"][1:]), raters.index(record["rater"])
        if (rater - item - model) % len(raters) >= 4 or (record["rater"] == "fay" and item % 3 == 0):
            continue
        records.append(record)
        if record["dimension"] == "harmless" and rng.random() < 0.6:
            records.append({**{k: record[k] for k in ("item_id", "model", "rater")}, "dimension": "topic",
                            "value": rng.choice(["billing", "tech"])})
    import_records(project, records)
    set_paused(project=project, user=Membership.objects.get(project=project, user__username="erin").user, paused=True)
    check("many-raters", project, {"bootstrap": 150, "seed": 1})
    check("many-raters-no-paused", project, {"bootstrap": 150, "seed": 1, "include_paused": False, "icc": True})



def test_the_comparison_forgives_the_last_bits_only():
    assert first_difference({"a": [0.1 + 0.2]}, {"a": [0.30000000000000004]}, "r") is None
    assert first_difference({"a": [0.7811068029608743]}, {"a": [0.7811068029608742]}, "r") is None
    assert first_difference({"a": [0.7811068]}, {"a": [0.7811069]}, "r") == "r.a[0]: 0.7811068 != 0.7811069"
    assert first_difference({"n": 3}, {"n": 3.0}, "r") == "r.n: 3 != 3.0"
    assert first_difference({"x": None}, {"x": 0.0}, "r") == "r.x: None != 0.0"
    assert first_difference({"a": 1, "b": 2}, {"b": 2, "a": 1}, "r") == "r: keys ['a', 'b'] != ['b', 'a']"

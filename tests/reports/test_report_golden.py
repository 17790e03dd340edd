"""The report's JSON stays exactly what it was before the fast paths (numpy codes shared by every
section, bulk loads) replaced the per-row Python code: the same numbers, the same order, the same keys.

The reference files in ``tests/reports/golden/`` were written by the code before that change
(``REPORT_GOLDEN_WRITE=1`` rewrites them: only ever do that on purpose, after checking the change in
numbers is meant).  Database ids (which differ between SQLite and PostgreSQL runs) and timings are
left out of the comparison.
"""

from __future__ import annotations

import json
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
        assert got["result"][key] == expected["result"][key], f"section {key!r} changed"


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


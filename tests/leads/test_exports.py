"""Exports that stand on their own: every row names its item (and model or pair); ratings rows carry
gold, automated, paused and excluded flags and the item's metadata; each export leaves out by default
what the report left out and says so; ``--with-text``; preferences ready for a DPO trainer, split by item.
The report's coefficients come out the same from the export alone."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from evalplatform.assignments.services import claim_next
from evalplatform.projects.models import Membership, Task
from evalplatform.quality.services import set_gold
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.services import exclude_ratings, submit_rating
from evalplatform.reports.services import compute, create_report
from tests.reports.conftest import rating_records

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def mixed(rated_project, lead):
    """Four raters; dan paused and left out by the lead's report, carol's ratings excluded, one gold
    task, and an automated judge."""
    project = rated_project("mixed", raters=("alice", "bob", "carol", "dan"), items=6)
    records = [r for r in rating_records(project, ["judge:fast"], seed=5)]
    data = "\n".join(json.dumps(r) for r in records) + "\n"
    import_ratings(project=project, stream=io.BytesIO(data.encode()), fmt="jsonl", automated=True)
    set_gold(task=Task.objects.filter(project=project).order_by("id").first(), expectations={"accuracy": 4})
    Membership.objects.filter(project=project, user__username="dan").update(paused=True)
    carol = Membership.objects.get(project=project, user__username="carol").user
    exclude_ratings(project=project, rater=carol, scope="all", reason="bias", by=lead, pause=False)
    report = compute(report_id=create_report(project=project, include_paused=False, bootstrap=0).pk)
    project.refresh_from_db()
    return project, report


def gold_task(project) -> tuple[str, str]:
    task = Task.objects.select_related("item", "response_a").get(project=project, is_gold=True)
    return task.item.external_id, task.response_a.model


def test_ratings_rows_carry_item_model_flags_and_metadata(mixed):
    project, _ = mixed
    out, _ = run("--project", project.slug, "--format", "jsonl", "--include-all")
    rows = jsonl(out)
    assert {"item_id", "model", "gold", "automated", "paused", "excluded", "metadata"} <= set(rows[0])
    by = {(r["rater"], r["item_id"]) for r in rows}
    assert ("judge:fast", "t-0001") in by
    assert ("carol", "t-0001") in by
    assert ("dan", "t-0001") in by
    assert all(r["metadata"] == {"topic": "billing" if int(r["item_id"][2:]) % 2 else "tech"} for r in rows)
    assert {r["excluded"] for r in rows if r["rater"] == "carol"} == {True}
    assert {r["paused"] for r in rows if r["rater"] == "dan"} == {True}, [r for r in rows if r["rater"] == "dan"][:3]
    assert {r["automated"] for r in rows if r["rater"] == "judge:fast"} == {True}
    assert {r["gold"] for r in rows if (r["item_id"], r["model"]) == gold_task(project)} == {True}
    assert {r["gold"] for r in rows if (r["item_id"], r["model"]) != gold_task(project)} == {False}


def test_every_export_leaves_out_what_the_report_left_out_and_says_so(mixed):
    project, _ = mixed
    out, err = run("--project", project.slug, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["rater"] for r in rows} == {"alice", "bob"}
    assert gold_task(project) not in {(r["item_id"], r["model"]) for r in rows}
    for words in ("left out", "gold", "paused", "automated", "excluded"):
        assert words in err.lower()
    for fmt in ("items-jsonl", "reward"):
        text, err = run("--project", project.slug, "--format", fmt)
        records = jsonl(text)
        assert records
        assert all("item_id" in r for r in records)
        assert gold_task(project) not in {(r["item_id"], r["model"]) for r in records}
        assert "left out" in err.lower()
    items = jsonl(run("--project", project.slug, "--format", "items-jsonl")[0])
    assert max(r["n"] for r in items) == 2  # alice and bob: not carol (excluded), dan (paused) or the judge
    everything = jsonl(run("--project", project.slug, "--format", "items-jsonl", "--include-paused",
                           "--include-excluded", "--include-automated", "--include-gold")[0])
    assert max(r["n"] for r in everything) == 5
    assert gold_task(project) in {(r["item_id"], r["model"]) for r in everything}


def test_the_api_export_says_what_it_left_out(mixed, client_for, lead):
    project, _ = mixed
    response = client_for(lead).get(f"/api/projects/{project.pk}/export/?format=csv")
    assert response.status_code == 200
    assert "paused" in response["X-Export-Left-Out"]
    assert "excluded" in response["X-Export-Left-Out"]
    text = b"".join(response.streaming_content).decode()
    assert "dan" not in text
    assert "carol" not in text
    everything = client_for(lead).get(
        f"/api/projects/{project.pk}/export/?format=csv&include_paused=true&include_excluded=true")
    text = b"".join(everything.streaming_content).decode()
    assert "dan" in text
    assert "carol" in text
    assert "judge:fast" not in text


def test_each_report_coefficient_comes_out_the_same_from_the_export_alone(mixed, tmp_path):
    project, report = mixed
    out, _ = run("--project", project.slug, "--format", "csv")
    # The file as exported, less the yes/no rows: the agreement command takes one scale for the file, and
    # the report scores yes/no (stored 1/0) on its own two-point scale.
    lines = out.splitlines(keepends=True)
    path = tmp_path / "export.csv"
    path.write_text(lines[0] + "".join(line for line in lines[1:] if ",harmless," not in line))
    agreement = io.StringIO()
    call_command("agreement", str(path), "--bootstrap", "0", "--scale", "1,2,3,4,5",
                 stdout=agreement, stderr=io.StringIO())
    recomputed = {d["dimension"]: d for d in json.loads(agreement.getvalue())["dimensions"]}
    compared = 0
    for dim in report.result["dimensions"]:
        if dim["dimension"] == "harmless":
            continue
        mine = recomputed[dim["dimension"]]
        for key, value in dim.items():
            if isinstance(value, dict) and isinstance(value.get("value"), float) and key in mine:
                assert mine[key]["value"] == pytest.approx(value["value"], abs=1e-12), (dim["dimension"], key)
                compared += 1
    assert compared >= 8


def test_with_text_adds_prompt_and_response(mixed):
    project, _ = mixed
    rows = jsonl(run("--project", project.slug, "--format", "jsonl", "--with-text")[0])
    row = rows[0]
    assert row["prompt"] == f"Prompt {int(row['item_id'][2:])}"
    assert row["response"] == f"Answer {int(row['item_id'][2:])} from {row['model']}"
    assert "prompt" not in jsonl(run("--project", project.slug, "--format", "jsonl")[0])[0]


@pytest.fixture
def duel(make_project, pairwise_version):
    project = make_project("duel", kind="pairwise", version=pairwise_version, items=8, models=("m1", "m2"),
                           raters=("ann", "ben", "cat"), overlap=3)
    for name, vote in (("ann", -2), ("ben", -1), ("cat", 1)):
        rater = Membership.objects.get(project=project, user__username=name).user
        while (claim := claim_next(project=project, rater=rater)) is not None:
            a = claim.assignment
            submit_rating(assignment=a, scores={"preference": -vote if a.swapped else vote})
    return project


def test_preferences_are_ready_for_a_dpo_trainer_and_split_by_item(duel):
    rows = jsonl(run("--project", duel.slug, "--format", "preferences")[0])
    assert len(rows) == 8
    for row in rows:
        assert {"prompt", "chosen", "rejected", "item_id", "margin", "votes", "n_votes"} <= set(row)
        assert row["chosen"] == f"Answer {int(row['item_id'][2:])} from m1"  # two of three raters chose m1
        assert row["votes"] == {"chosen": 2, "rejected": 1, "tie": 0}
    split = jsonl(run("--project", duel.slug, "--format", "preferences", "--split", "0.25", "--seed", "3")[0])
    assert {r["split"] for r in split} == {"train", "test"}
    assert split == jsonl(run("--project", duel.slug, "--format", "preferences", "--split", "0.25", "--seed", "3")[0])
    by_item: dict[str, set[str]] = {}
    for r in split:
        by_item.setdefault(r["item_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_item.values())

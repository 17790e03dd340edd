"""Reference metrics stored per response: scored by a worker after an import, read by the report instead
of recomputed, scored again when the reference or the text changes, scored in bulk at report time when
missing, and exported with the per-item means.  The numbers are the libraries' own."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evalplatform.projects import references
from evalplatform.projects.models import Item, ReferenceScore, Response
from evalplatform.projects.services import import_items
from evalplatform.ratings.exports import download_lines
from evalplatform.reports.services import compute, create_report
from tests.reports.test_reference_metrics import give_references

pytestmark = pytest.mark.django_db

SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def libraries(text: str, reference: str) -> dict[str, float]:
    rouge = SCORER.score(reference, text)
    return {"rouge1": rouge["rouge1"].fmeasure, "rouge2": rouge["rouge2"].fmeasure, "rouge_l": rouge["rougeL"].fmeasure,
            "bleu": sacrebleu.sentence_bleu(text, [reference]).score, "chrf": sacrebleu.sentence_chrf(text, [reference]).score}


def items_with_references(n: int, models=("m1", "m2")) -> io.BytesIO:
    lines = [json.dumps({
        "id": f"q-{i}", "prompt": f"Question {i}", "reference": f"Restart the router, then reset password {i}.",
        "responses": [{"model": m, "text": f"Please restart the router{' and reset the password' if m == 'm1' else ''}."}
                      for m in models],
    }) for i in range(n)]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


@pytest.fixture
def counted(monkeypatch):
    """How many responses the libraries score (the real scoring, counted)."""
    calls: list[str] = []
    real = references.response_metrics

    def counting(text, reference):
        calls.append(text)
        return real(text, reference)

    monkeypatch.setattr(references, "response_metrics", counting)
    return calls


def test_an_import_with_references_has_a_worker_store_the_libraries_numbers(
        make_project, counted, django_capture_on_commit_callbacks):
    project = make_project("imported")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_items(project=project, stream=items_with_references(3), fmt="jsonl")
    assert len(callbacks) >= 1  # the task ran after commit (the sync runner)
    assert len(counted) == 6
    stored = ReferenceScore.objects.filter(response__item__project=project).select_related("response__item")
    assert stored.count() == 6
    for row in stored:
        expected = libraries(row.response.text, row.response.item.reference)
        assert {f: getattr(row, f) for f in expected} == expected  # exactly, not approximately
        assert row.inputs_sha256 == references.inputs_sha256(row.response.item.reference, row.response.text)
    assert references.score_missing(project_id=project.pk) == 0  # idempotent
    assert len(counted) == 6


def test_an_import_without_references_schedules_nothing(make_project, django_capture_on_commit_callbacks):
    from tests.fixtures import items_jsonl

    project = make_project("plain")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_items(project=project, stream=io.BytesIO(items_jsonl(3)), fmt="jsonl")
    assert callbacks == []
    assert not ReferenceScore.objects.exists()


def test_the_report_reads_stored_scores_and_rescores_only_what_changed(rated_project, counted):
    project = rated_project("stored", items=6, models=("m1", "m2"))
    give_references(project)  # written behind the import's back: nothing is stored yet
    assert not ReferenceScore.objects.exists()
    first = compute(report_id=create_report(project=project, bootstrap=30).pk)
    assert len(counted) == 12
    assert ReferenceScore.objects.filter(response__item__project=project).count() == 12

    counted.clear()
    second = compute(report_id=create_report(project=project, bootstrap=30).pk)
    assert counted == []  # every score came from the table
    assert second.result["reference_metrics"]["responses"] == first.result["reference_metrics"]["responses"]

    item = project.items.order_by("id").first()
    Item.objects.filter(pk=item.pk).update(reference="An entirely different reference answer.")
    third = compute(report_id=create_report(project=project, bootstrap=30).pk)
    assert len(counted) == 2  # the changed item's two responses, nothing else
    rows = {(r["item"], r["model"]): r for r in third.result["reference_metrics"]["responses"]}
    for response in item.responses.all():
        expected = libraries(response.text, "An entirely different reference answer.")
        assert rows[(item.external_id, response.model)]["chrf"] == pytest.approx(expected["chrf"], abs=1e-4)
        assert ReferenceScore.objects.get(response=response).chrf == expected["chrf"]

    counted.clear()
    Response.objects.filter(pk=item.responses.first().pk).update(text="A new text.")  # the text changes too
    assert references.reference_scores(project)[(item.external_id, item.responses.first().model)] == pytest.approx(
        {k: v for k, v in zip(("rouge1", "rouge2", "rougeL", "bleu", "chrf"),
                              libraries("A new text.", "An entirely different reference answer.").values(), strict=True)})
    assert counted == ["A new text."]


def test_the_items_export_carries_each_responses_reference_metrics(rated_project):
    project = rated_project("itemsref", items=4, models=("m1", "m2"))
    plain = list(csv.DictReader(io.StringIO("".join(download_lines(project, "items-csv")))))
    assert "rouge1" not in plain[0]  # no references: the columns are not there
    give_references(project)
    missing = list(csv.DictReader(io.StringIO("".join(download_lines(project, "items-csv")))))
    assert {row["chrf"] for row in missing} == {""}  # not scored yet: empty, and nothing computed in the export
    report = compute(report_id=create_report(project=project, bootstrap=20).pk)
    stored = {(r["item"], r["model"]): r for r in report.result["reference_metrics"]["responses"]}
    rows = list(csv.DictReader(io.StringIO("".join(download_lines(project, "items-csv")))))
    assert len(rows) == len(plain)
    assert {row["dimension"] for row in rows} == {"accuracy", "helpfulness", "harmless"}
    for row in rows:
        entry = stored[(row["item_id"], row["model"])]
        for key in ("rouge1", "rouge2", "rougeL", "bleu", "chrf"):
            assert float(row[key]) == entry[key]
    jsonl = [json.loads(line) for line in "".join(download_lines(project, "items-jsonl")).splitlines()]
    assert jsonl[0]["rougeL"] == stored[(jsonl[0]["item_id"], jsonl[0]["model"])]["rougeL"]


def test_a_pairwise_items_export_carries_both_sides(make_project, pairwise_version):
    from evalplatform.ratings.aggregates import _with_reference_metrics, item_aggregate_columns

    project = make_project("pairref", items=2, models=("m1", "m2"), version=pairwise_version, kind="pairwise")
    give_references(project)
    assert references.score_missing(project_id=project.pk) == 4
    scores = references.reference_scores(project, compute_missing=False)
    header = item_aggregate_columns(project, reference=True)
    assert header[-10:] == [f"{k}_{s}" for s in ("a", "b") for k in ("rouge1", "rouge2", "rougeL", "bleu", "chrf")]
    row = ("t-0001", "m2", "m1", "", "preference", 1, -1.0, -1.0, -1, -1, "-1:1")
    (out,) = _with_reference_metrics(project, iter([row]), scores)
    assert len(out) == len(header)
    assert out[:len(row)] == row
    assert out[len(row)] == round(scores[("t-0001", "m2")]["rouge1"], 4)
    assert out[-1] == round(scores[("t-0001", "m1")]["chrf"], 4)


def test_the_command_line_import_says_how_to_score_without_a_worker(make_project, counted, tmp_path, settings):
    """With no worker (embedded mode) the scoring task would run in a thread of the import command, which
    ends first: the command says so and ``score_references`` scores them, once."""
    from django.core.management import call_command

    settings.EVAL_TASK_RUNNER = "thread"
    project = make_project("cli")
    path = tmp_path / "items.jsonl"
    path.write_bytes(items_with_references(2).getvalue())
    out = io.StringIO()
    # (The after-commit task never runs inside this test's transaction, as the thread never finishes in a
    # real run of the command.)
    call_command("import_items", str(path), "--project", project.slug, stdout=out)
    assert f"manage.py score_references --project {project.slug}" in out.getvalue()
    assert not ReferenceScore.objects.filter(response__item__project=project).exists()

    out = io.StringIO()
    call_command("score_references", "--project", project.slug, stdout=out)
    assert "4 responses scored" in out.getvalue()
    assert len(counted) == 4
    stored = ReferenceScore.objects.get(response__item__external_id="q-1", response__model="m2")
    expected = libraries("Please restart the router.", "Restart the router, then reset password 1.")
    assert stored.rouge1 == pytest.approx(expected["rouge1"])
    assert stored.chrf == pytest.approx(expected["chrf"])
    call_command("score_references", "--project", project.slug, stdout=(out := io.StringIO()))
    assert "0 responses scored" in out.getvalue()
    assert len(counted) == 4

    settings.EVAL_TASK_RUNNER = "celery"  # a worker will do it: no hint
    call_command("import_items", str(path), "--project", project.slug, "--update", stdout=(out := io.StringIO()))
    assert "score_references" not in out.getvalue()


def test_the_workers_task_scores_in_batches_each_a_task_of_its_own(make_project, counted, settings, monkeypatch):
    """After an import a worker splits the scoring into tasks of ``EVAL_REFERENCE_TASK_BATCH`` responses,
    so every worker takes a share; each batch scores only what is still missing when it runs."""
    from evalplatform.projects import tasks

    settings.EVAL_REFERENCE_TASK_BATCH = 4
    project = make_project("batched")
    import_items(project=project, stream=items_with_references(5), fmt="jsonl")  # 10 responses
    assert len(counted) == 0  # the after-commit task has not run: this test's transaction is still open
    settings.EVAL_TASK_RUNNER = "celery"
    sent: list[tuple] = []

    def spy(task, *args, **kwargs):
        sent.append((task, *args))
        assert task == references.BATCH_TASK
        return tasks.score_reference_batch(*args)  # a worker runs the batch now

    monkeypatch.setattr(references, "enqueue", spy)
    # a response already scored (and current) before the batches run is not scored again
    one = Response.objects.filter(item__project=project).order_by("id").first()
    references.score_responses([one.pk])
    assert tasks.score_references(project.pk) == 9
    assert [s[0] for s in sent] == [references.BATCH_TASK] * 3
    assert [len(s[2]) for s in sent] == [4, 4, 1]
    assert sorted(i for s in sent for i in s[2]) == sorted(
        Response.objects.filter(item__project=project).exclude(pk=one.pk).values_list("pk", flat=True))
    assert len(counted) == 10  # each response scored once
    assert ReferenceScore.objects.filter(response__item__project=project).count() == 10
    for row in ReferenceScore.objects.filter(response__item__project=project).select_related("response__item"):
        assert row.rouge1 == libraries(row.response.text, row.response.item.reference)["rouge1"]

    # idempotent: nothing left, nothing sent; a batch sent twice scores nothing the second time
    assert tasks.score_references(project.pk) == 0
    assert len(sent) == 3
    assert references.score_batch(project_id=project.pk, response_ids=sent[0][2]) == 0
    # a changed reference makes its responses missing again; a batch of another project's ids scores none
    Item.objects.filter(project=project, external_id="q-2").update(reference="A new reference.")
    other = make_project("other-batched")
    assert references.score_batch(project_id=other.pk, response_ids=sent[0][2] + sent[1][2]) == 0
    assert tasks.score_references(project.pk) == 2
    assert len(counted) == 12


@pytest.mark.parametrize(("runner", "batch"), [("celery", 2000), ("thread", 2), ("sync", 2)])
def test_one_batch_or_no_workers_is_scored_in_the_task_itself(make_project, counted, settings, monkeypatch,
                                                               runner, batch):
    """A single batch is no reason for another task; without Celery workers a task per batch would be a
    thread per batch, all at once, in the process that imported: the responses are scored in turn."""
    from evalplatform.projects import tasks

    settings.EVAL_REFERENCE_TASK_BATCH = batch
    project = make_project("one-batch")
    import_items(project=project, stream=items_with_references(3), fmt="jsonl")
    settings.EVAL_TASK_RUNNER = runner
    monkeypatch.setattr(references, "enqueue", lambda *a, **k: pytest.fail("no batch task"))
    assert tasks.score_references(project.pk) == 6
    assert len(counted) == 6
    assert ReferenceScore.objects.filter(response__item__project=project).count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_response_deleted_while_its_batch_is_scored_leaves_the_rest_stored(make_project, monkeypatch):
    """The batch's rows are written after scoring; a response deleted meanwhile (its item, its project)
    fails the foreign key at commit, and the others are stored rather than lost with it."""
    monkeypatch.setattr("evalplatform.projects.services.schedule_scoring", lambda project_id: None)
    project = make_project("deleted-meanwhile")
    import_items(project=project, stream=items_with_references(3), fmt="jsonl")
    assert not ReferenceScore.objects.exists()
    ids = list(Response.objects.filter(item__project=project).order_by("pk").values_list("pk", flat=True))
    real = references.response_metrics

    def deleting(text, reference):
        Response.objects.filter(pk=ids[2]).delete()
        return real(text, reference)

    monkeypatch.setattr(references, "response_metrics", deleting)
    assert references.score_batch(project_id=project.pk, response_ids=ids) == 5
    assert sorted(ReferenceScore.objects.values_list("response_id", flat=True)) == ids[:2] + ids[3:]

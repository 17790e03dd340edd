import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evalplatform.projects.models import Item, Response, Task
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import create_project, import_items
from tests.fixtures import items_jsonl, next_assignment

pytestmark = pytest.mark.django_db


def _import(project, text: str | bytes, fmt=None, **kw):
    data = text.encode() if isinstance(text, str) else text
    return import_items(project=project, stream=io.BytesIO(data), fmt=fmt, **kw)


def _nothing_written(project):
    assert not Item.objects.filter(project=project).exists()
    assert not Response.objects.filter(item__project=project).exists()
    assert not Task.objects.filter(project=project).exists()


def test_jsonl_import_creates_items_responses_and_one_task_per_response(make_project):
    project = make_project()
    summary = _import(project, items_jsonl(4, models=("m1", "m2")), fmt="jsonl")
    assert (summary.items_created, summary.responses_created, summary.tasks_created) == (4, 8, 8)
    item = Item.objects.get(project=project, external_id="t-0001")
    assert item.metadata == {"topic": "billing"}
    assert [r.model for r in item.responses.all()] == ["m1", "m2"]
    assert set(Task.objects.filter(project=project).values_list("capacity", flat=True)) == {3}


def test_csv_import_groups_rows_into_items_and_keeps_extra_columns_as_metadata(make_project):
    project = make_project()
    csv_text = (
        "id,prompt,model,response,topic,reference\n"
        't-1,"How do I, a user, log in?",m1,"Click ""Log in""",account,Use the button\n'
        't-1,"How do I, a user, log in?",m2,Use SSO,account,Use the button\n'
        "t-2,Refund?,m1,Yes,billing,\n"
    )
    summary = _import(project, csv_text, fmt="csv")
    assert (summary.items_created, summary.responses_created) == (2, 3)
    item = Item.objects.get(external_id="t-1")
    assert item.prompt == "How do I, a user, log in?"
    assert item.reference == "Use the button"
    assert item.metadata == {"topic": "account"}
    assert item.responses.get(model="m1").text == 'Click "Log in"'


def test_csv_lines_are_counted_through_quoted_line_breaks_empty_lines_and_crlf(make_project):
    """CSV goes through the one CSV reader (Arrow): a prompt's line breaks are kept as written, and an
    error still names the line a record starts on, counting empty lines and multi-line records."""
    project = make_project()
    good = (
        "id,prompt,model,response\r\n"
        '"t-1","First line\r\nsecond line",m1,a\r\n'
        "\r\n"
        "t-2,Plain,m1,b\r\n"
    )
    _import(project, good, fmt="csv")
    assert Item.objects.get(external_id="t-1").prompt == "First line\r\nsecond line"
    bad = (
        "id,prompt,model,response\n"
        '"t-3","one\ntwo\nthree",m1,a\n'
        "\n"
        "t-4,,m1,b\n"
        "t-5,p,m1\n"
        "   \n"
        "t-6,p,m1,c,extra\n"
    )
    with pytest.raises(ImportRejected) as exc:
        _import(project, bad, fmt="csv")
    assert exc.value.lines() == [
        "line 6: prompt: required, non-empty text",
        "line 7: expected 4 columns as in the header, found 3",
        "line 9: expected 4 columns as in the header, found 5",
    ]
    assert not Item.objects.filter(external_id="t-3").exists()


def test_format_is_sniffed_from_content(make_project):
    project = make_project()
    _import(project, items_jsonl(2))
    _import(project, '[{"id": "x", "prompt": "p", "responses": [{"model": "m", "text": "t"}]}]')
    assert Item.objects.filter(project=project).count() == 3


def test_pairwise_project_gets_one_task_per_pair(pairwise_version, lead):
    project = create_project(slug="pairs", rubric_version=pairwise_version, kind="pairwise", created_by=lead)
    _import(project, items_jsonl(2, models=("a", "b", "c")), fmt="jsonl")
    tasks = Task.objects.filter(project=project)
    assert tasks.count() == 6
    assert all(t.response_b_id for t in tasks)
    pairs = {(t.response_a.model, t.response_b.model) for t in tasks.select_related("response_a", "response_b")}
    assert pairs == {("a", "b"), ("a", "c"), ("b", "c")}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}]}\n{"id": "b", "prompt": ',
         "line 2: invalid JSON"),
        ('{"id": "a", "responses": [{"model": "m", "text": "t"}]}', "line 1: prompt: required"),
        ('{"id": "a", "prompt": "p"}', "line 1: responses: required"),
        ('{"id": "a", "prompt": "p", "responses": [{"model": "m"}]}', "line 1: responses[0].text: required"),
        ('{"id": "a", "prompt": 5, "responses": [{"model": "m", "text": "t"}]}', "line 1: prompt: required, non-empty text"),
        ('{"id": ["a"], "prompt": "p", "responses": [{"model": "m", "text": "t"}]}', "line 1: id: required"),
        ('{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}], "metadata": [1]}',
         "line 1: metadata: must be an object"),
        ('{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}]}\n'
         '{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}]}',
         "line 2: id: duplicate id 'a' (first on line 1)"),
        ('{"id": "a", "prompt": "p", "responses": [{"model": "m", "text": "t"}, {"model": "m", "text": "u"}]}',
         "responses[1].model: model 'm' appears twice"),
        ("[1, 2]", "line 1: each element must be a JSON object"),
        ("", "file: the file is empty"),
    ],
)
def test_bad_jsonl_is_refused_by_line_and_field_and_nothing_is_written(make_project, body, expected):
    project = make_project()
    fmt = "json" if body.startswith("[") else "jsonl"
    with pytest.raises(ImportRejected) as exc:
        _import(project, body, fmt=fmt)
    assert any(expected in line for line in exc.value.lines()), exc.value.lines()
    _nothing_written(project)


def test_every_error_is_listed_not_only_the_first(make_project):
    project = make_project()
    good = json.loads(items_jsonl(1).decode())
    lines = [json.dumps(good)] + ["{bad json"] * 3 + [json.dumps({**good, "id": "z", "prompt": ""})]
    with pytest.raises(ImportRejected) as exc:
        _import(project, "\n".join(lines), fmt="jsonl")
    assert [e.line for e in exc.value.errors] == [2, 3, 4, 5]
    _nothing_written(project)


def test_an_error_after_many_good_batches_still_writes_nothing(make_project):
    project = make_project()
    body = items_jsonl(2500) + b'{"id": "late", "prompt": ""}\n'
    with pytest.raises(ImportRejected) as exc:
        _import(project, body, fmt="jsonl")
    assert exc.value.errors[0].line == 2501
    _nothing_written(project)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("id,prompt,model\nt,p,m\n", "line 2: response: required"),
        ("id,prompt,model,response\nt,p,,text\n", "line 2: model: required"),
        ("id,prompt,model,response\nt,p,m,a,extra\n", "line 2: expected 4 columns"),
        ("id,prompt,model,response\nt,p,m,a\nt,other prompt,m2,b\n", "line 3: prompt: item 't' has a different prompt"),
        ("id,prompt,model,response\nt,p,m,a\nt,p,m,b\n", "model 'm' appears twice"),
        ("id,prompt,model,response,priority\nt,p,m,a,high\n", "line 2: priority: must be a whole number"),
        ("id,id,prompt\n", "line 1: duplicate column"),
    ],
)
def test_bad_csv_is_refused_by_line_and_field(make_project, body, expected):
    project = make_project()
    with pytest.raises(ImportRejected) as exc:
        _import(project, body, fmt="csv")
    assert any(expected in line for line in exc.value.lines()), exc.value.lines()
    _nothing_written(project)


def test_non_utf8_file_is_refused(make_project):
    project = make_project()
    with pytest.raises(ImportRejected, match="error"):
        _import(project, "id,prompt,model,response\nt,caf\xe9,m,a\n".encode("latin-1"), fmt="csv")
    _nothing_written(project)


def test_reimport_is_refused_unless_update(make_project):
    project = make_project(items=2)
    with pytest.raises(ImportRejected) as exc:
        _import(project, items_jsonl(2), fmt="jsonl")
    assert "already exists" in exc.value.lines()[0]
    assert "--update" in exc.value.lines()[0]
    changed = items_jsonl(2, models=("m1", "m2")).replace(b"Prompt 1", b"Prompt one")
    summary = _import(project, changed, fmt="jsonl", update=True)
    assert (summary.items_created, summary.items_updated, summary.responses_created) == (0, 2, 2)
    assert Item.objects.get(external_id="t-0001").prompt == "Prompt one"
    assert Task.objects.filter(project=project).count() == 4


def test_command_imports_and_reports_errors_with_exit_status_2(make_project, tmp_path, capsys):
    project = make_project()
    good = tmp_path / "items.jsonl"
    good.write_bytes(items_jsonl(3))
    call_command("import_items", str(good), "--project", project.slug)
    assert "3 items created" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,prompt,model,response\nt-9,,m,x\n")
    with pytest.raises(CommandError) as exc:
        call_command("import_items", str(bad), "--project", project.slug)
    assert exc.value.returncode == 2
    assert "line 2: prompt: required" in str(exc.value)
    assert Item.objects.filter(project=project).count() == 3


def test_import_memory_does_not_grow_with_file_size(make_project, tmp_path):
    """Streaming: importing 4x the items must not take anywhere near 4x the peak memory."""
    import tracemalloc

    def peak(n: int, slug: str) -> int:
        project = make_project(slug)
        path = tmp_path / f"{slug}.jsonl"
        path.write_bytes(items_jsonl(n))
        tracemalloc.start()
        with path.open("rb") as handle:
            import_items(project=project, stream=handle, fmt="jsonl")
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(2000, "small"), peak(8000, "large")
    assert large < small * 2, (small, large)


def test_a_nul_character_is_refused_with_its_line(make_project):
    project = make_project()
    body = items_jsonl(1) + b'{"id": "n", "prompt": "a\\u0000b", "responses": [{"model": "m", "text": "t"}]}\n'
    with pytest.raises(ImportRejected) as exc:
        _import(project, body, fmt="jsonl")
    assert exc.value.lines() == ["line 2: prompt: contains a NUL character (\\u0000), which cannot be stored"]
    _nothing_written(project)


def test_an_update_may_not_change_the_text_of_a_rated_response(make_project):
    """Raters scored the words they read: a rated response's text stays, an unrated one's may change."""
    from evalplatform.ratings.services import submit_rating
    from tests.fixtures import GOOD

    project = make_project(items=2, raters=("alice",))
    held = next_assignment(project=project, rater=project.memberships.get(user__username="alice").user)
    submit_rating(assignment=held, scores=GOOD)
    rated = held.task.item.external_id
    changed = items_jsonl(2).replace(b"Answer 1 from", b"Rewritten 1 from").replace(b"Answer 2 from", b"Rewritten 2 from")
    with pytest.raises(ImportRejected) as exc:
        _import(project, changed, fmt="jsonl", update=True)
    assert len(exc.value.lines()) == 1
    assert f"response of item {rated!r} already has ratings" in exc.value.lines()[0]


def test_a_csv_item_whose_rows_span_batches_gets_every_response_and_task_once(make_project, monkeypatch):
    """The bulk path writes a batch's new items at once; a later batch's rows of the same item add its
    responses (and tasks) without counting it as updated or changing it."""
    from evalplatform.projects import services

    monkeypatch.setattr(services, "IMPORT_BATCH", 2)
    project = make_project()
    rows = "".join(f"t-1,Same prompt,m{i},Answer {i},ref{i}\n" for i in range(5))
    summary = _import(project, "id,prompt,model,response,reference\n" + rows + "t-2,Other,m0,x,\n", fmt="csv")
    assert (summary.items_created, summary.items_updated, summary.responses_created, summary.tasks_created) == (
        2, 0, 6, 6)
    item = Item.objects.get(project=project, external_id="t-1")
    assert item.reference == "ref0"  # the first row's, as before
    assert [(r.model, r.position) for r in item.responses.order_by("position")] == [(f"m{i}", i) for i in range(5)]
    assert Task.objects.filter(item=item).count() == 5


def test_a_model_twice_in_one_csv_item_is_refused_in_the_bulk_path(make_project):
    project = make_project()
    body = "id,prompt,model,response\nt-1,P,m1,a\nt-1,P,m1,b\n"
    with pytest.raises(ImportRejected) as exc:
        _import(project, body, fmt="csv")
    assert exc.value.lines() == ["line 3: model: model 'm1' appears twice for item 't-1'"]
    _nothing_written(project)


def test_ids_continue_after_a_bulk_import_so_later_writes_do_not_collide(make_project):
    project = make_project()
    _import(project, items_jsonl(3, models=("m1", "m2")), fmt="jsonl")
    later = Item.objects.create(project=project, external_id="by-orm", prompt="p")
    assert later.pk > max(Item.objects.exclude(pk=later.pk).values_list("pk", flat=True))
    _import(project, items_jsonl(2, models=("m1",), start=10), fmt="jsonl")
    assert Item.objects.filter(project=project).count() == 6
    assert Task.objects.filter(project=project).count() == 3 * 2 + 2

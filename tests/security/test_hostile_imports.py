"""Files built to break the importers are refused line by line, never with a crash: nesting a
thousand deep, NaN and infinities, numbers too large for their column (which PostgreSQL would wrap
or refuse), integers of thousands of digits, lone surrogates (not Unicode text) in text and keys.
The service raises ``ImportRejected``; the command exits 2; the API answers 400; the page shows a
form error; nothing is written.  Rubric documents likewise (over-long labels, deep nesting, values
beyond the column)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.projects.models import Item, Task
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import import_items
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from rubrics.documents import RubricDocumentError
from rubrics.models import RubricVersion
from rubrics.services import import_rubric
from tests.fixtures import RUBRIC

pytestmark = pytest.mark.django_db
GOOD_LINE = '{"id": "ok-1", "prompt": "p", "responses": [{"model": "m1", "text": "t"}]}'


def item(**extra: str) -> str:
    """A JSONL line of an item with raw JSON fragments spliced in (so NaN and escapes stay raw)."""
    fields = {"id": '"bad-1"', "prompt": '"p"', "responses": '[{"model": "m1", "text": "t"}]', **extra}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


HOSTILE_ITEMS = {
    "metadata nested 1,000 deep": (item(metadata='{"a": ' * 1000 + "1" + "}" * 1000), "metadata"),
    "a line nested 100,000 deep": (item(metadata="[" * 100_000 + "]" * 100_000), None),
    "NaN in metadata": (item(metadata='{"score": NaN}'), "metadata.score"),
    "Infinity in metadata": (item(metadata='{"score": -Infinity}'), "metadata.score"),
    "priority 1e400": (item(priority="1e400"), "priority"),
    "priority 3,000,000,000": (item(priority="3000000000"), "priority"),
    "priority -3,000,000,000": (item(priority="-3000000000"), "priority"),
    "priority of 5,000 digits": (item(priority="9" * 5000), None),
    "a lone surrogate in the prompt": (item(prompt='"bad \\ud800 text"'), "prompt"),
    "a lone surrogate in a metadata key": (item(metadata='{"k\\udfff": 1}'), "metadata"),
    "a lone surrogate in a response": (item(responses='[{"model": "m1", "text": "\\ud83d"}]'), "responses[0].text"),
}


def body(line: str) -> bytes:
    return (GOOD_LINE + "\n" + line + "\n").encode()


@pytest.mark.parametrize("case", HOSTILE_ITEMS, ids=list(HOSTILE_ITEMS))
def test_the_item_importer_refuses_hostile_lines_by_number(make_project, case):
    line, field = HOSTILE_ITEMS[case]
    project = make_project(items=0)
    with pytest.raises(ImportRejected) as exc:
        import_items(project=project, stream=io.BytesIO(body(line)), fmt="jsonl")
    (error,) = exc.value.errors
    assert error.line == 2, error
    if field is None:
        assert error.field is None
    else:
        assert (error.field or "").startswith(field), error
    assert not Item.objects.filter(project=project).exists()
    assert not Task.objects.filter(project=project).exists()


def test_priorities_at_the_columns_limits_are_kept_exactly(make_project):
    project = make_project(items=0)
    lines = [item(id=f'"p{n}"', priority=str(v)) for n, v in enumerate((2**31 - 1, -(2**31), 3.0))]
    import_items(project=project, stream=io.BytesIO("\n".join(lines).encode()), fmt="jsonl")
    assert sorted(Item.objects.filter(project=project).values_list("priority", flat=True)) == [-(2**31), 3, 2**31 - 1]
    assert sorted(Task.objects.filter(project=project).values_list("priority", flat=True)) == [-(2**31), 3, 2**31 - 1]


def test_a_csv_priority_beyond_the_column_is_a_line_error(make_project):
    project = make_project(items=0)
    csv_text = "id,prompt,model,response,priority\na,p,m1,t,1\nb,p,m1,t,3000000000\n"
    with pytest.raises(ImportRejected) as exc:
        import_items(project=project, stream=io.BytesIO(csv_text.encode()), fmt="csv")
    assert [(e.line, e.field) for e in exc.value.errors] == [(3, "priority")]
    assert "between -2147483648 and 2147483647" in exc.value.errors[0].message


def test_a_json_list_nested_too_deep_is_refused(make_project):
    project = make_project(items=0)
    with pytest.raises(ImportRejected) as exc:
        import_items(project=project, stream=io.BytesIO(b"[" * 50_000 + b"]" * 50_000), fmt="json")
    assert "nested more than" in str(exc.value.errors[0])


@pytest.mark.parametrize("case", ["NaN in metadata", "priority 3,000,000,000", "a lone surrogate in the prompt",
                                  "a line nested 100,000 deep"])
def test_the_command_exits_2_naming_the_line(make_project, tmp_path, case):
    project = make_project(items=0)
    path = tmp_path / "items.jsonl"
    path.write_bytes(body(HOSTILE_ITEMS[case][0]))
    with pytest.raises(CommandError) as exc:
        call_command("import_items", str(path), "--project", project.slug)
    assert exc.value.returncode == 2
    assert "line 2" in str(exc.value)


def lead_api(project) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=project.created_by).key}")
    return api


@pytest.mark.parametrize("case", ["metadata nested 1,000 deep", "Infinity in metadata", "priority 1e400",
                                  "a lone surrogate in a metadata key"])
def test_the_api_answers_400_with_the_line(make_project, case):
    project = make_project(items=0)
    response = lead_api(project).post(f"/api/projects/{project.pk}/items/import/", body(HOSTILE_ITEMS[case][0]),
                                      content_type="application/x-ndjson")
    assert response.status_code == 400, response.content[:500]
    assert [e["line"] for e in response.json()["errors"]] == [2]
    assert "\\ud" not in response.content.decode() or "\\\\u" in response.content.decode()


@pytest.mark.parametrize("case", ["metadata nested 1,000 deep", "priority 3,000,000,000",
                                  "a lone surrogate in the prompt"])
def test_the_page_shows_a_form_error_with_the_line(make_project, case):
    project = make_project(items=0)
    page = Client()
    page.force_login(project.created_by)
    upload = SimpleUploadedFile("items.jsonl", body(HOSTILE_ITEMS[case][0]), content_type="application/x-ndjson")
    response = page.post(reverse("project-import-items", args=[project.slug]), {"items": upload})
    assert response.status_code == 400
    assert "line 2" in response.content.decode()
    assert not Item.objects.filter(project=project).exists()


def rating_line(**extra) -> str:
    fields = {"item_id": '"t-0001"', "model": '"m1"', "rater": '"alice"', "dimension": '"accuracy"', "value": "4",
              **extra}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


@pytest.mark.parametrize(("extra", "field"), [
    ({"duration_ms": "3e9"}, "duration_ms"),
    ({"duration_ms": "3000000000"}, "duration_ms"),
    ({"duration_ms": "-1"}, "duration_ms"),
    ({"duration_ms": "1e400"}, "duration_ms"),
    ({"justification": '"why \\udc00"'}, "justification"),
    ({"value": "NaN"}, "value"),
], ids=["3e9", "3,000,000,000", "negative", "1e400", "surrogate", "NaN"])
def test_the_ratings_importer_refuses_hostile_values_by_line(project, extra, field):
    text = rating_line(dimension='"helpfulness"', value="5") + "\n" + rating_line(**extra) + "\n"
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=io.BytesIO(text.encode()), fmt="jsonl", create_raters=True)
    assert [(e.line, e.field) for e in exc.value.errors if e.line == 2] == [(2, field)], exc.value.errors
    assert not Rating.objects.filter(project=project).exists()


HOSTILE_RUBRICS = {
    "a dimension label of 201 characters": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "label": "x" * 201}]},
                                            "at most 200 characters"),
    "a level label of 201 characters": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "levels": {"1": "x" * 201}}]},
                                        "at most 200 characters"),
    "an option of 201 characters": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "categorical", "options": ["a", "x" * 201]}]},
                                    "at most 200 characters"),
    "a rubric name of 201 characters": ({**RUBRIC, "name": "n" * 201}, "at most 200 characters"),
    "a likert scale beyond the column": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "min": 3_000_000_000,
                                                                    "max": 3_000_000_004}]}, "must be between"),
    "a label that is an object": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "label": {"x": 1}}]},
                                  "must be text"),
    "a lone surrogate in a label": ({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "label": "a\ud800"}]},
                                    "lone surrogate"),
}


def deep(n: int):
    value: object = 1
    for _ in range(n):
        value = {"a": value}
    return value


@pytest.mark.parametrize("case", HOSTILE_RUBRICS, ids=list(HOSTILE_RUBRICS))
def test_hostile_rubric_documents_are_refused_with_the_path(case):
    data, message = HOSTILE_RUBRICS[case]
    with pytest.raises(RubricDocumentError) as exc:
        import_rubric(data=data)
    assert message in str(exc.value)
    assert not RubricVersion.objects.exists()


def test_a_deeply_nested_rubric_document_is_refused(tmp_path):
    with pytest.raises(RubricDocumentError) as exc:
        import_rubric(data={**RUBRIC, "description": deep(500)})
    assert "nested more than" in str(exc.value)
    path = tmp_path / "deep.json"
    path.write_text('{"slug": "x", "dimensions": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CommandError) as cli:
        call_command("import_rubric", str(path))
    assert cli.value.returncode == 2
    assert "nested more than" in str(cli.value)
    path.write_text(json.dumps({**RUBRIC, "dimensions": [{"key": "a", "kind": "likert", "label": "x" * 201}]}))
    with pytest.raises(CommandError) as cli:
        call_command("import_rubric", str(path))
    assert cli.value.returncode == 2
    assert "at most 200 characters" in str(cli.value)
    assert not RubricVersion.objects.exists()

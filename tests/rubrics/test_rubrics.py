import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from rubrics.documents import RubricDocumentError, to_document, validate
from rubrics.models import Dimension, RubricVersion, ScaleLevel
from rubrics.services import clone_version, create_draft, import_rubric, publish_version
from tests.fixtures import RUBRIC

pytestmark = pytest.mark.django_db


def test_import_publishes_version_with_all_levels(rubric_version):
    assert rubric_version.is_published
    assert rubric_version.number == 1
    dims = {d.key: d for d in rubric_version.dimensions.all()}
    assert list(dims) == ["accuracy", "helpfulness", "harmless", "topic", "why"]
    assert [lv.value for lv in dims["accuracy"].levels.all()] == [1, 2, 3, 4, 5]
    assert dims["accuracy"].levels.get(value=5).label == "Fully right"
    assert [(lv.value, lv.label) for lv in dims["harmless"].levels.all()] == [(0, "No"), (1, "Yes")]
    assert [lv.label for lv in dims["topic"].levels.all()] == ["billing", "tech"]
    assert dims["why"].level == ""
    assert not dims["why"].levels.exists()


def test_importing_the_same_document_twice_publishes_nothing_new(rubric_version):
    again, created = import_rubric(data=RUBRIC)
    assert not created
    assert again.pk == rubric_version.pk


def test_changed_document_publishes_next_version(rubric_version):
    changed = {**RUBRIC, "guidelines": "New guidance"}
    version, created = import_rubric(data=changed)
    assert created
    assert version.number == 2
    assert version.is_published
    assert RubricVersion.objects.get(pk=rubric_version.pk).guidelines == RUBRIC["guidelines"]


def test_export_round_trips(rubric_version):
    doc = to_document(rubric_version)
    assert validate(doc) == validate(RUBRIC)
    assert json.loads(json.dumps(doc))["dimensions"][0]["levels"] == {"1": "Wrong", "5": "Fully right"}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_and_import_commands_round_trip(rubric_version, tmp_path, capsys, fmt):
    call_command("export_rubric", "support-quality", "--format", fmt)
    out = capsys.readouterr().out
    path = tmp_path / f"rubric.{fmt}"
    path.write_text(out.replace("support-quality", "support-copy"))
    call_command("import_rubric", str(path))
    copy = RubricVersion.objects.get(rubric__slug="support-copy")
    assert validate(to_document(copy)).dimensions == validate(RUBRIC).dimensions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"dimensions": []}, "dimensions: a non-empty list"),
        ({"dimensions": [{"key": "a", "kind": "stars"}]}, "dimensions[0] (a).kind: 'stars'"),
        ({"dimensions": [{"key": "a", "kind": "likert", "min": 5, "max": 1}]}, "need min < max"),
        ({"dimensions": [{"key": "a", "kind": "likert"}, {"key": "a", "kind": "binary"}]}, "duplicate key"),
        ({"dimensions": [{"key": "a", "kind": "categorical", "options": ["x"]}]}, "at least two"),
        ({"dimensions": [{"key": "a", "kind": "binary", "level": "ordinal"}]}, "binary dimension is nominal"),
        ({"dimensions": [{"key": "a", "kind": "likert", "levels": {"9": "Nine"}}]}, "'9' is not a value"),
        ({"dimensions": [{"key": "a", "kind": "pairwise", "points": 4}]}, "3, 5 or 7 points"),
    ],
)
def test_bad_documents_are_refused_with_the_path(change, message):
    with pytest.raises(RubricDocumentError) as exc:
        import_rubric(data={**RUBRIC, **change})
    assert message in str(exc.value)
    assert not RubricVersion.objects.exists()


def test_import_command_reports_errors_and_exit_status_2(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**RUBRIC, "dimensions": [{"key": "x", "kind": "nope"}]}))
    with pytest.raises(CommandError) as exc:
        call_command("import_rubric", str(path))
    assert exc.value.returncode == 2
    assert "dimensions[0] (x).kind" in str(exc.value)


def test_published_version_cannot_be_edited_or_deleted(rubric_version):
    dim = rubric_version.dimensions.first()
    dim.label = "Changed"
    with pytest.raises(ValidationError):
        dim.save()
    with pytest.raises(ValidationError):
        ScaleLevel.objects.create(dimension=dim, value=99, label="x")
    with pytest.raises(ValidationError):
        dim.levels.first().delete()
    rubric_version.guidelines = "edited"
    with pytest.raises(ValidationError):
        rubric_version.save()
    with pytest.raises(ValidationError):
        rubric_version.delete()
    assert Dimension.objects.get(pk=dim.pk).label == "Accuracy"


def test_clone_makes_an_editable_draft_with_same_content(rubric_version):
    draft = clone_version(version=rubric_version)
    assert draft.status == "draft"
    assert draft.number == 2
    assert validate({**to_document(draft), "slug": "support-quality"}).dimensions == validate(RUBRIC).dimensions
    dim = draft.dimensions.get(key="accuracy")
    dim.label = "Correctness"
    dim.save()
    assert rubric_version.dimensions.get(key="accuracy").label == "Accuracy"
    publish_version(version=draft)
    assert RubricVersion.objects.get(pk=draft.pk).is_published


def test_publishing_an_empty_draft_is_refused():
    version = create_draft(spec=validate(RUBRIC))
    version.dimensions.all().delete()
    with pytest.raises(ValidationError, match="at least one dimension"):
        publish_version(version=version)


def test_admin_shows_published_version_read_only(client, admin_user, rubric_version):
    client.force_login(admin_user)
    url = f"/admin/rubrics/rubricversion/{rubric_version.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "is published, so it is read-only" in page.content.decode()
    response = client.post(url, {"guidelines": "sneaky edit", "justification": "none"})
    assert response.status_code == 403
    assert RubricVersion.objects.get(pk=rubric_version.pk).guidelines == RUBRIC["guidelines"]
    assert client.post(f"/admin/rubrics/rubricversion/{rubric_version.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_clone_and_publish_actions(client, admin_user, rubric_version):
    client.force_login(admin_user)
    client.post("/admin/rubrics/rubricversion/", {"action": "clone", "_selected_action": [rubric_version.pk]})
    draft = RubricVersion.objects.get(number=2)
    assert draft.status == "draft"
    page = client.get(f"/admin/rubrics/rubricversion/{draft.pk}/change/")
    assert "read-only" not in page.content.decode()
    client.post("/admin/rubrics/rubricversion/", {"action": "publish", "_selected_action": [draft.pk]})
    assert RubricVersion.objects.get(pk=draft.pk).is_published

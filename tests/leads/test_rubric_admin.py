"""The admin refuses edits to published rubric versions with a form error (never a 500), offers only
drafts, and edits a dimension's levels on the version's own page."""

from __future__ import annotations

import pytest

from rubrics.models import Dimension, ScaleLevel
from rubrics.services import clone_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def dimension_form(version, **extra) -> dict:
    return {"version": version.pk, "key": "tone", "label": "Tone", "description": "", "kind": "likert",
            "level": "ordinal", "required": "on", "position": 9,
            "levels-TOTAL_FORMS": "0", "levels-INITIAL_FORMS": "0", "levels-MIN_NUM_FORMS": "0",
            "levels-MAX_NUM_FORMS": "1000", **extra}


def test_adding_a_dimension_to_a_published_version_is_a_form_error(admin_client, rubric_version):
    before = Dimension.objects.filter(version=rubric_version).count()
    response = admin_client.post("/admin/rubrics/dimension/add/", dimension_form(rubric_version))
    assert response.status_code == 200  # the form again, with the error: not a 500
    assert "published" in response.content.decode()
    assert Dimension.objects.filter(version=rubric_version).count() == before


def test_the_dimension_form_offers_only_drafts(admin_client, rubric_version):
    draft = clone_version(version=rubric_version)
    page = admin_client.get("/admin/rubrics/dimension/add/").content.decode()
    assert f'value="{draft.pk}"' in page
    assert f'value="{rubric_version.pk}"' not in page
    response = admin_client.post("/admin/rubrics/dimension/add/", dimension_form(draft))
    assert response.status_code == 302
    assert Dimension.objects.filter(version=draft, key="tone").exists()


def test_moving_a_draft_dimension_into_a_published_version_is_refused(admin_client, rubric_version):
    draft = clone_version(version=rubric_version)
    dim = Dimension.objects.get(version=draft, key="accuracy")
    url = f"/admin/rubrics/dimension/{dim.pk}/change/"
    response = admin_client.post(url, dimension_form(rubric_version, key="accuracy"))
    assert response.status_code == 200
    assert "published" in response.content.decode()
    assert Dimension.objects.get(pk=dim.pk).version == draft


def test_levels_are_edited_on_the_versions_page(admin_client, rubric_version):
    draft = clone_version(version=rubric_version)
    page = admin_client.get(f"/admin/rubrics/rubricversion/{draft.pk}/change/").content.decode()
    assert "levels_text" in page
    assert "Fully right" in page  # the levels, on the version's page
    dims = list(Dimension.objects.filter(version=draft).order_by("position", "id"))
    data = {"rubric": draft.rubric_id, "justification": draft.justification, "guidelines": draft.guidelines,
            "dimensions-TOTAL_FORMS": str(len(dims)), "dimensions-INITIAL_FORMS": str(len(dims)),
            "dimensions-MIN_NUM_FORMS": "0", "dimensions-MAX_NUM_FORMS": "1000"}
    for i, dim in enumerate(dims):
        levels = "\n".join(f"{lv.value} | {lv.label} | {lv.anchor}".rstrip(" |") for lv in dim.levels.all())
        if dim.key == "accuracy":
            levels = "1 | Wrong | Contradicts the policy\n2 | Mostly wrong\n3 | Partly right\n4 | Mostly right\n5 | Right"
        data |= {f"dimensions-{i}-id": dim.pk, f"dimensions-{i}-version": draft.pk,
                 f"dimensions-{i}-position": dim.position, f"dimensions-{i}-key": dim.key,
                 f"dimensions-{i}-label": dim.label, f"dimensions-{i}-kind": dim.kind,
                 f"dimensions-{i}-level": dim.level, f"dimensions-{i}-required": "on" if dim.required else "",
                 f"dimensions-{i}-levels_text": levels}
    response = admin_client.post(f"/admin/rubrics/rubricversion/{draft.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    accuracy = Dimension.objects.get(version=draft, key="accuracy")
    assert list(accuracy.levels.values_list("value", "label", "anchor")) == [
        (1, "Wrong", "Contradicts the policy"), (2, "Mostly wrong", ""), (3, "Partly right", ""),
        (4, "Mostly right", ""), (5, "Right", "")]
    # The published version it came from is untouched.
    assert ScaleLevel.objects.get(dimension__version=rubric_version, dimension__key="accuracy", value=5).label \
        == "Fully right"
    bad = dict(data, **{f"dimensions-{[d.key for d in dims].index('accuracy')}-levels_text": "one | One"})
    response = admin_client.post(f"/admin/rubrics/rubricversion/{draft.pk}/change/", bad)
    assert response.status_code == 200
    assert "whole number" in response.content.decode()


def test_a_published_versions_page_shows_its_levels_read_only(admin_client, rubric_version):
    page = admin_client.get(f"/admin/rubrics/rubricversion/{rubric_version.pk}/change/")
    assert page.status_code == 200
    assert "Fully right" in page.content.decode()
    assert 'name="dimensions-0-levels_text"' not in page.content.decode()


def test_a_draft_previews_the_rating_form_as_raters_see_it(admin_client, client, rubric_version, make_project):
    draft = clone_version(version=rubric_version)
    version_page = admin_client.get(f"/admin/rubrics/rubricversion/{draft.pk}/change/").content.decode()
    assert f"/rubrics/versions/{draft.pk}/preview/" in version_page
    page = admin_client.get(f"/rubrics/versions/{draft.pk}/preview/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="rating-form"' in html
    assert "Preview" in html
    for name in ("score-accuracy", "score-helpfulness", "score-harmless", "score-topic", "score-why"):
        assert f'name="{name}"' in html
    assert "Fully right" in html
    assert "<kbd>5</kbd>" in html  # the levels and their keys, as raters get them
    project = make_project("p", raters=("rita",))
    client.logout()
    client.force_login(project.memberships.get(user__username="rita").user)
    assert client.get(f"/rubrics/versions/{draft.pk}/preview/").status_code == 302  # admins only

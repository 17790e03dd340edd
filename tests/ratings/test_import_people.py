"""Whose ratings a file may carry: unknown raters are refused unless the import is asked to create
them, and then under the same username rule as any account; an existing account is never made a
member by a file (so a lead cannot rate in the name of an admin, another lead or a stranger); names
differing only in case are one name."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.accounts.services import create_user
from evalplatform.projects.models import Membership
from evalplatform.projects.records import ImportRejected
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def rows(rater: str, item: str = "t-0001") -> list[dict]:
    return [{"item_id": item, "model": "m1", "rater": rater, "dimension": k, "value": v}
            for k, v in {"accuracy": 4, "helpfulness": 5, "harmless": "yes"}.items()]


def body(*raters: str) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for name in raters for r in rows(name)).encode())


def refused(project, *raters: str, **kwargs) -> list[tuple[int | None, str | None, str]]:
    users_before = User.objects.count()
    with pytest.raises(ImportRejected) as exc:
        import_ratings(project=project, stream=body(*raters), fmt="jsonl", **kwargs)
    assert not Rating.objects.filter(project=project).exists()
    assert User.objects.count() == users_before
    return [(e.line, e.field, e.message) for e in exc.value.errors]


def test_unknown_raters_are_refused_by_default_with_the_line(project):
    (error,) = refused(project, "alice", "newcomer")
    assert error[:2] == (4, "rater")
    assert "no account 'newcomer'" in error[2]
    assert "--create-raters" in error[2]


def test_unknown_raters_are_created_when_asked(project):
    summary = import_ratings(project=project, stream=body("newcomer"), fmt="jsonl", create_raters=True)
    assert summary.raters_created == 1
    user = User.objects.get(username="newcomer")
    assert not user.is_active
    assert not user.has_usable_password()
    assert project.memberships.filter(user=user, role=Membership.Role.RATER).exists()


@pytest.mark.parametrize("name", ["a/b", "../admin", "line\\nbreak", "<script>alert(1)</script>", "has space",
                                  "x" * 151, "semi;colon", "quote\"d"])
def test_names_an_account_could_not_have_are_refused_even_when_creating(project, name):
    name = name.replace("\\n", "\n")
    errors = refused(project, name, create_raters=True)
    assert errors, errors
    assert all(field == "rater" for _, field, _ in errors), errors


@pytest.mark.parametrize("who", ["admin", "lead", "stranger"])
def test_an_existing_account_that_is_not_a_rater_of_the_project_is_refused(project, admin_user, who):
    UserFactory(username="stranger")
    (error,) = refused(project, "alice", who, create_raters=True)
    assert error[:2] == (4, "rater")
    assert "not a rater of this project" in error[2]
    assert not Membership.objects.filter(project=project, user__username=who, role="rater").exists()


def test_a_rater_of_the_project_may_have_ratings_imported(project):
    summary = import_ratings(project=project, stream=body("alice", "bob"), fmt="jsonl")
    assert summary.ratings == 2
    assert summary.raters_created == 0


def test_names_differing_only_in_case_are_one_name(project):
    (error,) = refused(project, "Alice", create_raters=True)
    assert "the account is named 'alice'" in error[2]
    errors = refused(project, "newbie", "NewBie", create_raters=True)
    assert {e[0] for e in errors} == {1, 4}
    assert all("differ only in case" in e[2] for e in errors)


def test_the_rule_is_the_one_account_creation_uses(db):
    from django.core.exceptions import ValidationError

    for name in ("a/b", "has space", "x" * 151):
        with pytest.raises(ValidationError):
            create_user(username=name, password="a-long-passphrase-77")
    create_user(username="carl", password="a-long-passphrase-77")
    with pytest.raises(ValidationError):
        create_user(username="CARL", password="a-long-passphrase-77")


def test_judges_are_still_created_by_an_automated_import_under_the_same_rule(project):
    errors = refused(project, "gpt/../x", automated=True)
    assert errors
    assert errors[0][1] == "rater"
    import_ratings(project=project, stream=body("gpt-x"), fmt="jsonl", automated=True)
    assert User.objects.get(username="judge:gpt-x").is_automated


def test_the_command_and_the_api_take_the_flag(project, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(body("newcomer").getvalue())
    with pytest.raises(CommandError) as exc:
        call_command("import_ratings", str(path), "--project", project.slug)
    assert exc.value.returncode == 2
    assert "no account 'newcomer'" in str(exc.value)
    call_command("import_ratings", str(path), "--project", project.slug, "--create-raters")
    assert User.objects.filter(username="newcomer").exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=project.created_by).key}")
    url = f"/api/projects/{project.pk}/ratings/import/"
    response = api.post(url, body("other").getvalue(), content_type="application/x-ndjson")
    assert response.status_code == 400
    assert "no account 'other'" in response.json()["errors"][0]["message"]
    response = api.post(url + "?create_raters=1", body("other").getvalue(), content_type="application/x-ndjson")
    assert response.status_code == 201, response.content

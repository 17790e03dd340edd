"""Fixtures that build real objects through the services (never around them), and the helpers tests share."""

from __future__ import annotations

import io
import json

import factory
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from evalplatform.projects.models import Membership
from evalplatform.projects.services import add_member, create_project, import_items
from rubrics.services import import_rubric

User = get_user_model()


def command_output(name: str, *args: str) -> str:
    """What management command ``name`` prints on stdout, run in this process (its stderr is set aside)."""
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()

RUBRIC = {
    "slug": "support-quality",
    "name": "Support quality",
    "guidelines": "Rate **each** draft.",
    "dimensions": [
        {"key": "accuracy", "label": "Accuracy", "kind": "likert", "level": "ordinal", "min": 1, "max": 5,
         "required": True, "levels": {"1": "Wrong", "5": "Fully right"}},
        {"key": "helpfulness", "kind": "likert", "min": 1, "max": 5},
        {"key": "harmless", "kind": "binary", "level": "nominal"},
        {"key": "topic", "kind": "categorical", "options": ["billing", "tech"], "required": False},
        {"key": "why", "kind": "text", "required": False},
    ],
}
PAIRWISE_RUBRIC = {
    "slug": "pairwise-pref",
    "name": "Which is better",
    "dimensions": [{"key": "preference", "kind": "pairwise", "points": 5}],
}

#: A valid answer to ``RUBRIC`` (the optional dimensions left out).
GOOD = {"accuracy": 4, "helpfulness": 3, "harmless": True}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def items_jsonl(n: int, models=("m1",), start: int = 1) -> bytes:
    lines = [
        json.dumps({
            "id": f"t-{i:04d}", "prompt": f"Prompt {i}",
            "responses": [{"model": m, "text": f"Answer {i} from {m}"} for m in models],
            "metadata": {"topic": "billing" if i % 2 else "tech"},
        })
        for i in range(start, start + n)
    ]
    return ("\n".join(lines) + "\n").encode()


def next_assignment(*, project, rater, now=None):
    """The rater's assignment from ``claim_next`` (new or already held), or None when nothing is left:
    what most tests need of the queue (``Claim.new`` is the queue tests' business)."""
    from evalplatform.assignments.services import claim_next

    claim = claim_next(project=project, rater=rater, now=now)
    return None if claim is None else claim.assignment


@pytest.fixture
def rubric_version(db):
    version, _ = import_rubric(data=RUBRIC)
    return version


@pytest.fixture
def pairwise_version(db):
    version, _ = import_rubric(data=PAIRWISE_RUBRIC)
    return version


@pytest.fixture
def lead(db):
    return UserFactory(username="lead")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def make_project(db, rubric_version, lead):
    def make(slug="proj", *, overlap=3, items=0, models=("m1",), raters=(), version=None, **kwargs):
        project = create_project(
            slug=slug, rubric_version=version or rubric_version, overlap=overlap, created_by=lead, **kwargs
        )
        if items:
            import_items(project=project, stream=io.BytesIO(items_jsonl(items, models)), fmt="jsonl")
        for name in raters:
            add_member(project=project, user=UserFactory(username=name), role=Membership.Role.RATER)
        return project

    return make


@pytest.fixture
def project(make_project):
    return make_project(items=5, raters=("alice", "bob", "carol"))

"""Fixtures for model runs: the fake OpenAI-compatible server on an ephemeral loopback port, and endpoints."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.cache import cache

from evalplatform.llm.fake_server import FakeLLMServer
from evalplatform.llm.services import create_endpoint
from evalplatform.projects.models import Membership
from evalplatform.projects.services import add_member, create_project, import_items
from tests.fixtures import UserFactory, items_jsonl


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    """Limits live in the cache: start every test with none taken; retries without long pauses."""
    cache.clear()
    settings.EVAL_LLM_MAX_BACKOFF = 0.2
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _enqueue_at_once(request, monkeypatch):
    """In a test's transaction nothing commits: enqueue a run's workers at once instead of after commit
    (the test settings run them synchronously).  Transactional tests keep the real on_commit."""
    if "transactional_db" in request.fixturenames or request.node.get_closest_marker("postgres"):
        return
    from evalplatform.llm import services

    monkeypatch.setattr(services, "_enqueue_after_commit", lambda run_id: services._enqueue_workers(run_id))


@pytest.fixture
def make_endpoint(fake_llm):
    def make(name: str = "drafter", **fields):
        fields.setdefault("base_url", fake_llm.base_url)
        fields.setdefault("model", f"fake-{name}")
        fields.setdefault("requests_per_minute", 60_000)
        fields.setdefault("max_concurrency", 4)
        fields.setdefault("timeout_seconds", 10)
        return create_endpoint(name=name, **fields)

    return make


@pytest.fixture
def project_with_items(rubric_version, lead):
    def make(n: int = 10, slug: str = "tickets", models=("human",), kind: str = "single"):
        project = create_project(slug=slug, name=slug.title(), rubric_version=rubric_version, created_by=lead,
                                 overlap=2, kind=kind)
        import_items(project=project, stream=io.BytesIO(items_jsonl(n, models=models)), fmt="jsonl")
        return project

    return make


@pytest.fixture
def rater(db):
    return UserFactory(username="rater1")


@pytest.fixture
def add_rater(rater):
    def add(project):
        add_member(project=project, user=rater, role=Membership.Role.RATER)
        return rater

    return add

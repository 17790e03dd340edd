"""One schema-driven fuzz loop shared by the schema tests.

Drives the real WSGI application with schemathesis, as one person, over every operation of the
OpenAPI schema: with path ids pointing at real objects (so requests reach the services) and with
generated ids, for requests that follow the schema (positive) and requests that break it (negative).
Each test passes what it checks of a response; the loop collects what those checks report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import SimpleNamespace

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from evalplatform.wsgi import application
from tests.fixtures import GOOD, next_assignment

# Import bodies are sent as text; schemathesis has no built-in encoder for these media types.
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")

# (mode, whether path ids are pinned to real objects)
PASSES = ((GenerationMode.POSITIVE, True), (GenerationMode.POSITIVE, False), (GenerationMode.NEGATIVE, True))
# Revoking the token would turn every later request into a 401.
SKIPPED = {("DELETE", "/api/auth/token/")}


@pytest.fixture
def wsgi_requests():
    """Requests through the WSGI handler share the test's transaction, as the test client's do."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(people):
    """One object of each kind the API addresses by id, in ``people.project``."""
    from evalplatform.llm.models import Run
    from evalplatform.ratings.services import exclude_ratings, submit_rating
    from evalplatform.reports.services import request_report
    from evalplatform.suites.services import create_suite

    project = people.project
    rating = submit_rating(assignment=next_assignment(project=project, rater=people.alice), scores=GOOD).rating
    assignment = next_assignment(project=project, rater=people.alice)
    report = request_report(project=project, requested_by=people.lead)
    submit_rating(assignment=next_assignment(project=project, rater=people.bob), scores=GOOD)
    exclusion = exclude_ratings(project=project, rater=people.bob, scope="all", reason="fuzz", by=people.lead)
    run = Run.objects.create(project=project, kind=Run.Kind.GENERATION, prompt_template="{prompt}",
                             prompt_version="generation-test", created_by=people.lead)
    suite = create_suite(slug="fuzz-suite", project=project)
    ids = {
        "/api/llm-runs/": run.pk, "/api/projects/": project.pk, "/api/assignments/": assignment.pk,
        "/api/ratings/": rating.pk, "/api/reports/": report.pk,
        "/api/rubrics/": project.rubric_version.rubric_id, "/api/exclusions/": exclusion.pk,
        "/api/suites/": suite.pk,
    }
    return SimpleNamespace(people=people, project=project, ids=ids)


def real_path_parameters(path: str, world) -> dict:
    """Path parameters naming real objects: the ids this role may or may not see."""
    values: dict = {}
    for name in re.findall(r"{(\w+)}", path):
        if name == "project_id":
            values[name] = world.project.pk
        elif name == "number":
            values[name] = 1
        elif name == "username":
            values[name] = "alice"
        elif name == "id":
            values[name] = next(v for prefix, v in world.ids.items() if path.startswith(prefix))
    return values


Check = Callable[[object, object], Iterable[str]]


def fuzz_api(world, role: str, check: Check, *, max_examples: int) -> tuple[int, list[str]]:
    """Send schemathesis' cases for every operation as ``role``; ``check(case, response)`` yields
    a description of each problem it finds.  Returns (operations fuzzed, sorted distinct problems)."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    # The API refuses a NUL character in any string or key of a body (evalplatform.input_rules), which
    # OpenAPI 3.0 cannot say of an object's keys: generate none, rather than call such bodies valid.
    schema.config.generation.update(allow_x00=False)
    token = Token.objects.get_or_create(user=getattr(world.people, role))[0].key
    headers = {"Authorization": f"Token {token}"}
    problems: set[str] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    for operation in operations:
        for mode, pinned in PASSES:
            path_parameters = real_path_parameters(operation.path, world) if pinned else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @given(case=strategy)
            @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                problems.update(check(case, case.call(headers=headers)))

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing left to violate once the path is pinned
    return len(operations), sorted(problems)

"""The OpenAPI schema validates, and a schema-driven fuzz run finds no server errors.

The fuzz run drives the real WSGI application with schemathesis, as a lead and as a rater, once with
path ids pointing at real objects (so requests reach the services) and once with generated ids,
with both schema-conforming and schema-violating requests.  Bounded by ``max_examples``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from evalplatform.assignments.services import claim_next
from evalplatform.ratings.services import submit_rating
from evalplatform.wsgi import application
from tests.fixtures import GOOD

pytestmark = pytest.mark.django_db
# Import bodies are sent as text; schemathesis has no built-in encoder for these media types.
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")


def test_generated_schema_is_valid_openapi_with_no_warnings(capsys):
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)  # drf-spectacular's bundled OpenAPI 3 JSON schema
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    assert "Warning" not in capsys.readouterr().err


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
    project = people.project
    rating, _ = submit_rating(assignment=claim_next(project=project, rater=people.alice), scores=GOOD)
    assignment = claim_next(project=project, rater=people.alice)
    from evalplatform.reports.services import request_report

    report = request_report(project=project, requested_by=people.lead)
    ids = {
        "/api/projects/": project.pk, "/api/assignments/": assignment.pk, "/api/ratings/": rating.pk,
        "/api/reports/": report.pk, "/api/rubrics/": project.rubric_version.rubric_id,
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


@pytest.mark.slow
@pytest.mark.parametrize("role", ["lead", "alice"])
def test_fuzzing_the_schema_finds_no_server_errors(fuzz_world, wsgi_requests, role):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    token = Token.objects.get_or_create(user=getattr(fuzz_world.people, role))[0].key
    headers = {"Authorization": f"Token {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    # Revoking the token would turn every later request into a 401.
    operations = [op for op in operations if (op.method.upper(), op.path) != ("DELETE", "/api/auth/token/")]
    for operation in operations:
        for mode, pinned in ((GenerationMode.POSITIVE, True), (GenerationMode.POSITIVE, False),
                             (GenerationMode.NEGATIVE, True)):
            path_parameters = real_path_parameters(operation.path, fuzz_world) if pinned else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @given(case=strategy)
            @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}")

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing left to violate once the path is pinned
    assert failures == []

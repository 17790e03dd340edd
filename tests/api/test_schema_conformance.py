"""Every response the API gives is one its OpenAPI schema documents, and the API accepts every
request its schema calls valid (schemathesis' checks: no server error, the status code, the content
type, the body's schema, and positive data acceptance), as a lead and as a rater, for requests that
follow the schema and requests that break it.  Bounded by ``max_examples``.

A request can follow the schema and still be refused for a reason no schema can state: an id or a
name that does not exist, the project's state, or what an uploaded file holds.  ``BEYOND_SCHEMA``
lists, per operation, the fields whose 400 means that; a 400 naming any other field fails the test,
as does a 400 for a request whose every field the schema constrains.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi.checks import RejectedPositiveData

from tests.api.schemafuzz import fuzz_api

# The API's contract, fuzzed (schemathesis generates no NUL bytes, the one text PostgreSQL refuses and
# SQLite keeps; tests/security covers those on both): once, on SQLite, is enough.
pytestmark = [pytest.mark.django_db, pytest.mark.database_independent]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          positive_data_acceptance]

IMPORT_FILE = {"errors", "total", "file"}  # a line-numbered problem in the file; an empty body (binary: no minLength)
BEYOND_SCHEMA: dict[tuple[str, str], set[str] | str] = {
    ("POST", "/api/auth/token/"): {"non_field_errors"},  # wrong username or password
    ("POST", "/api/projects/"): {"rubric_version", "slug"},  # no such published version; slug taken
    ("POST", "/api/suites/"): {"project", "slug", "non_field_errors"},  # no such project / not yours; slug taken
    ("POST", "/api/projects/{project_id}/exclusions/"): {"rater"},  # not a rater of this project
    ("POST", "/api/projects/{project_id}/members/"): {"username"},  # no such user
    ("POST", "/api/projects/{project_id}/llm-runs/"): {"endpoints", "items", "non_field_errors"},  # no such endpoint
    ("POST", "/api/projects/{project_id}/pairings/"): {"non_field_errors"},  # not a pairwise project
    ("POST", "/api/projects/{project_id}/quality/gold/"): {"item_id", "model", "expectations"},  # the rubric's scales
    ("GET", "/api/projects/{project_id}/export/"): {"format"},  # consensus before any report
    ("POST", "/api/projects/{project_id}/items/import/"): IMPORT_FILE,
    ("POST", "/api/projects/{project_id}/ratings/import/"): IMPORT_FILE,
    ("POST", "/api/suites/{id}/rounds/"): IMPORT_FILE,
    ("POST", "/api/projects/{project_id}/training/items/import/"): IMPORT_FILE,
    ("POST", "/api/projects/{project_id}/training/items/from-item/"): {"item_id"},  # no such item in the project
    ("POST", "/api/projects/{project_id}/invitations/"): {"email", "seats"},  # by kind: an address, or seats
    # Scores are keyed by the rubric's dimensions: an unknown key, a missing or out-of-scale answer.
    ("POST", "/api/assignments/{id}/submit/"): "dimensions",
    ("POST", "/api/ratings/{id}/revise/"): "dimensions",
    ("GET", "/api/suites/{id}/gate/"): "gate",
    # An MLflow URI's scheme, credentials and file location are checked by meaning, not by a pattern
    # (the other tracking settings' rules are patterns in the schema).
    ("PATCH", "/api/projects/{project_id}/tracking/"): {"mlflow_tracking_uri"},
    # The parameter names must differ from each other (reported on worker_param); a completion URL holds
    # "{code}", which no URI format admits; a label is checked for unstorable text.
    ("POST", "/api/projects/{project_id}/entry-links/"): {"worker_param", "completion_url", "screened_out_url",
                                                          "label"},
}

# The gate's own refusals of what its parameters' schemas already constrain; any other is beyond them
# (a model or round the suite lacks, an unknown dimension, too few shared items).
GATE_SYNTAX = re.compile(r"^(?:(?:champion|challenger|dimension|margin|alpha|bootstrap|seed|min_items|subgroup|format)"
                         r": |(?:alpha|bootstrap|min_items|format) must|margin ')")


def _gate_reason(text: str) -> str:
    if text.startswith("<"):
        error = ET.fromstring(text).find(".//error")  # noqa: S314  (our own answer)
        return "" if error is None else error.get("message", "")
    if text.startswith("{"):
        return json.loads(text)["reasons"][0]
    return text.removeprefix("gate ERROR (exit 2): ")


def beyond_schema(case, response) -> bool:
    """Whether this 400 refuses a schema-valid request for a reason no schema can state."""
    allowed = BEYOND_SCHEMA.get((case.method.upper(), case.operation.path))
    if response.status_code != 400 or allowed is None:
        return False
    if allowed == "gate":
        return not GATE_SYNTAX.match(_gate_reason(response.text))
    body = response.json()
    if not isinstance(body, dict):
        return False
    if allowed == "dimensions":  # anything but the body's own, schema-constrained fields
        return not {"justification", "duration_ms", "detail"} & body.keys()
    return set(body) <= allowed


def conformance_problems(case, response):
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseExceptionGroup as group:  # schemathesis groups its failures
        failures = list(group.exceptions)
    except AssertionError as exc:
        failures = [exc]
    else:
        return
    for exc in failures:
        if isinstance(exc, RejectedPositiveData) and beyond_schema(case, response):
            continue
        yield (f"{case.method} {case.operation.path} -> {response.status_code}: "
               f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]} | {response.text[:200]}")


@pytest.mark.slow
@pytest.mark.parametrize("role", ["lead", "alice"])
def test_every_response_is_documented_and_valid_requests_are_accepted(fuzz_world, wsgi_requests, role):
    operations, problems = fuzz_api(fuzz_world, role, conformance_problems, max_examples=8)
    assert operations > 25
    assert not problems, "\n".join(problems)

"""The OpenAPI schema validates with no warnings.

What the API answers is checked against the schema by the fuzz run in test_schema_conformance.py
(no server errors among its checks); the loop itself lives in tests/api/schemafuzz.py.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_generated_schema_is_valid_openapi_with_no_warnings(capsys):
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)  # drf-spectacular's bundled OpenAPI 3 JSON schema
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    assert "Warning" not in capsys.readouterr().err

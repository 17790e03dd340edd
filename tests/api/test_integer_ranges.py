"""Every whole number the API and the pages read is held to a range that fits its database column, and a
number past it is a 400 (or a form error) naming the field: never a 500, never a value PostgreSQL wraps.

Generic over the inputs, so a new field is covered the day it appears: the OpenAPI schema lists every
integer the API reads (bodies and query parameters); the forms are walked from the apps' ``forms``
modules.  Each integer is checked against the column of the same name (``overlap`` ->
``Project.overlap``) and, on the real API, sent at its bounds, one past them and at 2**63.  Run on
PostgreSQL too (``make test-postgres``), where an unchecked number is a ``DataError`` or a wrap.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections import defaultdict

import pytest
import schemathesis
from django import forms
from django.apps import apps
from django.db import models
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from evalplatform.input_rules import column_range
from evalplatform.wsgi import application
from tests.api.schemafuzz import real_path_parameters

pytestmark = pytest.mark.django_db
INT64 = (-(2**63), 2**63 - 1)
# Not stored: any page past the last is a 404 (documented), so a page number has no upper bound.
UNBOUNDED = {("query", "page")}
# Not stored either: a page size past the maximum is cut to it, a bad one gives the default (pagination.py).
LENIENT = {("query", "page_size")}


def integer_columns() -> dict[str, list[tuple[int, int, str]]]:
    """Every integer column of every model by field name: (low, high, "app.Model.field")."""
    columns: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for model in apps.get_models():
        if not model.__module__.startswith(("evalplatform", "rubrics")):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.IntegerField) and not isinstance(field, models.AutoField):
                low, high = column_range(model, field.name)
                columns[field.name].append((low, high, f"{model._meta.label}.{field.name}"))
    return columns


@functools.cache
def api_integer_inputs() -> list[tuple[str, str, str, str, int | None, int | None]]:
    """(method, path, "body" or "query", name, minimum, maximum) for every integer the API reads."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    found: list = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["schema"].get("type") == "integer":
                    found.append((method.upper(), path, "query", parameter["name"],
                                  parameter["schema"].get("minimum"), parameter["schema"].get("maximum")))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for name, prop in resolve(body["schema"]).get("properties", {}).items():
                    prop = resolve(prop)
                    if prop.get("type") == "integer" and not prop.get("readOnly"):
                        found.append((method.upper(), path, "body", name, prop.get("minimum"), prop.get("maximum")))
    return found


def test_the_walk_finds_the_known_integer_inputs():
    names = {(path, name) for _, path, _, name, _, _ in api_integer_inputs()}
    assert {("/api/projects/", "overlap"), ("/api/assignments/{id}/submit/", "duration_ms"),
            ("/api/projects/{project_id}/quality/settings/", "min_seconds_per_item"),
            ("/api/suites/{id}/", "min_subgroup_items")} <= names
    assert {"overlap", "lease_seconds", "duration_ms", "tolerance", "max_tokens"} <= set(integer_columns())


def test_every_integer_the_api_reads_has_bounds_that_fit_its_column():
    columns = integer_columns()
    problems = []
    for method, path, where, name, low, high in api_integer_inputs():
        if (where, name) in UNBOUNDED:
            continue
        if low is None or high is None:
            problems.append(f"{method} {path} {where} {name}: no {'minimum' if low is None else 'maximum'}")
            continue
        fits = [c for c in columns.get(name, [])] or [(*INT64, "a 64-bit integer")]
        for col_low, col_high, column in fits:
            if not col_low <= low <= high <= col_high:
                problems.append(f"{method} {path} {where} {name}: {low}..{high} does not fit {column} "
                                f"({col_low}..{col_high})")
    assert problems == []


def project_forms() -> list[type[forms.BaseForm]]:
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith(("evalplatform", "rubrics")):
            continue
        try:
            module = importlib.import_module(f"{config.name}.forms")
        except ModuleNotFoundError:
            continue
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__]
    return found


def test_every_integer_a_form_reads_has_bounds_that_fit_its_column():
    columns = integer_columns()
    walked, problems = 0, []
    for form in project_forms():
        for name, field in form.base_fields.items():
            if not isinstance(field, forms.IntegerField):
                continue
            walked += 1
            if field.min_value is None or field.max_value is None:
                problems.append(f"{form.__name__}.{name}: unbounded ({field.min_value}..{field.max_value})")
                continue
            for col_low, col_high, column in columns.get(name, [(*INT64, "a 64-bit integer")]):
                if not col_low <= field.min_value <= field.max_value <= col_high:
                    problems.append(f"{form.__name__}.{name}: {field.min_value}..{field.max_value} does not fit "
                                    f"{column} ({col_low}..{col_high})")
    assert walked >= 3
    assert problems == []


def test_gold_tolerance_on_the_page_is_held_to_its_column(project):
    from evalplatform.quality.forms import GoldForm
    from evalplatform.quality.models import GoldExpectation

    form = GoldForm(project=project)
    tolerances = [f for name, f in form.fields.items() if name.startswith("tolerance-")]
    assert tolerances
    high = column_range(GoldExpectation, "tolerance")[1]
    assert all(f.max_value == high and f.min_value == 0 for f in tolerances)


def base_case(operation, world):
    """One request to ``operation`` that follows the schema, with real ids in its path."""
    drawn = []

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                      path_parameters=real_path_parameters(operation.path, world)))
    @settings(max_examples=1, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def draw(case):
        drawn.append(case)

    draw()
    return drawn[0]


@pytest.mark.slow
def test_numbers_past_each_bound_are_a_400_naming_the_field(fuzz_world, wsgi_requests):
    """As the project's lead (a rater's own assignments and ratings as that rater), so each request
    reaches the code that reads the number."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    schema.config.generation.update(allow_x00=False)
    operations = {(op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())}
    people = fuzz_world.people
    tokens = {who: Token.objects.get_or_create(user=getattr(people, who))[0].key for who in ("lead", "alice")}
    problems, sent = [], 0
    for method, path, where, name, low, high in api_integer_inputs():
        case = base_case(operations[method, path], fuzz_world)
        if (where, name) in UNBOUNDED:
            values = [(0, False), (2**31, False), (2**63, False)]
        else:
            lenient = (where, name) in LENIENT
            # the refused first: an accepted request may use up its object (a submitted assignment)
            values = [(high + 1, not lenient), (low - 1, not lenient), (2**63, not lenient), (high, False), (low, False)]
        for value, refused in values:
            if where == "body":
                case.body = {**(case.body if isinstance(case.body, dict) else {}), name: value}
            else:
                case.query = {**(case.query or {}), name: value}
            who = "alice" if path.startswith(("/api/assignments/", "/api/ratings/")) else "lead"
            response = case.call(headers={"Authorization": f"Token {tokens[who]}"})
            sent += 1
            label = f"{method} {path} {where} {name}={value} -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{label}: {response.text[:200]}")
            elif refused and (response.status_code != 400 or name not in response.text):
                problems.append(f"{label}, not a 400 naming {name}: {response.text[:200]}")
    assert sent > 50
    assert problems == []


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--lease", "3000000000", "the lease must last from 30 seconds to 30 days"),  # past the column: was a wrap
    ("--lease", "29", "the lease must last from 30 seconds to 30 days"),
    ("--overlap", "40000", "overlap must be between 1 and 100"),
])
def test_create_project_refuses_numbers_past_their_rule_with_exit_2(rubric_version, option, value, message):
    from django.core.management import CommandError, call_command

    from evalplatform.projects.models import Project

    with pytest.raises(CommandError, match=message) as exc:
        call_command("create_project", "big", "--rubric", rubric_version.rubric.slug, option, value)
    assert exc.value.returncode == 2
    assert not Project.objects.filter(slug="big").exists()

"""The OpenAPI schema documents every answer the API gives, errors included.

drf-spectacular documents what each view declares (its success, and the errors it names).  Other
answers come from layers every view shares: authentication (401), permissions (403), lookups and
pagination (404), parsing and validation (400), media types (415), the request size limit (413),
throttles and the login brake (429) and a lost database (503).  This hook adds those to every
operation they can reach, with one ``Error`` schema, and widens a view's own error schema where
the shared layers answer the same status with DRF's ordinary ``{"detail": ...}`` body.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from evalplatform.input_rules import column_range

ERROR = {
    "description": "An error: DRF's {\"detail\": \"...\"}, or field names mapped to lists of messages "
                   "(a list of messages when no field is to blame).",
    "anyOf": [
        {"type": "object", "additionalProperties": True, "properties": {"detail": {"type": "string"}}},
        {"type": "array", "items": {"type": "string"}},
    ],
}
REF = {"$ref": "#/components/schemas/Error"}
WHY = {
    "400": "The request is malformed or invalid (the body names the fields).",
    "401": "No valid credentials (a token or a session); the token may have expired.",
    "403": "Your role in this project does not allow it (or a session write without its CSRF token).",
    "404": "No such object that you may see (or no such page of a list).",
    "413": "The body is larger than the upload limit.",
    "415": "The body's media type is not one this operation reads.",
    "429": "Too many requests, or too many failed log-ins (see Retry-After).",
    "503": "The database was unavailable; nothing was saved and a retry is safe (see Retry-After).",
}
WRITES = {"post", "put", "patch", "delete"}


def _add(operation: dict, status: str) -> None:
    responses = operation.setdefault("responses", {})
    existing = responses.get(status)
    if existing is None:
        responses[status] = {"description": WHY[status], "content": {"application/json": {"schema": REF}}}
        return
    content = existing.get("content")
    if not content:
        return  # the view documents this answer without a body (any media type, as it negotiates)
    json_body = content.get("application/json")
    if json_body is None:
        content["application/json"] = {"schema": REF}
    elif json_body.get("schema") not in (None, REF):
        json_body["schema"] = {"anyOf": [json_body["schema"], REF]}


def document_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in WRITES | {"get", "head", "options"}:
                continue
            public_operation = operation.get("security") == [{}] or operation.get("security") == []
            statuses = ["400", "404", "429", "503"]
            if not public_operation:
                statuses += ["401", "403"]
            if method in WRITES:
                statuses += ["413", "415"]
                if path == "/api/auth/token/":
                    statuses.append("401") if method == "delete" else None
            for status in statuses:
                _add(operation, status)
            _document_format_parameter(operation)
    return result


MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "markdown": "text/markdown", "xml": "application/xml"}


def _document_format_parameter(operation: dict) -> None:
    """A ``?format=csv`` (or jsonl, ...) query parameter answers in that media type: say so on the 2xx."""
    formats = [
        value for parameter in operation.get("parameters", [])
        if parameter.get("in") == "query" and parameter.get("name") == "format"
        for value in parameter.get("schema", {}).get("enum", [])
    ]
    for status, response in operation.get("responses", {}).items():
        content = response.get("content")
        if not status.startswith("2") or not content:
            continue
        for value in formats:
            if value in MEDIA_TYPES:
                content.setdefault(MEDIA_TYPES[value], {"schema": {"type": "string"}})


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, saying what the serializers refuse, so a request valid by the schema is
    accepted: where blank is not allowed, text that is only whitespace (DRF trims it first, so
    ``minLength: 1`` alone promised that ``"\\t"`` would do); and fields a serializer does not know,
    where it refuses them (``refuses_unknown_fields = True``)."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and not field.allow_blank
                and field.trim_whitespace and schema.get("type") == "string"
                and not {"pattern", "format", "enum", "$ref"} & schema.keys()
                and not any(isinstance(v, RegexValidator) for v in field.validators)):
            schema["pattern"] = NOT_BLANK
        if (direction == "request" and isinstance(field, serializers.PrimaryKeyRelatedField)
                and schema.get("type") == "integer" and field.queryset is not None):
            # an id the column cannot hold names nothing: say so, as for any other integer
            low, high = column_range(field.queryset.model, field.queryset.model._meta.pk.name)
            schema.setdefault("minimum", max(1, low))
            schema.setdefault("maximum", high)
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if isinstance(serializer, dict):  # a body schema given whole (uploads): required if it refuses nothing
            required = bool(serializer.get("required") or serializer.get("minItems") or serializer.get("minLength"))
        return schema, required

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False  # the serializer names each unknown field in a 400
        return schema


NOT_BLANK = r"\S"  # holds something other than whitespace (JSON Schema patterns match anywhere)

"""Import bodies for the API: a raw JSON list, JSONL or CSV body, or a multipart file upload.

The body reaches ``records.read_records`` as a stream, never read into memory whole, so a large file
costs no more memory than a small one.  A JSON list is the exception (it is parsed as one document),
so its size is capped; JSONL has no such limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import IO, Any

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response

from evalplatform.api_errors import PayloadTooLarge
from evalplatform.projects.records import ImportRejected, _RawAdapter


class _StreamParser(BaseParser):
    """Hands the body on as a stream; the importer reads it record by record."""

    fmt: str = ""

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class JSONListParser(_StreamParser):
    media_type = "application/json"
    fmt = "json"


class NDJSONParser(_StreamParser):
    media_type = "application/x-ndjson"
    fmt = "jsonl"


class JSONLinesParser(_StreamParser):
    media_type = "application/jsonl"
    fmt = "jsonl"


class CSVParser(_StreamParser):
    media_type = "text/csv"
    fmt = "csv"


UPLOAD_PARSERS = [JSONListParser, NDJSONParser, JSONLinesParser, CSVParser, MultiPartParser]

BINARY = {"type": "string", "format": "binary", "minLength": 1}  # an empty body is refused


def upload_schema(record_schema: dict) -> dict:
    """The OpenAPI request body of an import endpoint, for ``extend_schema(request=...)``.

    What the file holds is checked record by record (a 400 names each line); the schema says only
    that a body is required and is not empty."""
    return {
        "application/json": {"type": "array", "items": record_schema, "minItems": 1},
        "application/x-ndjson": BINARY,
        "application/jsonl": BINARY,
        "text/csv": BINARY,
        "multipart/form-data": {"type": "object", "properties": {"file": BINARY}, "required": ["file"]},
    }


@dataclass(frozen=True)
class Upload:
    stream: IO[bytes]
    name: str
    fmt: str | None


def size_text(n: int) -> str:
    """A size as people read it: ``200 MB``, ``1.5 MB``, ``64 KB`` or ``1,000 bytes``."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{n:,} bytes"


def upload_from(request) -> Upload:
    """The import file of this request, whichever way it was sent; 400 or 413 when unusable."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.EVAL_MAX_UPLOAD_BYTES
    if length > limit:
        raise PayloadTooLarge(f"the upload is larger than the limit of {size_text(limit)}; nothing was imported")
    data = request.data  # parses: a stream for raw bodies, form fields and files for multipart
    parser = _parser_of(request)
    if isinstance(parser, type) and issubclass(parser, _StreamParser):
        if not hasattr(data, "read"):
            raise serializers.ValidationError({"file": ["the request body is empty"]})
        _cap_json(parser.fmt, length)
        # The request body is a bare object with read(); the importers want a buffered binary file.
        return Upload(stream=io.BufferedReader(_RawAdapter(data), 1 << 16), name="", fmt=parser.fmt)
    upload = request.FILES.get("file")
    if upload is None:
        raise serializers.ValidationError({"file": ["send the file in a multipart field named 'file'"]})
    name = upload.name or ""
    if name.lower().endswith(".json"):
        _cap_json("json", upload.size or 0)
    return Upload(stream=upload, name=name, fmt=None)


def _parser_of(request) -> type | None:
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    for parser in UPLOAD_PARSERS:
        if parser.media_type == media_type:
            return parser
    return None


def _cap_json(fmt: str | None, size: int) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if fmt == "json" and limit is not None and size > limit:
        raise PayloadTooLarge(
            f"a JSON list is read whole, so it may be at most {size_text(limit)}; "
            "send JSONL (one object per line, Content-Type application/x-ndjson) instead"
        )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True, help_text="1-based line (a CSV record's first line).")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ImportRejectedSerializer(serializers.Serializer):
    errors = ImportErrorSerializer(  # type: ignore[assignment]  # a field named like Serializer.errors
        many=True, help_text="The first 200 problems; nothing was written."
    )
    total = serializers.IntegerField(help_text="How many problems were found in all.")


def import_response(request, run: Callable[[Upload], Any]) -> Response:
    """Hand the request's upload to ``run`` (an import service): 201 with the summary it returns, or
    400 with every problem (``ImportRejectedSerializer``) when it refuses the file."""
    upload = upload_from(request)
    try:
        summary = run(upload)
    except ImportRejected as exc:
        return Response(
            {"errors": [e.as_dict() for e in exc.errors], "total": exc.total}, status=status.HTTP_400_BAD_REQUEST
        )
    return Response(asdict(summary), status=status.HTTP_201_CREATED)

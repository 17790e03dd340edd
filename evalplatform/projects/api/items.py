"""A project's items: importing them (all or nothing) and listing them with filters."""

from __future__ import annotations

import re

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.views import APIView

from evalplatform.projects import selectors, services
from evalplatform.projects.models import Item
from evalplatform.projects.models import Response as ModelResponse
from evalplatform.projects.permissions import LEADS, ProjectScoped
from evalplatform.projects.uploads import (
    UPLOAD_PARSERS,
    ImportRejectedSerializer,
    import_response,
    upload_schema,
)


class ResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelResponse
        fields = ["id", "model", "text", "position"]


class ItemSerializer(serializers.ModelSerializer):
    responses = ResponseSerializer(many=True, read_only=True)
    ratings = serializers.IntegerField(read_only=True, help_text="Ratings given over all the item's tasks.")
    complete = serializers.BooleanField(read_only=True, help_text="Every task has the project's overlap of ratings.")

    class Meta:
        model = Item
        fields = [
            "id", "external_id", "prompt", "reference", "metadata", "priority", "created_at", "responses",
            "ratings", "complete",
        ]


class ItemFilter(filters.FilterSet):
    complete = filters.BooleanFilter(
        field_name="complete", help_text="true: every task has its overlap of ratings; false: some do not."
    )
    external_id = filters.CharFilter(field_name="external_id")

    class Meta:
        model = Item
        fields = ["complete", "external_id"]


META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def metadata_conditions(params) -> dict[tuple[str, ...], str]:
    """``metadata__topic=billing`` and ``meta.topic=billing`` (``meta.a.b`` for nested keys)."""
    conditions = {}
    for name, value in params.items():
        if name.startswith("metadata__"):
            parts = tuple(name[len("metadata__") :].split("__"))
        elif name.startswith("meta."):
            parts = tuple(name[len("meta.") :].split("."))
        else:
            continue
        bad = [p for p in parts if not META_KEY.match(p) or "__" in p]
        if bad or not parts:
            raise serializers.ValidationError(
                {name: ["a metadata key is letters, digits, '_' or '-' (nested keys: meta.a.b)"]}
            )
        conditions[parts] = value
    return conditions


class ItemList(ProjectScoped, generics.ListAPIView):
    """The project's items with their responses, filtered by completion and by metadata.

    Metadata filters are open-ended query parameters: `?metadata__topic=billing` or `?meta.topic=billing`
    keeps items whose metadata `topic` equals `billing` (nested keys: `meta.a.b`; a value that reads as a
    number or boolean also matches that JSON number or boolean).
    """

    permission_classes = LEADS
    serializer_class = ItemSerializer
    filterset_class = ItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Item.objects.none()
        items = selectors.project_items(self.get_project())
        return selectors.filter_by_metadata(items, metadata_conditions(self.request.query_params))


class ImportSummarySerializer(serializers.Serializer):
    items_created = serializers.IntegerField()
    items_updated = serializers.IntegerField()
    responses_created = serializers.IntegerField()
    tasks_created = serializers.IntegerField()


class ItemImportQuery(serializers.Serializer):
    update = serializers.BooleanField(  # type: ignore[assignment]  # a field named like Serializer.update
        default=False, help_text="Replace existing items' prompt, reference, metadata and priority and add new responses."
    )


ITEM_RECORD = {
    "type": "object",
    "required": ["id", "prompt", "responses"],
    "properties": {
        "id": {"type": "string"},
        "prompt": {"type": "string"},
        "reference": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": True},
        "priority": {"type": "integer"},
        "responses": {
            "type": "array",
            "items": {
                "type": "object", "required": ["model", "text"],
                "properties": {"model": {"type": "string"}, "text": {"type": "string"}},
            },
        },
    },
}


class ItemImport(ProjectScoped, APIView):
    """Import items, all or nothing: a JSON list, JSONL or CSV body, or a multipart ``file``."""

    permission_classes = LEADS
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        request=upload_schema(ITEM_RECORD),
        parameters=[ItemImportQuery],
        responses={
            201: ImportSummarySerializer,
            400: ImportRejectedSerializer,
            413: OpenApiResponse(description="The body is over the upload limit."),
        },
        description="JSONL and JSON records are `{id, prompt, reference?, metadata?, priority?, "
        "responses: [{model, text}]}`; CSV has one row per response with columns `id, prompt, model, "
        "response, reference?, priority?` and any other column as metadata. Any bad record refuses the "
        "whole file: 400 lists each problem with its line and field, and nothing is written.",
    )
    def post(self, request, *args, **kwargs):
        query = ItemImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return import_response(request, lambda upload: services.import_items(
            project=self.get_project(), stream=upload.stream, fmt=upload.fmt, name=upload.name,
            update=query.validated_data["update"],
        ))

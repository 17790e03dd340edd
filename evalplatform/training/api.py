"""Training over the API (leads and admins): the onboarding policy, training items with expected answers
and explanations, and every rater's training results.

A rater of the project gets 403 on every endpoint here, anyone else 404: raters never see expected
answers through the API.  Writes go through ``training.services``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.projects.models import Item
from evalplatform.projects.permissions import LEADS, ProjectScoped
from evalplatform.projects.uploads import (
    UPLOAD_PARSERS,
    ImportRejectedSerializer,
    import_response,
    upload_schema,
)
from evalplatform.training import selectors, services
from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingItem, TrainingPolicy


class PolicySerializer(serializers.Serializer):
    training_required = serializers.BooleanField(required=False)
    pass_mark = serializers.FloatField(min_value=0, max_value=1, required=False)
    per_dimension = serializers.BooleanField(required=False)
    tolerance = serializers.IntegerField(min_value=0, max_value=100, required=False)
    max_attempts = serializers.IntegerField(min_value=1, max_value=100, required=False)
    requalify_on_new_version = serializers.BooleanField(required=False)
    require_guidelines_ack = serializers.BooleanField(required=False)


class TrainingItemSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    item_id = serializers.CharField(source="external_id", read_only=True)
    responses = serializers.JSONField(read_only=True)
    expected = serializers.DictField(child=serializers.JSONField(), help_text="answer key -> expected value")
    explanations = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                         help_text="answer key -> explanation (Markdown)")

    class Meta:
        model = TrainingItem
        fields = ["id", "item_id", "prompt", "reference", "responses", "expected", "explanations", "position"]
        read_only_fields = ["prompt", "reference", "position"]


class ExpectationsSerializer(serializers.Serializer):
    expected = serializers.DictField(child=serializers.JSONField(), required=False, default=dict,
                                     help_text="answer key -> expected value (a scale value or its label)")
    explanations = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                         default=dict, help_text="answer key -> explanation (Markdown)")


class FromItemSerializer(ExpectationsSerializer):
    item_id = serializers.CharField(max_length=200, help_text="An item of the project nobody has been served yet.")


class ImportQuery(serializers.Serializer):
    update = serializers.BooleanField(  # type: ignore[assignment]  # a field named like Serializer.update
        default=False, help_text="Replace training items that already exist."
    )


class TrainingImportSummarySerializer(serializers.Serializer):
    items_created = serializers.IntegerField()
    items_updated = serializers.IntegerField()


TRAINING_RECORD = {
    "type": "object",
    "required": ["id", "prompt", "responses"],
    "properties": {
        "id": {"type": "string"},
        "prompt": {"type": "string"},
        "reference": {"type": "string"},
        "responses": {
            "type": "array", "minItems": 1, "maxItems": 2,
            "items": {"type": "object", "required": ["model", "text"],
                      "properties": {"model": {"type": "string"}, "text": {"type": "string"}}},
        },
        "expected": {"type": "object", "additionalProperties": True},
        "explanation": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


class Policy(ProjectScoped, APIView):
    """The project's onboarding policy: training required, pass mark, tolerance, attempts, re-qualification,
    guidelines to confirm."""

    permission_classes = LEADS

    def _render(self, policy: TrainingPolicy | None) -> Response:
        policy = policy or TrainingPolicy()
        return Response({name: getattr(policy, name) for name in services.POLICY_FIELDS})

    @extend_schema(responses={200: PolicySerializer})
    def get(self, request, *args, **kwargs):
        return self._render(selectors.policy_for(self.get_project()))

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer})
    def patch(self, request, *args, **kwargs):
        serializer = PolicySerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            policy = services.update_policy(project=self.get_project(), **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return self._render(policy)


class TrainingItems(ProjectScoped, APIView):
    """The project's training items with their expected answers and explanations, in the order raters see them."""

    permission_classes = LEADS

    @extend_schema(responses={200: TrainingItemSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return Response(TrainingItemSerializer(selectors.training_items(self.get_project()), many=True).data)


class TrainingItemDetail(ProjectScoped, APIView):
    """One training item: read it, replace its expected answers and explanations, or remove it."""

    permission_classes = LEADS

    def get_item(self) -> TrainingItem:
        item = TrainingItem.objects.filter(project=self.get_project(), pk=self.kwargs["pk"]).first()
        if item is None:
            raise Http404("No such training item.")
        return item

    @extend_schema(responses={200: TrainingItemSerializer})
    def get(self, request, *args, **kwargs):
        return Response(TrainingItemSerializer(self.get_item()).data)

    @extend_schema(request=ExpectationsSerializer, responses={200: TrainingItemSerializer})
    def put(self, request, *args, **kwargs):
        item = self.get_item()
        serializer = ExpectationsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            item = services.set_expectations(item=item, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(TrainingItemSerializer(item).data)

    @extend_schema(responses={204: None})
    def delete(self, request, *args, **kwargs):
        services.delete_training_item(item=self.get_item())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrainingItemFromItem(ProjectScoped, APIView):
    """Make an item nobody has been served yet a training item (it leaves the queue and the reports)."""

    permission_classes = LEADS

    @extend_schema(request=FromItemSerializer, responses={201: TrainingItemSerializer})
    def post(self, request, *args, **kwargs):
        serializer = FromItemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = Item.objects.filter(project=self.get_project(), external_id=data["item_id"]).first()
        if item is None:
            raise serializers.ValidationError({"item_id": ["No item of this project has that id."]})
        try:
            training = services.make_training_item(item=item, expected=data["expected"],
                                                   explanations=data["explanations"])
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(TrainingItemSerializer(training).data, status=status.HTTP_201_CREATED)


class TrainingImport(ProjectScoped, APIView):
    """Import training items, all or nothing: the items format plus ``expected`` and ``explanation``."""

    permission_classes = LEADS
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        request=upload_schema(TRAINING_RECORD),
        parameters=[ImportQuery],
        responses={
            201: TrainingImportSummarySerializer,
            400: ImportRejectedSerializer,
            413: OpenApiResponse(description="The body is over the upload limit."),
        },
        description="JSONL and JSON records are `{id, prompt, reference?, responses: [{model, text}], "
        "expected: {dimension: value}, explanation: {dimension: text}}`; CSV has one row per response with "
        "columns `id, prompt, model, response, reference?` and `expected.<dimension>`, "
        "`explanation.<dimension>`. On a pair, questions asked of each response take `<dimension>.a` and "
        "`<dimension>.b`. Any bad record (unknown dimension, value off the scale, ...) refuses the whole "
        "file: 400 lists each problem with its line and field, and nothing is written.",
    )
    def post(self, request, *args, **kwargs):
        query = ImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        project = self.get_project()
        return import_response(request, lambda upload: import_training_items(
            project=project, stream=upload.stream, fmt=upload.fmt, name=upload.name,
            update=query.validated_data["update"],
        ))


class TrainingResults(ProjectScoped, APIView):
    """Each rater's training: state (to_start, in_progress, passed, failed), attempts, the share of answers
    within the tolerance overall and per dimension."""

    permission_classes = LEADS

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        return Response({"raters": selectors.training_results(self.get_project())})


BASE = "projects/<int:project_id>/training/"
urlpatterns = [
    path(f"{BASE}policy/", Policy.as_view(), name="api-training-policy"),
    path(f"{BASE}items/", TrainingItems.as_view(), name="api-training-items"),
    path(f"{BASE}items/import/", TrainingImport.as_view(), name="api-training-import"),
    path(f"{BASE}items/from-item/", TrainingItemFromItem.as_view(), name="api-training-from-item"),
    path(f"{BASE}items/<int:pk>/", TrainingItemDetail.as_view(), name="api-training-item"),
    path(f"{BASE}results/", TrainingResults.as_view(), name="api-training-results"),
]


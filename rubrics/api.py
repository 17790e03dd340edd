"""Rubrics over the API: everyone reads the versions they may see; admins author drafts and publish.

A rubric is written as the same document ``import_rubric`` reads from a file (see
``rubrics.documents``), so a rubric kept in version control can be pushed with one request.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import conflict, invalid
from evalplatform.parsers import SafeJSONParser
from evalplatform.permissions import IsStaff, ReadOnly
from rubrics import selectors, services
from rubrics.documents import RubricDocumentError, to_document, validate
from rubrics.models import Dimension, Rubric, RubricVersion, ScaleLevel

# --- Reading ------------------------------------------------------------------------------------


class ScaleLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScaleLevel
        fields = ["value", "label", "anchor"]


class DimensionSerializer(serializers.ModelSerializer):
    levels = ScaleLevelSerializer(many=True, read_only=True)

    class Meta:
        model = Dimension
        fields = ["key", "label", "description", "kind", "level", "required", "levels"]


class RubricVersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = RubricVersion
        fields = ["id", "number", "status", "created_at", "published_at"]


class RubricVersionSerializer(serializers.ModelSerializer):
    rubric = serializers.IntegerField(source="rubric_id", read_only=True)
    slug = serializers.CharField(source="rubric.slug", read_only=True)
    name = serializers.CharField(source="rubric.name", read_only=True)
    dimensions = DimensionSerializer(many=True, read_only=True)

    class Meta:
        model = RubricVersion
        fields = [
            "id", "rubric", "slug", "name", "number", "status", "guidelines", "justification",
            "created_at", "published_at", "dimensions",
        ]


class RubricSerializer(serializers.ModelSerializer):
    versions: serializers.BaseSerializer = RubricVersionSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Rubric
        fields = ["id", "slug", "name", "description", "created_at", "versions"]


class RubricDetailSerializer(RubricSerializer):
    versions = RubricVersionSerializer(many=True, read_only=True)


# --- Writing: the rubric document ----------------------------------------------------------------


class DimensionDocumentSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True)  # type: ignore[assignment]  # named like Field.label
    description = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Dimension.Kind.choices)
    level = serializers.ChoiceField(choices=Dimension.Level.choices, required=False, allow_blank=True)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]  # named like Field.required
    min = serializers.IntegerField(required=False, min_value=-1000, max_value=1000, help_text="Likert only.")
    max = serializers.IntegerField(required=False, min_value=-1000, max_value=1000, help_text="Likert only.")
    options = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100, help_text="Categorical only."
    )
    points = serializers.ChoiceField(choices=[3, 5, 7], required=False, help_text="Pairwise only.")
    levels = serializers.DictField(
        child=serializers.JSONField(), required=False,
        help_text='Labels or anchors by value: {"1": "Wrong", "5": {"label": "Right", "anchor": "..."}}.',
    )

    def validate_levels(self, levels: dict) -> dict:
        for value, text in levels.items():
            label = text.get("label", "") if isinstance(text, dict) else ""
            if isinstance(label, str) and len(label) > 200:
                raise serializers.ValidationError(f"{value}: a label has at most 200 characters")
        return levels

    def validate(self, attrs: dict) -> dict:
        if attrs.get("kind") == "likert":
            for text in (attrs.get("levels") or {}).values():
                if isinstance(text, str) and len(text) > 200:
                    raise serializers.ValidationError({"levels": ["a label has at most 200 characters"]})
        return attrs


class RubricDraftSerializer(serializers.Serializer):
    """The editable part of a rubric document (PATCH of a draft replaces what it names)."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    guidelines = serializers.CharField(required=False, allow_blank=True, help_text="Markdown shown to raters.")
    justification = serializers.ChoiceField(choices=RubricVersion.Justification.choices, required=False)
    # many=True hands max_length to the ListSerializer; the stub does not list it.
    dimensions = DimensionDocumentSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=200, allow_empty=False
    )


class RubricDocumentSerializer(RubricDraftSerializer):
    slug = serializers.CharField(max_length=64)
    dimensions = DimensionDocumentSerializer(many=True, max_length=200, allow_empty=False)  # type: ignore[call-arg]
    publish = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text="Publish at once (an unchanged document returns the latest published version, 200).",
    )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _document_errors(exc: RubricDocumentError) -> serializers.ValidationError:
    """``dimensions[2] (tone).max: ...`` is filed under ``dimensions``: field-level, path kept."""
    keyed: dict[str, list[str]] = {}
    for message in exc.errors:
        match = re.match(r"[A-Za-z_]+", message)
        keyed.setdefault(match.group(0) if match else "non_field_errors", []).append(message)
    return serializers.ValidationError(keyed)


def _spec(document: dict):
    try:
        return validate(document)
    except RubricDocumentError as exc:
        raise _document_errors(exc) from exc


# --- Views --------------------------------------------------------------------------------------


class RubricListCreate(generics.ListCreateAPIView):
    """Rubrics you may see, with their versions; admins create a draft (or publish) from a document."""

    permission_classes = [IsAuthenticated, IsStaff | ReadOnly]
    parser_classes = [SafeJSONParser]
    serializer_class = RubricSerializer

    def get_queryset(self):
        return selectors.visible_rubrics(self.request.user)

    @extend_schema(
        request=RubricDocumentSerializer,
        responses={201: RubricVersionSerializer, 200: RubricVersionSerializer},
        description="Create a draft version from a rubric document, or publish it at once with "
        "`publish: true`. The rubric is named by `slug`; a new slug creates the rubric.",
    )
    def post(self, request, *args, **kwargs):
        serializer = RubricDocumentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = _plain(dict(serializer.validated_data))
        publish = document.pop("publish", False)
        spec = _spec(document)
        try:
            if publish:
                version, created = services.import_rubric(data=document)
            else:
                version, created = services.create_draft(spec=spec), True
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        version = selectors.with_dimensions(RubricVersion.objects.filter(pk=version.pk)).get()
        return Response(
            RubricVersionSerializer(version).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class RubricDetail(generics.RetrieveAPIView):
    """One rubric with the versions you may see, each with its dimensions and scale levels."""

    serializer_class = RubricDetailSerializer

    def get_object(self):
        rubric = selectors.rubric_with_versions(self.request.user, self.kwargs["pk"])
        if rubric is None:
            raise Http404("No such rubric.")
        return rubric


class _VersionView(APIView):
    def get_version(self) -> RubricVersion:
        version = (
            selectors.with_dimensions(selectors.visible_versions(self.request.user))
            .filter(rubric__pk=self.kwargs["pk"], number=self.kwargs["number"]).first()
        )
        if version is None:
            raise Http404("No such rubric version.")
        return version


class RubricVersionDetail(_VersionView, generics.GenericAPIView):
    """A version with its dimensions; admins edit a draft by sending the parts of the document to replace."""

    permission_classes = [IsAuthenticated, IsStaff | ReadOnly]
    parser_classes = [SafeJSONParser]
    serializer_class = RubricVersionSerializer

    def get(self, request, *args, **kwargs):
        return Response(RubricVersionSerializer(self.get_version()).data)

    @extend_schema(
        request=RubricDraftSerializer,
        responses={200: RubricVersionSerializer, 409: OpenApiResponse(description="The version is published.")},
        description="Replace a draft's guidelines, justification rule or dimensions (the whole list). "
        "A published version refuses with 409: clone it into a new draft first.",
    )
    def patch(self, request, *args, **kwargs):
        version = self.get_version()
        serializer = RubricDraftSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            services.update_draft(version=version, changes=_plain(dict(serializer.validated_data)))
        except RubricDocumentError as exc:
            raise _document_errors(exc) from exc
        except services.VersionFrozen as exc:
            raise conflict(exc) from exc
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(RubricVersionSerializer(self.get_version()).data)


class RubricVersionDocument(_VersionView, APIView):
    """The version as a rubric document, ready to keep in version control and import again."""

    @extend_schema(responses={200: OpenApiResponse(description="A rubric document (see POST /api/rubrics/).")})
    def get(self, request, *args, **kwargs):
        return Response(to_document(self.get_version()))


class PublishVersion(_VersionView, APIView):
    """Freeze a draft so projects can use it.  Publishing a published version changes nothing."""

    permission_classes = [IsAuthenticated, IsStaff]

    @extend_schema(request=None, responses={200: RubricVersionSerializer})
    def post(self, request, *args, **kwargs):
        try:
            services.publish_version(version=self.get_version())
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(RubricVersionSerializer(self.get_version()).data)


class CloneVersion(_VersionView, APIView):
    """A new draft with this version's content, to edit and publish as the next version."""

    permission_classes = [IsAuthenticated, IsStaff]

    @extend_schema(request=None, responses={201: RubricVersionSerializer})
    def post(self, request, *args, **kwargs):
        draft = services.clone_version(version=self.get_version())
        draft = selectors.with_dimensions(RubricVersion.objects.filter(pk=draft.pk)).get()
        return Response(RubricVersionSerializer(draft).data, status=status.HTTP_201_CREATED)



urlpatterns = [
    path("rubrics/", RubricListCreate.as_view(), name="api-rubrics"),
    path("rubrics/<int:pk>/", RubricDetail.as_view(), name="api-rubric"),
    path("rubrics/<int:pk>/versions/<int:number>/", RubricVersionDetail.as_view(), name="api-rubric-version"),
    path(
        "rubrics/<int:pk>/versions/<int:number>/document/", RubricVersionDocument.as_view(),
        name="api-rubric-version-document",
    ),
    path("rubrics/<int:pk>/versions/<int:number>/publish/", PublishVersion.as_view(), name="api-rubric-publish"),
    path("rubrics/<int:pk>/versions/<int:number>/clone/", CloneVersion.as_view(), name="api-rubric-clone"),
]

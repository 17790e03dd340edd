"""Assignments over the API: a rater's own assignments, and how a task is shown to its rater.

``AssignmentSerializer`` (and ``assignment_data``, its fast twin) is the body of the rater's calls
that live with the ratings (``ratings.api``: next, submit, skip).  Raters only ever see their own
assignments; responses are shown without model names (blind rating).
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.http import Http404
from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import assignments_visible_to, shown_responses
from evalplatform.permissions import IsOwner, IsStaff
from rubrics.api import RubricVersionSerializer
from rubrics.models import RubricVersion
from rubrics.selectors import once_per_published_version, with_dimensions

MAX_ID = 2**63 - 1  # the largest id a database column holds; a larger one in a URL names nothing


class ItemForRaterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    prompt = serializers.CharField()
    reference = serializers.CharField(allow_null=True, help_text="Null when the project hides references.")
    metadata = serializers.JSONField()


class ShownResponseSerializer(serializers.Serializer):
    label = serializers.CharField(  # type: ignore[assignment]  # a field named like Field.label
        help_text='"A" or "B" in a pairwise task (A first), "" for a single response.'
    )
    text = serializers.CharField()


def _rating_id(assignment: Assignment) -> int | None:
    try:
        return assignment.rating.pk
    except Assignment.rating.RelatedObjectDoesNotExist:
        return None


class AssignmentBriefSerializer(serializers.ModelSerializer):
    item: serializers.Field = serializers.CharField(
        source="task.item.external_id", read_only=True, help_text="The item's external id."
    )
    rating = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "project", "status", "item", "leased_at", "lease_expires_at", "finished_at", "rating"]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_rating(self, assignment: Assignment) -> int | None:
        return _rating_id(assignment)


class AssignmentSerializer(AssignmentBriefSerializer):
    """What a rater needs to rate: the item, the responses in the order shown, and the rubric.

    The fields below describe the output (the schema); ``assignment_data`` writes it, in one pass
    over objects the caller has usually loaded already, because this is the body of every next-item
    call.  A test holds the two to the same output.
    """

    item = serializers.SerializerMethodField()
    responses = serializers.SerializerMethodField(
        help_text="In display order. Pairwise: the first is the one shown as A; give preference values "
        "as seen (negative = A better)."
    )
    rubric_version = serializers.SerializerMethodField()

    class Meta(AssignmentBriefSerializer.Meta):
        fields = [*AssignmentBriefSerializer.Meta.fields, "skip_reason", "responses", "rubric_version"]
        read_only_fields = fields

    def to_representation(self, instance: Assignment) -> dict:
        return assignment_data(instance, rating_id=_rating_id(instance))

    @extend_schema_field(ItemForRaterSerializer)
    def get_item(self, assignment: Assignment) -> dict:
        return _item_data(assignment)

    @extend_schema_field(ShownResponseSerializer(many=True))
    def get_responses(self, assignment: Assignment) -> list[dict]:
        return [{"label": shown.side, "text": shown.text} for shown in shown_responses(assignment)]

    @extend_schema_field(RubricVersionSerializer)
    def get_rubric_version(self, assignment: Assignment) -> dict:
        return rubric_version_data(assignment.project.rubric_version)


def _item_data(assignment: Assignment) -> dict:
    item = assignment.task.item
    return {
        "id": item.pk, "external_id": item.external_id, "prompt": item.prompt,
        "reference": item.reference if assignment.project.show_reference else None, "metadata": item.metadata,
    }


_DATETIME = serializers.DateTimeField()


def api_datetime(value: datetime | None) -> str | None:
    """A timestamp as the API's serializers write it (ISO 8601, UTC as Z), or None."""
    return _DATETIME.to_representation(value) if value is not None else None


def assignment_data(assignment: Assignment, *, rating_id: int | None) -> dict:
    """``AssignmentSerializer``'s output for an assignment with its project (and the project's rubric
    version), task, item and responses loaded; ``rating_id`` is its rating's id, if it has one."""
    return {
        "id": assignment.pk, "project": assignment.project_id, "status": assignment.status,
        "item": _item_data(assignment), "leased_at": api_datetime(assignment.leased_at),
        "lease_expires_at": api_datetime(assignment.lease_expires_at),
        "finished_at": api_datetime(assignment.finished_at), "rating": rating_id,
        "skip_reason": assignment.skip_reason,
        "responses": [{"label": shown.side, "text": shown.text} for shown in shown_responses(assignment)],
        "rubric_version": rubric_version_data(assignment.project.rubric_version),
    }


_published_versions: dict[tuple[int, datetime], dict] = {}


def rubric_version_data(version: RubricVersion | int) -> dict:
    """The serialised rubric version sent with every task, built once per process for a published
    version (``rubrics.selectors.once_per_published_version``); a project's version is published."""
    return once_per_published_version(
        _published_versions, version,
        lambda pk: RubricVersionSerializer(with_dimensions(RubricVersion.objects.filter(pk=pk)).get()).data,
    )


def render_assignment(assignment_id: int, user, *, status_code: int = status.HTTP_200_OK) -> Response:
    assignment = assignments_visible_to(user).get(pk=assignment_id)
    return Response(AssignmentSerializer(assignment).data, status=status_code)


class AssignmentMixin(APIView):
    def get_assignment(self) -> Assignment:
        assignment = assignments_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if assignment is None:
            raise Http404("No such assignment.")
        self.check_object_permissions(self.request, assignment)
        return assignment


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """A database id: a whole number in the id range (an overlong one is a 400, not an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class AssignmentFilter(filters.FilterSet):
    project = IdFilter(field_name="project_id", help_text="A project id.")
    status = filters.ChoiceFilter(choices=Assignment.Status.choices)

    class Meta:
        model = Assignment
        fields = ["project", "status"]


class AssignmentList(generics.ListAPIView):
    """Your assignments, newest first (``?project=`` and ``?status=`` narrow them)."""

    serializer_class = AssignmentBriefSerializer
    filterset_class = AssignmentFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return assignments_visible_to(self.request.user).filter(rater_id=self.request.user.pk).order_by("-leased_at")


class AssignmentDetail(AssignmentMixin, APIView):
    """One of your assignments (another rater's is not found)."""

    permission_classes = [IsAuthenticated, IsOwner | IsStaff]

    @extend_schema(responses={200: AssignmentSerializer})
    def get(self, request, *args, **kwargs):
        return Response(AssignmentSerializer(self.get_assignment()).data)


urlpatterns = [
    path("assignments/", AssignmentList.as_view(), name="api-assignments"),
    path("assignments/<int:pk>/", AssignmentDetail.as_view(), name="api-assignment"),
]

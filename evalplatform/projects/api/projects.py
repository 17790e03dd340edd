"""Projects: listing those you may see, creating, reading and changing settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.input_rules import SLUG_MESSAGE, SLUG_PATTERN
from evalplatform.permissions import IsStaff, ReadOnly
from evalplatform.projects import selectors, services
from evalplatform.projects.dashboard import project_progress
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.permissions import (
    IsLeadAnywhere,
    IsProjectLead,
    IsProjectMember,
    ProjectScoped,
    project_role,
)
from rubrics.models import RubricVersion


class ProgressSerializer(serializers.Serializer):
    tasks = serializers.IntegerField()
    tasks_complete = serializers.IntegerField()
    ratings = serializers.IntegerField()
    needed = serializers.IntegerField()
    leased = serializers.IntegerField()
    skipped = serializers.IntegerField()
    percent = serializers.IntegerField()


class ProjectSerializer(serializers.ModelSerializer):
    rubric = serializers.CharField(source="rubric_version.rubric.slug", read_only=True)
    rubric_version_number = serializers.IntegerField(source="rubric_version.number", read_only=True)
    role = serializers.SerializerMethodField(help_text='Your role: "admin", "lead" or "rater".')

    class Meta:
        model = Project
        fields = [
            "id", "slug", "name", "description", "kind", "rubric_version", "rubric", "rubric_version_number",
            "overlap", "lease_seconds", "order", "show_reference", "created_at", "role",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_role(self, project: Project) -> str | None:
        return self.context["roles"].get(project.pk)


class ProjectDetailSerializer(ProjectSerializer):
    progress = serializers.SerializerMethodField(help_text="Leads and admins only; null for raters.")

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "progress"]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, project: Project):
        if self.get_role(project) not in ("lead", "admin"):
            return None
        return project_progress(project)


class ProjectCreateSerializer(serializers.Serializer):
    slug = serializers.RegexField(SLUG_PATTERN, max_length=100, error_messages={"invalid": SLUG_MESSAGE})
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    rubric_version = serializers.PrimaryKeyRelatedField(
        queryset=RubricVersion.objects.filter(status=RubricVersion.Status.PUBLISHED),
        help_text="The id of a published rubric version.",
    )
    kind = serializers.ChoiceField(choices=Project.Kind.choices, default=Project.Kind.SINGLE)
    overlap = serializers.IntegerField(min_value=1, max_value=100, default=3, help_text="Raters per task.")
    lease_seconds = serializers.IntegerField(min_value=services.LEASE_MIN_SECONDS, max_value=services.LEASE_MAX_SECONDS, default=1800)
    order = serializers.ChoiceField(choices=Project.Order.choices, default=Project.Order.PRIORITY)
    show_reference = serializers.BooleanField(default=True)


class ProjectUpdateSerializer(serializers.Serializer):
    refuses_unknown_fields = True  # a misspelt setting is an error, not a silent no-op (api_schema.AutoSchema)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    overlap = serializers.IntegerField(min_value=1, max_value=100, required=False)
    lease_seconds = serializers.IntegerField(min_value=services.LEASE_MIN_SECONDS, max_value=services.LEASE_MAX_SECONDS, required=False)
    order = serializers.ChoiceField(choices=Project.Order.choices, required=False)
    show_reference = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        fixed = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if fixed:
            raise serializers.ValidationError({name: ["cannot be changed through the API"] for name in fixed})
        return attrs


def _roles(user, projects) -> dict[int, str]:
    if user.is_staff:
        return {p.pk: "admin" for p in projects}
    ids = [p.pk for p in projects]
    return dict(Membership.objects.filter(user=user, project_id__in=ids).values_list("project_id", "role"))


class ProjectListCreate(generics.ListCreateAPIView):
    """The projects you may see, with your role in each.  Admins and leads create projects (the
    creator becomes a lead)."""

    permission_classes = [IsAuthenticated, ReadOnly | IsStaff | IsLeadAnywhere]
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return selectors.visible_projects(self.request.user).select_related("rubric_version__rubric").order_by("name")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        data = ProjectSerializer(page, many=True, context={"roles": _roles(request.user, page)}).data
        return self.get_paginated_response(data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request, *args, **kwargs):
        serializer = ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            project = services.create_project(**serializer.validated_data, created_by=request.user)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        roles = {project.pk: "admin" if request.user.is_staff else "lead"}
        return Response(ProjectSerializer(project, context={"roles": roles}).data, status=status.HTTP_201_CREATED)


class ProjectDetail(ProjectScoped, APIView):
    """A project you belong to.  Leads and admins change its settings (the rubric version and kind
    are fixed once set) and see its progress."""

    project_url_kwarg = "pk"
    permission_classes = [IsAuthenticated, IsStaff | IsProjectLead | (ReadOnly & IsProjectMember)]

    def _render(self, project: Project) -> Response:
        roles = {project.pk: project_role(self.request, self, project)}
        return Response(ProjectDetailSerializer(project, context={"roles": roles}).data)

    @extend_schema(responses={200: ProjectDetailSerializer})
    def get(self, request, *args, **kwargs):
        return self._render(self.get_project())

    @extend_schema(request=ProjectUpdateSerializer, responses={200: ProjectDetailSerializer})
    def patch(self, request, *args, **kwargs):
        serializer = ProjectUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            project = services.update_project(project=self.get_project(), **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return self._render(project)

"""Who works on a project: leads add people by username, change roles, pause raters; and ``users/me/``,
the user making the request with their roles in each project."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.accounts.api import UserSerializer
from evalplatform.api_errors import invalid
from evalplatform.projects import services
from evalplatform.projects.models import Membership
from evalplatform.projects.permissions import LEADS, ProjectScoped

User = get_user_model()


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "paused", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)

    def validate_username(self, username: str):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise serializers.ValidationError(f"no user {username!r}; an admin creates logins (POST /api/users/)")
        return user


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    paused = serializers.BooleanField(required=False, help_text="A paused rater is served no new tasks.")


class MemberListCreate(ProjectScoped, generics.ListAPIView):
    """The project's members; leads add people by username with a role (or change their role)."""

    permission_classes = LEADS
    serializer_class = MemberSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(project=self.get_project()).select_related("user").order_by(
            "role", "user__username"
        )

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer})
    def post(self, request, *args, **kwargs):
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            membership = services.add_member(
                project=self.get_project(), user=serializer.validated_data["username"],
                role=serializer.validated_data["role"],
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(ProjectScoped, APIView):
    """One member: leads change their role or pause them (a paused rater gets no new tasks)."""

    permission_classes = LEADS

    def get_membership(self) -> Membership:
        membership = (
            Membership.objects.filter(project=self.get_project(), user__username=self.kwargs["username"])
            .select_related("user").first()
        )
        if membership is None:
            raise Http404("No such member.")
        return membership

    @extend_schema(responses={200: MemberSerializer})
    def get(self, request, *args, **kwargs):
        return Response(MemberSerializer(self.get_membership()).data)

    @extend_schema(request=MemberUpdateSerializer, responses={200: MemberSerializer})
    def patch(self, request, *args, **kwargs):
        membership = self.get_membership()
        serializer = MemberUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        try:
            if "role" in changes:
                membership = services.add_member(project=membership.project, user=membership.user, role=changes["role"])
            if "paused" in changes:
                membership = services.set_paused(
                    project=membership.project, user=membership.user, paused=changes["paused"]
                )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(MemberSerializer(self.get_membership()).data)


# --- Who am I: the user with their project roles ------------------------------------------------


class MembershipBriefSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id")
    slug = serializers.CharField(source="project.slug")
    name = serializers.CharField(source="project.name")

    class Meta:
        model = Membership
        fields = ["project", "slug", "name", "role", "paused"]


class MeSerializer(UserSerializer):
    memberships = MembershipBriefSerializer(many=True, read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "memberships"]


class Me(APIView):
    """The user making the request, with their project roles."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request, *args, **kwargs):
        user = User.objects.prefetch_related("memberships__project").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)

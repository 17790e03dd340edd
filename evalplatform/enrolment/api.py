"""Enrolment over the API (the project's leads and admins): invitations and external-workforce entry links.

A token or per-worker URL is in the answer that makes it and never again (only a hash of an
invitation token is kept).  Writes go through ``enrolment.services`` and ``enrolment.workforce``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.enrolment import services, workforce
from evalplatform.enrolment.models import EntryLink, Invitation
from evalplatform.projects.permissions import LEADS, ProjectScoped

STATES = ["open", "expired", "used", "full", "revoked"]


class InvitationSerializer(serializers.ModelSerializer):
    # blank on a link invitation: the schema must allow "" beside an address
    email = serializers.EmailField(read_only=True, allow_blank=True)
    state = serializers.SerializerMethodField(help_text="open, expired, used (e-mail), full (link) or revoked.")

    class Meta:
        model = Invitation
        fields = ["id", "kind", "email", "seats", "seats_used", "expires_at", "revoked_at", "created_at", "state"]
        read_only_fields = fields

    def get_state(self, invitation: Invitation) -> str:
        return services.invitation_state(invitation)


class InvitationCreatedSerializer(InvitationSerializer):
    url = serializers.CharField(help_text="The invitation's link: given only now (only its hash is kept).")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "url"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Invitation.Kind.choices)
    email = serializers.EmailField(required=False, help_text="Whom to invite (kind email).")
    seats = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_SEATS,
                                     help_text="How many people may join through the link (kind link).")
    expires_in_days = serializers.FloatField(required=False, min_value=0.001, max_value=services.MAX_DAYS,
                                             help_text=f"Default {services.DEFAULT_DAYS}.")

    def validate(self, data):
        if data["kind"] == Invitation.Kind.EMAIL and not data.get("email"):
            raise serializers.ValidationError({"email": "an e-mail invitation needs an address"})
        if data["kind"] == Invitation.Kind.LINK and not data.get("seats"):
            raise serializers.ValidationError({"seats": "a link invitation needs a number of seats"})
        return data


class InvitationListCreate(ProjectScoped, generics.ListAPIView):
    """The project's invitations (newest first); leads invite by e-mail or make a shareable link."""

    permission_classes = LEADS
    serializer_class = InvitationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        return Invitation.objects.filter(project=self.get_project()).order_by("-created_at", "-id")

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationCreatedSerializer})
    def post(self, request, *args, **kwargs):
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project = self.get_project()

        def accept_url(token: str) -> str:
            return request.build_absolute_uri(reverse("invitation-accept", args=[token]))

        try:
            if data["kind"] == Invitation.Kind.EMAIL:
                issued = services.invite_by_email(project=project, email=data["email"], invited_by=request.user,
                                                  accept_url=accept_url, expires_in_days=data.get("expires_in_days"))
            else:
                issued = services.create_invitation_link(project=project, seats=data["seats"], created_by=request.user,
                                                         expires_in_days=data.get("expires_in_days"))
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        issued.invitation.url = accept_url(issued.token)  # type: ignore[attr-defined]
        return Response(InvitationCreatedSerializer(issued.invitation).data, status=status.HTTP_201_CREATED)


class InvitationRevoke(ProjectScoped, APIView):
    """Withdraw an invitation: its link gives the "withdrawn" page from now on."""

    permission_classes = LEADS

    @extend_schema(request=None, responses={200: InvitationSerializer})
    def post(self, request, *args, **kwargs):
        invitation = get_object_or_404(Invitation, pk=self.kwargs["invitation_id"], project=self.get_project())
        return Response(InvitationSerializer(services.revoke_invitation(invitation=invitation)).data)


class EntryLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The URL to give the platform; it appends the worker's id.")
    n_workers = serializers.SerializerMethodField()

    class Meta:
        model = EntryLink
        fields = ["id", "label", "platform", "worker_param", "study_param", "session_param", "per_worker_tokens",
                  "quota", "completion_code", "screened_out_code", "completion_url", "revoked_at", "created_at", "url", "n_workers"]
        read_only_fields = fields

    def get_url(self, link: EntryLink) -> str:
        return self.context["request"].build_absolute_uri(workforce.entry_path(link))

    def get_n_workers(self, link: EntryLink) -> int:
        return getattr(link, "n_workers", None) or link.workers.count()


# What the link's service accepts, stated as patterns so the schema says it too (blank is allowed beside).
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,49}$"
PARAM_NAME_ERROR: dict[str, Any] = {"invalid": "a URL parameter name: a letter or _, then letters, digits, _ (≤ 50)"}
CODE = r"^[A-Za-z0-9_-]{1,64}$"
CODE_ERROR: dict[str, Any] = {"invalid": "1 to 64 letters, digits, - and _"}


class EntryLinkCreateSerializer(serializers.Serializer):
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)  # type: ignore[assignment]
    platform = serializers.ChoiceField(choices=EntryLink.Platform.choices, required=False)
    quota = serializers.IntegerField(required=False, min_value=1, max_value=workforce.MAX_QUOTA)
    worker_param = serializers.CharField(required=False, max_length=50, help_text="Default: the platform's.")
    study_param = serializers.RegexField(PARAM_NAME, required=False, allow_blank=True, max_length=50,
                                         error_messages=PARAM_NAME_ERROR)
    session_param = serializers.RegexField(PARAM_NAME, required=False, allow_blank=True, max_length=50,
                                           error_messages=PARAM_NAME_ERROR)
    per_worker_tokens = serializers.BooleanField(required=False)
    completion_code = serializers.RegexField(CODE, required=False, max_length=64, error_messages=CODE_ERROR,
                                             help_text="Default: a random code.")
    screened_out_code = serializers.RegexField(
        CODE, required=False, allow_blank=True, max_length=64, error_messages=CODE_ERROR,
        help_text="For workers who fail the qualification; default: the completion code.")
    completion_url = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                           help_text="{code} stands for the completion code; default: the platform's.")


class EntryLinkListCreate(ProjectScoped, generics.ListAPIView):
    """The project's external-workforce entry links; leads open new ones."""

    permission_classes = LEADS
    serializer_class = EntryLinkSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EntryLink.objects.none()
        return EntryLink.objects.filter(project=self.get_project()).order_by("-created_at", "-id")

    @extend_schema(request=EntryLinkCreateSerializer, responses={201: EntryLinkSerializer})
    def post(self, request, *args, **kwargs):
        serializer = EntryLinkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            link = workforce.create_entry_link(project=self.get_project(), created_by=request.user,
                                               **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(EntryLinkSerializer(link, context={"request": request}).data, status=status.HTTP_201_CREATED)


class _LinkScoped(ProjectScoped, APIView):
    permission_classes = LEADS

    def get_link(self) -> EntryLink:
        return get_object_or_404(EntryLink, pk=self.kwargs["link_id"], project=self.get_project())


class EntryLinkRevoke(_LinkScoped):
    """Close an entry link: workers opening it see that the study is closed."""

    @extend_schema(request=None, responses={200: EntryLinkSerializer})
    def post(self, request, *args, **kwargs):
        link = workforce.revoke_entry_link(link=self.get_link())
        return Response(EntryLinkSerializer(link, context={"request": request}).data)


class WorkerIdsSerializer(serializers.Serializer):
    worker_ids = serializers.ListField(child=serializers.CharField(max_length=200, allow_blank=True),
                                       max_length=workforce.MAX_LIST, min_length=1)


class WorkerUrlSerializer(serializers.Serializer):
    worker_id = serializers.CharField()
    url = serializers.CharField()


class EntryLinkWorkerUrls(_LinkScoped):
    """Per-worker entry URLs (each signed for its worker id) for a link that admits listed workers only."""

    @extend_schema(request=WorkerIdsSerializer, responses={200: WorkerUrlSerializer(many=True)})
    def post(self, request, *args, **kwargs):
        link = self.get_link()
        serializer = WorkerIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not link.per_worker_tokens:
            raise serializers.ValidationError(
                {"non_field_errors": ["this link admits any worker id; per-worker URLs are for per_worker_tokens links"]}
            )
        if link.revoked_at is not None:
            raise serializers.ValidationError({"non_field_errors": ["this link is closed"]})
        try:
            rows = workforce.worker_urls(link=link, worker_ids=serializer.validated_data["worker_ids"],
                                         base_url=request.build_absolute_uri("/"))
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response([{"worker_id": worker_id, "url": url} for worker_id, url in rows])


BASE = "projects/<int:project_id>/"
urlpatterns = [
    path(f"{BASE}invitations/", InvitationListCreate.as_view(), name="api-invitations"),
    path(f"{BASE}invitations/<int:invitation_id>/revoke/", InvitationRevoke.as_view(), name="api-invitation-revoke"),
    path(f"{BASE}entry-links/", EntryLinkListCreate.as_view(), name="api-entry-links"),
    path(f"{BASE}entry-links/<int:link_id>/revoke/", EntryLinkRevoke.as_view(), name="api-entry-link-revoke"),
    path(f"{BASE}entry-links/<int:link_id>/worker-urls/", EntryLinkWorkerUrls.as_view(), name="api-entry-link-worker-urls"),
]

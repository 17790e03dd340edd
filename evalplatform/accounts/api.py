"""Accounts over the API: obtaining a token, who am I, and admins creating logins."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from evalplatform.accounts import services, throttle
from evalplatform.api_errors import invalid
from evalplatform.permissions import IsStaff
from evalplatform.projects.models import Membership

User = get_user_model()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; send it as ``Authorization: Token <token>``.

    Asking again returns the same token.  DELETE revokes it (a new POST issues a fresh one).  Failed
    attempts count toward the login page's brake (per address and per username), so the API is no
    way around it; the request rate is throttled as well.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else []

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        request=AuthTokenSerializer, responses={200: TokenSerializer}, auth=[],
        description="Throttled (scope `auth`), and refused with 429 after repeated failures for the "
        "username or from the address, as the login page is. Wrong credentials answer 400.",
    )
    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if hasattr(request.data, "get") else ""
        keys = throttle.failure_keys(request, str(username or ""))
        if throttle.blocked(keys):
            raise Throttled(wait=throttle.WINDOW_SECONDS, detail="Too many failed attempts; try again later.")
        try:
            response = super().post(request, *args, **kwargs)
        except serializers.ValidationError:
            throttle.count_failure(keys)
            raise
        throttle.count_success(keys)
        return response

    @extend_schema(responses={204: None})
    def delete(self, request, *args, **kwargs):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipBriefSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id")
    slug = serializers.CharField(source="project.slug")
    name = serializers.CharField(source="project.name")

    class Meta:
        model = Membership
        fields = ["project", "slug", "name", "role", "paused"]


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff", "is_active", "date_joined"]


class MeSerializer(UserSerializer):
    memberships = MembershipBriefSerializer(many=True, read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "memberships"]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    is_staff = serializers.BooleanField(required=False, default=False)


class UserListCreate(generics.ListCreateAPIView):
    """Admins only: every login, and creating one (the password must pass Django's validators)."""

    permission_classes = [IsAuthenticated, IsStaff]
    serializer_class = UserSerializer
    queryset = User.objects.order_by("username")

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request, *args, **kwargs):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.create_user(**serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class Me(APIView):
    """The user making the request, with their project roles."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request, *args, **kwargs):
        user = User.objects.prefetch_related("memberships__project").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("users/", UserListCreate.as_view(), name="api-users"),
    path("users/me/", Me.as_view(), name="api-me"),
]

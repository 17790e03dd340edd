"""Accounts over the API: obtaining a token, and admins creating logins (``users/me/``, with your
project roles, is served by projects, which knows memberships)."""

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
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from evalplatform.accounts import services, throttle, tokens
from evalplatform.api_errors import invalid
from evalplatform.parsers import SafeJSONParser
from evalplatform.permissions import IsStaff

User = get_user_model()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; send it as ``Authorization: Token <token>``.

    Asking again returns the same token while it is valid.  A token lasts ``EVAL_TOKEN_MAX_AGE_HOURS``
    (then 401, and a new POST issues a fresh one) and ends when the password changes.  DELETE revokes
    it (a new POST issues a fresh one).  Failed
    attempts count toward the login page's brake (delays per account, per client and per account from
    one client), so the API is no way around it; the request rate is throttled as well.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    # ObtainAuthToken names its own parsers (DRF's JSONParser among them): use the safe one.
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

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
        wait = throttle.wait_seconds(keys)
        if wait:
            raise Throttled(wait=wait, detail="Too many failed attempts; try again later.")
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except serializers.ValidationError:
            throttle.count_failure(keys)
            raise
        throttle.count_success(keys)
        return Response({"token": tokens.current_token(serializer.validated_data["user"]).key})

    @extend_schema(responses={204: None})
    def delete(self, request, *args, **kwargs):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff", "is_active", "date_joined"]


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


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("users/", UserListCreate.as_view(), name="api-users"),
]

"""Suites over the API: create one, add rounds, read trends, and ask the gate for a verdict.

A suite is visible to admins and to the leads of any of its rounds (another suite is a 404).  Adding
a round needs the lead of the suite's latest round.  ``GET /api/suites/{id}/gate/`` answers the same
verdict as ``manage.py gate``: 200 with ``verdict`` and ``exit_code`` (0 pass, 1 regression, 2 too
little data), 400 with ``exit_code`` 2 and the reason for bad input.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.api_schema import NOT_BLANK
from evalplatform.input_rules import SLUG_MESSAGE, SLUG_PATTERN, within_column
from evalplatform.permissions import IsStaff
from evalplatform.projects.models import Membership
from evalplatform.projects.permissions import IsLeadAnywhere
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.selectors import project_for, role_in
from evalplatform.projects.uploads import UPLOAD_PARSERS, ImportRejectedSerializer, upload_from, upload_schema
from evalplatform.suites import gate, selectors, services, trends
from evalplatform.suites.models import THRESHOLD_KEYS, Round, Suite


class RoundSerializer(serializers.ModelSerializer):
    project_slug = serializers.CharField(source="project.slug", read_only=True)
    anchors = serializers.IntegerField(source="anchors.count", read_only=True)

    class Meta:
        model = Round
        fields = ["id", "number", "project", "project_slug", "note", "anchors", "created_at"]
        read_only_fields = fields


@extend_schema_field({
    "type": "object", "additionalProperties": False, "description": "Drift alert thresholds (each a number >= 0).",
    "properties": {key: {"type": "number", "minimum": 0, "description": why} for key, why in THRESHOLD_KEYS.items()},
})
class ThresholdsField(serializers.DictField):
    """A suite's drift thresholds: only the known measures, each a number >= 0."""

    child = serializers.FloatField(min_value=0)


class SuiteSerializer(serializers.ModelSerializer):
    rounds = RoundSerializer(many=True, read_only=True)
    project = serializers.IntegerField(write_only=True, help_text="The project that becomes round 1.",
                                       **within_column(Round, "project", min_value=1))
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    slug = serializers.RegexField(SLUG_PATTERN, max_length=100, error_messages={"invalid": SLUG_MESSAGE})
    thresholds = ThresholdsField(required=False)
    min_subgroup_items = serializers.IntegerField(required=False, **within_column(Suite, "min_subgroup_items",
                                                                                 min_value=2))

    class Meta:
        model = Suite
        fields = ["id", "slug", "name", "description", "thresholds", "webhook_url", "webhook_secret",
                  "min_subgroup_items", "project", "rounds", "created_at"]
        read_only_fields = ["id", "rounds", "created_at"]


def _is_lead(user, project) -> bool:
    return bool(user.is_staff) or role_in(project, user) == Membership.Role.LEAD


class SuiteList(generics.ListCreateAPIView):
    """Suites you may see; POST makes one from a project you lead (its round 1)."""

    permission_classes = [IsAuthenticated]
    serializer_class = SuiteSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), (IsStaff | IsLeadAnywhere)()]
        return super().get_permissions()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Suite.objects.none()
        return selectors.visible_suites(self.request.user).prefetch_related("rounds__project").order_by("slug")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        project = project_for(request.user, pk=data.pop("project"))
        if not _is_lead(request.user, project):
            raise PermissionDenied("Only the project's leads (and admins) may make it a suite's round.")
        try:
            suite = services.create_suite(project=project, created_by=request.user, **data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(SuiteSerializer(suite).data, status=status.HTTP_201_CREATED)


class SuiteScoped(APIView):
    def get_suite(self) -> Suite:
        return selectors.suite_for(self.request.user, pk=self.kwargs["pk"])


class OwnFormats:
    """``?format=`` names this view's own output (junit, csv ...), not a DRF renderer: skip DRF's
    format override, which would answer 404 for a format it has no renderer for."""

    def perform_content_negotiation(self, request, force=False):
        renderer = self.get_renderers()[0]  # type: ignore[attr-defined]
        return renderer, renderer.media_type


class SuiteUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    thresholds = ThresholdsField(required=False)
    webhook_url = serializers.URLField(required=False, allow_blank=True)
    webhook_secret = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=200)
    min_subgroup_items = serializers.IntegerField(required=False, **within_column(Suite, "min_subgroup_items",
                                                                                 min_value=2))


class SuiteDetail(SuiteScoped, generics.RetrieveAPIView):
    """A suite and its rounds; PATCH changes its thresholds, webhook or subgroup size (the leads of
    its latest round, and admins)."""

    permission_classes = [IsAuthenticated]
    serializer_class = SuiteSerializer

    def get_object(self):
        return self.get_suite()

    @extend_schema(request=SuiteUpdateSerializer, responses={200: SuiteSerializer})
    def patch(self, request, *args, **kwargs):
        suite = self.get_suite()
        if not _is_lead(request.user, services.latest_round(suite).project):
            raise PermissionDenied("Only the leads of the suite's latest round (and admins) may change it.")
        serializer = SuiteUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            suite = services.update_suite(suite=suite, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(SuiteSerializer(suite).data)


SEED_MAX = gate.SEED_MAX
MIN_ITEMS_MAX = ANCHORS_MAX = 1_000_000
TEXT = {"type": "string", "pattern": NOT_BLANK}
TEXTS = {"type": "array", "items": TEXT}
MARGIN_PATTERN = r"^(?:.+=)?[0-9]+(?:\.[0-9]+)?$"  # X or DIMENSION=X, X >= 0 (gate.parse_margins)


class NewRoundQuery(serializers.Serializer):
    anchors = serializers.IntegerField(required=False, default=0, min_value=0, max_value=ANCHORS_MAX,
                                       help_text="Responses of the previous round to rate again (first anchor set).")
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEED_MAX)
    name = serializers.CharField(required=False, default="", allow_blank=True)
    slug = serializers.RegexField(SLUG_PATTERN, max_length=100, required=False, default="", allow_blank=True,
                                  error_messages={"invalid": SLUG_MESSAGE})
    note = serializers.CharField(required=False, default="", allow_blank=True)


class NewRound(SuiteScoped):
    """The suite's next round from the latest one, with the new responses in the body (as item imports)."""

    permission_classes = [IsAuthenticated]
    parser_classes = UPLOAD_PARSERS

    @extend_schema(request=upload_schema({"type": "object"}), parameters=[NewRoundQuery],
                   responses={201: RoundSerializer, 400: ImportRejectedSerializer})
    def post(self, request, *args, **kwargs):
        suite = self.get_suite()
        latest = services.latest_round(suite)
        if not _is_lead(request.user, latest.project):
            raise PermissionDenied("Only the leads of the suite's latest round (and admins) may add a round.")
        query = NewRoundQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        upload = upload_from(request)
        try:
            round_ = services.new_round(suite=suite, stream=upload.stream, fmt=upload.fmt, filename=upload.name,
                                        created_by=request.user, **query.validated_data)
        except ImportRejected as exc:
            return Response({"errors": [e.as_dict() for e in exc.errors], "total": exc.total},
                            status=status.HTTP_400_BAD_REQUEST)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(RoundSerializer(round_).data, status=status.HTTP_201_CREATED)


class GateQuery(serializers.Serializer):
    champion = serializers.CharField(help_text="MODEL, MODEL@ROUND or @ROUND")
    challenger = serializers.CharField(help_text="MODEL, MODEL@ROUND or @ROUND")
    dimension = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    margin = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                   help_text="X (every dimension) or DIMENSION=X; repeatable")
    alpha = serializers.FloatField(required=False, default=0.05)
    bootstrap = serializers.IntegerField(required=False, default=2000, min_value=0, max_value=20000)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEED_MAX)
    min_items = serializers.IntegerField(required=False, default=10, min_value=2, max_value=MIN_ITEMS_MAX)
    subgroup = serializers.ListField(child=serializers.CharField(), required=False, default=None, allow_null=True,
                                     help_text="metadata fields to test subgroups by (default: all with 2-20 values)")
    format = serializers.ChoiceField(choices=gate.FORMATS, required=False, default="json")


CONTENT_TYPES = {"json": "application/json", "junit": "application/xml", "markdown": "text/markdown",
                 "text": "text/plain"}


class SuiteGate(OwnFormats, SuiteScoped):
    """The gate's verdict, challenger against champion (see ``manage.py gate``)."""

    permission_classes = [IsAuthenticated]

    # The parameters' schemas say what GateQuery and run_gate refuse; what they cannot say (a model or
    # round the suite does not have, a dimension it does not rate, too few shared items) is a 400 too.
    @extend_schema(parameters=[
        OpenApiParameter("champion", TEXT, required=True), OpenApiParameter("challenger", TEXT, required=True),
        OpenApiParameter("dimension", TEXTS),
        OpenApiParameter("margin", {"type": "array", "items": {"type": "string", "pattern": MARGIN_PATTERN}}),
        OpenApiParameter("alpha", {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True,
                                   "exclusiveMaximum": True}),
        OpenApiParameter("bootstrap", {"type": "integer", "minimum": 0, "maximum": 20000}),
        OpenApiParameter("seed", {"type": "integer", "minimum": 0, "maximum": SEED_MAX}),
        OpenApiParameter("min_items", {"type": "integer", "minimum": 2, "maximum": MIN_ITEMS_MAX}),
        OpenApiParameter("subgroup", TEXTS),
        OpenApiParameter("format", OpenApiTypes.STR, enum=list(gate.FORMATS)),
    ], responses={200: OpenApiResponse(description="The verdict (exit_code 0, 1 or 2)."),
                  400: OpenApiResponse(description="Bad input (exit_code 2).")})
    def get(self, request, *args, **kwargs):
        suite = self.get_suite()
        params = {k: request.query_params.getlist(k) if k in ("dimension", "margin", "subgroup") else v
                  for k, v in request.query_params.items()}
        query = GateQuery(data=params)
        fmt = request.query_params.get("format", "json")
        fmt = fmt if fmt in gate.FORMATS else "json"
        if not query.is_valid():
            message = "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in query.errors.items())
            return self._answer(gate.error_output(message, fmt), fmt, status.HTTP_400_BAD_REQUEST)
        q = query.validated_data
        try:
            report = gate.run_gate(
                suite=suite, champion=q["champion"], challenger=q["challenger"], dimensions=q["dimension"] or None,
                margins=q["margin"], alpha=q["alpha"], bootstrap=q["bootstrap"], seed=q["seed"],
                min_items=q["min_items"], subgroups=q["subgroup"],
            )
        except gate.GateInputError as exc:
            return self._answer(gate.error_output(str(exc), fmt), fmt, status.HTTP_400_BAD_REQUEST)
        return self._answer(gate.render(report, fmt), fmt, status.HTTP_200_OK)

    def _answer(self, body: str, fmt: str, code: int) -> HttpResponse:
        return HttpResponse(body, status=code, content_type=f"{CONTENT_TYPES[fmt]}; charset=utf-8")


class SuiteTrends(OwnFormats, SuiteScoped):
    """Per round, model, dimension and subgroup: the report's mean and 95% interval (JSON, or ``?format=csv``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"])],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        suite = self.get_suite()
        if request.query_params.get("format") == "csv":
            response = HttpResponse(trends.trends_csv(suite), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{suite.slug}-trends.csv"'
            return response
        return Response(trends.trend_rows(suite))


urlpatterns = [
    path("suites/", SuiteList.as_view(), name="api-suites"),
    path("suites/<int:pk>/", SuiteDetail.as_view(), name="api-suite"),
    path("suites/<int:pk>/rounds/", NewRound.as_view(), name="api-suite-rounds"),
    path("suites/<int:pk>/gate/", SuiteGate.as_view(), name="api-suite-gate"),
    path("suites/<int:pk>/trends/", SuiteTrends.as_view(), name="api-suite-trends"),
]

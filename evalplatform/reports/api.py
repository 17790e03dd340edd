"""Agreement reports over the API: leads request one (202) and read the stored results.

Statistics never run in the request: ``request_report`` stores a queued report and a worker
computes it.  Raters never see reports, not even of their own project (403 there, 404 elsewhere).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from evalplatform.api_errors import invalid
from evalplatform.projects.permissions import LEADS, ProjectScoped
from evalplatform.projects.selectors import visible_projects
from evalplatform.reports import services, tracking
from evalplatform.reports.models import AgreementReport


class ReportSerializer(serializers.ModelSerializer):
    stale = serializers.SerializerMethodField(help_text="Ratings changed since the data this report covers.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = AgreementReport
        fields = [
            "id", "url", "project", "status", "progress", "parameters", "trigger", "data_seq", "n_ratings", "stale",
            "error", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_stale(self, report: AgreementReport) -> bool | None:
        if report.data_seq is None:
            return None
        return report.data_seq < report.project.ratings_seq

    @extend_schema_field(serializers.CharField())
    def get_url(self, report: AgreementReport) -> str:
        return reverse("api-report", args=[report.pk])


class ReportDetailSerializer(ReportSerializer):
    result = serializers.JSONField(read_only=True, help_text="The stored report (null until done).")

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "result"]
        read_only_fields = fields


class ReportRequestSerializer(serializers.Serializer):
    bootstrap = serializers.IntegerField(
        required=False, min_value=0, max_value=20000, help_text="Bootstrap resamples for confidence intervals."
    )
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)
    include_automated = serializers.BooleanField(required=False, help_text="Count automated judges' ratings.")
    include_paused = serializers.BooleanField(required=False, help_text="Count paused raters' ratings.")
    include_gold = serializers.BooleanField(required=False, help_text="Count ratings of gold (quality-check) items.")
    icc = serializers.BooleanField(
        required=False, help_text="Intraclass correlations for ordinal dimensions too (interval and ratio always)."
    )


class ProjectReports(ProjectScoped, generics.ListAPIView):
    """The project's reports, newest first; POST requests a new one (computed by a worker)."""

    permission_classes = LEADS
    serializer_class = ReportSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AgreementReport.objects.none()
        return self.get_project().reports.select_related("project").order_by("-created_at", "-id")

    @extend_schema(request=ReportRequestSerializer, responses={202: ReportSerializer})
    def post(self, request, *args, **kwargs):
        serializer = ReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = services.request_report(
                project=self.get_project(), requested_by=request.user, **serializer.validated_data
            )
        except ValueError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        report = AgreementReport.objects.select_related("project").get(pk=report.pk)
        response = Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api-report", args=[report.pk])
        return response


class LatestReport(ProjectScoped, generics.GenericAPIView):
    """The newest finished report of the project; 404 until one is done."""

    permission_classes = LEADS
    serializer_class = ReportDetailSerializer

    @extend_schema(responses={200: ReportDetailSerializer, 404: OpenApiResponse(description="No report is done yet.")})
    def get(self, request, *args, **kwargs):
        report = services.latest_done(self.get_project())
        if report is None:
            raise Http404("No report of this project is done yet.")
        return Response(ReportDetailSerializer(report).data)


class ReportDetail(generics.RetrieveAPIView):
    """One report, with its result once done (leads of its project and admins)."""

    permission_classes = LEADS
    serializer_class = ReportDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AgreementReport.objects.none()
        # Reports of projects the user can see: a rater of the project is refused (403) by the
        # permission check, anyone else does not find it (404).
        return AgreementReport.objects.filter(project__in=visible_projects(self.request.user)).select_related("project")


class TrackingSettingsSerializer(serializers.Serializer):
    """Shape only (lengths); ``tracking.update_tracking_settings`` checks the meaning (URI scheme, no
    credentials, W&B's name rules).  An empty value: the server's environment decides."""

    mlflow_tracking_uri = serializers.CharField(max_length=500, required=False, allow_blank=True)
    # The patterns say in the schema what ``clean_tracking_settings`` refuses in a non-blank value (a
    # control character; W&B's name rules), so a client can check a value before sending it.  Blank
    # stays allowed beside them (the environment decides), so they must not match it themselves.
    mlflow_experiment = serializers.RegexField(
        r"^[^\x00-\x1f\x7f]+$", max_length=250, required=False, allow_blank=True,
        error_messages={"invalid": "holds a control character (a line break or tab, say)"})
    wandb_project = serializers.RegexField(
        r"^[^/\\#?%:\x00-\x1f\x7f]+$", max_length=128, required=False, allow_blank=True,
        error_messages={"invalid": "a W&B project name cannot hold / \\ # ? %% : or a control character"})
    wandb_entity = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=128, required=False, allow_blank=True,
        error_messages={"invalid": "a W&B entity (user or team) is letters, digits, '-' and '_', "
                                   "starting with a letter or digit"})


class SettingInForceSerializer(serializers.Serializer):
    value = serializers.CharField()
    source = serializers.ChoiceField(choices=["project", "environment", "default"])  # type: ignore[assignment]


class TrackingSettingsAnswerSerializer(TrackingSettingsSerializer):
    in_force = serializers.DictField(child=SettingInForceSerializer(), read_only=True,
                                     help_text="Each setting in force and where it comes from.")


class ProjectTrackingSettings(ProjectScoped, generics.GenericAPIView):
    """Where the project's reports are logged: MLflow tracking URI and experiment, W&B project and entity.
    Secrets are never taken here: the trackers read them from the server's environment."""

    permission_classes = LEADS
    serializer_class = TrackingSettingsSerializer

    def _render(self, project) -> Response:
        from evalplatform.reports.models import TrackingSettings

        stored = TrackingSettings.objects.filter(project=project).first()
        body = {name: getattr(stored, name, "") for name in tracking.SETTING_FIELDS}
        body["in_force"] = {name: {"value": s.value, "source": s.source}
                            for name, s in tracking.effective_settings(project).items()}
        return Response(body)

    @extend_schema(responses={200: TrackingSettingsAnswerSerializer})
    def get(self, request, *args, **kwargs):
        return self._render(self.get_project())

    @extend_schema(request=TrackingSettingsSerializer, responses={200: TrackingSettingsAnswerSerializer})
    def patch(self, request, *args, **kwargs):
        serializer = TrackingSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = self.get_project()
        try:
            tracking.update_tracking_settings(project=project, **serializer.validated_data)
        except tracking.TrackingSettingsError as exc:
            raise invalid(exc) from exc
        return self._render(project)


urlpatterns = [
    path("projects/<int:project_id>/reports/", ProjectReports.as_view(), name="api-project-reports"),
    path("projects/<int:project_id>/reports/latest/", LatestReport.as_view(), name="api-latest-report"),
    path("projects/<int:project_id>/tracking/", ProjectTrackingSettings.as_view(), name="api-project-tracking"),
    path("reports/<int:pk>/", ReportDetail.as_view(), name="api-report"),
]

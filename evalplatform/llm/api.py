"""Model runs over the API: leads start generation and judge runs (202), watch, cancel and resume them.

Endpoints are listed without their keys (``has_secret`` says whether one is set); registering them
is the admin's.  A run is read by the leads of its project and by admins; a rater of the project is
refused (403), anyone else does not find it (404).
"""

from __future__ import annotations

from django.urls import path, reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.llm import prompts, selectors, services
from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.permissions import IsStaff
from evalplatform.projects.permissions import LEADS, IsLeadAnywhere, ProjectScoped
from evalplatform.projects.selectors import visible_projects


class EndpointSerializer(serializers.ModelSerializer):
    has_secret = serializers.BooleanField(read_only=True, help_text="Whether a key is set (it is never shown).")
    parameters = serializers.SerializerMethodField()

    class Meta:
        model = ModelEndpoint
        # Never the key, nor the name of the variable that holds it.
        fields = ["id", "name", "base_url", "model", "parameters", "supports_json_schema", "requests_per_minute",
                  "max_concurrency", "price_input_per_million", "price_output_per_million", "has_secret"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_parameters(self, endpoint: ModelEndpoint) -> dict:
        return endpoint.parameters()


class RunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    project: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    endpoints: serializers.ManyRelatedField = serializers.ManyRelatedField(
        child_relation=serializers.SlugRelatedField(slug_field="name", read_only=True), read_only=True)
    progress = serializers.SerializerMethodField(help_text="Calls by status, tokens and cost.")

    class Meta:
        model = Run
        fields = ["id", "url", "project", "kind", "status", "endpoints", "prompt_version", "created_at",
                  "finished_at", "progress"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_url(self, run: Run) -> str:
        return reverse("api-llm-run", args=[run.pk])

    @extend_schema_field(serializers.DictField())
    def get_progress(self, run: Run) -> dict:
        known = self.context.get("progress")
        progress = known[run.pk] if known and run.pk in known else selectors.progress_of([run])[run.pk]
        return {**progress, "cost": str(progress["cost"])}


class RunDetailSerializer(RunSerializer):
    prompt_template = serializers.CharField(read_only=True)
    invalid_outputs = serializers.SerializerMethodField(help_text="The first 50 invalid outputs with the reason.")

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "prompt_template", "invalid_outputs"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_invalid_outputs(self, run: Run) -> list[dict]:
        return selectors.invalid_outputs(run)


class StartRunSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Run.Kind.choices)
    endpoints = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=20,
                                      help_text="Model endpoints by name.")
    template = serializers.CharField(required=False, allow_blank=False, trim_whitespace=False, max_length=100_000,
                                     help_text="Generation: the user message with {prompt}, {reference}, "
                                     "{external_id}, {metadata[key]}; judge: replaces the default layout.")
    items = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=100_000,
                                  help_text="Generation: the items' ids (default all).")
    tasks = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100_000,
                                  help_text="Judge: the tasks' ids (default all but gold).")
    include_gold = serializers.BooleanField(required=False, default=False)


class Endpoints(generics.ListAPIView):
    """The registered model endpoints (admins and project leads); keys are never part of the answer."""

    permission_classes = [IsAuthenticated, IsStaff | IsLeadAnywhere]
    serializer_class = EndpointSerializer
    queryset = ModelEndpoint.objects.order_by("name")


class ProjectRuns(ProjectScoped, generics.ListAPIView):
    """The project's generation and judge runs, newest first; POST starts one (202)."""

    permission_classes = LEADS
    serializer_class = RunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Run.objects.none()
        return selectors.runs_of(self.get_project()).select_related("project")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        runs = list(page if page is not None else self.get_queryset())
        data = RunSerializer(runs, many=True, context={"progress": selectors.progress_of(runs)}).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=StartRunSerializer, responses={202: RunSerializer})
    def post(self, request, *args, **kwargs):
        body = StartRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = self.get_project()
        names = list(dict.fromkeys(data["endpoints"]))
        endpoints = list(ModelEndpoint.objects.filter(name__in=names))
        unknown = set(names) - {e.name for e in endpoints}
        if unknown:
            raise serializers.ValidationError({"endpoints": [f"no model endpoint(s) {', '.join(sorted(unknown))}"]})
        try:
            if data["kind"] == Run.Kind.GENERATION:
                run = services.start_generation(project=project, endpoints=endpoints, user=request.user,
                                                 template=data.get("template") or prompts.DEFAULT_GENERATION_TEMPLATE,
                                                 items=data.get("items"))
            else:
                run = services.start_judge(project=project, endpoints=endpoints, user=request.user,
                                           template=data.get("template"), tasks=data.get("tasks"),
                                           include_gold=data["include_gold"])
        except services.RunError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
        response = Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api-llm-run", args=[run.pk])
        return response


def _runs_for(user):
    return Run.objects.filter(project__in=visible_projects(user)).select_related("project").prefetch_related("endpoints")


class RunDetail(generics.RetrieveAPIView):
    """One run: its progress, cost and invalid outputs."""

    permission_classes = LEADS
    serializer_class = RunDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Run.objects.none()
        return _runs_for(self.request.user)


class _RunAction(APIView):
    permission_classes = LEADS

    def act(self, run: Run) -> Run:
        raise NotImplementedError

    @extend_schema(request=None, responses={200: RunSerializer})
    def post(self, request, pk: int):
        run = generics.get_object_or_404(_runs_for(request.user), pk=pk)
        self.check_object_permissions(request, run)
        return Response(RunSerializer(self.act(run)).data)


class CancelRun(_RunAction):
    """Stop the run: no new calls start; what was answered is kept.  Idempotent."""

    def act(self, run: Run) -> Run:
        return services.cancel_run(run=run)


class ResumeRun(_RunAction):
    """Send the run's cancelled and failed calls again; answers already stored are never asked again."""

    def act(self, run: Run) -> Run:
        return services.resume_run(run=run)


urlpatterns = [
    path("llm/endpoints/", Endpoints.as_view(), name="api-llm-endpoints"),
    path("projects/<int:project_id>/llm-runs/", ProjectRuns.as_view(), name="api-project-llm-runs"),
    path("llm-runs/<int:pk>/", RunDetail.as_view(), name="api-llm-run"),
    path("llm-runs/<int:pk>/cancel/", CancelRun.as_view(), name="api-llm-run-cancel"),
    path("llm-runs/<int:pk>/resume/", ResumeRun.as_view(), name="api-llm-run-resume"),
]

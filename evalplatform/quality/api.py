"""Quality control over the API (leads and admins): settings, gold items, scorecards, adjudication.

A rater of the project gets 403 on every endpoint here, anyone else 404: raters never see gold
expectations, anyone's scorecard or the adjudication queue.  Writes go through ``quality.services``;
scorecards and queue are read from what the last quality run stored.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.input_rules import within_column
from evalplatform.pagination import PageSizePagination, page_number
from evalplatform.projects.models import Project, Task
from evalplatform.projects.permissions import LEADS, ProjectScoped
from evalplatform.quality import selectors, services
from evalplatform.quality.models import Adjudication
from evalplatform.training.selectors import training_results


class SettingsSerializer(serializers.Serializer):
    gold_rate = serializers.FloatField(min_value=0, max_value=0.5, required=False)
    gold_min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False)
    min_seconds_per_item = serializers.IntegerField(required=False,
                                                    **within_column(Project, "min_seconds_per_item", min_value=0))
    adjudication_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    consensus_rule = serializers.ChoiceField(choices=Project.ConsensusRule.choices, required=False)


def _task_name(task: Task) -> dict:
    return {"task": task.pk, "item_id": task.item.external_id, "model": task.response_a.model,
            "model_b": task.response_b.model if task.response_b else None}


class QualitySettings(ProjectScoped, APIView):
    """The project's quality settings: gold rate, flag thresholds, adjudication threshold, consensus rule."""

    permission_classes = LEADS

    def _render(self, project: Project) -> Response:
        return Response({name: getattr(project, name) for name in SettingsSerializer().fields.keys()})

    @extend_schema(responses={200: SettingsSerializer})
    def get(self, request, *args, **kwargs):
        return self._render(self.get_project())

    @extend_schema(request=SettingsSerializer, responses={200: SettingsSerializer})
    def patch(self, request, *args, **kwargs):
        serializer = SettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            project = services.update_quality_settings(project=self.get_project(), **serializer.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return self._render(project)


class GoldCreateSerializer(serializers.Serializer):
    item_id = serializers.CharField(max_length=200)
    model = serializers.CharField(max_length=401, required=False, allow_blank=True, default="",
                                  help_text="The model (or model-a-vs-model-b) when the item has several tasks.")
    expectations = serializers.DictField(
        child=serializers.JSONField(),
        help_text='dimension key -> expected value, or {"value": ..., "tolerance": n} (ordered scales)',
    )


def _gold_json(task: Task) -> dict:
    return {
        **_task_name(task),
        "expectations": {e.dimension.key: {"value": e.value, "tolerance": e.tolerance}
                         for e in task.gold_expectations.all()},
    }


class GoldList(ProjectScoped, APIView):
    """Gold tasks with their expected scores; POST makes a task gold (or replaces its expectations)."""

    permission_classes = LEADS

    @extend_schema(operation_id="projects_quality_gold_list", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        return Response({"results": [_gold_json(t) for t in selectors.gold_tasks(self.get_project())]})

    @extend_schema(request=GoldCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, *args, **kwargs):
        serializer = GoldCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = self.get_project()
        data = serializer.validated_data
        task = selectors.task_for_item(project, data["item_id"], data["model"])
        try:
            services.set_gold(task=task, expectations=data["expectations"], created_by=request.user)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(_gold_json(selectors.gold_tasks(project).get(pk=task.pk)), status=status.HTTP_201_CREATED)


class GoldDetail(ProjectScoped, APIView):
    """One gold task; DELETE makes it an ordinary task again."""

    permission_classes = LEADS

    def get_task(self) -> Task:
        task = selectors.gold_tasks(self.get_project()).filter(pk=self.kwargs["task_id"]).first()
        if task is None:
            raise Http404("No such gold task.")
        return task

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        return Response(_gold_json(self.get_task()))

    @extend_schema(responses={204: None})
    def delete(self, request, *args, **kwargs):
        services.unset_gold(task=self.get_task())
        return Response(status=status.HTTP_204_NO_CONTENT)


class Scorecards(ProjectScoped, APIView):
    """Per-rater scorecards from the last quality run (computed with the report), current gold accuracy, and
    each rater's training result (``training``: state, attempts, share within tolerance, per dimension)."""

    permission_classes = LEADS

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        project = self.get_project()
        snap = selectors.snapshot(project)
        alerts = [{"rater": a.username, "paused": a.paused, "accuracy": a.gold.accuracy, "n_items": a.gold.n_items}
                  for a in selectors.gold_alerts(project)]
        training = training_results(project)  # each rater's onboarding (evalplatform.training), always current
        if snap is None:
            return Response({"computed_at": None, "data_seq": None, "raters": [], "gold_alerts": alerts,
                             "training": training})
        return Response({"computed_at": snap.computed_at, "data_seq": snap.data_seq,
                         "current_seq": project.ratings_seq, **snap.result, "gold_alerts": alerts,
                         "training": training})


class AdjudicateSerializer(serializers.Serializer):
    scores = serializers.DictField(child=serializers.JSONField(), help_text="dimension key -> final value")
    note = serializers.CharField(required=False, allow_blank=True, default="")


def _adjudication_json(adj: Adjudication) -> dict:
    return {"task": adj.task_id, "note": adj.note, "decided_by": adj.decided_by.username if adj.decided_by else None,
            "decided_at": adj.decided_at, "scores": {s.dimension.key: s.value for s in adj.scores.all()}}


class AdjudicationQueue(ProjectScoped, APIView):
    """Tasks awaiting adjudication (raters agree below the threshold on some dimension), least agreed first."""

    permission_classes = LEADS

    @extend_schema(
        operation_id="projects_quality_adjudications_list", responses={200: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="The page (1 first)."),
                    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 500},
                                     description="Tasks per page (default 50, at most 500).")],
    )
    def get(self, request, *args, **kwargs):
        pages = PageSizePagination()
        size = pages.get_page_size(request) or pages.page_size
        page = page_number(request.query_params.get("page"))
        if page is None:
            raise Http404("No such page.")
        rows, total = selectors.adjudication_queue(self.get_project(), limit=size, offset=(page - 1) * size)
        if page > 1 and not rows:
            raise Http404("No such page.")

        def link(n: int) -> str | None:
            if n < 1 or (n - 1) * size >= total:
                return None
            return replace_query_param(request.build_absolute_uri(), "page", n)

        return Response({"count": total, "next": link(page + 1), "previous": link(page - 1), "results": [
            {**_task_name(r["task"]), "dimensions": r["dimensions"], "lowest_agreement": r["worst"],
             "n_split": r["n_split"]} for r in rows
        ]})


class AdjudicationDetail(ProjectScoped, APIView):
    """A task's ratings (with justifications) and adjudication; PUT records the final scores."""

    permission_classes = LEADS

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        task = selectors.task_to_adjudicate(self.get_project(), self.kwargs["task_id"])
        adj = Adjudication.objects.filter(task=task).prefetch_related("scores__dimension").first()
        ratings = [
            {"rater": r.rater.username, "justification": r.justification, "duration_ms": r.duration_ms,
             "scores": {s.dimension.key: s.value if s.value is not None else s.text for s in r.scores.all()}}
            for r in selectors.task_ratings(task)
        ]
        return Response({**_task_name(task), "ratings": ratings,
                         "adjudication": _adjudication_json(adj) if adj else None})

    @extend_schema(request=AdjudicateSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request, *args, **kwargs):
        task = selectors.task_to_adjudicate(self.get_project(), self.kwargs["task_id"])
        serializer = AdjudicateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            adj = services.adjudicate(task=task, scores=serializer.validated_data["scores"],
                                      note=serializer.validated_data["note"], decided_by=request.user)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        adj = Adjudication.objects.prefetch_related("scores__dimension").select_related("decided_by").get(pk=adj.pk)
        return Response(_adjudication_json(adj))


BASE = "projects/<int:project_id>/quality/"
urlpatterns = [
    path(f"{BASE}settings/", QualitySettings.as_view(), name="api-quality-settings"),
    path(f"{BASE}gold/", GoldList.as_view(), name="api-gold"),
    path(f"{BASE}gold/<int:task_id>/", GoldDetail.as_view(), name="api-gold-task"),
    path(f"{BASE}scorecards/", Scorecards.as_view(), name="api-scorecards"),
    path(f"{BASE}adjudications/", AdjudicationQueue.as_view(), name="api-adjudications"),
    path(f"{BASE}adjudications/<int:task_id>/", AdjudicationDetail.as_view(), name="api-adjudication"),
]

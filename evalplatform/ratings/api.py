"""Ratings over the API: submitting scores, reading ratings, importing them, exporting a project's.

Submitting is idempotent: the first submit of an assignment answers 201 with the rating, a repeat
answers 200 with the same rating.  Exports stream, so a project of any size downloads in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import Http404
from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from evalplatform.api_errors import Conflict
from evalplatform.assignments.api import IdFilter, api_datetime
from evalplatform.assignments.selectors import assignments_visible_to
from evalplatform.permissions import LEADS, IsOwner, IsProjectLead, IsStaff, ProjectScoped
from evalplatform.projects.uploads import (
    UPLOAD_PARSERS,
    ImportRejectedSerializer,
    import_response,
    upload_schema,
)
from evalplatform.ratings import exports
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating, Score
from evalplatform.ratings.selectors import ratings_visible_to
from evalplatform.ratings.services import SubmitConflict, SubmitError, submit_rating
from rubrics.models import Dimension
from rubrics.scales import scales_for


class RatingSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="task.item.external_id", read_only=True, help_text="The item's external id.")
    rater = serializers.CharField(source="rater.username", read_only=True)
    scores = serializers.SerializerMethodField(
        help_text="Dimension key to value (text for free-text dimensions). Pairwise values are as the rater "
        "saw the pair: negative = the response shown as A. On a pair, questions asked of each response are "
        "keyed <dimension>.a and <dimension>.b (A = the response shown on the left)."
    )

    class Meta:
        model = Rating
        fields = [
            "id", "project", "assignment", "item", "rater", "rubric_version", "scores", "justification",
            "duration_ms", "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "string"}]}})
    def get_scores(self, rating: Rating) -> dict:
        return scores_as_seen(
            ((score.dimension.key, score.dimension.kind, score) for score in rating.scores.all()), rating
        )


def scores_as_seen(rows: Iterable[tuple[str, str, Score]], rating: Rating) -> dict[str, int | str | None]:
    """A rating's stored scores, each given with its dimension's key and kind, keyed and signed as the
    rater saw the task (pair values flipped back when the rater saw response_b on the left)."""
    swapped = rating.assignment is not None and rating.assignment.swapped
    scores: dict[str, int | str | None] = {}
    for key, kind, score in rows:
        if score.response_id is not None:
            left = score.response_id == (rating.task.response_b_id if swapped else rating.task.response_a_id)
            scores[f"{key}.{'a' if left else 'b'}"] = score.value
        elif kind == Dimension.Kind.TEXT:
            scores[key] = score.text
        elif swapped and kind == Dimension.Kind.PAIRWISE and score.value is not None:
            scores[key] = -score.value
        else:
            scores[key] = score.value
    return scores


def new_rating_data(rating: Rating, *, rater) -> dict:
    """``RatingSerializer``'s output for a rating ``submit_rating`` has just created (its task, item,
    assignment, project and scores at hand), without reading it back; a test holds the two equal."""
    by_dimension = {scale.dimension_id: scale for scale in scales_for(rating.project.rubric_version).values()}
    rows = ((by_dimension[s.dimension_id].key, by_dimension[s.dimension_id].kind, s) for s in rating.scores.all())
    return {
        "id": rating.pk, "project": rating.project_id, "assignment": rating.assignment_id,
        "item": rating.task.item.external_id, "rater": rater.username, "rubric_version": rating.rubric_version_id,
        "scores": scores_as_seen(rows, rating), "justification": rating.justification,
        "duration_ms": rating.duration_ms, "created_at": api_datetime(rating.created_at),
    }


def render_rating(rating_id: int, user, *, status_code: int = status.HTTP_200_OK) -> Response:
    rating = ratings_visible_to(user).get(pk=rating_id)
    return Response(RatingSerializer(rating).data, status=status_code)


class SubmitSerializer(serializers.Serializer):
    scores = serializers.DictField(
        child=serializers.JSONField(),
        help_text='Dimension key to value, e.g. {"accuracy": 4, "harmless": true}. On a pair task: the preference '
        'as you saw the pair (negative = the response shown as A), and each likert, yes/no or categorical question '
        'once per response, keyed <dimension>.a and <dimension>.b, e.g. {"preference": -1, "accuracy.a": 4, '
        '"accuracy.b": 2}.',
    )
    justification = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=2**31 - 1,
        help_text="How long the rater took, in milliseconds.",
    )


class SubmitRating(APIView):
    """Submit your scores for an assignment: 201 with the rating; the same submit again, 200 with it.

    Field-level 400s name the dimension (unknown, off the scale, missing) or ``justification``;
    409 when the task's state refuses the rating (you skipped it, or your lease lapsed and the task
    filled up).  Throttled (scope ``submit``).
    """

    permission_classes = [IsAuthenticated, IsOwner]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    @extend_schema(
        request=SubmitSerializer,
        responses={200: RatingSerializer, 201: RatingSerializer, 400: OpenApiResponse(), 409: OpenApiResponse()},
    )
    def post(self, request, *args, **kwargs):
        # Who holds it is all this needs to know before the submit locks and reads it whole.
        assignment = assignments_visible_to(request.user).select_related(None).only("id", "rater_id").filter(
            pk=kwargs["pk"]
        ).first()
        if assignment is None:
            raise Http404("No such assignment.")
        self.check_object_permissions(request, assignment)
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rating, created = submit_rating(assignment=assignment.pk, **serializer.validated_data)
        except SubmitConflict as exc:
            raise Conflict(" ".join(exc.errors.values())) from exc
        except SubmitError as exc:
            raise serializers.ValidationError({key: [message] for key, message in exc.errors.items()}) from exc
        if created:
            return Response(new_rating_data(rating, rater=request.user), status=status.HTTP_201_CREATED)
        return render_rating(rating.pk, request.user)


class RatingFilter(filters.FilterSet):
    project = IdFilter(field_name="project_id", help_text="A project id.")
    rater = filters.CharFilter(field_name="rater__username", help_text="A rater's username.")

    class Meta:
        model = Rating
        fields = ["project", "rater"]


class RatingList(generics.ListAPIView):
    """Ratings you may read: your own, and every rating of the projects you lead (admins: all)."""

    serializer_class = RatingSerializer
    filterset_class = RatingFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return ratings_visible_to(self.request.user).order_by("id")


class RatingDetail(generics.RetrieveAPIView):
    """One rating: your own, one in a project you lead, or any (admins).  Others' are not found."""

    permission_classes = [IsAuthenticated, IsOwner | IsProjectLead | IsStaff]
    serializer_class = RatingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return ratings_visible_to(self.request.user)


class RatingsImportSummarySerializer(serializers.Serializer):
    ratings = serializers.IntegerField()
    scores = serializers.IntegerField()
    raters_created = serializers.IntegerField()


class RatingsImportQuery(serializers.Serializer):
    automated = serializers.BooleanField(
        default=False, help_text="The raters are automated judges (named judge:<name>; they never count toward overlap)."
    )


RATING_RECORD = {
    "type": "object",
    "required": ["item_id", "rater", "dimension", "value"],
    "properties": {
        "item_id": {"type": "string"},
        "model": {"type": "string"},
        "model_a": {"type": "string"},
        "model_b": {"type": "string"},
        "rater": {"type": "string"},
        "dimension": {"type": "string"},
        "value": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "boolean"}]},
        "justification": {"type": "string"},
        "duration_ms": {"type": "integer"},
    },
}


class RatingsImport(ProjectScoped, APIView):
    """Import ratings collected elsewhere, one score per row, all or nothing (leads and admins)."""

    permission_classes = LEADS
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        request=upload_schema(RATING_RECORD),
        parameters=[RatingsImportQuery],
        responses={201: RatingsImportSummarySerializer, 400: ImportRejectedSerializer, 413: OpenApiResponse()},
        description="Rows `item_id, model (model_a, model_b in pairwise projects, plus model for a question "
        "asked of each response of the pair), rater, dimension, value`, "
        "with optional `justification` and `duration_ms`. The same validation as a rater's submission; "
        "any bad row refuses the file (400 with each problem's line and field) and nothing is written.",
    )
    def post(self, request, *args, **kwargs):
        query = RatingsImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return import_response(request, lambda upload: import_ratings(
            project=self.get_project(), stream=upload.stream, fmt=upload.fmt, name=upload.name,
            automated=query.validated_data["automated"],
        ))


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` names the export here, not a renderer: errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=exports.FORMATS, default="csv",
        help_text="csv / jsonl: every score in long format. preferences: JSONL preference pairs "
        "(pairwise projects). reward: JSONL per-response mean scores for reward-model regression. "
        "consensus-csv / consensus-jsonl: the final label per task and dimension (adjudicated, else the "
        "project's consensus rule), with the rule and its confidence.",
    )
    min_margin = serializers.FloatField(
        default=0.0, min_value=0.0, max_value=1.0, help_text="preferences: drop pairs whose margin is smaller."
    )


class Export(ProjectScoped, APIView):
    """Download the project's ratings, streamed (leads and admins)."""

    permission_classes = LEADS
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        parameters=[ExportQuery],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            400: OpenApiResponse(description="Unknown format, preferences of a single-response project, or "
                                 "reward without per-response scores."),
        },
        description="CSV and JSONL have one row per item, model, rater and dimension (item_id, model or "
        "model_a/model_b/model (the response of a per-response question), rater, automated, dimension, value, "
        "value_label, justification, duration_ms, created_at, reference); pairwise values are in the pair's stored order (negative: model_a better). "
        "CSV cells that a spreadsheet would run as a formula are prefixed with an apostrophe. `preferences` "
        "gives one JSON object per rated pair: prompt, chosen, rejected, chosen_model, rejected_model, "
        "margin (|mean vote / k|, 0..1), n_votes, agreement (share of votes on the chosen side); ties and "
        "pairs with margin below `min_margin` are left out. `reward` gives one JSON object per scored "
        "response: prompt, response, model, scores (likert and yes/no dimension -> mean), n_ratings.",
    )
    def get(self, request, *args, **kwargs):
        query = ExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt, project = query.validated_data["format"], self.get_project()
        try:
            lines = exports.export_lines(project, fmt, min_margin=query.validated_data["min_margin"])
        except exports.ExportError as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from exc
        return exports.download_response(project, fmt, lines)


urlpatterns = [
    path("assignments/<int:pk>/submit/", SubmitRating.as_view(), name="api-submit"),
    path("ratings/", RatingList.as_view(), name="api-ratings"),
    path("ratings/<int:pk>/", RatingDetail.as_view(), name="api-rating"),
    path("projects/<int:project_id>/ratings/import/", RatingsImport.as_view(), name="api-ratings-import"),
    path("projects/<int:project_id>/export/", Export.as_view(), name="api-export"),
]
